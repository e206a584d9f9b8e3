"""Paths the walks could not follow (bundler/walk.py `WalkProblem`): an error only when the bundle would carry one.

Each problem path is planned like a file of the tree; those the plan keeps are needed (the run stops with the
problem's message), the others are logged once as skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bundler.closure import package_dir_of
from bundler.plan import BundlePlan, EngineChoice, PlanOptions, plan_bundle
from bundler.project import PackageJson, Project
from bundler.walk import FileEntry, WalkProblem

# A folder that cannot be listed stands for the files it may hold: one typical file name, planned like any.
_UNREADABLE_STANDIN = "index.js"
_PROBLEM_SOURCE = "\0walk-problem"  # marks the stand-in entries; never a real path


def needed_problems(problems: list[WalkProblem], project: Project, installed: Mapping[str, PackageJson],
                    choice: EngineChoice | None, plan_options: PlanOptions) -> list[WalkProblem]:
    """The walk problems whose path the bundle would carry.

    Each problem path is planned like a file of the tree: a folder that cannot be listed as a typical file
    in it, a link as a file and as a folder (its target is unknown). A package folder whose package.json
    could not be read counts as an installed package with unknown dependencies, so a production dependency
    behind a dangling or outside link is needed while a devDependency is not. Those the plan keeps are
    needed; the others (node_modules/.bin, devDependencies, excluded paths) can be skipped."""
    if not problems:
        return []
    standins: dict[str, int] = {}
    unread: dict[str, PackageJson] = {}
    for n, p in enumerate(problems):
        folder = p.rel if p.rel.endswith("/") else p.rel + "/"
        standins[folder + _UNREADABLE_STANDIN] = n
        if not p.rel.endswith("/"):
            standins[p.rel] = n
        if package_dir_of(folder + "package.json") == folder[:-1] and folder[:-1] not in installed:
            unread[folder[:-1]] = PackageJson(name=None, version=None, main=None)
    entries = [FileEntry(rel, _PROBLEM_SOURCE, 0o100644, 0, 0) for rel in standins]
    plan = plan_bundle(project, entries, {**installed, **unread}, choice, plan_options)
    pruned = {p.rel for p in plan.pruned}
    needed = {n for rel, n in standins.items() if rel not in pruned}
    return [p for n, p in enumerate(problems) if n in needed]


def plan_unit(project: Project, files: list[FileEntry], installed: Mapping[str, PackageJson],
              choice: EngineChoice | None, plan_options: PlanOptions, problems: list[WalkProblem]) -> BundlePlan:
    """The unit's plan; an error when a path the walk could not follow is one the plan would carry."""
    plan = plan_bundle(project, files, installed, choice, plan_options)
    raise_needed_problems(problems, project, installed, choice, plan_options)
    return plan


def raise_needed_problems(problems: list[WalkProblem], project: Project, installed: Mapping[str, PackageJson],
                          choice: EngineChoice | None, plan_options: PlanOptions) -> None:
    needed = needed_problems(problems, project, installed, choice, plan_options)
    if needed:
        err = needed[0].error()
        if len(needed) > 1:
            err.message += f" (and {len(needed) - 1} more such path{'s' if len(needed) > 2 else ''}: " + \
                ", ".join(p.rel for p in needed[1:4]) + (", ..." if len(needed) > 4 else "") + ")"
        raise err


def log_skipped_problems(problems: list[WalkProblem], log: Callable[[str], None]) -> None:
    """Problems no bundle needs: said once, so a dangling link in node_modules/.bin does not go unnoticed."""
    for p in problems[:5]:
        log(f"skipped (not bundled): {p.message}")
    if len(problems) > 5:
        log(f"skipped (not bundled): {len(problems) - 5} more paths that could not be followed")
