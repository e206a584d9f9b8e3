"""What the ZEIT Now and Vercel adapters share: entry files, globs as the platforms match them, one unit per entry.

Both platforms name their functions by file globs (now.json `builds[].src`, vercel.json `functions` keys,
`includeFiles`, `excludeFiles`) that follow minimatch: `*` and `?` stay inside one path segment, `**` spans
segments, `[...]` is a class, `{a,b}` alternatives (nested allowed), and a wildcard does not match a name
starting with a dot unless the pattern spells the dot. They are matched against the project's own files:
node_modules and dot-folders (.git, .now, .vercel, .photon-bundle) are never entry points.

A function is one entry file. Its unit bundles that file, the local files it requires (platforms/jsdeps.py),
package.json, and the production closure of the packages those files load: nothing another function needs.
The unit's name is the entry path without its extension ("api/users.js" -> "api/users"), which is also the
route both platforms serve it at; its zip is `functions/<name>.zip` below the output folder.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.bounds import MAX_BRACE_EXPANSIONS, brace_overflow
from bundler.errors import ProjectError
from bundler.options import Extras, _bool, setting
from platforms.base import ENTRY_EXTENSIONS, Entry, Unit
from platforms.configfiles import read_json_object
from platforms.jsdeps import SCANNED, function_scan

SKIPPED_DIRS = ("node_modules",)


def entries_option(value: object) -> tuple[str, ...]:
    """The `entry` key: one path or a list of paths (a flag, or photon-bundle.toml `entry = [...]`)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise TypeError("expected a file path or a list of file paths")


@dataclass(frozen=True)
class NowExtras(Extras):
    """The extra config keys of both commands (now, vercel)."""

    entry: tuple[str, ...] = setting(entries_option, ())  # --entry FILE (repeatable): the functions to bundle
    write_config: bool = setting(_bool, False)  # --write-config: update the user's now.json / vercel.json


def read_optional(path: Path) -> tuple[dict[str, Any] | None, str]:
    """(the JSON object, its text), or (None, "") when the file does not exist."""
    if not path.is_file():
        return None, ""
    return read_json_object(path)


# ------------------------------------------------------------------------------------------------ files


def project_files(root: Path) -> list[str]:
    """Every file below root, relative and sorted, outside node_modules and dot-folders."""
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        out += [prefix + name for name in files]
    return sorted(out)


def normalize(rel: str) -> str:
    """A config path as the platforms read it: relative to the project, no leading ./ or /."""
    rel = rel.strip()
    while rel.startswith(("./", "/")):
        rel = rel[2:] if rel.startswith("./") else rel[1:]
    return posixpath.normpath(rel) if rel else rel


def checked_entries(root: Path, entries: tuple[str, ...]) -> list[str]:
    """--entry files as project-relative paths; each must be a JavaScript file inside the project."""
    out: list[str] = []
    for raw in entries:
        path = Path(raw)
        if path.is_absolute():
            try:
                rel = path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                raise ProjectError(f"--entry {raw}: not inside the project {root}",
                                   hint="give the entry file relative to the project folder") from None
        else:
            rel = normalize(raw)
        if rel.startswith("../") or rel in ("", ".", ".."):
            raise ProjectError(f"--entry {raw}: not inside the project {root}")
        if not (root / rel).is_file():
            raise ProjectError(f"--entry {raw}: no such file {root / rel}", hint="check the path (relative to the "
                               "project folder)")
        if "node_modules" in rel.split("/"):
            raise ProjectError(f"--entry {raw}: an entry point cannot live in node_modules")
        if not rel.endswith(SCANNED):
            raise ProjectError(f"--entry {raw}: not a JavaScript file ({', '.join(SCANNED)})",
                               hint="compile TypeScript first and pass the compiled file")
        if rel not in out:
            out.append(rel)
    return out


def function_name(entry: str) -> str:
    """"api/users.js" -> "api/users": the route the function is served at, and its zip's name."""
    stem, ext = posixpath.splitext(entry)
    return stem if ext in SCANNED else entry


def check_unique_names(entries: list[str]) -> None:
    seen: dict[str, str] = {}
    for entry in entries:
        name = function_name(entry)
        if name in seen:
            raise ProjectError(f"{seen[name]} and {entry} are both the function {name!r} (one route, two files)",
                               hint="rename one of them")
        seen[name] = entry


# ------------------------------------------------------------------------------------------------ globs


def expand_braces(pattern: str, where: str = "") -> list[str]:
    """minimatch brace expansion: "a/{b,c{d,e}}.js" -> a/b.js, a/cd.js, a/ce.js. A group without a
    top-level comma ("{x}") is literal, as in minimatch. Iterative; more than MAX_BRACE_EXPANSIONS globs
    is a ProjectError (`where` names the file)."""
    out: list[str] = []
    pending = [pattern]  # patterns still to expand, the next one last
    while pending:
        current = pending.pop()
        group = _first_group(current)
        if group is None:
            out.append(current)
            if len(out) > MAX_BRACE_EXPANSIONS:
                raise brace_overflow(pattern, where)
            continue
        start, bounds = group
        alternatives = [current[a + 1: b] for a, b in zip(bounds, bounds[1:])]
        head, tail = current[:start], current[bounds[-1] + 1:]
        pending.extend(head + alt + tail for alt in reversed(alternatives))
        if len(pending) > MAX_BRACE_EXPANSIONS:
            raise brace_overflow(pattern, where)
    return out


def _first_group(pattern: str) -> tuple[int, list[int]] | None:
    """(start, [start, top-level commas..., end]) of the first brace group with a top-level comma."""
    depth = 0
    start = -1
    commas: list[int] = []
    for i, ch in enumerate(pattern):
        if ch == "{":
            if depth == 0:
                start, commas = i, []
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0 and commas:
                return start, [start, *commas, i]
        elif ch == "," and depth == 1:
            commas.append(i)
    return None


def brace_members(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern that is one brace group ("{a,b/**}" -> [a, b/**]), else [pattern]."""
    if not (pattern.startswith("{") and pattern.endswith("}")):
        return [pattern]
    depth = 0
    members: list[str] = []
    current = ""
    for i, ch in enumerate(pattern):
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                if i != len(pattern) - 1:
                    return [pattern]  # "{a,b}/{c,d}": not one group
                continue
        elif ch == "," and depth == 1:
            members.append(current)
            current = ""
            continue
        current += ch
    members.append(current)
    return members if len(members) > 1 else [pattern]


def join_members(members: list[str]) -> str:
    return members[0] if len(members) == 1 else "{" + ",".join(members) + "}"


def _segment_regex(segment: str) -> str:
    out = "" if segment.startswith(".") else "(?!\\.)"
    i = 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[" and (end := segment.find("]", i + 2)) != -1:
            body = segment[i + 1:end]
            if body.startswith(("!", "^")):
                body = "^/" + body[1:]  # a negated class still stays inside the segment
            out += "[" + body.replace("\\", "\\\\") + "]"
            i = end
        else:
            out += re.escape(ch)
        i += 1
    return out


def glob_regex(pattern: str) -> re.Pattern[str]:
    """One brace-free glob as a regex over project-relative paths."""
    segments = normalize(pattern).split("/")
    out = ""
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out += "(?:(?!\\.)[^/]*(?:/(?!\\.)[^/]*)*)?" if last else "(?:(?!\\.)[^/]+/)*"
        else:
            out += _segment_regex(segment) + ("" if last else "/")
    return re.compile(out + "$")


def glob_match(pattern: str, path: str, where: str = "") -> bool:
    return any(glob_regex(p).match(path) for p in expand_braces(pattern, where))


def glob_files(pattern: str, files: list[str], where: str = "") -> list[str]:
    regexes = [glob_regex(p) for p in expand_braces(pattern, where)]
    return [f for f in files if any(r.match(f) for r in regexes)]


def anchored_lines(pattern: str, where: str = "") -> tuple[str, ...]:
    """A platform glob (relative to the project) as anchored gitignore lines for Unit.includes/excludes."""
    return tuple("/" + normalize(p) for p in expand_braces(pattern, where) if normalize(p))


# ------------------------------------------------------------------------------------------------ units


def entry_unit(root: Path, entry: str, *, includes: tuple[str, ...] = (), excludes: tuple[str, ...] = (),
               zip_limit: tuple[int, str] | None = None, meta: Mapping[str, Any] | None = None,
               warnings: tuple[str, ...] = ()) -> Unit:
    """One function: its entry file, the local files and packages it loads, nothing else."""
    found = function_scan(root, [entry])
    name = function_name(entry)
    missing = tuple(f"{m} (add the file to includeFiles if it is loaded)" for m in found.missing)
    # @now/node and Vercel call the module's export (a function, or `default`); TypeScript is compiled by the
    # builder, so only JavaScript entries can be required from the zip.
    entries = (Entry(entry),) if entry.endswith(ENTRY_EXTENSIONS) else ()
    return Unit(name=name, function_filename=f"functions/{name}.zip", app_files=found.files,
                roots=found.modules, includes=includes, excludes=excludes, zip_limit=zip_limit,
                meta={"entry": entry, **(meta or {})}, warnings=(*warnings, *missing), entries=entries)


def unit_engines(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Unit name -> the engine facts the manifest recorded for it (file, target, source)."""
    units = doc.get("units")
    if isinstance(units, list):
        return {u["name"]: u.get("engine") or {} for u in units}
    return {"": doc.get("engine") or {}}


def json_value_line(text: str, key: str, value: Any, after: str | None = None) -> int | None:
    """The line of `"key": "value"` in a JSON text (after the first `"after":` when given), for messages."""
    start = 0
    if after is not None:
        m = re.search(r'"' + re.escape(after) + r'"\s*:', text)
        start = m.end() if m else 0
    m = re.compile(r'"' + re.escape(key) + r'"\s*:\s*' + re.escape(json.dumps(value))).search(text, start)
    if m is None:
        m = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


def json_key_after(text: str, key: str, after: str) -> int | None:
    """The line of `"key":` after the first `"after":` (e.g. a functions entry's includeFiles)."""
    m = re.search(r'"' + re.escape(after) + r'"\s*:', text)
    start = m.end() if m else 0
    m = re.compile(r'"' + re.escape(key) + r'"\s*:').search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


def where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


