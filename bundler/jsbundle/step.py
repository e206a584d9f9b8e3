"""`--bundler esbuild` for one unit: each entry point bundled by the project's own esbuild into a temp folder,
the schema.prisma of the generated client the bundle was made from put beside it, the engine's folder named
(the plan places the one engine there), native addons and the configured externals left as requires and
shipped in node_modules with their closure (the plan's resolver follows them from `roots`)."""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path

from bundler.jsbundle import clientcode
from bundler.jsbundle.esbuild import BuildRequest, find_esbuild, run
from bundler.jsbundle.model import Bundled, EsbuildSettings
from bundler.project import PackageJson, Project
from bundler.walk import FileEntry
from platforms.base import Unit
from platforms.jsdeps import package_name

# source extension -> (output extension, ES module or None: as package.json "type" says)
OUTPUTS = {".ts": (".js", None), ".tsx": (".js", None), ".js": (".js", None), ".jsx": (".js", None),
           ".mts": (".mjs", True), ".mjs": (".mjs", True), ".cts": (".cjs", False), ".cjs": (".cjs", False)}


def output_path(source: str) -> tuple[str, bool | None]:
    """Where the bundle of `source` goes in the artifact (same folder and name; TypeScript becomes .js)."""
    stem, ext = posixpath.splitext(source)
    out_ext, esm = OUTPUTS.get(ext, (ext, None))
    return stem + out_ext, esm


def native_packages(files: list[FileEntry], installed: Mapping[str, PackageJson]) -> list[str]:
    """Names of installed packages that hold a native addon (a .node file or a binding.gyp): esbuild cannot bundle
    them, so they stay external. Prisma's engines and generated clients are not addons."""
    from bundler.engines import parse_engine_filename
    from bundler.plan import package_dir_of

    names: set[str] = set()
    for f in files:
        base = posixpath.basename(f.rel)
        if not (base.endswith(".node") or base == "binding.gyp") or parse_engine_filename(base):
            continue
        owner = package_dir_of(f.rel)
        pkg = installed.get(owner) if owner else None
        if pkg is not None and pkg.name and not pkg.name.startswith(("@prisma/", ".prisma")):
            names.add(pkg.name)
    return sorted(names)


def entry_sources(unit: Unit) -> list[tuple[str, str | None, str | None]]:
    """(source file, export, archive path of the platform's entry when it is a generated file) per entry point.
    Netlify's entry at the zip's root is a generated file requiring the function's main file: that one is
    bundled, the generated file kept."""
    generated = {arc for arc, _ in unit.generated}
    out: list[tuple[str, str | None, str | None]] = []
    for entry in unit.entries:
        if entry.path in generated:
            main = unit.meta.get("main_file")
            if isinstance(main, str):
                out.append((main, entry.export, entry.path))
        else:
            out.append((entry.path, entry.export, None))
    return out


def provided_externals(platform: str, installed: Mapping[str, PackageJson]) -> tuple[str, ...]:
    """What the runtime provides and the project does not install (the AWS SDK on Lambda): left out of the
    bundle and not shipped, as serverless-esbuild leaves out aws-sdk."""
    from bundler.loadcheck.model import LAMBDA_LIKE, RUNTIME_PROVIDED

    if platform not in LAMBDA_LIKE:
        return ()
    names = {p.name for p in installed.values() if p.name}
    out = []
    for provided in RUNTIME_PROVIDED:
        if provided.endswith("/"):
            if not any(n.startswith(provided) for n in names):
                out.append(provided + "*")
        elif provided not in names:
            out.append(provided)
    return tuple(out)


def bundle_unit(root: Path, project: Project, unit: Unit, node_major: int, externals: list[str],
                settings: EsbuildSettings | None, flags: Mapping[str, bool | None], tmp: Path,
                env: Mapping[str, str], provided: tuple[str, ...] = ()) -> Bundled:
    """Bundle one unit's entry points; what replaces its app files. `externals` are the native addons,
    `provided` what the runtime has (left out, not shipped)."""
    sources = entry_sources(unit)
    if not sources:
        raise_no_entry(unit)
    esbuild = find_esbuild(root)
    minify = _pick(flags.get("minify"), settings.minify if settings else None)
    sourcemap = _pick(flags.get("sourcemap"), settings.sourcemap if settings else None)
    configured = tuple(settings.external) if settings else ()
    excluded = (*(settings.exclude if settings else ()), *provided)
    external = (*externals, *configured, *excluded)
    files: dict[str, bytes] = {}
    entries: list[tuple[str, str | None]] = []
    roots: set[tuple[str, str]] = set()
    client_bundles: list[str] = []
    folders: list[str] = []
    source_bytes = 0
    read: set[str] = set()
    for source, export, generated_entry in sources:
        arc, esm = output_path(source)
        if esm is None:
            esm = _is_esm(root)
        outfile = tmp / (unit.name or "_") / arc
        meta = run(root, esbuild, BuildRequest(entry=source, outfile=outfile, node_major=node_major, esm=esm,
                                               external=external, minify=bool(minify), sourcemap=bool(sourcemap)),
                   env)
        inputs = meta.get("inputs", {})
        input_names = sorted(inputs) if isinstance(inputs, dict) else []
        read.update(input_names)
        source_bytes += sum(int(v.get("bytes", 0)) for v in inputs.values() if isinstance(v, dict)) \
            if isinstance(inputs, dict) else 0
        files[arc] = outfile.read_bytes()
        if sourcemap and Path(f"{outfile}.map").is_file():
            files[arc + ".map"] = relocated_map(Path(f"{outfile}.map").read_bytes(), outfile, root, arc)
        for name in clientcode.imported_externals(meta, _only_output(meta)):
            pkg = package_name(name)
            if pkg is not None and not any(fnmatch.fnmatchcase(pkg, pattern) for pattern in excluded):
                roots.add(("", pkg))
        entries.append((generated_entry or arc, export))
        if clientcode.reads_client(input_names):
            client_bundles.append(arc)
            folders += clientcode.client_folders(input_names, root)
    engine_home: str | None = None
    notes: list[str] = []
    if client_bundles and not any(name in {"@prisma/client", ".prisma"} for _, name in roots):
        engine_home, notes = _place_client(root, project, client_bundles, folders, files)
    if roots:
        notes.append("kept external, shipped in node_modules with their dependencies: "
                     + ", ".join(sorted({n for _, n in roots})))
    return Bundled(files=tuple(sorted(files.items())), entries=tuple(entries), roots=tuple(sorted(roots)),
                   engine_home=engine_home, client_bundles=tuple(client_bundles), source_bytes=source_bytes,
                   notes=tuple(notes), inputs=frozenset(read))


def _place_client(root: Path, project: Project, client_bundles: list[str], folders: list[str],
                  files: dict[str, bytes]) -> tuple[str, list[str]]:
    """The generated client's schema.prisma beside each bundle that holds the client (added to `files`); the
    folder the one engine goes in, and what was done."""
    notes: list[str] = []
    schema = clientcode.schema_source(root, sorted(set(folders)), project.schema.path if project.schema else None)
    if schema is None:
        from bundler.errors import ProjectError

        raise ProjectError(f"{', '.join(client_bundles)}: the bundle holds Prisma's client, but there is no "
                           "schema.prisma to put beside it (the bundled client reads it to find its folder)",
                           hint="run `prisma generate` in the project, then photon-bundle again")
    homes = sorted({posixpath.dirname(b) for b in client_bundles})
    engine_home = homes[0] + "/" if homes[0] else ""
    for home in homes:
        files[posixpath.join(home, "schema.prisma")] = schema.read_bytes()
    if len(homes) > 1:
        notes.append(f"the bundles with Prisma's client are in {len(homes)} folders ({', '.join(homes)}); the one "
                     f"engine goes beside {engine_home or 'the root'}: give them one folder")
    notes.append(f"Prisma's client is bundled into {', '.join(client_bundles)}: schema.prisma (from "
                 f"{schema.relative_to(root).as_posix()}) and the engine go in {engine_home or 'the artifact root'}, "
                 "where the bundled client looks")
    return engine_home, notes


def relocated_map(data: bytes, outfile: Path, root: Path, arc: str) -> bytes:
    """A source map's `sources` relative to the bundle's place in the artifact (esbuild writes them relative to
    the temp output folder, which names this machine's project path): the same map on every machine."""
    doc = json.loads(data)
    sources = doc.get("sources") if isinstance(doc, dict) else None
    if not isinstance(sources, list):
        return data
    base = posixpath.dirname(arc) or "."
    fixed = []
    for source in sources:
        absolute = os.path.normpath(outfile.parent / str(source))
        fixed.append(posixpath.relpath(Path(os.path.relpath(absolute, root)).as_posix(), base))
    doc["sources"] = fixed
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _pick(flag: bool | None, config: bool | None) -> bool:
    return bool(flag if flag is not None else config)


def _only_output(meta: Mapping[str, object]) -> str:
    outputs = meta.get("outputs")
    if isinstance(outputs, dict):
        js = [k for k in outputs if not k.endswith(".map")]
        if len(js) == 1:
            return str(js[0])
    return ""


def _is_esm(root: Path) -> bool:
    from bundler.project import package_json_data

    try:
        data = package_json_data(root / "package.json")
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("type") == "module"


def raise_no_entry(unit: Unit) -> None:
    from bundler.errors import ConfigError

    raise ConfigError(f"--bundler esbuild: {'function ' + unit.name if unit.name else 'the function'} has no entry "
                      "point to bundle", hint="name the handler (--handler file.export, or the platform's config)")
