"""Netlify Functions: one zip per function, each with only its own files and dependencies.

Netlify deploys functions to AWS Lambda, so the runtimes, OS profiles and engine targets are Lambda's
(runtimes.toml: [platform.netlify] runtimes_from = "lambda"); the zip limit is 50 MB.

Config (netlify.toml, read only — photon-bundle never writes it):
  * functions folder: --functions-dir, else `[functions] directory`, else the 2019 spelling
    `[build] functions`, else Netlify's default `netlify/functions`;
  * runtime: `[build.environment] AWS_LAMBDA_JS_RUNTIME` (e.g. "nodejs18.x"), else its `NODE_VERSION`
    major version (Netlify runs functions on the build's Node version), else `.nvmrc` / `.node-version`
    (read by Netlify's build), else engines.node, else the newest runtime the engines on disk serve, else
    the newest;
  * `[functions]` `included_files`, `external_node_modules`, `ignored_node_modules`, for all functions,
    and per function in `[functions."name"]` (the name may be a glob such as "api_*");
  * `[functions] node_bundler = "esbuild"`: each function is bundled (bundler/jsbundle/), TypeScript
    functions (.ts, .mts, .cts) are found too, and `external_node_modules` stay out of the bundle and ship
    with their closure; `--bundler none` turns it off, `--bundler esbuild` on for any node_bundler.

Functions are found like Netlify finds them: a file `functions/hello.js` (.mjs, .cjs) is the function
`hello`; a folder `functions/hello/` with `hello.js` or `index.js` is the function `hello` (every file
of the folder is bundled, so templates beside the code come along). Each function's own files and the
packages it loads come from a regex scanner over its JavaScript (platforms/jsdeps.py), following
relative requires; the production closure of those packages is bundled, nothing else. Like
zip-it-and-ship-it, a function whose main file is not at the zip's root gets a one-line entry file
`<name>.js` at the root, so the Lambda handler is `<name>.handler`.

Output: `<out>/functions/<name>.zip` and Netlify's manifest `<out>/functions/manifest.json`
(functions[] with name, mainFile, path, runtime, runtimeVersion, size; system.arch/platform; version),
so `<out>/functions` is the folder to deploy. photon-bundle's own manifest stays at `<out>/manifest.json`.
Paths in Netlify's manifest are relative to its folder (zip-it-and-ship-it writes absolute ones, which
would make the file differ from machine to machine).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, ProjectError
from bundler.jsbundle.model import EsbuildSettings
from bundler.options import Extras, Options, optional
from bundler.project import Project
from bundler.targets import load_matrix
from platforms.base import AdapterDefaults, Entry, OutputFile, Unit
from platforms.configfiles import dump_json, read_text, read_toml, toml_key_line
from platforms.jsdeps import SCANNED, function_scan

CONFIG = "netlify.toml"
DEFAULT_DIR = "netlify/functions"
MANIFEST = "functions/manifest.json"
LIST_KEYS = ("included_files", "external_node_modules", "ignored_node_modules")
TYPESCRIPT = (".ts", ".mts", ".cts")
TYPESCRIPT_OUTPUT = {".ts": ".js", ".mts": ".mjs", ".cts": ".cjs"}


def _folder(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a folder path")
    return value


@dataclass(frozen=True)
class NetlifyExtras(Extras):
    functions_dir: str | None = optional(_folder)  # --functions-dir, before netlify.toml's


VERSION_FILES = (".nvmrc", ".node-version")


def _runtime_from_version_file(root: Path) -> tuple[str, str] | None:
    """The Lambda runtime of the Node major in `.nvmrc` / `.node-version` (Netlify's build reads them), when
    Netlify Functions have one; a version file naming another Node (or an alias like `lts/*`) says nothing."""
    for name in VERSION_FILES:
        path = root / name
        if not path.is_file():
            continue
        m = re.match(r"^\s*v?(\d+)", read_text(path))
        if not m:
            continue
        major = int(m.group(1))
        match = next((r.name for r in load_matrix().runtimes_for("netlify") if r.node == major), None)
        if match is not None:
            return match, f"{name} says Node {major}"
    return None


class NetlifyAdapter(AdapterDefaults):
    key = "netlify"
    extras = NetlifyExtras

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        config, text = read_config(project.root)
        build = config.get("build")
        environment = build.get("environment") if isinstance(build, dict) else None
        if not isinstance(environment, dict):
            return _runtime_from_version_file(project.root)
        names = [r.name for r in load_matrix().runtimes_for(self.key)]
        where = f"{CONFIG} [build.environment]"
        runtime = environment.get("AWS_LAMBDA_JS_RUNTIME")
        if runtime is not None:
            if runtime not in names:
                line = toml_key_line(text, "AWS_LAMBDA_JS_RUNTIME")
                raise ConfigError(f"{project.root / CONFIG}:{line}: AWS_LAMBDA_JS_RUNTIME {runtime!r} is not a "
                                  f"Netlify Functions runtime", hint=f"use one of: {', '.join(names)}")
            return str(runtime), f"{where} AWS_LAMBDA_JS_RUNTIME"
        node = environment.get("NODE_VERSION")
        m = re.match(r"^v?(\d+)", str(node)) if node is not None else None
        if m:
            major = int(m.group(1))
            match = next((r.name for r in reversed(load_matrix().runtimes_for(self.key)) if r.node == major), None)
            if match is None:
                line = toml_key_line(text, "NODE_VERSION")
                raise ConfigError(f"{project.root / CONFIG}:{line}: NODE_VERSION {node!r}: Netlify Functions have no "
                                  f"Node {major} runtime",
                                  hint=f"set AWS_LAMBDA_JS_RUNTIME to one of: {', '.join(names)}")
            return match, f'{where} NODE_VERSION "{node}"'
        return _runtime_from_version_file(project.root)

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        config, text = read_config(project.root)
        functions_cfg = config.get("functions", {})
        if not isinstance(functions_cfg, dict):
            line = toml_key_line(text, "functions")
            raise ProjectError(f"{project.root / CONFIG}:{line}: [functions] must be a table")
        directory, where = functions_dir(project.root, config, options.extras_as(NetlifyExtras).functions_dir)
        bundler = functions_cfg.get("node_bundler")
        esbuild = options.bundler == "esbuild" or (bundler == "esbuild" and options.bundler is None)
        found = discover(project.root, directory, (*SCANNED, *TYPESCRIPT) if esbuild else SCANNED)
        if not found:
            raise ProjectError(f"no functions in {project.root / directory} ({where})",
                               hint="put hello.js or hello/index.js there, or pass --functions-dir")
        general: list[str] = []
        if bundler not in (None, "zisi", "none", "esbuild"):
            general.append(f'netlify.toml node_bundler = "{bundler}": photon-bundle zips the functions\' files '
                           "as they are (like zisi); node_bundler = \"esbuild\" or --bundler esbuild bundles them")
        units = [self._unit(project, text, functions_cfg, name, main, files, general) for name, main, files in found]
        if bundler != "esbuild":
            return units
        where_set = f"{CONFIG}:{toml_key_line(text, 'node_bundler')} [functions] node_bundler"
        return [replace(u, esbuild=EsbuildSettings(source=where_set, external=tuple(u.meta.get("external", ())),
                                                   exclude=tuple(sorted(u.ignored_modules))))
                for u in units]

    def _unit(self, project: Project, text: str, functions_cfg: dict[str, Any], name: str, main: str,
              files: list[str], general: list[str]) -> Unit:
        settings = function_settings(functions_cfg, name, project.root / CONFIG, text)
        found = function_scan(project.root, [main, *files])
        app_files = found.files
        roots = {*found.modules, *(("", m) for m in settings["external_node_modules"])}
        generated: tuple[tuple[str, bytes], ...] = ()
        stem, ext = main.rsplit(".", 1)[0], "." + main.rsplit(".", 1)[-1]
        ext = TYPESCRIPT_OUTPUT.get(ext, ext)  # a TypeScript function (bundled only) is loaded as its bundle
        entry = built = stem + ext
        esm = ext == ".mjs" or (ext == ".js" and is_esm(project))
        if "/" in main:
            entry = f"{name}{ext}"
            if entry in app_files:
                raise ProjectError(f"function {name}: its entry file {entry} would replace the project's own {entry}",
                                   hint="rename the function or that file")
            generated = ((entry, entry_file(built, esm=esm)),)
        warnings = [*general, *(f"{m} (add the file to included_files if it is loaded)" for m in found.missing)]
        return Unit(
            name=name, function_filename=f"functions/{name}.zip", app_files=app_files,
            roots=tuple(sorted(roots)), includes=tuple(anchored(p) for p in settings["included_files"]),
            ignored_modules=frozenset(settings["ignored_node_modules"]), generated=generated,
            meta={"main_file": main, "entry": entry, "handler": f"{entry.rsplit('.', 1)[0]}.handler",
                  **({"external": settings["external_node_modules"]} if settings["external_node_modules"] else {})},
            warnings=tuple(warnings),
            # Lambda calls `handler`; an ES module may be a Netlify v2 function (a default export) instead.
            entries=(Entry(entry, None if esm else "handler"),),
        )

    def outputs(self, project: Project, options: Options, units: list[Unit], doc: Mapping[str, Any],
                out_dir: Path) -> list[OutputFile]:
        sizes = {a["path"]: a["zipped_bytes"] for a in doc["artifacts"]}
        by_name = {u["name"]: u for u in doc.get("units", [])}
        functions = []
        for unit in units:
            info = by_name.get(unit.name, {})
            path = unit.function_filename
            functions.append({
                "mainFile": unit.meta["main_file"], "name": unit.name, "path": path[len("functions/"):],
                "runtime": "js", "runtimeVersion": info.get("runtime", doc["runtime"]), "size": sizes.get(path),
            })
        arch = "arm64" if doc["arch"] == "arm64" else "x64"
        manifest = {"functions": functions, "system": {"arch": arch, "platform": "linux"}, "version": 1}
        note = f"Netlify's manifest: {out_dir / MANIFEST} (deploy the folder {out_dir / 'functions'})"
        return [OutputFile(out_dir / MANIFEST, dump_json(manifest), note=note)]


def read_config(root: Path) -> tuple[dict[str, Any], str]:
    path = root / CONFIG
    if not path.is_file():
        return {}, ""
    return read_toml(path), read_text(path)


def functions_dir(root: Path, config: Mapping[str, Any], flag: str | None) -> tuple[str, str]:
    """(folder relative to root, where it was named)."""
    functions = config.get("functions")
    build = config.get("build")
    candidates = [
        (flag, "--functions-dir"),
        (functions.get("directory") if isinstance(functions, dict) else None, f"{CONFIG} [functions] directory"),
        (build.get("functions") if isinstance(build, dict) else None, f"{CONFIG} [build] functions"),
    ]
    for value, where in candidates:
        if value is not None:
            if not isinstance(value, str):
                raise ProjectError(f"{root / CONFIG}: {where} must be a folder path")
            if not (root / value).is_dir():
                raise ProjectError(f"functions folder {root / value} does not exist ({where})",
                                   hint="create it or fix the path")
            return value.strip("/").removeprefix("./") or ".", where
    if (root / DEFAULT_DIR).is_dir():
        return DEFAULT_DIR, "Netlify's default"
    raise ProjectError(f"no functions folder: {CONFIG} names none and {root / DEFAULT_DIR} does not exist",
                       hint="set [functions] directory in netlify.toml or pass --functions-dir")


def discover(root: Path, directory: str, extensions: tuple[str, ...] = SCANNED) -> list[tuple[str, str, list[str]]]:
    """(name, main file, every other file of a folder function), sorted by name; paths relative to root.
    TypeScript functions are found when they are bundled (`extensions`)."""
    base = root / directory
    prefix = "" if directory == "." else directory + "/"
    found: list[tuple[str, str, list[str]]] = []
    for child in sorted(base.iterdir()):
        if child.name.startswith((".", "_")) or child.name == "node_modules":
            continue
        if child.is_file() and child.suffix in extensions and not child.name.endswith(".d.ts"):
            found.append((child.stem, prefix + child.name, []))
        elif child.is_dir():
            main = next((f"{prefix}{child.name}/{stem}{ext}" for stem in (child.name, "index") for ext in extensions
                         if (child / f"{stem}{ext}").is_file()), None)
            if main is not None:
                files = sorted(p.relative_to(root).as_posix() for p in child.rglob("*")
                               if p.is_file() and "node_modules" not in p.relative_to(child).parts)
                found.append((child.name, main, [f for f in files if f != main]))
    return found


def function_settings(functions_cfg: Mapping[str, Any], name: str, path: Path, text: str) -> dict[str, list[str]]:
    """included_files / external_node_modules / ignored_node_modules for one function, lists merged."""
    merged: dict[str, list[str]] = {key: [] for key in LIST_KEYS}
    sections = [("[functions]", functions_cfg)] + [
        (f'[functions."{pattern}"]', table) for pattern, table in functions_cfg.items()
        if isinstance(table, dict) and fnmatch.fnmatchcase(name, pattern)
    ]
    for where, table in sections:
        for key in LIST_KEYS:
            value = table.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ProjectError(f"{path}:{toml_key_line(text, key)}: {where} {key} must be a list of strings")
            merged[key] += value
    return merged


def anchored(pattern: str) -> str:
    """A netlify.toml glob (relative to the base folder) as an anchored gitignore line."""
    negate = pattern.startswith("!")
    body = pattern[1:] if negate else pattern
    body = body.removeprefix("./")
    if not body.startswith("/"):
        body = "/" + body
    return ("!" if negate else "") + body


def is_esm(project: Project) -> bool:
    from bundler.project import package_json_data

    try:
        data = package_json_data(project.root / "package.json")
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("type") == "module"


def entry_file(main: str, *, esm: bool) -> bytes:
    if esm:
        return f"export * from './{main}';\n".encode()
    return f"module.exports = require('./{main}');\n".encode()
