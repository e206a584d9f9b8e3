"""`--build docker` on a workspace member, for real: an npm-workspaces monorepo (the function in packages/api, the
schema and client in the shared packages/db, dependencies hoisted to the repository root) with nothing
installed on the host but a lockfile. The container (the host's own node and npm, imported offline; the
dependency tarballs put into the image at the absolute paths the lockfile names) gets the workspace root with
its lockfile and both packages, runs `npm ci` at the root and the project's own `prisma generate` (a stand-in
CLI that writes the client beside the real @prisma/client, as Prisma does: the ROOT node_modules) in
packages/db. The bundle of packages/api carries the hoisted packages, the workspace package and the engine,
and its handler loads in a fresh node. The same for a pnpm-workspace.yaml monorepo built by the real pnpm in
the container (its store at the root's node_modules/.pnpm, where the client is generated)."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from pathlib import PurePosixPath as P
from typing import Any

import pytest

from bundler.engines.build_root import build_root, workspace_packages
from bundler.engines.docker import copy_filter, default_recipe
from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.docker_images import Entry, File, ImageFactory, host_node_entries
from tests.integration.docker_fixtures import docker_client, images, photon_containers  # noqa: F401 - fixtures
from tests.layouts import ENGINES_VERSION, TOOLS, load_handler, monorepo, offline_env, pack_standins, tool
from tests.projects import GENERATED_CLIENT, compile_elf, tree_digest, write_json

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="needs the host's node and npm"),
]

ENGINE = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"

# `prisma generate` as Prisma 5 does it: the client goes to `.prisma/client` beside the REAL @prisma/client that
# the schema's package resolves (in a hoisted workspace: the repository root's node_modules).
PRISMA_CLI = """#!/usr/bin/env node
const fs = require('fs');
const path = require('path');
if (process.argv[2] !== 'generate') { console.error('usage: prisma generate'); process.exit(1); }
const pkg = fs.realpathSync(require.resolve('@prisma/client/package.json', { paths: [process.cwd()] }));
const out = path.join(path.dirname(pkg), '..', '..', '.prisma', 'client');
fs.mkdirSync(out, { recursive: true });
for (const name of fs.readdirSync(path.join(__dirname, 'template'))) {
  fs.copyFileSync(path.join(__dirname, 'template', name), path.join(out, name));
}
fs.copyFileSync(path.join(process.cwd(), 'prisma', 'schema.prisma'), path.join(out, 'schema.prisma'));
console.log('Generated Prisma Client (stand-in) to ' + path.relative(process.cwd(), out) + ' from ' + process.cwd());
"""


def _prisma_cli(base: Path, spec: dict[str, str], env: dict[str, str]) -> str:
    """npm-pack a `prisma` package with a `generate` bin, the generated client's files and a gcc-built engine."""
    src = base / "prisma-cli"
    template = src / "template"
    template.mkdir(parents=True)
    write_json(src / "package.json", {"name": "prisma", "version": "5.22.0", "bin": {"prisma": "cli.js"},
                                      "dependencies": {"@prisma/engines-version": spec["@prisma/engines-version"]}})
    (src / "cli.js").write_text(PRISMA_CLI)
    (src / "cli.js").chmod(0o755)
    (template / "index.js").write_text(GENERATED_CLIENT)
    (template / "default.js").write_text("module.exports = { ...require('./index.js') };\n")
    write_json(template / "package.json", {"name": ".prisma/client", "main": "index.js"})
    compile_elf(template / "libquery_engine-rhel-openssl-3.0.x.so.node", shared=True, marker="rhel-openssl-3.0.x")
    subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(base)], cwd=src, env=env, check=True,
                   capture_output=True)
    return f"file:{base}/prisma-5.22.0.tgz"


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, Entry]]:
    """The monorepo, locked but not installed; and the image entries of every tarball its lockfile names."""
    env = offline_env(tmp_path / "home")
    spec = pack_standins(tmp_path / "standins", env)
    spec["prisma"] = _prisma_cli(tmp_path / "standins", spec, env)
    fixture = monorepo(tmp_path / "repo", spec, db_range="*")
    (fixture.root / ".git").mkdir()
    subprocess.run(["npm", "install", "--package-lock-only", "--offline", "--no-audit", "--no-fund"],
                   cwd=fixture.root, env=env, check=True, capture_output=True, timeout=300)
    assert not (fixture.root / "node_modules").exists()
    tarballs: dict[str, Entry] = {str(p): File(p.read_bytes()) for p in (tmp_path / "standins").rglob("*.tgz")}
    return fixture.project, tarballs


@pytest.fixture
def pnpm_workspace(tmp_path: Path) -> tuple[Path, dict[str, Entry]]:
    """A pnpm-workspace.yaml monorepo, locked by the real pnpm but not installed; the image entries of its
    tarballs and of pnpm itself (at its absolute path, with /usr/bin/pnpm starting it)."""
    pnpm = tool("pnpm")
    if pnpm is None:
        pytest.skip("pnpm is not installed in .tools/ (run `make test`, or scripts/install-node-tools.sh)")
    env = offline_env(tmp_path / "home")
    spec = pack_standins(tmp_path / "standins", env)
    spec["prisma"] = _prisma_cli(tmp_path / "standins", spec, env)
    fixture = monorepo(tmp_path / "repo", spec, db_range="workspace:*", workspace_file=True)
    (fixture.root / ".git").mkdir()
    subprocess.run([*pnpm.argv, "install", "--lockfile-only", "--offline"], cwd=fixture.root, env=env, check=True,
                   capture_output=True, timeout=300)
    assert (fixture.root / "pnpm-lock.yaml").is_file() and not (fixture.root / "node_modules").exists()
    # pnpm's lockfile names the tarballs relative to the repository root, which is /photon-bundle/project there
    entries: dict[str, Entry] = {f"/photon-bundle/{p.relative_to(tmp_path)}": File(p.read_bytes())
                                 for p in (tmp_path / "standins").rglob("*.tgz")}
    cli = TOOLS / "pnpm" / "node_modules" / "pnpm"
    for path in cli.rglob("*"):
        if path.is_file():
            entries[str(path)] = File(path.read_bytes(), path.stat().st_mode & 0o777)
    entries["/usr/bin/pnpm"] = File(f'#!/bin/sh\nexec /usr/bin/node {cli}/bin/pnpm.cjs "$@"\n'.encode(), 0o755)
    return fixture.project, entries


def test_the_build_root_of_a_member_is_its_workspace_root(workspace: tuple[Path, dict[str, Entry]]) -> None:
    api, _ = workspace
    root = api.parents[1]
    build = build_root(api)
    assert (build.root, build.member, build.generate_in) == (root, "packages/api", ("packages/db",))
    assert workspace_packages(root) == {"@acme/api": "packages/api", "@acme/db": "packages/db"}
    assert default_recipe(api) == ("cd /photon-bundle/project && npm ci && cd /photon-bundle/project/packages/db "
                                   "&& npx prisma generate")
    skip = copy_filter((".photon-bundle/lambda",), build.member)
    assert skip(P("packages/api/.photon-bundle/lambda"), True) and skip(P("packages/db/node_modules"), True)
    assert skip(P(".git"), True) and not skip(P("packages/db/prisma"), True) and not skip(P("package-lock.json"),
                                                                                          False)
    assert build_root(root / "packages" / "db").root == root  # a member too: its schema is its own
    assert build_root(root / "packages" / "db").generate_in == ("packages/db",)


def test_build_docker_on_a_workspace_member_bundles_the_hoisted_tree(
        workspace: tuple[Path, dict[str, Entry]], tmp_path: Path, images: ImageFactory,  # noqa: F811
        docker_client: Any, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    api, tarballs = workspace
    root = api.parents[1]
    image = images.imported({**host_node_entries(), **tarballs}, name="node-workspace")
    before, containers = tree_digest(root), photon_containers(docker_client)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", api, out, capsys, "--runtime", "nodejs20.x", "--build", "docker", "--image", image,
                    "--build-env", "npm_config_offline=true", "--build-timeout", "300")
    assert doc["layout"]["label"] == "npm workspace (repository root ../..)"
    assert doc["engine"]["file"] == ENGINE and doc["engine"]["version"] == ENGINES_VERSION
    check = doc["load_check"]
    assert check["skipped"] is False and check["entries"] == [{"path": "handler.js", "ok": True}], check
    assert check["clients"] == ["node_modules/.prisma/client"]
    names = zip_names(out / "function.zip")
    assert [n for n in names if "query_engine" in n] == [ENGINE]
    assert {"handler.js", "node_modules/@acme/db/index.js", "node_modules/@prisma/client/index.js",
            "node_modules/debug/index.js", "node_modules/express-lite/node_modules/ms/index.js"} <= set(names)
    assert not [n for n in names if n.startswith("node_modules/prisma/")]  # the CLI is a devDependency
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(tmp_path / "unpacked")
    result = load_handler(tmp_path / "unpacked")
    assert result["engine"] == str(tmp_path / "unpacked" / ENGINE)
    assert tree_digest(root) == before, "the user's repository is never changed"
    assert not (root / "node_modules").exists()
    assert photon_containers(docker_client) == containers


def test_the_member_recipe_reports_a_broken_lockfile_with_the_root_named(
        workspace: tuple[Path, dict[str, Entry]], tmp_path: Path, images: ImageFactory,  # noqa: F811
        docker_client: Any, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    api, tarballs = workspace
    root = api.parents[1]
    lock = json.loads((root / "package-lock.json").read_text())
    lock["packages"].pop("node_modules/debug")  # the lockfile no longer matches packages/api's dependencies
    (root / "package-lock.json").write_text(json.dumps(lock))
    image = images.imported({**host_node_entries(), **tarballs}, name="node-workspace")
    code, _, err = run_cli(["lambda", str(api), "--out", str(tmp_path / "out"), "--runtime", "nodejs20.x", "--build",
                            "docker", "--image", image, "--build-env", "npm_config_offline=true"], capsys)
    assert code != 0 and "npm ci" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "function.zip").exists()


def test_build_docker_on_a_pnpm_workspace_member_bundles_from_the_store(
        pnpm_workspace: tuple[Path, dict[str, Entry]], tmp_path: Path, images: ImageFactory,  # noqa: F811
        docker_client: Any, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    api, entries = pnpm_workspace
    root = api.parents[1]
    assert default_recipe(api) == ("cd /photon-bundle/project && pnpm install --frozen-lockfile && "
                                   "cd /photon-bundle/project/packages/db && npx prisma generate")
    image = images.imported({**host_node_entries(), **entries}, name="node-pnpm-workspace")
    before = tree_digest(root)
    out = tmp_path / "out"
    doc = bundle_ok("lambda", api, out, capsys, "--runtime", "nodejs20.x", "--build", "docker", "--image", image,
                    "--build-env", "npm_config_offline=true", "--build-timeout", "300")
    assert doc["layout"]["label"] == "pnpm workspace (repository root ../..)"
    assert doc["engine"]["file"] == ENGINE and doc["engine"]["version"] == ENGINES_VERSION
    assert doc["load_check"]["clients"] == ["node_modules/.prisma/client"]
    names = zip_names(out / "function.zip")
    assert [n for n in names if "query_engine" in n] == [ENGINE]
    assert "node_modules/@acme/db/index.js" in names and not [n for n in names if "/.pnpm/" in n]
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(tmp_path / "unpacked")
    assert load_handler(tmp_path / "unpacked")["engine"] == str(tmp_path / "unpacked" / ENGINE)
    assert tree_digest(root) == before
