"""Look-ups made before (or without) a bundle go through Node's lookup too (bundler/resolve.py), on layouts
made by the real package managers: `photon-bundle engines fetch` reads the engine version from
@prisma/engines-version where Node finds it (pnpm's store, a workspace root), and the client era detection
(bundler/clients.py: era, stub or generated, engines on disk) finds the generated client beside the real
@prisma/client wherever that is: a workspace member whose @prisma/client is hoisted to the repository root, a
pnpm project (the client inside the store), a pnpm workspace member that reaches @prisma/client only through
its shared db package."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.clients import engine_targets_on_disk, find_clients, project_layout
from bundler.project import read_project
from tests.integration.test_layouts import LAYOUTS, _installed
from tests.layouts import ENGINE_TARGETS, ENGINES_VERSION, offline_env, pack_standins
from tests.mirror_server import MirrorServer, cli_env, compile_elf, engines_cli, publish_engine

LOOKUP_LAYOUTS = ("npm-workspaces", "pnpm-single", "pnpm-workspace", "yarn1-workspaces")


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("standins")
    return pack_standins(base, offline_env(base / "home"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MirrorServer]:
    with MirrorServer(tmp_path / "mirror", lifetime=60) as srv:
        yield srv


@pytest.mark.parametrize("layout", LOOKUP_LAYOUTS)
def test_client_era_is_found_where_node_finds_it(layout: str, tmp_path: Path, standins: dict[str, str],
                                                 elf_cache: Path) -> None:
    fixture, client = _installed(tmp_path, layout, standins, elf_cache)
    # the hard part of the layout: nothing of the client is in the function's own node_modules
    assert not (fixture.project / "node_modules" / ".prisma").exists()
    project = read_project(fixture.project)
    found = find_clients(project)
    assert [(c.layout.key, c.generated) for c in found] == [("client", True)]
    assert os.path.realpath(fixture.project / found[0].dir) == os.path.realpath(client)
    if layout.startswith("pnpm"):
        assert "/.pnpm/" in os.path.realpath(client)  # beside the real @prisma/client, in the store
    assert project_layout(project) is not None and project_layout(project).key == "client"  # type: ignore[union-attr]
    assert engine_targets_on_disk(project) == sorted(ENGINE_TARGETS)


def test_a_member_without_any_client_has_none(tmp_path: Path, standins: dict[str, str], elf_cache: Path) -> None:
    fixture, _ = _installed(tmp_path, "npm-workspaces", standins, elf_cache)
    lone = fixture.root / "packages" / "tools"
    lone.mkdir()
    (lone / "package.json").write_text(json.dumps({"name": "@acme/tools", "version": "1.0.0"}))
    # Node finds the hoisted @prisma/client from here too: the lookup, like Node's, goes up to the root
    assert [c.layout.key for c in find_clients(read_project(lone))] == ["client"]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "package.json").write_text(json.dumps({"name": "elsewhere", "version": "1.0.0"}))
    assert find_clients(read_project(outside)) == []  # the lookup stops at the repository root


@pytest.mark.parametrize("layout", LOOKUP_LAYOUTS)
def test_engines_fetch_reads_the_version_where_node_finds_it(layout: str, tmp_path: Path, standins: dict[str, str],
                                                             elf_cache: Path, server: MirrorServer) -> None:
    fixture, _ = _installed(tmp_path, layout, standins, elf_cache)
    assert not (fixture.project / "node_modules" / "@prisma" / "engines-version").exists()
    so = compile_elf(tmp_path / "so" / "lib.so", shared=True).read_bytes()
    publish_engine(server.root, ENGINES_VERSION, "rhel-openssl-3.0.x", "library", so)
    ran = subprocess.run([*engines_cli(), "fetch", "--target", "rhel-openssl-3.0.x", "--mirror", server.base_url,
                          "--json"], env=cli_env(tmp_path / "cache", tmp_path / "home"), cwd=fixture.project,
                         capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    (row,) = json.loads(ran.stdout)
    assert row["version"] == ENGINES_VERSION and row["source"] == "mirror"
    assert Path(row["path"]).read_bytes() == so


def test_engines_fetch_outside_any_project_still_says_where_it_looked(tmp_path: Path) -> None:
    ran = subprocess.run([*engines_cli(), "fetch", "--target", "rhel-openssl-3.0.x", "--offline"],
                         env=cli_env(tmp_path / "cache", tmp_path / "home"), cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, check=False)
    assert ran.returncode == 3, ran.stderr
    assert "cannot tell which engine version" in ran.stderr and "--version" in ran.stderr
    assert "Traceback" not in ran.stderr


assert set(LOOKUP_LAYOUTS) <= set(LAYOUTS)
