"""Which installed packages a function can load: Node's module lookup over the installed package.json files,
the production dependency closure, and the folders a generated Prisma client lives in (which no package.json
names). Pure: values in, values out (bundler/plan.py decides each file's fate from them)."""

from __future__ import annotations

import posixpath
from collections.abc import Container, Iterable, Mapping

from bundler.project import PackageJson, Project, generator_dirs
from bundler.walk import FileEntry


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


def resolve_package(from_dir: str, name: str, installed: Container[str]) -> str | None:
    """Node's lookup: <dir>/node_modules/<name> from the requiring package's folder up to the root, over the
    package folders in `installed` (the project's installed packages, or a virtual tree's placements)."""
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
        # an installed peer is loaded from here like a dependency (apollo-server -> graphql); a missing one is the
        # app's choice (peerDependenciesMeta optional, or provided by the platform), so no warning
        for dep in sorted(set(pkg.peer) - set(pkg.dependencies) - set(pkg.optional)):
            queue.append((found, dep, True, pkg.name or found))
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
        dirs += [d for d in generator_dirs(project) if d.startswith("node_modules/")]
    return dirs


def generated_client_modules(project: Project) -> frozenset[str]:
    """Bare module names that denote a generated client (not an installed package): `.prisma`, ..."""
    names = {".prisma"}
    schema = project.schema
    if schema is not None:
        if schema.is_photon:
            names.add("@generated/photon")
        for out in generator_dirs(project):
            if out.startswith("node_modules/"):
                parts = out.rstrip("/").split("/")[1:]
                names.add("/".join(parts[:2]) if parts[0].startswith("@") else parts[0])
    return frozenset(names)


def module_of(folder: str) -> str:
    """The module name a node_modules folder is loaded by: "node_modules/@a/b/" -> "@a/b"."""
    return folder.rstrip("/").rsplit("node_modules/", 1)[-1]


def generated_app_dirs(project: Project) -> list[str]:
    """Generator output folders outside node_modules (the client is then part of the app's own files)."""
    return [d for d in generator_dirs(project) if not d.startswith("node_modules/")]
