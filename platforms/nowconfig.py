"""What the ZEIT Now and Vercel adapters share: entry files, globs as the platforms match them, one unit per entry.

Both platforms name their functions by file globs (now.json `builds[].src`, vercel.json `functions` keys,
`includeFiles`, `excludeFiles`) that follow minimatch (platforms/globs.py). They are matched against the
project's own files: node_modules and dot-folders (.git, .now, .vercel, .photon-bundle) are never entry points.

A function is one entry file. Its unit bundles that file, the local files it requires (platforms/jsdeps.py),
package.json, and the production closure of the packages those files load: nothing another function needs.
The unit's name is the entry path without its extension ("api/users.js" -> "api/users"), which is also the
route both platforms serve it at; its zip is `functions/<name>.zip` below the output folder.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ProjectError
from bundler.options import Extras, _bool, setting
from platforms.base import ENTRY_EXTENSIONS, Entry, Unit
from platforms.configfiles import read_json_object
from platforms.globs import normalize
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


def where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


