"""The layout step (bundler/layout.py) on hand-made graphs, and the resolver and layout detection on small trees
with real symlinks (pnpm's store shape, workspace links)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundler.closure import resolve_package
from bundler.errors import ProjectError
from bundler.layout import hoist
from bundler.pkgmanager import detect_layout, repository_root
from bundler.resolve import ROOT, resolve_project


def _placed(edges: dict[str, dict[str, str]]) -> dict[str, str]:
    return {p.path: p.real for p in hoist(edges)}


def _resolves_as_before(edges: dict[str, dict[str, str]]) -> None:
    """Every placed package finds, by Node's lookup in the virtual tree, the very folder it loaded before."""
    placed = _placed(edges)
    for requirer, real in [("", ROOT), *placed.items()]:
        for name, target in edges.get(real, {}).items():
            found = resolve_package(requirer, name, placed)
            assert found is not None and placed[found] == target, (requirer, name)


def test_one_copy_per_package_when_nothing_conflicts() -> None:
    edges = {ROOT: {"a": "/s/a", "b": "/s/b"}, "/s/a": {"c": "/s/c"}, "/s/b": {"c": "/s/c"}}
    assert _placed(edges) == {"node_modules/a": "/s/a", "node_modules/b": "/s/b", "node_modules/c": "/s/c"}
    _resolves_as_before(edges)


def test_a_conflict_nests_under_the_requirer_only() -> None:
    edges = {ROOT: {"debug": "/s/debug", "express": "/s/express"},
             "/s/debug": {"ms": "/s/ms2"}, "/s/express": {"ms": "/s/ms3"}}
    assert _placed(edges) == {"node_modules/debug": "/s/debug", "node_modules/express": "/s/express",
                              "node_modules/ms": "/s/ms2", "node_modules/express/node_modules/ms": "/s/ms3"}
    _resolves_as_before(edges)


def test_the_projects_own_version_wins_the_top_level() -> None:
    edges = {ROOT: {"a": "/s/a", "ms": "/s/ms3"}, "/s/a": {"ms": "/s/ms2", "b": "/s/b"}, "/s/b": {"ms": "/s/ms2"}}
    placed = _placed(edges)
    assert placed["node_modules/ms"] == "/s/ms3"
    assert placed["node_modules/a/node_modules/ms"] == "/s/ms2"
    assert "node_modules/b/node_modules/ms" not in placed or placed["node_modules/b/node_modules/ms"] == "/s/ms2"
    _resolves_as_before(edges)


def test_a_later_placement_never_shadows_an_earlier_lookup() -> None:
    # x needs y@1 and z; z needs y@2; deeper, y@2 needs w@1 while the top has w@2.
    edges = {ROOT: {"x": "/x", "w": "/w2"}, "/x": {"y": "/y1", "z": "/z"}, "/z": {"y": "/y2"},
             "/y2": {"w": "/w1"}, "/y1": {"w": "/w2"}, "/w1": {"y": "/y2"}}
    _resolves_as_before(edges)


def test_cycles_and_scoped_names() -> None:
    edges = {ROOT: {"@p/client": "/c", "a": "/a"}, "/c": {".prisma": "/gen"}, "/a": {"b": "/b"}, "/b": {"a": "/a"}}
    placed = _placed(edges)
    assert placed["node_modules/@p/client"] == "/c" and placed["node_modules/.prisma"] == "/gen"
    assert set(placed) == {"node_modules/@p/client", "node_modules/.prisma", "node_modules/a", "node_modules/b"}


def test_conflicting_cycle_too_deep_is_an_error() -> None:
    # every level needs the other version of `a`: no finite npm layout exists
    edges: dict[str, dict[str, str]] = {ROOT: {"a": "/a0"}}
    for i in range(40):
        edges[f"/a{i}"] = {"a": f"/a{i + 1}"}
    with pytest.raises(ProjectError, match="nest deeper"):
        hoist(edges)


def _pkg(folder: Path, name: str, deps: dict[str, str] | None = None, **extra: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "version": "1.0.0", "dependencies": deps or {},
                                                     **extra}))
    (folder / "index.js").write_text("module.exports = 1;\n")
    return folder


def test_resolver_follows_pnpm_store_links_and_finds_the_client_generated_beside_the_real_one(tmp_path: Path) -> None:
    repo = tmp_path / "app"
    _pkg(repo, "app", {"@prisma/client": "5", "debug": "4"})
    (repo / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\n")
    store = repo / "node_modules" / ".pnpm"
    client = _pkg(store / "@prisma+client@5/node_modules/@prisma/client", "@prisma/client")
    generated = store / "@prisma+client@5/node_modules/.prisma/client"
    generated.mkdir(parents=True)
    (generated / "index.js").write_text("//\n")
    debug = _pkg(store / "debug@4/node_modules/debug", "debug", {"ms": "2"})
    ms = _pkg(store / "ms@2/node_modules/ms", "ms")
    (store / "debug@4/node_modules/ms").symlink_to(ms)
    (repo / "node_modules/@prisma").mkdir(parents=True)
    (repo / "node_modules/@prisma/client").symlink_to(client)
    (repo / "node_modules/debug").symlink_to(debug)
    resolution = resolve_project(repo, repository_root(repo))
    assert resolution.edges[ROOT] == {"@prisma/client": str(client), "debug": str(debug)}
    assert resolution.edges[str(client)] == {".prisma": str(generated.parent)}
    assert resolution.edges[str(debug)] == {"ms": str(ms)}
    assert resolution.generated == frozenset({str(generated.parent)})
    assert {p.path for p in hoist(resolution.edges)} == {
        "node_modules/@prisma/client", "node_modules/.prisma", "node_modules/debug", "node_modules/ms"}
    layout = detect_layout(repo)
    assert (layout.manager, layout.linker, layout.label) == ("pnpm", "isolated", "pnpm single package")


def test_workspace_package_found_through_its_link_and_its_generator_output(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    _pkg(repo, "acme", workspaces=["packages/*"])
    (repo / "package-lock.json").write_text("{}\n")
    api = _pkg(repo / "packages/api", "api", {"@acme/db": "*"})
    db = _pkg(repo / "packages/db", "@acme/db", {"@prisma/client": "5"})
    (db / "prisma").mkdir()
    (db / "prisma/schema.prisma").write_text(
        'generator client {\n  provider = "prisma-client-js"\n  output = "../../../node_modules/@acme/client"\n}\n')
    out = repo / "node_modules/@acme/client"
    out.mkdir(parents=True)
    (out / "index.js").write_text("//\n")
    (repo / "node_modules/@acme/db").symlink_to("../../packages/db")
    _pkg(repo / "node_modules/@prisma/client", "@prisma/client")
    resolution = resolve_project(api, repository_root(api))
    assert resolution.repo_root == str(repo.resolve())
    assert resolution.edges[ROOT] == {"@acme/db": str(db.resolve())}
    assert resolution.edges[str(db.resolve())]["@acme/client"] == str(out.resolve())
    assert str(out.resolve()) in resolution.generated
    assert detect_layout(api).label == "npm workspace (repository root ../..)"


def test_yarn_pnp_is_refused(tmp_path: Path) -> None:
    _pkg(tmp_path, "app")
    (tmp_path / "yarn.lock").write_text("__metadata:\n  version: 8\n")
    (tmp_path / ".pnp.cjs").write_text("//\n")
    with pytest.raises(ProjectError, match="Plug'n'Play") as err:
        detect_layout(tmp_path)
    assert err.value.hint is not None and "nodeLinker: node-modules" in err.value.hint
