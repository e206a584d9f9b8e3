"""What the size report and the size diff read, computed from the plans and the written archives (pure).

`sizes_section` is the manifest's compact `sizes` key (always written, so `photon-bundle report --against`
needs no artifact): per artifact, per package (app, each npm package, the generated client, the engine) the
files, unzipped and zipped bytes and the kind; per unit, the left-out bytes by reason and package; and for
each bundled dependency which package brought it in.

`file_details` is the per-file detail (`report-data.json`, only with --report): every file of every
artifact with its sizes and package, and every left-out file with its reason.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from bundler.archive import ArchiveResult
from bundler.closure import package_dir_of
from bundler.engines import parse_engine_filename
from bundler.plan import APP, ENGINE, ArtifactPlan, BundlePlan
from bundler.project import PackageJson

CLIENT = "(prisma client)"
DATA_VERSION = 1
KINDS = ("app", "dependency", "client", "engine")


class WrittenArtifact(Protocol):
    @property
    def plan(self) -> ArtifactPlan: ...
    @property
    def result(self) -> ArchiveResult: ...


def kind_of(package: str) -> str:
    """app | client | engine | dependency, from a plan entry's package label."""
    return {APP: "app", ENGINE: "engine", CLIENT: "client"}.get(package, "dependency")


def pruned_label(rel: str, installed: Mapping[str, PackageJson]) -> str:
    """The package a left-out file belongs to, labelled as plan entries are."""
    if parse_engine_filename(posixpath.basename(rel)) is not None:
        return ENGINE
    owner = package_dir_of(rel)
    if owner is None:
        return APP if "node_modules/" not in rel else "(node_modules)"
    pkg = installed.get(owner)
    return (pkg.name or owner) if pkg is not None else owner


def brought_by(root: PackageJson, installed: Mapping[str, PackageJson]) -> dict[str, str]:
    """package label -> what brought it in: `package.json` for a direct production dependency, else the first
    package (breadth first, as npm resolves) that depends on it."""
    from bundler.closure import resolve_package

    seen: dict[str, str] = {}
    queue = [("", name, "package.json") for name in root.runtime_dependencies]
    while queue:
        following: list[tuple[str, str, str]] = []
        for from_dir, name, by in queue:
            found = resolve_package(from_dir, name, installed)
            if found is None:
                continue
            label = installed[found].name or found
            if label in seen:
                continue
            seen[label] = by
            following += [(found, dep, label) for dep in installed[found].runtime_dependencies]
        queue = following
    return dict(sorted(seen.items()))


def sizes_section(units: Sequence[tuple[str, BundlePlan]], written: Iterable[WrittenArtifact],
                  root: PackageJson, installed: Mapping[str, PackageJson]) -> dict[str, Any]:
    """The manifest's `sizes` key (see the module docstring)."""
    artifacts: dict[str, dict[str, dict[str, Any]]] = {}
    for w in written:
        packages: dict[str, dict[str, Any]] = {}
        labels = {e.arc: e.package for e in w.plan.entries}
        for entry in w.result.entries:
            label = labels.get(entry.arc, APP)
            slot = packages.setdefault(label, {"kind": kind_of(label), "files": 0, "bytes": 0, "zipped_bytes": 0})
            slot["files"] += 1
            slot["bytes"] += entry.size
            slot["zipped_bytes"] += entry.compressed
        artifacts[w.plan.filename] = packages
    pruned: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for unit, plan in units:
        reasons: dict[str, dict[str, dict[str, int]]] = {}
        for p in plan.pruned:
            slot = reasons.setdefault(p.reason, {}).setdefault(pruned_label(p.rel, installed), {"files": 0, "bytes": 0})
            slot["files"] += 1
            slot["bytes"] += p.size
        pruned[unit] = reasons
    bundled = {label for packages in artifacts.values() for label in packages}
    return {"artifacts": artifacts, "pruned": pruned,
            "brought_by": {k: v for k, v in brought_by(root, installed).items() if k in bundled}}


def file_details(units: Sequence[tuple[str, BundlePlan]], written: Iterable[WrittenArtifact],
                 installed: Mapping[str, PackageJson]) -> dict[str, Any]:
    """`report-data.json`: artifacts {name: [[path, bytes, zipped bytes, package], ...]} and
    pruned {unit: [[path, bytes, reason, package], ...]}, each sorted by path."""
    artifacts: dict[str, list[list[Any]]] = {}
    for w in written:
        labels = {e.arc: e.package for e in w.plan.entries}
        artifacts[w.plan.filename] = sorted([e.arc, e.size, e.compressed, labels.get(e.arc, APP)]
                                            for e in w.result.entries)
    pruned = {unit: sorted([p.rel, p.size, p.reason, pruned_label(p.rel, installed)] for p in plan.pruned)
              for unit, plan in units}
    return {"version": DATA_VERSION, "artifacts": artifacts, "pruned": pruned}
