"""Node's package lookup over the real file system: which package folders the project can load.

Starting at the project's package.json (dependencies, optionalDependencies, devDependencies and the
peer dependencies that are installed), each package is looked up as Node looks it up: `node_modules/<name>`
in the requiring package's REAL folder, then in each parent folder up to the repository root. Links are
followed to their real paths (pnpm's store, workspace packages linked into node_modules), and each
package's own dependencies (dependencies, optional and peer) are read from its package.json where it
really lives, so the lookup from there is the one Node makes at run time.

Modules no package.json names are edges too, kept as data (implicit_modules.toml): `@prisma/client`
loads `.prisma`, which Prisma generates beside the real @prisma/client. A generator `output` that lies
below a node_modules folder is a module the schema's package loads by that name; one inside the project or
inside a workspace package comes with that package's own files.

The result is a graph of real folders; bundler/layout.py turns it into an npm-shaped tree.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bundler.errors import ProjectError
from bundler.pkgmanager import repository_root
from bundler.project import SCHEMA_CANDIDATES, package_json_text, parse_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

IMPLICIT_FILE = Path(__file__).resolve().parent / "implicit_modules.toml"
ROOT = ""  # the requirer key of the project's own files


@dataclass(frozen=True)
class Resolution:
    """What the project can load. Folders are real paths (strings: there are many)."""

    project: str
    repo_root: str
    # requirer's real folder (ROOT for the project's own files) -> module name -> the real folder it loads
    edges: Mapping[str, Mapping[str, str]]
    order: tuple[str, ...]  # real package folders in the order they were reached (breadth first)
    names: Mapping[str, str]  # real package folder -> the module name it was first reached by
    searched: tuple[str, ...]  # node_modules folders the lookup listed (for the no-op check)
    warnings: tuple[str, ...]
    generated: frozenset[str] = frozenset()  # real folders reached as generated clients (implicit modules)
    # app folders with a package.json of their own (a Now/Netlify function folder with its own dependencies):
    # (folder relative to the project, requirer key in `edges`); their files stay where they are
    subroots: tuple[tuple[str, str], ...] = ()

    def package_folder(self, name: str) -> Path | None:
        """The package `name` as the project reaches it: the project's own lookup first, else the first copy
        reached (e.g. @prisma/engines-version, which only the prisma CLI depends on, in pnpm's store)."""
        direct = self.edges.get(ROOT, {}).get(name)
        if direct is not None:
            return Path(direct)
        return next((Path(real) for real in self.order if self.names[real] == name), None)

    def packages_by_name(self) -> dict[str, Path]:
        """Each package name's folder as package_folder() finds it."""
        out: dict[str, Path] = {}
        for real in self.order:
            out.setdefault(self.names[real], Path(real))
        out.update((name, Path(real)) for name, real in self.edges.get(ROOT, {}).items())
        return out


@dataclass(frozen=True)
class Implicit:
    """The modules no package.json names (implicit_modules.toml)."""

    edges: Mapping[str, tuple[str, ...]]  # package name -> modules it loads
    generators: Mapping[str, str]  # generator provider -> the module its default output is loaded as


def implicit_edges(path: Path = IMPLICIT_FILE) -> Implicit:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    edges: dict[str, list[str]] = {}
    for edge in data.get("edge", []):
        edges.setdefault(str(edge["package"]), []).append(str(edge["module"]))
    generators = {str(g["provider"]): str(g["module"]) for g in data.get("generator", [])}
    return Implicit(edges={k: tuple(v) for k, v in edges.items()}, generators=generators)


def _read_json(path: str) -> dict[str, object]:
    """A package.json as node reads it (BOM dropped, bad bytes replaced: project.package_json_text); {} when
    it cannot be read or parsed (the plan reports such a package when it is bundled)."""
    try:
        with open(path, "rb") as fh:  # noqa: PTH123 - strings on this path
            data = json.loads(package_json_text(fh.read()))
    except (OSError, ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _names(data: Mapping[str, object], key: str) -> list[str]:
    value = data.get(key)
    return sorted(k for k in value if isinstance(k, str)) if isinstance(value, dict) else []


def _requires(data: Mapping[str, object], *, dev: bool) -> list[tuple[str, bool]]:
    """(module, optional) a package.json names: a missing optional one is no error."""
    out = [(n, False) for n in _names(data, "dependencies")]
    out += [(n, True) for n in _names(data, "optionalDependencies")]
    out += [(n, True) for n in _names(data, "peerDependencies")]
    if dev:
        out += [(n, True) for n in _names(data, "devDependencies")]
    seen: set[str] = set()
    unique = []
    for name, optional in out:
        if name not in seen:
            seen.add(name)
            unique.append((name, optional))
    return unique


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class _Lookup:
    """Node's `node_modules` lookup from a real folder up to the repository root, memoised per folder."""

    def __init__(self, repo_root: str) -> None:
        self.repo_root = repo_root
        self.searched: dict[str, None] = {}
        self._listing: dict[str, bool] = {}

    def _exists(self, folder: str) -> bool:
        known = self._listing.get(folder)
        if known is None:
            known = self._listing[folder] = os.path.isdir(folder)  # noqa: PTH112
        return known

    def find(self, start: str, name: str) -> str | None:
        directory = start
        while True:
            if posixpath.basename(directory) != "node_modules":
                modules = posixpath.join(directory, "node_modules")
                if self._exists(modules):
                    self.searched.setdefault(modules)
                    scope = posixpath.join(modules, name.split("/", maxsplit=1)[0])
                    if name.startswith("@") and self._exists(scope):
                        self.searched.setdefault(scope)
                    candidate = posixpath.join(modules, name)
                    if self._exists(candidate):
                        return os.path.realpath(candidate)
            parent = posixpath.dirname(directory)
            if directory in (self.repo_root, parent):
                return None
            directory = parent


def find_module(start: Path, name: str, repo_root: Path) -> Path | None:
    """The real folder Node loads the package `name` from when a file in `start` requires it: `node_modules/<name>`
    in `start` and each parent up to `repo_root` (links followed: pnpm's store, workspace links), else None. A
    few stat calls: for look-ups made before the tree is walked (the client era, the engine version)."""
    stop = os.path.realpath(repo_root)
    real = os.path.realpath(start)
    found = _Lookup(stop if _inside(real, stop) else real).find(real, name)
    return Path(found) if found is not None else None


def installed_packages(project: Path) -> dict[str, Path]:
    """Each package name the project's own lookup reaches (dev dependencies included, so the Prisma CLI's
    @prisma/engines-version too), as resolve_project finds it: for commands that need an installed package's
    folder without bundling (`engines fetch`)."""
    schema = next((c for c in SCHEMA_CANDIDATES if (project / c).is_file()), None)
    return resolve_project(project, repository_root(project), schema_path=schema).packages_by_name()


def resolve_project(project: Path, repo_root: Path, *, implicit: Implicit | None = None,
                    schema_path: str | None = None, app_packages: tuple[str, ...] = (),
                    vendored: tuple[str, ...] = ()) -> Resolution:
    """Every package folder the project's files, and the packages they load, can reach.

    `schema_path` is the project's schema.prisma relative to the project (its generator outputs are
    modules the project loads). `app_packages` are folders among the project's own files that hold a
    package.json of their own (e.g. ZEIT Now's `api/`): their production dependencies are looked up from
    there, as Node does for the files in them. `vendored` are node_modules folders among the project's own
    files (no package.json beside them): their packages ship at their paths as app files (each is one of
    `app_packages`, so its dependencies are looked up from there), so a lookup that lands in one is no
    package to place. A required package that is not installed is left for the plan to report."""
    implicit = implicit_edges() if implicit is None else implicit
    root = os.path.realpath(project)
    stop = os.path.realpath(repo_root)
    if not _inside(root, stop):
        stop = root
    lookup = _Lookup(stop)
    manifest = _read_json(posixpath.join(root, "package.json"))
    if not manifest:
        raise ProjectError(f"cannot read {root}/package.json", hint="run photon-bundle in the Node project folder")
    edges: dict[str, dict[str, str]] = {}
    names: dict[str, str] = {}
    order: list[str] = []
    warnings: list[str] = []
    # modules a requirer loads from a known folder (generator outputs), not by lookup
    outputs, defaults = _generator_outputs(root, schema_path, implicit, warnings)
    pins: dict[str, dict[str, str]] = {ROOT: dict(outputs)}
    queue: list[tuple[str, str, list[tuple[str, bool]]]] = [
        (ROOT, root, [*_requires(manifest, dev=True), *((m, True) for m in [*pins[ROOT], *defaults])])]
    subroots: list[tuple[str, str]] = []
    for rel in sorted(set(app_packages) - {"", "."}):
        folder = posixpath.join(root, rel)
        key = "app:" + rel  # its files stay in the app: a requirer of its own, never a placed package
        subroots.append((rel, key))
        queue.append((key, folder, _requires(_read_json(posixpath.join(folder, "package.json")), dev=False)))
    in_app = tuple(posixpath.join(root, v.rstrip("/")) for v in vendored)
    generated: set[str] = set()
    implicit_names = {m for ms in implicit.edges.values() for m in ms} | set(implicit.generators.values())
    while queue:
        key, real_dir, requires = queue.pop(0)
        found_here = edges.setdefault(key, {})
        for name, _optional in requires:
            real = pins.get(key, {}).get(name) or lookup.find(real_dir, name)
            if real is None or real == root or name in found_here or any(_inside(real, v) for v in in_app):
                continue
            found_here[name] = real
            if name in implicit_names or name in pins.get(key, {}):
                generated.add(real)
            if real in names:
                continue
            names[real] = name
            order.append(real)
            data = _read_json(posixpath.join(real, "package.json"))
            own = _requires(data, dev=False) + [(m, True) for m in implicit.edges.get(name, ())]
            if "/node_modules/" not in real + "/":  # a workspace package: its schema's outputs are its modules
                outputs, defaults = _generator_outputs(real, _schema_of(real, data), implicit, warnings)
                pins[real] = dict(outputs)
                own += [(m, True) for m in [*pins[real], *defaults]]
            queue.append((real, real, own))
    return Resolution(project=root, repo_root=stop, edges=edges, order=tuple(order), names=names,
                      searched=tuple(lookup.searched), warnings=tuple(warnings), generated=frozenset(generated),
                      subroots=tuple(subroots))


def _schema_of(folder: str, data: Mapping[str, object]) -> str | None:
    prisma = data.get("prisma")
    candidates = [prisma["schema"]] if isinstance(prisma, dict) and isinstance(prisma.get("schema"), str) else []
    return next((c for c in [*candidates, *SCHEMA_CANDIDATES] if os.path.isfile(posixpath.join(folder, c))), None)  # noqa: PTH113


def _generator_outputs(folder: str, schema_path: str | None, implicit: Implicit,
                       warnings: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(module name, real folder) of each client generator `output` below a node_modules folder, and the
    modules that generators without an `output` are loaded as (implicit_modules.toml)."""
    if schema_path is None:
        return [], []
    path = posixpath.join(folder, schema_path)
    try:
        with open(path, encoding="utf-8") as fh:  # noqa: PTH123
            schema = parse_schema(fh.read(), path)
    except (OSError, UnicodeDecodeError):
        return [], []
    out: list[tuple[str, str]] = []
    defaults: list[str] = []
    for gen in schema.client_generators:
        if not gen.output and gen.provider in implicit.generators:
            defaults.append(implicit.generators[gen.provider])
        if not gen.output or gen.output.startswith("env:"):
            continue
        target = os.path.realpath(posixpath.join(posixpath.dirname(path), gen.output))
        marker = target.rfind("/node_modules/")
        if marker < 0:
            if not _inside(target, folder):
                warnings.append(f"generator {gen.name} in {path}: output {gen.output} is outside {folder}, so no "
                                "require of a package reaches it by name; it is bundled only if a package's files "
                                "hold it (generate into the package that loads it)")
            continue  # a folder of the project or of a workspace package: it comes with their files
        parts = target[marker + len("/node_modules/"):].split("/")
        module = "/".join(parts[:2]) if parts[0].startswith("@") and len(parts) > 1 else parts[0]
        folder_of_module = target[: marker + len("/node_modules/")] + module
        if os.path.isdir(folder_of_module):  # noqa: PTH112
            out.append((module, folder_of_module))
        else:
            warnings.append(f"generator {gen.name} in {path}: output {gen.output} does not exist; "
                            "run `prisma generate` first")
    return out, defaults
