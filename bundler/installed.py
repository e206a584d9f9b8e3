"""The installed packages of the walked tree: each package folder's package.json, read as node reads it, and the
notes about broken ones that the bundle reports for the packages it carries."""

from __future__ import annotations

from collections.abc import Mapping

from bundler.closure import package_dir_of
from bundler.plan import BundlePlan
from bundler.project import PackageJson, read_installed_package_json
from bundler.walk import FileEntry


def installed_packages(files: list[FileEntry], notes: dict[str, str] | None = None) -> dict[str, PackageJson]:
    """The package.json of every installed package folder below node_modules, read as node reads it
    (project.read_installed_package_json); `notes` gets a warning per package folder whose package.json is
    broken, for the bundle to report when the package is bundled."""
    out: dict[str, PackageJson] = {}
    for f in files:
        if f.rel.endswith("/package.json") and package_dir_of(f.rel) == f.rel[: -len("/package.json")]:
            rel_dir = f.rel[: -len("/package.json")]
            out[rel_dir], note = read_installed_package_json(f.path, rel_dir)
            if note is not None and notes is not None:
                notes[rel_dir] = note
    return out


def package_notes(plan: BundlePlan, walked: Mapping[str, FileEntry], notes: Mapping[str, str]) -> tuple[str, ...]:
    """The notes (installed_packages) of the packages the plan bundles."""
    if not notes:
        return ()
    dirs = {package_dir_of(f.rel) for a in plan.artifacts for e in a.entries
            if e.source is not None and (f := walked.get(str(e.source))) is not None}
    return tuple(note for rel_dir, note in sorted(notes.items()) if rel_dir in dirs)
