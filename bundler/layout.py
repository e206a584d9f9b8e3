"""Lay the resolved packages out as one npm-style flat node_modules: the tree every later step plans on.

`hoist` is pure: from the resolver's graph (bundler/resolve.py: who loads which real folder under which
name) it places each package at `node_modules/<name>` when that name is free along the requirer's lookup
path, and only where two different folders really compete for one name nests the second directly under
the package that needs it (`node_modules/<requirer>/node_modules/<name>`), as npm does. Placements are
made breadth first from the project's own dependencies, and a package's dependencies are placed when the
package is, so a later placement never changes what an earlier lookup found: a top-level placement only
fills a name nobody found, and a nested one is only seen from below its requirer, whose subtree has not
been looked up yet. The generated client (`.prisma`) is one more module of @prisma/client and lands
beside it; workspace packages are packages like any other.

`virtual_files` walks each placed package's real folder (bundler/walk.py, minus its own node_modules)
and names every file by its place in the virtual tree: FileEntry.rel is the path in the bundle and
FileEntry.fspath the real file. With the project's own files (its folder minus node_modules), that is
the npm-shaped tree the planner, the engine lookup and the platform adapters work on.

Why a flat copy and no symlinks: the zip writer stores regular files only. Of the platforms, AWS Lambda
(and so Netlify, Vercel/Now and Serverless, which deploy Lambda zips) would unpack a symlink entry from
a zip, but Google Cloud Functions builds from a source zip with its own npm install, and apex/up and
tools that re-zip the upload do not keep them reliably; a pnpm store link would also point at a folder
that is not in the zip. A copy laid out as npm lays it out resolves the same everywhere Node runs.
"""

from __future__ import annotations

import os
import posixpath
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bundler.closure import resolve_package
from bundler.errors import ProjectError
from bundler.resolve import ROOT, Resolution
from bundler.walk import FileEntry, FolderEntry, WalkProblem, walk_tree

MAX_DEPTH = 32  # nested node_modules levels: deeper means a dependency cycle of conflicting versions


@dataclass(frozen=True)
class Placement:
    path: str  # virtual package folder, e.g. "node_modules/@prisma/client" or "node_modules/a/node_modules/b"
    real: str  # the real folder its files come from
    name: str  # the module name it is loaded by


def hoist(edges: Mapping[str, Mapping[str, str]], subroots: tuple[tuple[str, str], ...] = ()) -> list[Placement]:
    """Placements, sorted by path, for a graph `requirer real folder (ROOT: the project) -> name -> real folder`.

    Every placed package resolves each of its modules, by Node's lookup in the virtual tree, to the very
    folder the real one did. `subroots` are app folders with dependencies of their own ((folder, requirer
    key)): they stay where they are, and a version of theirs that conflicts nests in their node_modules."""
    placements: dict[str, str] = {}
    named: dict[str, str] = {}
    queue: deque[tuple[str, str]] = deque([("", ROOT), *subroots])
    while queue:
        virtual, real = queue.popleft()
        for name, target in sorted(edges.get(real, {}).items()):
            found = resolve_package(virtual, name, placements)
            if found is not None and placements[found] == target:
                continue
            if found is None:
                path = f"node_modules/{name}"
            else:  # another folder under this name is visible from here: nest directly under the requirer
                path = posixpath.join(virtual, "node_modules", name)
                if path.count("node_modules/") > MAX_DEPTH:
                    raise ProjectError(
                        f"cannot lay out {name}: conflicting versions nest deeper than {MAX_DEPTH} levels "
                        f"below {virtual}",
                        hint="deduplicate the dependency (npm dedupe / pnpm dedupe) and reinstall",
                    )
            placements[path] = target
            named[path] = name
            queue.append((path, target))
    return [Placement(path, placements[path], named[path]) for path in sorted(placements)]


def _below(skip: Callable[[str], bool], prefix: str) -> Callable[[str], bool]:
    return lambda rel: skip(prefix + rel)


def _no_node_modules(rel: str) -> bool:
    return rel == "node_modules/" or rel.endswith("/node_modules/")


def virtual_files(placements: list[Placement], *, skip_link: Callable[[str], bool],
                  folders: list[FolderEntry] | None = None,
                  problems: list[WalkProblem] | None = None) -> list[FileEntry]:
    """Every file of every placed package, named by its virtual path; a package's own node_modules is left
    out (what it loads from there is placed on its own). `skip_link` sees virtual paths. Paths a package's
    walk cannot follow go to `problems` under their virtual path (the plan decides whether one matters)."""
    out: list[FileEntry] = []
    walked: dict[str, tuple[str, list[FileEntry], list[WalkProblem]]] = {}
    for placement in placements:
        prefix = placement.path + "/"
        if placement.real not in walked:
            found: list[WalkProblem] = []
            files = walk_tree(Path(placement.real), skip_dir=_no_node_modules, skip_link=_below(skip_link, prefix),
                              folders=folders, problems=found, rel_prefix=prefix, resolved=True)  # named in the walk
            walked[placement.real] = (prefix, files, found)
            out += files
        else:  # the same folder placed a second time (two names for one package): renamed
            first, files, found = walked[placement.real]
            out += [f._replace(rel=prefix + f.rel[len(first):]) for f in files]
        if problems is not None:
            problems += [p._replace(rel=prefix + p.rel, message=p.message.replace(p.rel, prefix + p.rel, 1))
                         for p in found]
    out.sort(key=lambda e: e.rel)
    return out


@dataclass(frozen=True)
class Tree:
    """The npm-shaped tree to bundle."""

    files: list[FileEntry]
    folders: list[FolderEntry]
    placements: list[Placement]
    client_folders: tuple[str, ...]  # where generated clients were placed ("node_modules/.prisma/")


def project_tree(resolution: Resolution, app_files: list[FileEntry], app_folders: list[FolderEntry], *,
                 skip_link: Callable[[str], bool], problems: list[WalkProblem] | None = None) -> Tree:
    """The project's own files and its packages laid out flat, with the folders the no-op check watches (the
    node_modules folders Node's lookup listed: a package added or removed there changes them)."""
    placements = hoist(resolution.edges, resolution.subroots)
    folders = list(app_folders)
    files = virtual_files(placements, skip_link=skip_link, folders=folders, problems=problems)
    for searched in resolution.searched:
        try:
            st = os.stat(searched)  # noqa: PTH116
        except OSError:
            continue
        folders.append(FolderEntry(searched, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    merged = sorted([*app_files, *files], key=lambda e: e.rel)
    clients = tuple(p.path + "/" for p in placements if p.real in resolution.generated)
    return Tree(files=merged, folders=folders, placements=placements, client_folders=clients)
