"""Vercel: one zip per function, and vercel.json `functions` entries that make Vercel ship the engine.

Runtimes: Vercel runs Node 16/18 on Amazon Linux 2 (rhel-openssl-1.0.x) and Node 20+ on Amazon Linux 2023
(rhel-openssl-3.0.x), runtimes.toml [[runtime]] platform = "vercel". The Node version is a project setting or
package.json engines.node, never vercel.json, so the runtime comes from --runtime / photon-bundle.toml, else
engines.node, else the newest runtime.

Functions, as Vercel finds them: every JavaScript file below api/ (.js, .mjs, .cjs), except files and folders
whose name starts with "_" or "." and .d.ts files; plus the files matched by the keys of vercel.json
`functions` ({"api/*.js": {"memory", "maxDuration", "includeFiles", "excludeFiles"}}), which configure
functions rather than restrict them. A `functions` key that matches no file is an error, as on Vercel. Or the
files given with --entry. A function's settings are those of the first key that matches it (Vercel's rule):
`includeFiles` are forced into its zip, `excludeFiles` left out. Vercel wants each of them as ONE glob
string (a list is rejected at deploy), so several patterns are combined with braces: "{a/**,b.txt}".
TypeScript functions are compiled by Vercel itself: they are skipped with a warning (compile them and pass the
output with --entry). `builds` (the legacy form) is not read: Vercel refuses `builds` with `functions`.

Size: 250 MB unzipped per function of which Vercel keeps 25 MiB for itself ([platform.vercel] unzipped_max
and reserve), checked by the pipeline before any zip is written; --max-size adds a zipped limit.

vercel.json out: for each function that loads the Prisma client, the `includeFiles` of its `functions` entry
(the first matching key, else a new key for the entry file) names the engine file as it lies in the project,
e.g. "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node": Vercel's file tracing does
not see the engine, which the client loads by a computed path. The user's own includeFiles patterns are kept
(an engine path for another target, written by an earlier run, is replaced), as are every other key and the
key order. The copy goes to the output folder; the project's vercel.json is updated only with --write-config.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bundler.engines import parse_engine_filename
from bundler.errors import ProjectError
from bundler.options import Options
from bundler.project import Project
from platforms.base import AdapterDefaults, OutputFile, Unit
from platforms.configfiles import config_outputs, dump_json, json_key_line
from platforms.jsdeps import SCANNED
from platforms.nowconfig import (
    NowExtras,
    anchored_lines,
    brace_members,
    check_unique_names,
    checked_entries,
    entry_unit,
    glob_files,
    glob_match,
    join_members,
    json_key_after,
    project_files,
    read_optional,
    unit_engines,
    where,
)

CONFIG = "vercel.json"
API_DIR = "api/"
TYPESCRIPT = (".ts", ".tsx", ".mts", ".cts")
GLOB_CHARS = frozenset("*?[{")


def read_functions(config: Mapping[str, Any] | None, text: str, path: Path) -> dict[str, dict[str, Any]]:
    """vercel.json `functions`, checked the way Vercel's schema checks it."""
    if config is None:
        return {}
    if "builds" in config:
        raise ProjectError(f"{where(path, json_key_line(text, 'builds'))}: vercel.json `builds` (the legacy form) is "
                           "not read by photon-bundle vercel, and Vercel refuses it together with `functions`",
                           hint='replace "builds" with "functions": {"api/*.js": {}} (or pass --entry FILE)')
    functions = config.get("functions", {})
    if not isinstance(functions, dict):
        raise ProjectError(f"{where(path, json_key_line(text, 'functions'))}: \"functions\" must be an object of "
                           'glob -> settings, e.g. {"api/*.js": {"memory": 1024}}')
    for key, settings in functions.items():
        line = json_key_after(text, key, "functions")
        if not isinstance(settings, dict):
            raise ProjectError(f"{where(path, line)}: functions[{key!r}] must be an object")
        for name in ("includeFiles", "excludeFiles"):
            value = settings.get(name)
            if value is not None and not isinstance(value, str):
                raise ProjectError(f"{where(path, json_key_after(text, name, key) or line)}: functions[{key!r}]."
                                   f"{name} must be one glob string: Vercel rejects "
                                   f"{'a list' if isinstance(value, list) else type(value).__name__}",
                                   hint='combine several patterns with braces, e.g. "{templates/**,data/*.json}"')
        for name in ("memory", "maxDuration"):
            value = settings.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ProjectError(f"{where(path, json_key_after(text, name, key) or line)}: functions[{key!r}]."
                                   f"{name} must be a number")
    return functions


def is_function_file(rel: str) -> bool:
    """Vercel's rule: no part of the path starts with "_" or ".", and not a .d.ts file."""
    return not any(part.startswith(("_", ".")) for part in rel.split("/")) and not rel.endswith(".d.ts")


def discover(files: list[str], functions: Mapping[str, Mapping[str, Any]], path: Path,
             text: str) -> tuple[list[str], list[str]]:
    """(entry files, warnings): api/ plus what the functions keys match."""
    candidates = [f for f in files if f.startswith(API_DIR)]
    warnings: list[str] = []
    for key, settings in functions.items():
        matched = glob_files(key, files, str(path))
        if not matched:
            raise ProjectError(f"{where(path, json_key_after(text, key, 'functions'))}: the pattern {key!r} defined "
                               "in `functions` doesn't match any file of the project",
                               hint="fix the glob (relative to the project, e.g. \"api/*.js\") or remove the entry")
        runtime = settings.get("runtime")
        if isinstance(runtime, str) and "node" not in runtime:
            warnings.append(f"functions[{key!r}] uses the runtime {runtime!r}: not bundled (not Node.js)")
            skipped = set(matched)
            candidates = [c for c in candidates if c not in skipped]
            continue
        candidates += matched
    entries: list[str] = []
    for rel in sorted(set(candidates)):
        if not is_function_file(rel):
            continue
        if rel.endswith(SCANNED):
            entries.append(rel)
        elif rel.endswith(TYPESCRIPT):
            warnings.append(f"{rel}: TypeScript is compiled by Vercel's build: compile it and pass the output "
                            "with --entry to bundle it")
    return entries, warnings


def combine_include(existing: str | None, engine_paths: list[str]) -> str:
    """includeFiles naming the engine files, the user's own patterns kept, stale engine paths replaced."""
    members = brace_members(existing) if existing else []
    kept = [m for m in members if not (not GLOB_CHARS & set(m) and m not in engine_paths
                                       and parse_engine_filename(posixpath.basename(m)) is not None)]
    for engine in engine_paths:
        if not any(glob_match(m, engine) for m in kept):
            kept.append(engine)
    return join_members(kept)


def updated_vercel_json(config: Mapping[str, Any], units: list[Unit],
                        engines: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    data = dict(config)
    functions: dict[str, Any] = copy.deepcopy(dict(config.get("functions") or {}))
    groups: dict[str, list[str]] = {}
    for unit in units:
        file = engines.get(unit.name, {}).get("file")
        if file:
            paths = groups.setdefault(unit.meta["pattern"] or unit.meta["entry"], [])
            if file not in paths:
                paths.append(file)
    for key, paths in groups.items():
        entry = functions.setdefault(key, {})
        entry["includeFiles"] = combine_include(entry.get("includeFiles"), paths)
    if groups:
        data["functions"] = functions
    return data


class VercelAdapter(AdapterDefaults):
    # The runtime is a project setting or engines.node, never vercel.json; no zip limit (Vercel limits the
    # unzipped size): both from AdapterDefaults and runtimes.toml.
    key = "vercel"
    extras = NowExtras

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        root = project.root
        path = root / CONFIG
        config, text = read_optional(path)
        functions = read_functions(config, text, path)
        warnings: list[str] = []
        given = options.extras_as(NowExtras).entry
        if given:
            entries = checked_entries(root, given)
        else:
            entries, warnings = discover(project_files(root), functions, path, text)
            if not entries:
                raise ProjectError(f"no functions in {root}: no JavaScript file below api/ and no `functions` in "
                                   f"{CONFIG} that matches one", hint="put the functions in api/, or pass --entry FILE")
        check_unique_names(entries)
        units = []
        for n, entry in enumerate(entries):
            key = next((k for k in functions if glob_match(k, entry, str(path))), None)
            settings = functions.get(key, {}) if key is not None else {}
            include, exclude = settings.get("includeFiles"), settings.get("excludeFiles")
            units.append(entry_unit(
                root, entry, includes=anchored_lines(include, str(path)) if include else (),
                excludes=anchored_lines(exclude, str(path)) if exclude else (), meta={"pattern": key},
                warnings=tuple(warnings) if n == 0 else ()))
        return units

    def outputs(self, project: Project, options: Options, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        path = project.root / CONFIG
        config, text = read_optional(path)
        engines = unit_engines(doc)
        updated = updated_vercel_json(config or {}, units, engines)
        if config is None and not updated:
            return []  # nothing loads the Prisma client: no engine to include, no file to write
        out_text = text if config is not None and updated == config else dump_json(updated, text)
        outputs = config_outputs(path, out_dir, out_text, write_config=options.extras_as(NowExtras).write_config)
        notes = sorted({f"warning: {e['file']} is not in your project (photon-bundle took it from {e.get('source')}): "
                        f"Vercel builds from your sources, so add \"{e['target']}\" to the generator's binaryTargets "
                        "and run `prisma generate`"
                        for e in engines.values() if e.get("file") and e.get("source") not in (None, "local")})
        if notes:
            outputs[0] = replace(outputs[0], note="\n".join([outputs[0].note, *notes]).strip())
        return outputs
