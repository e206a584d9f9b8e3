"""The Prisma client's layouts across its eras (data: platforms/clients.toml) and what a project has on disk.

Each era put the generated client and its query engine somewhere else: the 2019 Photon.js client in
node_modules/@generated/photon, the 2.0 previews inside the `@prisma/photon` (later `@prisma/client`) package
itself with binary engines in its `runtime/` folder, Prisma 2.0.0 and later in node_modules/.prisma/client.
The table says where; this module answers, for a project: which layouts are generated, which are still the
stub the package ships before `generate`, and which engine targets are on disk. Each client is looked up as
Node loads it (bundler/resolve.py: from the project up to the repository root, links followed into pnpm's
store; `.prisma/client` from the real @prisma/client folder): a few stat calls and directory listings, no
walk, so the runtime choice can use them before the tree is walked.
"""

from __future__ import annotations

import os
import sys
import weakref
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bundler.engines import parse_engine_filename
from bundler.errors import ProjectError
from bundler.pkgmanager import repository_root
from bundler.project import Project, generator_dirs
from bundler.resolve import find_module, installed_packages

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DATA_FILE = Path(__file__).resolve().parent.parent / "platforms" / "clients.toml"
STUB_READ_BYTES = 4096


@dataclass(frozen=True)
class ClientLayout:
    key: str
    package: str  # the module the app requires
    generated: str  # folder below node_modules that `generate` writes
    engine_dir: str  # the engine's folder inside the generated client ("" = itself)
    engine_kind: str
    versions: tuple[str, ...]  # version prefixes of `package` for this layout (empty: any)
    era: str
    generate: str
    targets: tuple[str, ...]  # binaryTargets names the era accepts (empty: today's list)
    stub: str
    source: str

    def engine_home(self, client_dir: str) -> str:
        """Where this layout's client looks for its engine, for a generated client at `client_dir` ("a/b/")."""
        return client_dir + (self.engine_dir.strip("/") + "/" if self.engine_dir else "")


@lru_cache(maxsize=1)
def layouts(path: Path = DATA_FILE) -> tuple[ClientLayout, ...]:
    with path.open("rb") as fh:
        raw = tomllib.load(fh)
    out = []
    for item in raw["layout"]:
        out.append(ClientLayout(
            key=str(item["key"]), package=str(item["package"]), generated=str(item["generated"]),
            engine_dir=str(item["engine_dir"]), engine_kind=str(item["engine_kind"]),
            versions=tuple(str(v) for v in item["versions"]), era=str(item["era"]), generate=str(item["generate"]),
            targets=tuple(str(t) for t in item["targets"]), stub=str(item["stub"]), source=str(item["source"])))
    keys = [layout.key for layout in out]
    assert len(set(keys)) == len(keys), f"{path}: duplicate layout keys"
    assert all(layout.engine_kind in ("binary", "library", "client") for layout in out), f"{path}: engine_kind"
    return tuple(out)


def client_packages() -> frozenset[str]:
    """Module names that load the Prisma client: a function requiring one of them needs the engine."""
    return frozenset(layout.package for layout in layouts())


def in_package_layouts() -> tuple[ClientLayout, ...]:
    """Layouts whose client is generated into the installed package's own folder (the 2.0 previews)."""
    return tuple(layout for layout in layouts() if layout.generated == layout.package)


def package_layout(package_dir: str, has_schema: bool) -> ClientLayout | None:
    """The layout of an installed package folder ("node_modules/@prisma/photon", nested or not) that holds a
    generated client in itself (`schema.prisma` beside its index.js, which only `generate` writes)."""
    if not has_schema:
        return None
    for layout in in_package_layouts():
        if package_dir == f"node_modules/{layout.package}" or package_dir.endswith(f"/node_modules/{layout.package}"):
            return layout
    return None


@dataclass(frozen=True)
class FoundClient:
    layout: ClientLayout
    dir: str  # project-relative folder of the client, with a trailing slash
    generated: bool  # False: the stub the package ships before `generate`


def _rel(root: Path, path: Path) -> str:
    """`path` relative to the project ("../../node_modules/.prisma/client/" when a parent folder holds it)."""
    return os.path.relpath(os.path.realpath(path), os.path.realpath(root)).replace(os.sep, "/").rstrip("/") + "/"


class _Installed:
    """Packages as Node finds them from the project (bundler/resolve.py): a few stat calls for a package the
    project reaches by itself, the resolver's whole graph (read once) for one only a dependency reaches (a
    pnpm workspace member whose @prisma/client is a dependency of its shared db package)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = repository_root(root)
        self._graph: dict[str, Path] | None = None

    def package(self, name: str) -> Path | None:
        direct = find_module(self.root, name, self.repo)
        if direct is not None or not (self.root / "package.json").is_file():
            return direct
        if self._graph is None:
            try:
                self._graph = installed_packages(self.root)
            except ProjectError:  # an unreadable package.json: the inspector reports it
                self._graph = {}
        return self._graph.get(name)

    def generated(self, layout: ClientLayout) -> Path | None:
        """Where Node loads this layout's generated client from: the module itself when the app requires it by
        name, else the generated module as its package loads it from the package's real folder (Prisma writes
        `.prisma/client` beside the real @prisma/client: a parent's node_modules, pnpm's store)."""
        if layout.generated == layout.package:
            return self.package(layout.package)
        owner = self.package(layout.package)
        return find_module(owner if owner is not None else self.root, layout.generated, self.repo)


def _state(folder: Path, layout: ClientLayout) -> bool | None:
    """True: a generated client; False: the package's stub; None: not this layout's client."""
    if (folder / "schema.prisma").is_file():
        return True
    try:
        with (folder / "index.js").open("rb") as fh:
            head = fh.read(STUB_READ_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    if layout.stub and layout.stub in head:
        return False
    return None if layout.generated == layout.package else True


# One lookup per Project object: a run asks several times (runtime choice per unit, the engine advice, the
# ungenerated-client check), and the resolver's whole graph costs a walk of package.json files. Keyed by id() and
# checked with a weak reference, so a new Project (a new run, a tree built in Docker) reads the disk again.
_PER_PROJECT: dict[int, tuple[weakref.ref[Project], _Installed, list[tuple[FoundClient, ...]]]] = {}


def _for(project: Project) -> tuple[_Installed, list[tuple[FoundClient, ...]]]:
    known = _PER_PROJECT.get(id(project))
    if known is not None and known[0]() is project:
        return known[1], known[2]
    for key in [k for k, (ref, _, _) in _PER_PROJECT.items() if ref() is None]:
        del _PER_PROJECT[key]
    entry: tuple[weakref.ref[Project], _Installed, list[tuple[FoundClient, ...]]] = (
        weakref.ref(project), _Installed(project.root), [])
    _PER_PROJECT[id(project)] = entry
    return entry[1], entry[2]


def find_clients(project: Project) -> list[FoundClient]:
    """The clients Node's lookup reaches from the project (bundler/resolve.py: a workspace root's node_modules,
    pnpm's store) and those in the generators' output folders."""
    installed, found = _for(project)
    if not found:
        found.append(tuple(_find_clients(project, installed)))
    return list(found[0])


def _find_clients(project: Project, installed: _Installed) -> list[FoundClient]:
    root = project.root
    found: list[FoundClient] = []
    for layout in layouts():
        folder = installed.generated(layout)
        state = _state(folder, layout) if folder is not None and (folder / "index.js").is_file() else None
        if folder is not None and state is not None:
            found.append(FoundClient(layout, _rel(root, folder), state))
    photon = project.schema is not None and project.schema.is_photon
    for out in generator_dirs(project):
        folder = root / out
        if (folder / "index.js").is_file() and not any(c.dir == out for c in found):
            layout = _output_layout(out, photon, found)
            found.append(FoundClient(layout, out, _state(folder, layout) is not False))
    return found


def _output_layout(out: str, photon: bool, found: list[FoundClient]) -> ClientLayout:
    """The era of a client generated to a custom `output`: the era of the installed client package."""
    by_key = {layout.key: layout for layout in layouts()}
    if photon:
        return by_key["photon-preview"]
    for client in found:
        if client.layout.key in ("photon-preview", "client-preview") and "node_modules/" in client.dir:
            return client.layout
    return by_key["client"]


def engine_files_on_disk(project: Project) -> list[str]:
    """Query engine file names in the generated clients' engine folders (not the CLI's)."""
    names: set[str] = set()
    for client in find_clients(project):
        if not client.generated:
            continue
        for home in {client.dir, client.layout.engine_home(client.dir)}:
            folder = project.root / home
            try:
                names.update(n for n in (e.name for e in folder.iterdir()) if parse_engine_filename(n))
            except OSError:
                continue
    return sorted(names)


def engine_targets_on_disk(project: Project) -> list[str]:
    return sorted({p.target for n in engine_files_on_disk(project) if (p := parse_engine_filename(n))})


def generate_command(project: Project, layout: ClientLayout | None = None) -> str:
    """The command that generates this project's client: the CLI it has installed (prisma2 or prisma)."""
    pkg = project.package
    declared = {*pkg.dependencies, *pkg.dev, *pkg.optional}
    if "prisma2" in declared or _for(project)[0].package("prisma2") is not None:
        return "npx prisma2 generate"
    if layout is not None and layout.generate.startswith("prisma2"):
        return "npx prisma2 generate"
    return "npx prisma generate"


def project_layout(project: Project) -> ClientLayout | None:
    """The era of the project's client: the first generated client found, else the first stub."""
    found = find_clients(project)
    generated = [c for c in found if c.generated]
    chosen = generated[0] if generated else (found[0] if found else None)
    return chosen.layout if chosen else None


def refuse_ungenerated(project: Project) -> None:
    """Raise ProjectError when the project holds only the stub client its package ships before `generate`
    (bundling it would ship a client that throws on first use, with an engine from the CLI package)."""
    found = find_clients(project)
    if not found or any(c.generated for c in found):
        return
    stub = found[0]
    cmd = generate_command(project, stub.layout)
    raise ProjectError(
        f"the Prisma client in {project.root / stub.dir} was never generated: it is the stub {stub.layout.package} "
        "ships before generation (its index.js throws \"did not initialize yet\" and there is no schema.prisma "
        "beside it)",
        hint=f"run `{cmd}` in {project.root}, then bundle again",
    )
