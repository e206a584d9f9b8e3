"""Bundles that load on the layouts people have: npm (flat and workspaces), yarn 1 workspaces, yarn berry
with nodeLinker node-modules, pnpm (single, workspace, node-linker=hoisted), installed by the real package
managers from local tarballs; Yarn Plug'n'Play refused with the setting that fixes it.

Each bundle is unpacked and its handler required in a fresh node (cwd the unpacked folder, no NODE_PATH):
the Prisma client must find exactly the bundled engine, and the nested version conflict (debug needs ms
2.1.2, express-lite ms 3.0.0) must resolve to the right versions after hoisting.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.layouts import (
    ENGINES_VERSION,
    Fixture,
    generate,
    install,
    load_handler,
    monorepo,
    offline_env,
    pack_standins,
    single_package,
    tool,
)

ENGINE = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
MANAGER_TOOL = {"npm": None, "yarn1": "yarn1", "berry": "berry", "pnpm": "pnpm"}


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("standins")
    return pack_standins(base, offline_env(base / "home"))


def _need(manager: str) -> None:
    name = MANAGER_TOOL[manager]
    if name is not None and tool(name) is None:
        pytest.skip(f"{name} is not installed in .tools/ (run `make test`, or scripts/install-node-tools.sh)")


def _berry_config(root: Path, linker: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / ".yarnrc.yml").write_text(f"nodeLinker: {linker}\nenableTelemetry: false\nenableGlobalCache: false\n"
                                      'npmRegistryServer: "http://127.0.0.1:9"\n')


def _berry_monorepo(root: Path, spec: dict[str, str]) -> Fixture:
    _berry_config(root, "node-modules")
    return monorepo(root, spec, db_range="workspace:*")


def _berry_single(root: Path, spec: dict[str, str]) -> Fixture:
    _berry_config(root, "node-modules")
    return single_package(root, spec)


def _pnpm_hoisted(root: Path, spec: dict[str, str]) -> Fixture:
    fixture = single_package(root, spec)
    (root / ".npmrc").write_text("node-linker=hoisted\n")
    return fixture


Build = Callable[[Path, dict[str, str]], Fixture]
LAYOUTS: dict[str, tuple[str, Build, str]] = {
    # id: (package manager, fixture builder, the layout the summary must name)
    "npm-flat": ("npm", single_package, "npm single package"),
    "npm-workspaces": ("npm", lambda root, spec: monorepo(root, spec, db_range="*"),
                       "npm workspace (repository root ../..)"),
    "yarn1-workspaces": ("yarn1", lambda root, spec: monorepo(root, spec, db_range="1.0.0"),
                         "yarn 1 workspace (repository root ../..)"),
    "berry-single": ("berry", _berry_single, "yarn berry single package"),
    "berry-node-modules": ("berry", _berry_monorepo, "yarn berry workspace (repository root ../..)"),
    "pnpm-single": ("pnpm", single_package, "pnpm single package"),
    "pnpm-workspace": ("pnpm", lambda root, spec: monorepo(root, spec, db_range="workspace:*", workspace_file=True),
                       "pnpm workspace (repository root ../..)"),
    "pnpm-hoisted": ("pnpm", _pnpm_hoisted, "pnpm (node-linker=hoisted) single package"),
}


def _installed(tmp_path: Path, layout: str, standins: dict[str, str], elf_cache: Path) -> tuple[Fixture, Path]:
    manager, build, _ = LAYOUTS[layout]
    _need(manager)
    env = offline_env(tmp_path / "home")
    fixture = build(tmp_path / "repo", standins)
    (fixture.root / ".git").mkdir(exist_ok=True)  # a repository, as a checkout is
    install(manager, fixture, env)
    client = generate(fixture, env, elf_cache)
    return fixture, client


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layout_bundles_and_loads(layout: str, tmp_path: Path, standins: dict[str, str], elf_cache: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    fixture, client = _installed(tmp_path, layout, standins, elf_cache)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", fixture.project, out, capsys, "--runtime", "nodejs20.x")
    assert doc["layout"]["label"] == LAYOUTS[layout][2]
    assert doc["out_dir"] == str(out.resolve())
    assert doc["engine"]["file"] == ENGINE and doc["engine"]["source"] == "local"
    assert doc["engine"]["version"] == ENGINES_VERSION  # read from @prisma/engines-version wherever it lives
    # the load check required the client and followed its engine lookup, a member without a schema included
    assert doc["load_check"]["clients"] == ["node_modules/.prisma/client"], doc["load_check"]
    zip_path = out / "function.zip"
    names = zip_names(zip_path)
    engines = [n for n in names if "query_engine-" in n or "query-engine-" in n]
    assert engines == [ENGINE]
    assert "handler.js" in names
    assert not [n for n in names if "/.pnpm/" in n or n.startswith((".pnpm", ".yarn/", ".yarnrc"))]
    with zipfile.ZipFile(zip_path) as zf:
        assert all((info.external_attr >> 16) & 0o170000 != 0o120000 for info in zf.infolist())  # no symlink
        unpacked = tmp_path / "unpacked"
        zf.extractall(unpacked)
    result = load_handler(unpacked)
    assert result["engine"] == str(unpacked / ENGINE)
    # the version conflict survives hoisting: each package gets the ms it was installed with
    debug, express = result["debug"], result["express"]
    assert isinstance(debug, dict) and isinstance(express, dict)
    assert [d["version"] for d in debug["deps"]] == ["2.1.2"]
    assert [d["version"] for d in express["deps"]] == ["3.0.0"]
    # the generated client came from beside the real @prisma/client (pnpm: inside its store)
    assert (unpacked / "node_modules/.prisma/client/index.js").read_bytes() == (client / "index.js").read_bytes()
    if "workspace" in layout:
        assert "node_modules/@acme/db/index.js" in names  # the workspace package, copied in as a package
        assert not [n for n in names if n.startswith("node_modules/@acme/db/node_modules/")]


def test_layout_summary_names_the_layout(tmp_path: Path, standins: dict[str, str], elf_cache: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    fixture, _ = _installed(tmp_path, "pnpm-workspace" if tool("pnpm") else "npm-workspaces", standins, elf_cache)
    code, out, err = run_cli(["lambda", str(fixture.project), "--out", str(tmp_path / "out"), "--offline",
                              "--runtime", "nodejs20.x"], capsys)
    assert code == 0, err
    assert out == ""
    assert "layout: " in err and "workspace (repository root ../..)" in err


def test_yarn_pnp_is_refused_with_the_setting_that_fixes_it(tmp_path: Path, standins: dict[str, str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _need("berry")
    env = offline_env(tmp_path / "home")
    fixture = single_package(tmp_path / "repo", standins)
    _berry_config(fixture.root, "pnp")
    install("berry", fixture, env)
    assert (fixture.root / ".pnp.cjs").is_file() and not (fixture.root / "node_modules").exists()
    code, out, err = run_cli(["lambda", str(fixture.project), "--out", str(tmp_path / "out"), "--offline",
                              "--runtime", "nodejs20.x", "--json"], capsys)
    assert code == 3
    assert "Plug'n'Play" in err and "nodeLinker: node-modules" in err and "Traceback" not in err
    error = json.loads(out)["error"]
    assert error["code"] == 3 and "Plug'n'Play" in error["message"]
    assert "nodeLinker: node-modules" in error["fix"]
    assert not (tmp_path / "out" / "function.zip").exists()
