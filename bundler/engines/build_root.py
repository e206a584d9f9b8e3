"""What a `--build docker` build copies into the container and where its steps run.

A single package is built in its own folder. A workspace member (npm / yarn workspaces, pnpm-workspace.yaml)
cannot be: its dependencies are hoisted to the repository root's node_modules (npm, yarn) or kept in the
root's pnpm store, its lockfile is the root's, and the workspace packages it uses (a shared `db` package
with the schema) live beside it. So the build copies the workspace root (its lockfile and every workspace
package, without node_modules, .git and the output folder), installs at the root, and runs `prisma generate`
in each folder that holds a schema and that the member loads: itself and the workspace packages it depends
on, directly or through another workspace package. The tree to bundle is then the member inside the built
root, where Node's lookup (bundler/resolve.py) finds the hoisted packages and the store as on the host.

Reads a few package.json files and the workspace globs; never runs a package manager.
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from bundler.pkgmanager import detect_layout
from bundler.project import SCHEMA_CANDIDATES

_PNPM_PACKAGE = re.compile(r"^\s*-\s*[\"']?([^\"'#]+?)[\"']?\s*(?:#.*)?$")


@dataclass(frozen=True)
class BuildRoot:
    root: Path  # the folder copied into the container
    member: str  # the project's folder inside it, "" when the project is the root itself
    generate_in: tuple[str, ...]  # root-relative folders to run `prisma generate` in ("" = the root)

    @property
    def is_member(self) -> bool:
        return self.member != ""


def _manifest(folder: Path) -> dict[str, object]:
    try:
        data = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def workspace_patterns(root: Path) -> list[str]:
    """The workspace globs of a repository root: package.json `workspaces` (a list, or yarn's
    {"packages": [...]}) and pnpm-workspace.yaml `packages:`."""
    patterns: list[str] = []
    declared = _manifest(root).get("workspaces")
    if isinstance(declared, dict):
        declared = declared.get("packages")
    if isinstance(declared, list):
        patterns += [p for p in declared if isinstance(p, str)]
    try:
        text = (root / "pnpm-workspace.yaml").read_text(encoding="utf-8")
    except OSError:
        text = ""
    in_packages = False
    for line in text.splitlines():
        if re.match(r"^packages\s*:", line):
            in_packages = True
            continue
        if in_packages and line.strip() and not line.startswith((" ", "\t", "-")):
            in_packages = False
        found = _PNPM_PACKAGE.match(line) if in_packages else None
        if found:
            patterns.append(found.group(1).strip())
    return patterns


def workspace_packages(root: Path) -> dict[str, str]:
    """Package name -> root-relative folder of each workspace package (negated globs drop folders)."""
    chosen: dict[str, None] = {}
    for pattern in workspace_patterns(root):
        negate = pattern.startswith("!")
        glob = pattern.lstrip("!").strip("/").removeprefix("./")
        for folder in sorted(root.glob(glob)) if glob else []:
            if "node_modules" in folder.relative_to(root).parts or not (folder / "package.json").is_file():
                continue
            rel = folder.relative_to(root).as_posix()
            if negate:
                chosen.pop(rel, None)
            else:
                chosen[rel] = None
    out: dict[str, str] = {}
    for rel in chosen:
        name = _manifest(root / rel).get("name")
        if isinstance(name, str):
            out.setdefault(name, rel)
    return out


def _has_schema(folder: Path) -> bool:
    prisma = _manifest(folder).get("prisma")
    custom = prisma.get("schema") if isinstance(prisma, dict) else None
    candidates = [custom] if isinstance(custom, str) else []
    return any((folder / c).is_file() for c in [*candidates, *SCHEMA_CANDIDATES]) or (folder / "prisma").is_dir()


def _dependency_names(folder: Path) -> list[str]:
    data = _manifest(folder)
    names: list[str] = []
    for key in ("dependencies", "optionalDependencies", "peerDependencies", "devDependencies"):
        value = data.get(key)
        if isinstance(value, dict):
            names += [k for k in value if isinstance(k, str)]
    return names


def build_root(project: Path) -> BuildRoot:
    """The folder to build for `project`: the workspace root when the project is a member of one, else the
    project itself; and the folders whose schema the build generates."""
    project = project.resolve()
    layout = detect_layout(project)
    root = layout.repo_root
    if not layout.workspace or root == project:
        return BuildRoot(root=project, member="", generate_in=("",))
    member = project.relative_to(root).as_posix()
    packages = workspace_packages(root)
    seen = {member}
    queue = deque([member])
    while queue:  # the workspace packages the member loads, directly or through each other
        for name in _dependency_names(root / queue.popleft()):
            rel = packages.get(name)
            if rel is not None and rel not in seen:
                seen.add(rel)
                queue.append(rel)
    ordered = [member, *sorted(seen - {member})]
    return BuildRoot(root=root, member=member, generate_in=tuple(r for r in ordered if _has_schema(root / r)))


def container_path(base: str, rel: str) -> str:
    """`rel` (root-relative) below the container folder `base`."""
    return base if rel in ("", ".") else os.path.join(base, rel)  # noqa: PTH118 - a container path
