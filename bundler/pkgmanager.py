"""Which package manager installed the project, and how: the repository root, workspaces, the linker.

Reads a few marker files (lockfiles, pnpm-workspace.yaml, package.json `workspaces`, .yarnrc.yml,
node_modules/.modules.yaml); never runs a package manager. Yarn Plug'n'Play has no node_modules for a
bundle to copy, so it is refused here with the setting that fixes it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bundler.errors import ProjectError

PNP_FILES = (".pnp.cjs", ".pnp.js")
# lockfile -> package manager, in the order they are tried in each folder
LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm"),
             ("npm-shrinkwrap.json", "npm"))
# what a package manager leaves in node_modules, for a project installed without its lockfile
NODE_MODULES_MARKERS = ((".modules.yaml", "pnpm"), (".yarn-state.yml", "yarn berry"), (".yarn-integrity", "yarn 1"),
                        (".package-lock.json", "npm"))
_PNPM_LINKER = re.compile(r"^\s*[\"']?nodeLinker[\"']?\s*:\s*[\"']?(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class Layout:
    """How the project's dependencies are laid out on disk."""

    manager: str  # "npm" | "yarn 1" | "yarn berry" | "pnpm" | "unknown package manager"
    linker: str  # "node_modules" (npm, yarn), "isolated" (pnpm's store) or "hoisted" (pnpm node-linker=hoisted)
    workspace: bool  # the repository root declares workspaces
    project: Path  # the project folder (real path)
    repo_root: Path  # where Node's package lookup stops (real path)

    @property
    def label(self) -> str:
        """One line for the summary, e.g. `pnpm workspace (repository root ../..)`."""
        name = self.manager + (" (node-linker=hoisted)" if self.linker == "hoisted" else "")
        if not self.workspace:
            return f"{name} single package"
        if self.repo_root == self.project:
            return f"{name} workspace (the repository root itself)"
        return f"{name} workspace (repository root {os.path.relpath(self.repo_root, self.project)})"

    def as_dict(self) -> dict[str, object]:
        return {"manager": self.manager, "linker": self.linker, "workspace": self.workspace,
                "repository_root": str(self.repo_root), "label": self.label}


def _declares_workspaces(folder: Path) -> bool:
    if (folder / "pnpm-workspace.yaml").is_file():
        return True
    try:
        data = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and bool(data.get("workspaces"))


def repository_root(project: Path) -> Path:
    """The nearest folder, from the project up, that declares workspaces (pnpm-workspace.yaml, package.json
    `workspaces`) or holds .git; the project itself when none does."""
    project = project.resolve()
    for folder in (project, *project.parents):
        if _declares_workspaces(folder) or (folder / ".git").exists():
            return folder
    return project


def detect_layout(project: Path) -> Layout:
    """The layout of an installed project; ProjectError for Yarn Plug'n'Play."""
    project = project.resolve()
    root = repository_root(project)
    folders = [project] if root == project else [project, root]
    for folder in folders:
        for name in PNP_FILES:
            if (folder / name).is_file():
                raise ProjectError(
                    f"{folder / name}: this project uses Yarn Plug'n'Play, which keeps packages in zip archives "
                    "that only Yarn's loader can read, with no node_modules folder to bundle",
                    hint="add `nodeLinker: node-modules` to .yarnrc.yml at the repository root and run `yarn install` "
                    "again, then bundle",
                )
    manager = _manager(folders)
    linker = "node_modules"
    if manager == "pnpm":
        linker = "isolated"
        for folder in folders:
            try:
                text = (folder / "node_modules" / ".modules.yaml").read_text(encoding="utf-8")
            except OSError:
                continue
            found = _PNPM_LINKER.search(text)
            linker = "hoisted" if found and found.group(1) == "hoisted" else "isolated"
            break
    return Layout(manager=manager, linker=linker, workspace=_declares_workspaces(root), project=project,
                  repo_root=root)


def _manager(folders: list[Path]) -> str:
    for folder in folders:
        for name, manager in LOCKFILES:
            if (folder / name).is_file():
                return _yarn_flavour(folder) if manager == "yarn" else manager
    for folder in folders:
        for name, manager in NODE_MODULES_MARKERS:
            if (folder / "node_modules" / name).is_file():
                return manager
    return "unknown package manager"


def _yarn_flavour(folder: Path) -> str:
    if (folder / ".yarnrc.yml").is_file():
        return "yarn berry"
    try:
        with (folder / "yarn.lock").open(encoding="utf-8") as fh:
            head = fh.read(4096)
    except OSError:
        return "yarn 1"
    return "yarn berry" if "__metadata:" in head else "yarn 1"
