"""`--prebuilt DIR`: the user's own bundler already ran (webpack, esbuild, tsc, SST/CDK asset folders).

DIR's files become the function artifact's root. What a bundle cannot contain is added where the bundled client
looks: the schema.prisma of the generated client and the one engine beside the file that holds Prisma's client
code, and the packages the bundle still requires (externals) in node_modules with their closure. The common
mistake, a bundle with Prisma's client code but no engine or schema beside it, is detected and named."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from bundler.engines import EngineKind, engine_filename, parse_engine_filename
from bundler.errors import ConfigError, ProjectError
from bundler.jsbundle import clientcode
from bundler.jsbundle.model import Bundled
from bundler.project import Project
from platforms.base import ENTRY_EXTENSIONS, Unit
from platforms.jsdeps import scan as scan_requires

Log = Callable[[str], None]
MAX_FILES = 100_000
MAX_BYTES = 512 << 20  # a pre-built function folder bigger than this is not a function
DEFAULT_ENTRIES = ("index.js", "handler.js", "index.mjs", "handler.mjs", "index.cjs", "main.js")


def prebuilt_folder(project_root: Path, value: str, where: str) -> Path:
    """DIR as given (relative to the project folder), checked to be a folder."""
    path = Path(value)
    folder = path if path.is_absolute() else project_root / path
    if not folder.is_dir():
        raise ConfigError(f"{where}: the pre-built folder {folder} does not exist or is not a folder",
                          hint="run your bundler first (webpack, esbuild, tsc, sst/cdk synth), or fix the path")
    return folder


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every regular file of DIR (symlinks followed only inside it), by path relative to it."""
    files: dict[str, bytes] = {}
    total = 0
    real_root = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            real = os.path.realpath(path)
            if not real.startswith(real_root + os.sep) or not Path(real).is_file():
                continue
            rel = path.relative_to(folder).as_posix()
            data = Path(real).read_bytes()
            total += len(data)
            if len(files) >= MAX_FILES or total > MAX_BYTES:
                raise ProjectError(f"the pre-built folder {folder} holds more than {MAX_FILES:,} files or "
                                   f"{MAX_BYTES >> 20} MiB: that is not one function's bundle",
                                   hint="point --prebuilt at the bundler's output for the function")
            files[rel] = data
    return files


def entry_points(folder: Path, files: dict[str, bytes], unit: Unit) -> list[tuple[str, str | None]]:
    """(path in DIR, export) the platform loads: the unit's entry when it lies in DIR (or has the same path
    there), else DIR's package.json main, else index.js / handler.js, else every top-level JavaScript file."""
    found: list[tuple[str, str | None]] = []
    for entry in unit.entries:
        for candidate in _candidates(entry.path):
            if candidate in files:
                found.append((candidate, entry.export))
                break
    if found:
        return found
    export = unit.entries[0].export if unit.entries else None
    main = _main_of(files)
    if main is not None:
        return [(main, export)]
    named = [n for n in DEFAULT_ENTRIES if n in files]
    if named:
        return [(named[0], export)]
    top = sorted(n for n in files if "/" not in n and n.endswith(ENTRY_EXTENSIONS))
    if not top:
        raise ConfigError(f"the pre-built folder {folder} has no JavaScript file at its top to load",
                          hint="point --prebuilt at the folder your bundler wrote the handler to")
    return [(n, export) for n in top]


def _candidates(path: str) -> list[str]:
    stem, ext = posixpath.splitext(path)
    names = [path] if ext in ENTRY_EXTENSIONS else [stem + e for e in ENTRY_EXTENSIONS]
    out = list(names)
    for name in names:  # the handler named from the project ("dist/handler.js") or as the bundle's own root
        parts = name.split("/")
        out += ["/".join(parts[i:]) for i in range(1, len(parts))]
    return out


def _main_of(files: dict[str, bytes]) -> str | None:
    import json

    raw = files.get("package.json")
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    main = data.get("main") if isinstance(data, dict) else None
    if not isinstance(main, str):
        return None
    clean = main.removeprefix("./")
    return next((c for c in (clean, clean + ".js", clean + "/index.js") if c in files), None)


def prebuilt_unit(folder: Path, root: Path, project: Project, unit: Unit, kind: EngineKind, targets: frozenset[str],
                  target: str, log: Log) -> Bundled:
    """DIR as one unit's app: its files at the artifact's root, the engine's folder named, what was added said."""
    files = read_folder(folder)
    entries = entry_points(folder, files, unit)
    engines = {rel: p for rel in files if (p := parse_engine_filename(posixpath.basename(rel))) is not None}
    app = {rel: data for rel, data in files.items() if rel not in engines}
    shown = _shown(folder, root)
    client_files = sorted(rel for rel, data in app.items() if rel.endswith(ENTRY_EXTENSIONS)
                          and clientcode.holds_client(data) and not rel.startswith("node_modules/"))
    requires = scan_requires(folder, [e for e, _ in entries])
    shipped = {n.split("/node_modules/")[-1] for n in _installed_in(app)}
    roots = sorted({("", name) for _, name in requires.modules if name not in shipped})
    notes: list[str] = []
    engine_home = None
    if client_files and kind != "client":
        home = posixpath.dirname(client_files[0])
        engine_home = home + "/" if home else ""
        beside = f"beside {client_files[0]} (the artifact's {engine_home or 'root'})"
        schema_arc = posixpath.join(home, "schema.prisma")
        added: list[str] = []
        if schema_arc not in app:
            schema = clientcode.schema_source(root, _generated_folders(root), project.schema.path
                                              if project.schema else None)
            if schema is None:
                raise ProjectError(f"{shown}/{client_files[0]} contains Prisma's client code but there is no "
                                   f"schema.prisma beside it, and none in the project to add",
                                   hint="run `prisma generate` in the project, then photon-bundle again")
            app[schema_arc] = schema.read_bytes()
            shown_schema = schema.relative_to(root).as_posix() if schema.is_relative_to(root) else str(schema)
            added.append(f"schema.prisma (from {shown_schema})")
        own = [rel for rel, p in engines.items() if p.target in targets and posixpath.dirname(rel) == home
               and p.kind == kind]
        others = sorted(rel for rel in engines if rel not in own[:1])
        if own:  # the one photon-bundle acquired and verifies takes its place (same target, same file name)
            notes.append(f"{shown}/{own[0]} is the runtime's engine: shipped as the engine photon-bundle verified")
        else:
            added.append(f"the engine {engine_filename(kind, target)}")
        if others:
            notes.append(f"{shown} holds engines the runtime does not use, left out: {', '.join(others)}")
        if added:
            missing = [w for w, gone in (("schema.prisma", schema_arc not in files), ("query engine", not own)) if gone]
            notes.append(f"{shown}/{client_files[0]} contains Prisma's client code, but the bundler left out its "
                         f"{' and '.join(missing)}: added {' and '.join(added)} {beside}, where the bundled "
                         "client looks")
    elif engines:
        notes.append(f"{shown} holds query engines but no Prisma client code: left out {', '.join(sorted(engines))}")
    if roots:
        notes.append("the bundle requires packages it does not contain, shipped in node_modules with their "
                     "dependencies: " + ", ".join(sorted({n for _, n in roots})))
    for line in notes:
        log(f"{unit.name + ': ' if unit.name else ''}{line}")
    source_bytes = sum(len(d) for d in app.values())
    return Bundled(files=tuple(sorted(app.items())), entries=tuple(entries), roots=tuple(roots),
                   engine_home=engine_home, client_bundles=tuple(client_files[:1]) if engine_home is not None else (),
                   source_bytes=source_bytes, notes=tuple(notes))


def _installed_in(app: dict[str, bytes]) -> set[str]:
    """Package folders DIR ships itself (node_modules/<name>/package.json)."""
    found = set()
    for rel in app:
        if rel.startswith("node_modules/") and rel.endswith("/package.json"):
            found.add(posixpath.dirname(rel))
    return found


def _generated_folders(root: Path) -> list[str]:
    return [f for f in ("node_modules/.prisma/client",) if (root / f / "schema.prisma").is_file()]


def _shown(folder: Path, root: Path) -> str:
    try:
        return folder.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(folder)
