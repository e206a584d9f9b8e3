"""What a `--build docker` build copies and where it generates (bundler/engines/build_root.py), on folders as the
package managers describe workspaces: package.json `workspaces` (a list, or yarn's {"packages": [...]}, negated
globs) and pnpm-workspace.yaml; a single package builds in its own folder."""

from __future__ import annotations

from pathlib import Path

from bundler.engines.build_root import build_root, workspace_packages, workspace_patterns
from tests.projects import write_json


def _package(folder: Path, name: str, deps: dict[str, str] | None = None, *, schema: bool = False) -> None:
    write_json(folder / "package.json", {"name": name, "version": "1.0.0", "dependencies": deps or {}})
    if schema:
        (folder / "prisma").mkdir(parents=True, exist_ok=True)
        (folder / "prisma" / "schema.prisma").write_text('generator client {\n  provider = "prisma-client-js"\n}\n')


def test_workspace_globs_from_every_place_they_are_declared(tmp_path: Path) -> None:
    write_json(tmp_path / "a" / "package.json", {"workspaces": ["packages/*", "!packages/skip"]})
    write_json(tmp_path / "b" / "package.json", {"workspaces": {"packages": ["apps/*"], "nohoist": ["**/x"]}})
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "pnpm-workspace.yaml").write_text(
        "packages:\n  - 'packages/*'\n  - \"apps/**\"  # the apps\n  - '!**/test/**'\ncatalog:\n  - nope\n")
    assert workspace_patterns(tmp_path / "a") == ["packages/*", "!packages/skip"]
    assert workspace_patterns(tmp_path / "b") == ["apps/*"]
    assert workspace_patterns(tmp_path / "c") == ["packages/*", "apps/**", "!**/test/**"]


def test_the_member_generates_where_the_schemas_it_uses_are(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write_json(root / "package.json", {"name": "root", "private": True, "workspaces": ["packages/*", "!packages/skip"]})
    _package(root / "packages" / "api", "@x/api", {"@x/service": "*", "left-pad": "1"})
    _package(root / "packages" / "service", "@x/service", {"@x/db": "*"})
    _package(root / "packages" / "db", "@x/db", schema=True)
    _package(root / "packages" / "other", "@x/other", schema=True)  # has a schema, but api does not use it
    _package(root / "packages" / "skip", "@x/skip")
    _package(root / "packages" / "db" / "node_modules" / "junk", "junk")
    assert workspace_packages(root) == {"@x/api": "packages/api", "@x/db": "packages/db",
                                        "@x/other": "packages/other", "@x/service": "packages/service"}
    build = build_root(root / "packages" / "api")
    assert (build.root, build.member, build.generate_in) == (root.resolve(), "packages/api", ("packages/db",))
    _package(root / "packages" / "api", "@x/api", {"@x/service": "*"}, schema=True)
    assert build_root(root / "packages" / "api").generate_in == ("packages/api", "packages/db")


def test_a_single_package_builds_in_its_own_folder(tmp_path: Path) -> None:
    _package(tmp_path / "app", "app", schema=True)
    (tmp_path / ".git").mkdir()  # a repository root above it that declares no workspaces
    build = build_root(tmp_path / "app")
    assert (build.root, build.member, build.generate_in, build.is_member) == ((tmp_path / "app").resolve(), "",
                                                                              ("",), False)
