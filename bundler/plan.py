"""Which files go where: a pure function from the scanned tree to a BundlePlan.

Inputs are values (the file list from walk.py, the package.json of every installed package, the
project, the chosen engine); the output says for every file its archive path and mode, or why it was
left out. Nothing here touches the file system, so tests assert on plans without writing zips.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.clients import client_packages, package_layout
from bundler.engines import is_cli_engine, parse_engine_filename
from bundler.project import PackageJson, Project
from bundler.walk import FileEntry
from platforms.base import Unit

if TYPE_CHECKING:
    import pathspec

SECRET_EXCLUDES = (
    ".git/", ".hg/", ".svn/", ".env", ".env.*", "*.pem", "*.key", "id_rsa*", ".npmrc", ".yarnrc", ".yarnrc.yml",
    ".aws/",
    ".photon-bundle/", "photon-bundle.toml", ".DS_Store", "*.tfstate", "*.tfstate.backup",
)
# Other tools' output and cache folders: the Serverless Framework's packages (its CloudFormation templates carry
# resolved secrets, its zips the .env), serverless-esbuild / -webpack / -plugin-typescript builds, SAM, Netlify,
# Vercel / Now, CDK, Terraform, Next.js' build cache, Turborepo and Parcel caches. `--include` brings one back.
BUILD_OUTPUT_EXCLUDES = (
    ".serverless/", ".esbuild/", ".webpack/", ".build/", ".aws-sam/", ".netlify/", ".vercel/", ".now/",
    "cdk.out/", ".terraform/", ".next/cache/", ".turbo/", ".parcel-cache/",
)
DEFAULT_EXCLUDES = SECRET_EXCLUDES + BUILD_OUTPUT_EXCLUDES
# Packages and folders that only the Prisma CLI uses, never the function at run time.
CLI_PACKAGES = ("prisma", "prisma2", "@prisma/cli", "@prisma/engines")
JUNK_DIRS = ("node_modules/.cache/", "node_modules/.bin/")
JUNK_FILES = ("node_modules/.package-lock.json", "node_modules/.yarn-integrity", "node_modules/.modules.yaml")
_WASM = re.compile(r"^query_(?:engine|compiler(?:_fast|_small)?)_bg\.(?P<provider>\w+)\.wasm(?:-base64\.js)?$")
TRACE_REASON = "not reached from the entry points (--trace)"
NOT_PRODUCTION = "not a production dependency"
NOT_USED = "not used by this function"
# Where the trace saw the file loaded, it knows better than package.json (a peer dependency, a package the app
# requires without declaring it) and than the function's file scan.
TRACE_OVERRIDES = (NOT_PRODUCTION, NOT_USED)
BUNDLED = "bundled: its code is in the function's bundle (--bundler esbuild)"
APP = "(app)"
ENGINE = "(engine)"


@dataclass(frozen=True)
class PlanEntry:
    arc: str  # path inside the archive
    size: int
    mode: int  # 0o644 or 0o755
    package: str  # owning npm package, APP or ENGINE: for the size breakdown
    source: str | Path | None = None  # file to copy (a string from the walk: no Path per file), or
    data: bytes | None = None  # generated content (the layer's exec wrapper)
    mtime_ns: int = 0  # of the source, for the no-op rebuild fingerprint (never written to the zip)


@dataclass(frozen=True)
class Pruned:
    rel: str
    size: int
    reason: str


@dataclass(frozen=True)
class ArtifactPlan:
    kind: str  # "function" | "layer"
    filename: str
    entries: tuple[PlanEntry, ...]

    @property
    def unzipped_size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True)
class BundlePlan:
    artifacts: tuple[ArtifactPlan, ...]
    engine: PlanEntry | None  # the engine as placed in its artifact
    engine_artifact: str | None  # the filename of the artifact that carries it
    pruned: tuple[Pruned, ...]
    warnings: tuple[str, ...]
    # Bytes of production dependencies left out for the platform to install at deploy time
    # (dependencies="client-only"), measured on the local install: for the platform's unzipped limit.
    deferred_bytes: int = 0


@dataclass(frozen=True)
class EngineChoice:
    """The one engine the bundle carries: a file already in the tree (`rel`) or one from elsewhere."""

    filename: str
    target_names: frozenset[str]  # target names that denote the runtime's engine (legacy included)
    source: Path
    size: int
    rel: str | None = None  # set when the engine is a file of the scanned tree


# The unit of a platform that bundles the whole project (what plan_bundle plans when given no other).
WHOLE_PROJECT = Unit(name="", function_filename="function.zip")


@dataclass(frozen=True)
class PlanOptions:
    """The unit to plan (its files, roots, names, relocations: platforms/base.py) and the run's settings."""

    unit: Unit = WHOLE_PROJECT
    excludes: tuple[str, ...] = ()  # --exclude lines, after the unit's own
    includes: tuple[str, ...] = ()  # --include patterns, after the unit's own
    out_rel: str | None = None  # the output folder, relative to the root, when it is inside the project
    format: str = "zip"  # zip | layer | both
    layer_node_modules: bool = False
    layer_layout: Mapping[str, str] = field(default_factory=dict)
    wrapper_template: str = ""
    # Generated client folders the layout placed ("node_modules/.prisma/"), found by the resolver wherever
    # they really are (beside pnpm's @prisma/client, a workspace's generator output): no package.json names them.
    client_folders: tuple[str, ...] = ()
    # --trace: the files the unit's entry points reach (bundler/trace/); every other file is left out, except
    # the generated client folders and the engine. None: no tracing.
    traced: frozenset[str] | None = None
    # The folder beside a bundle that holds Prisma's client code (bundler/jsbundle/): the one engine goes there,
    # the generated client's own folders are not shipped (their code is in the bundle). None: not bundled.
    engine_home: str | None = None
    bundled_files: frozenset[str] = frozenset()  # files esbuild read into the bundles (their reason to be out)

    @property
    def all_excludes(self) -> tuple[str, ...]:
        return (*self.unit.excludes, *self.excludes)

    @property
    def all_includes(self) -> tuple[str, ...]:
        return (*self.unit.includes, *self.includes)


def package_dir_of(rel: str) -> str | None:
    """The installed package folder that owns a path below node_modules ("node_modules/@a/b"), or None."""
    parts = rel.split("/")
    last = max((i for i, p in enumerate(parts[:-1]) if p == "node_modules"), default=-1)
    if last < 0 or last + 1 >= len(parts) - 1:
        return None
    name = parts[last + 1]
    if name.startswith("@"):
        if last + 2 >= len(parts) - 1:
            return None
        return "/".join(parts[: last + 3])
    return "/".join(parts[: last + 2])


def resolve_package(from_dir: str, name: str, installed: Mapping[str, PackageJson]) -> str | None:
    """Node's lookup: <dir>/node_modules/<name> from the requiring package's folder up to the root."""
    directory = from_dir
    while True:
        if posixpath.basename(directory) != "node_modules":
            candidate = posixpath.join(directory, "node_modules", name) if directory else f"node_modules/{name}"
            if candidate in installed:
                return candidate
        if not directory:
            return None
        directory = posixpath.dirname(directory)


def vendored_dirs(files: Iterable[FileEntry]) -> tuple[str, ...]:
    """node_modules folders among the app's own files with no package.json beside them ("src/node_modules/"):
    vendored code the app requires by name, which Node finds in every parent folder's node_modules
    (bundler/scan.py walks them). Nothing says which of it the app loads: all of it is the app's."""
    app = [f.rel for f in files if not f.rel.startswith("node_modules/")]
    manifests = {posixpath.dirname(rel) for rel in app if posixpath.basename(rel) == "package.json"}
    return tuple(sorted({rel.split("/node_modules/", 1)[0] + "/node_modules/" for rel in app if "/node_modules/" in rel
                         and rel.split("/node_modules/", 1)[0] not in manifests}))


def dependency_closure(root: PackageJson, installed: Mapping[str, PackageJson], *,
                       roots: Iterable[tuple[str, str]] | None = None,
                       ignored: frozenset[str] = frozenset(),
                       vendored: Iterable[str] = ()) -> tuple[set[str], list[str]]:
    """Package folders the production code can load, and warnings for required packages not installed.

    The closure starts at package.json's production dependencies and the `vendored` package folders, or at
    `roots` (folder of the requiring file, module name) when a function's own requires are known (Node's
    lookup from there reaches vendored ones by itself); `ignored` names are never followed.
    """
    seen: set[str] = set()
    warnings: list[str] = []
    queue: list[tuple[str, str, bool, str]]
    if roots is None:
        queue = [("", name, name in root.optional and name not in root.dependencies, "package.json")
                 for name in root.runtime_dependencies]
        for folder in vendored:
            from_dir, _, name = folder.rpartition("/node_modules/")
            queue.append((from_dir, name, False, "the app's files"))
    else:
        queue = [(from_dir, name, False, f"{from_dir or '.'}/") for from_dir, name in sorted(set(roots))]
    while queue:
        from_dir, name, optional, wanted_by = queue.pop()
        if name in ignored:
            continue
        found = resolve_package(from_dir, name, installed)
        if found is None:
            if not optional:
                warnings.append(f"dependency {name} (of {wanted_by}) is not installed; run `npm ci` first")
            continue
        if found in seen:
            continue
        seen.add(found)
        pkg = installed[found]
        for dep in pkg.runtime_dependencies:
            queue.append((found, dep, dep in pkg.optional and dep not in pkg.dependencies, pkg.name or found))
    return seen, sorted(warnings)


def generated_client_dirs(project: Project, closure: Iterable[str]) -> list[str]:
    """Folders below node_modules holding a generated client, which no package.json names."""
    dirs: list[str] = []
    if "node_modules/@prisma/client" in set(closure):
        dirs.append("node_modules/.prisma/")
    schema = project.schema
    if schema is not None:
        if schema.is_photon:
            dirs.append("node_modules/@generated/")
        base = posixpath.dirname(schema.path)
        for gen in schema.client_generators:
            if gen.output and not gen.output.startswith("env:"):
                out = posixpath.normpath(posixpath.join(base, gen.output))
                if out.startswith("node_modules/"):
                    dirs.append(out.rstrip("/") + "/")
    return dirs


def default_exclude_candidate(out_rel: str | None) -> Callable[[str], bool]:
    """A cheap test that is true for every path DEFAULT_EXCLUDES (plus the output folder) can match, so the
    gitignore matcher runs on a few files instead of all of them. Every default pattern names a component
    that starts with a dot, ends in .pem, .key or .tfstate (.backup), starts with id_rsa, or is
    photon-bundle.toml or cdk.out; the output folder's pattern names its last component
    (tests/unit/test_plan.py checks the superset)."""
    out_token = "/" + out_rel.strip("/").rsplit("/", 1)[-1] + "/" if out_rel and out_rel.strip("/") else None

    def candidate(rel: str) -> bool:
        return (rel.startswith(".") or "/." in rel or ".pem" in rel or ".key" in rel or "id_rsa" in rel
                or "photon-bundle.toml" in rel or ".tfstate" in rel or "cdk.out" in rel
                or (out_token is not None and out_token in "/" + rel + "/"))

    return candidate


@dataclass(frozen=True)
class _Filters:
    """The default excludes, the user's excludes and includes, as one decision per file."""

    default: pathspec.GitIgnoreSpec
    build_outputs: pathspec.GitIgnoreSpec
    maybe_default: Callable[[str], bool]
    user: pathspec.GitIgnoreSpec | None
    include: pathspec.GitIgnoreSpec | None

    @classmethod
    def of(cls, options: PlanOptions) -> _Filters:
        out = (options.out_rel.rstrip("/") + "/",) if options.out_rel else ()
        return cls(default=_spec(DEFAULT_EXCLUDES + out), build_outputs=_spec(BUILD_OUTPUT_EXCLUDES),
                   maybe_default=default_exclude_candidate(options.out_rel),
                   user=_spec(options.all_excludes) if options.all_excludes else None,
                   include=_spec(options.all_includes) if options.all_includes else None)

    def apply(self, rel: str, reason: str | None, package: str) -> str | None:
        """The file's reason to be left out after the patterns; an include never brings back an engine."""
        if reason is None and self.maybe_default(rel) and self.default.match_file(rel):
            reason = ("excluded by default (another tool's build output or cache)"
                      if self.build_outputs.match_file(rel) else "excluded by default (secrets and junk)")
        if reason is None and self.user is not None and self.user.match_file(rel):
            reason = "excluded by exclude patterns (--exclude, the config file, or the platform's ignore rules)"
        if reason is not None and package != ENGINE and self.include is not None and self.include.match_file(rel):
            reason = None
        return reason


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    import pathspec  # imported when planning, so reading the platform registry stays light

    return pathspec.GitIgnoreSpec.from_lines(list(patterns))


def plan_bundle(
    project: Project,
    files: list[FileEntry],
    installed: Mapping[str, PackageJson],
    engine: EngineChoice | None,
    options: PlanOptions,
) -> BundlePlan:
    """Decide every file's fate. `engine` None means the client needs no native engine (Prisma 7)."""
    schemas = frozenset(posixpath.dirname(f.rel) for f in files if f.rel.endswith("/schema.prisma"))
    if options.engine_home is not None and engine is not None and engine.rel is not None:
        engine = replace(engine, rel=None)  # a bundle's engine goes beside the bundle, not where it was generated
    closure, warnings, client_dirs, app_client_dirs, uses_client = _scope(
        project, installed, options, schemas, vendored := vendored_dirs(files))
    if not uses_client:
        engine = None
    deferred = 0
    filters = _Filters.of(options)
    provider = project.schema.datasource_provider if project.schema else None
    unit = options.unit

    kept: list[PlanEntry] = []
    pruned: list[Pruned] = []
    engine_entry: PlanEntry | None = None
    for f in files:
        reason: str | None
        if not uses_client and parse_engine_filename(posixpath.basename(f.rel)) is not None:
            reason, package = "engine not needed: the function does not load the Prisma client", ENGINE
        else:
            reason, package = _fate(f.rel, closure, client_dirs, installed, engine, provider,
                                    vendored if unit.roots is None else ())
        if reason is None and package == APP and unit.app_files is not None and f.rel not in unit.app_files \
                and not f.rel.startswith(app_client_dirs):
            reason = NOT_USED
        if (reason is None and unit.dependencies == "client-only" and _in_node_modules(f.rel)
                and not f.rel.startswith((*client_dirs, *vendored))
                and not (engine is not None and f.rel == engine.rel)):
            reason = "installed by the platform at deploy time"
            deferred += f.size
        reason = _late_fate(reason, f.rel, options, (engine is not None and f.rel == engine.rel)
                            or f.rel.startswith(client_dirs + app_client_dirs))  # a traced unit keeps these whole
        reason = filters.apply(f.rel, reason, package)
        if reason is not None:
            pruned.append(Pruned(f.rel, f.size, reason))
            continue
        is_engine = engine is not None and f.rel == engine.rel
        mode = 0o755 if is_engine or f.mode & 0o111 else 0o644
        entry = PlanEntry(arc=f.rel, size=f.size, mode=mode, package=ENGINE if is_engine else package,
                          source=f.fspath, mtime_ns=f.mtime_ns)
        if is_engine:
            engine_entry = entry
        kept.append(entry)

    if engine is not None and engine_entry is None:
        home = options.engine_home if options.engine_home is not None else \
            _engine_home(files, client_dirs, app_client_dirs, engine_homes(project, closure, schemas))
        engine_entry = PlanEntry(arc=home + engine.filename, size=engine.size, mode=0o755, package=ENGINE,
                                 source=engine.source)
        kept.append(engine_entry)
    if options.unit.relocate:
        moved = [_moved(e, _relocated(e.arc, options.unit.relocate)) for e in kept]
        engine_entry = next((m for e, m in zip(kept, moved) if e is engine_entry), None)
        kept = moved
    if options.unit.generated:
        replaced = {arc for arc, _ in options.unit.generated}
        kept = [e for e in kept if e.arc not in replaced]
        kept += [PlanEntry(arc=arc, size=len(data), mode=0o644, package=APP, data=data)
                 for arc, data in options.unit.generated]
    artifacts, placed = _split(kept, engine_entry, options)
    carrier = next((a.filename for a in artifacts if placed is not None and placed in a.entries), None)
    return BundlePlan(artifacts=artifacts, engine=placed, engine_artifact=carrier, pruned=tuple(pruned),
                      warnings=tuple(warnings), deferred_bytes=deferred)


def _late_fate(reason: str | None, rel: str, options: PlanOptions, kept_whole: bool) -> str | None:
    """--trace's decision (_traced_fate), then --bundler esbuild's: a file read into the bundles is out as BUNDLED."""
    reason = _traced_fate(reason, rel, options.traced, kept_whole)
    return BUNDLED if reason is not None and rel in options.bundled_files else reason


def _traced_fate(reason: str | None, rel: str, traced: frozenset[str] | None, kept_whole: bool) -> str | None:
    """With --trace: a file the entry points reach is kept even where package.json or the function's file scan
    would leave it out (TRACE_OVERRIDES); one they do not reach is left out, unless it is the engine or in a
    generated client folder (`kept_whole`)."""
    if traced is None:
        return reason
    if rel in traced:
        return None if reason in TRACE_OVERRIDES else reason
    return TRACE_REASON if reason is None and not kept_whole else reason


def _scope(project: Project, installed: Mapping[str, PackageJson], options: PlanOptions,
           schemas: frozenset[str] = frozenset(),
           vendored: tuple[str, ...] = ()) -> tuple[set[str], list[str], tuple[str, ...], tuple[str, ...], bool]:
    """(closure, warnings, generated client folders, generated folders among the app files, uses the client).
    `schemas`: the folders holding a schema.prisma (a client generated into its own package has one);
    `vendored`: the vendored node_modules folders (vendored_dirs), whose packages are in the closure."""
    roots = options.unit.roots
    client_modules = generated_client_modules(project) | {_module_of(d) for d in options.client_folders}
    client_roots = [r for r in roots or () if r[1] in client_modules]
    closure, warnings = dependency_closure(
        project.package, installed, ignored=options.unit.ignored_modules,
        vendored=[d for d in installed if vendored and d.startswith(vendored)],
        roots=None if roots is None else [r for r in roots if r[1] not in client_modules])
    if options.engine_home is not None:  # the client's code is in a bundle: only its engine is placed
        return closure, warnings, (), (), True
    app_client_dirs = tuple(d for d in generated_app_dirs(project)
                            if options.unit.app_files is None or any(a.startswith(d) for a in options.unit.app_files))
    client_dirs = tuple(dict.fromkeys([*generated_client_dirs(project, closure), *options.client_folders, *(
        c + "/" for c in sorted(closure) if package_layout(c, c in schemas) is not None)]))
    if any(name == ".prisma" for _, name in client_roots) and "node_modules/.prisma/" not in client_dirs:
        client_dirs = ("node_modules/.prisma/", *client_dirs)
    packages = client_packages()
    uses_client = (roots is None or bool(client_roots) or bool(app_client_dirs)
                   or any(c.rsplit("node_modules/", 1)[-1] in packages for c in closure))
    return closure, warnings, client_dirs if uses_client else (), app_client_dirs, uses_client


def generated_client_modules(project: Project) -> frozenset[str]:
    """Bare module names that denote a generated client (not an installed package): `.prisma`, ..."""
    names = {".prisma"}
    schema = project.schema
    if schema is not None:
        if schema.is_photon:
            names.add("@generated/photon")
        base = posixpath.dirname(schema.path)
        for gen in schema.client_generators:
            if gen.output and not gen.output.startswith("env:"):
                out = posixpath.normpath(posixpath.join(base, gen.output))
                if out.startswith("node_modules/"):
                    parts = out.split("/")[1:]
                    names.add("/".join(parts[:2]) if parts[0].startswith("@") else parts[0])
    return frozenset(names)


def _module_of(folder: str) -> str:
    """The module name a node_modules folder is loaded by: "node_modules/@a/b/" -> "@a/b"."""
    return folder.rstrip("/").rsplit("node_modules/", 1)[-1]


def generated_app_dirs(project: Project) -> list[str]:
    """Generator output folders outside node_modules (the client is then part of the app's own files)."""
    schema = project.schema
    if schema is None:
        return []
    base = posixpath.dirname(schema.path)
    dirs = []
    for gen in schema.client_generators:
        if gen.output and not gen.output.startswith("env:"):
            out = posixpath.normpath(posixpath.join(base, gen.output))
            if not out.startswith(("node_modules/", "../")) and out not in (".", ".."):
                dirs.append(out.rstrip("/") + "/")
    return dirs


def _in_node_modules(rel: str) -> bool:
    return rel.startswith("node_modules/") or "/node_modules/" in rel


def _relocated(arc: str, moves: tuple[tuple[str, str], ...]) -> str:
    for old, new in moves:
        if arc.startswith(old):
            return new + arc[len(old):]
    return arc


def _fate(
    rel: str,
    closure: set[str],
    client_dirs: tuple[str, ...],
    installed: Mapping[str, PackageJson],
    engine: EngineChoice | None,
    provider: str | None,
    vendored: tuple[str, ...] = (),
) -> tuple[str | None, str]:
    """(why the file is left out or None, owning package label). Files of `vendored` node_modules folders
    (vendored_dirs) ship whole, as the app's other files."""
    name = posixpath.basename(rel)
    parsed = parse_engine_filename(name)
    if parsed is not None and not (engine is not None and rel == engine.rel):
        if engine is not None and parsed.target in engine.target_names:
            return "another copy or kind of the target's engine (only one is bundled)", ENGINE
        return "engines for other targets", ENGINE
    if is_cli_engine(name):
        return "CLI-only engine (never used at run time)", ENGINE
    wasm = _WASM.match(name)
    if wasm and provider and not provider.startswith("env:") and wasm.group("provider") != provider:
        return "query engines for other databases", ENGINE
    if (not rel.startswith("node_modules/") and "/node_modules/" not in rel) or (vendored and rel.startswith(vendored)):
        return None, APP
    if rel.startswith(JUNK_DIRS) or rel in JUNK_FILES:
        return "node_modules cache and tool links", "(node_modules)"
    for client in client_dirs:
        if rel.startswith(client):
            return None, "(prisma client)"
    owner = package_dir_of(rel)
    if owner is None:
        return "not part of any installed package", "(node_modules)"
    label = installed[owner].name or owner if owner in installed else owner
    if owner.rsplit("node_modules/", 1)[-1] in CLI_PACKAGES:
        return "Prisma CLI package (not needed at run time)", label
    if owner not in closure:
        pkg = installed.get(owner)
        if pkg is None:
            return "not part of any installed package", label
        return NOT_PRODUCTION, label
    return None, label


def engine_homes(project: Project, closure: Iterable[str], schemas: frozenset[str]) -> dict[str, str]:
    """Client folder -> the folder its runtime looks in for the engine, where that is not the folder itself:
    `runtime/` of a client generated into its own package (the 2.0 previews, platforms/clients.toml), and of a
    Photon generator's `output` folder."""
    homes: dict[str, str] = {}
    for c in closure:
        layout = package_layout(c, c in schemas)
        if layout is not None:
            homes[c + "/"] = layout.engine_home(c + "/")
    preview = bool(homes) or (project.schema is not None and project.schema.is_photon)
    for out in generated_app_dirs(project) if preview else ():
        homes[out] = out + "runtime/"
    return homes


def _engine_home(files: list[FileEntry], client_dirs: tuple[str, ...], app_client_dirs: tuple[str, ...],
                 homes: Mapping[str, str] | None = None) -> str:
    """Where an engine from outside the project goes: beside the engines the client was generated with, else
    in the generator's own output folder (where Prisma looks first; `runtime/` in it for the 2.0 previews),
    else the preview client's own package (its `runtime/`), else node_modules/.prisma/client/."""
    homes = homes or {}
    searched = (*app_client_dirs, *client_dirs)
    for f in files:
        if parse_engine_filename(posixpath.basename(f.rel)) and f.rel.startswith(searched):
            return posixpath.dirname(f.rel) + "/"
    if app_client_dirs:
        return homes.get(app_client_dirs[0], app_client_dirs[0])
    in_package = [d for d in client_dirs if d in homes]
    if in_package:
        return homes[in_package[0]]
    custom = [d for d in client_dirs if d not in ("node_modules/.prisma/", "node_modules/@generated/")]
    if custom:
        return custom[0]
    if "node_modules/.prisma/" in client_dirs or not client_dirs:
        return "node_modules/.prisma/client/"
    if client_dirs[0] == "node_modules/@generated/":
        return "node_modules/@generated/photon/runtime/"  # the 2019 Photon.js client's runtime folder
    return client_dirs[0]


def _split(kept: list[PlanEntry], engine: PlanEntry | None,
           options: PlanOptions) -> tuple[tuple[ArtifactPlan, ...], PlanEntry | None]:
    """The function artifact, the layer, or both; and the engine entry as placed."""
    if options.format == "zip":
        return (ArtifactPlan("function", options.unit.function_filename, _sorted(kept)),), engine
    layout = options.layer_layout
    layer: list[PlanEntry] = []
    function: list[PlanEntry] = []
    placed = None
    for entry in kept:
        if entry is engine:
            placed = _moved(entry, f"{layout['engine_dir']}/{posixpath.basename(entry.arc)}")
            layer.append(placed)
        elif options.layer_node_modules and entry.arc.startswith("node_modules/"):
            layer.append(_moved(entry, layout["node_modules_dir"] + entry.arc[len("node_modules"):]))
        else:
            function.append(entry)
    if engine is not None:
        kind = "LIBRARY" if engine.arc.endswith(".node") else "BINARY"
        engine_path = f"/opt/{layout['engine_dir']}/{posixpath.basename(engine.arc)}"
        script = (options.wrapper_template.replace("{{ENGINE_VAR}}", f"PRISMA_QUERY_ENGINE_{kind}")
                  .replace("{{ENGINE_PATH}}", engine_path)
                  .replace("{{WRAPPER_PATH}}", f"/opt/{layout['wrapper']}"))
        data = script.encode()
        layer.append(PlanEntry(arc=layout["wrapper"], size=len(data), mode=0o755, package=ENGINE, data=data))
    layer_plan = ArtifactPlan("layer", options.unit.layer_filename, _sorted(layer))
    if options.format == "layer":
        return (layer_plan,), placed
    return (ArtifactPlan("function", options.unit.function_filename, _sorted(function)), layer_plan), placed


def _moved(entry: PlanEntry, arc: str) -> PlanEntry:
    return PlanEntry(arc=arc, size=entry.size, mode=entry.mode, package=entry.package, source=entry.source,
                     data=entry.data, mtime_ns=entry.mtime_ns)


def _sorted(entries: list[PlanEntry]) -> tuple[PlanEntry, ...]:
    return tuple(sorted(entries, key=lambda e: e.arc))
