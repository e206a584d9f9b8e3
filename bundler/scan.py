"""The tree to plan on: the project's own files and every package it can load, laid out as npm would
(bundler/resolve.py finds them, bundler/layout.py lays them out), with what the no-op check watches."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pathspec

from bundler.layout import project_tree
from bundler.options import Options
from bundler.pkgmanager import Layout, detect_layout
from bundler.plan import DEFAULT_EXCLUDES, default_exclude_candidate
from bundler.project import Project
from bundler.resolve import resolve_project
from bundler.walk import FileEntry, FolderEntry, WalkProblem, walk_tree


@dataclass(frozen=True)
class Scanned:
    files: list[FileEntry]  # the npm-shaped tree: rel is the path in the bundle, fspath the real file
    folders: list[FolderEntry]  # what the no-op check watches
    layout: Layout  # the package manager and layout seen
    packages: dict[str, Path]  # package name -> real folder (for the engine version)
    client_folders: tuple[str, ...]  # where generated clients were placed
    problems: list[WalkProblem]  # paths the walks could not follow (an error only if the bundle needs one)


def _installed_by_package(tree: Path, rel: str) -> bool:
    """Whether the node_modules folder `rel` (of the app's files, not the project's own) sits beside a
    package.json: that package's install, which its dependencies describe. Without one it is vendored: code
    the app keeps there so that its files require it by name, which Node finds in every parent folder's
    node_modules; nothing says which of it the app loads, so all of it is the app's, at its path."""
    return (tree / rel[: -len("node_modules/")] / "package.json").is_file()


def scan(tree: Path, project: Project, out_rel: str | None, options: Options, log: Callable[[str], None]) -> Scanned:
    """The npm-shaped tree to plan on (bundler/layout.py): the project's own files (its folder minus its
    node_modules and the installs of app folders with a package.json, vendored node_modules folders included)
    and every package it can load, found by Node's lookup wherever the package manager put
    it (bundler/resolve.py) and laid out flat; the folders the no-op check watches; the layout seen; and
    each package name's real folder (for the engine version)."""
    layout_seen = detect_layout(tree)
    # .yarn/ holds yarn berry's cache, install state and release: the package manager's, never loaded
    skip = {".git/", ".photon-bundle/", ".yarn/", *([out_rel + "/"] if out_rel else [])}
    excluded_link = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *options.exclude])
    # without --exclude, the cheap superset test first: a tree of many links is walked at walking speed
    maybe = default_exclude_candidate(None) if not options.exclude else lambda rel: True

    def skip_link(rel: str) -> bool:
        return maybe(rel) and excluded_link.match_file(rel)

    folders: list[FolderEntry] = []
    problems: list[WalkProblem] = []
    vendored: list[str] = []

    def skip_dir(rel: str) -> bool:
        if rel in skip or rel == "node_modules/":
            return True
        if not rel.endswith("/node_modules/") or rel.startswith(tuple(vendored)):
            return False  # inside vendored code, all of it is the app's (its packages' own node_modules too)
        if _installed_by_package(tree, rel):
            return True  # a package's own install (a function folder's): the resolver follows its package.json
        vendored.append(rel)
        return False

    app = walk_tree(tree, skip_dir=skip_dir, skip_link=skip_link, folders=folders, problems=problems)
    schema = project.schema.path if project.schema else None
    own_packages = tuple(posixpath.dirname(f.rel) for f in app if f.rel.endswith("/package.json"))
    resolution = resolve_project(tree, layout_seen.repo_root, schema_path=schema, app_packages=own_packages,
                                 vendored=tuple(vendored))
    for warning in resolution.warnings:
        log(f"warning: {warning}")
    built = project_tree(resolution, app, folders, skip_link=skip_link, problems=problems)
    return Scanned(built.files, built.folders, layout_seen, resolution.packages_by_name(), built.client_folders,
                   problems)
