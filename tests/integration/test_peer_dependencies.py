"""A package's installed peer dependency travels with it into a per-function bundle.

apollo-server needs graphql, which it names only in peerDependencies: npm 7+ and pnpm install it, Node loads it
from the requiring package's folder, and a function that requires only apollo-server still needs it. Installed by
the real npm and pnpm, offline, from tarballs made here; the pipeline's load check requires each function.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok
from tests.layouts import (
    SCHEMA,
    Fixture,
    _package,
    generate,
    install,
    load_handler,
    offline_env,
    pack_standins,
    tool,
)

FUNCTION = """\
const { PrismaClient } = require('@prisma/client');
const plugin = require('plugin-lite');
const prisma = new PrismaClient();
exports.handler = async () => ({ engine: prisma.enginePath, plugin });
"""


def _site(root: Path, spec: dict[str, str], tgz: Path, env: dict[str, str]) -> Fixture:
    src = tgz.parent / "peer-src"
    _package(src / "host", {"name": "host-lite", "version": "1.0.0", "main": "index.js"},
             {"index.js": "module.exports = 'host';\n"})
    _package(src / "plugin", {"name": "plugin-lite", "version": "1.0.0", "main": "index.js",
                              "peerDependencies": {"host-lite": "*"}},
             {"index.js": "module.exports = { host: require('host-lite') };\n"})
    for folder in ("host", "plugin"):
        subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(tgz)], cwd=src / folder, env=env,
                       check=True, capture_output=True)
    _package(root, {"name": "shop", "version": "1.0.0", "private": True,
                    "dependencies": {"@prisma/client": spec["@prisma/client"],
                                     "plugin-lite": f"file:{tgz}/plugin-lite-1.0.0.tgz",
                                     "host-lite": f"file:{tgz}/host-lite-1.0.0.tgz"},
                    "devDependencies": {"prisma": spec["prisma"]}},
             {"functions/orders.js": FUNCTION, "functions/health.js": "exports.handler = async () => 'ok';\n",
              "prisma/schema.prisma": SCHEMA,
              "netlify.toml": '[build]\n  functions = "functions"\n'})
    (root / ".git").mkdir()
    return Fixture(root, root, root)


@pytest.mark.parametrize("manager", ["npm", "pnpm"])
def test_a_function_gets_the_peer_its_package_loads(manager: str, tmp_path: Path, elf_cache: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    if manager == "pnpm" and tool("pnpm") is None:
        pytest.skip("pnpm is not installed in .tools/ (run `make test`, or scripts/install-node-tools.sh)")
    env = offline_env(tmp_path / "home")
    spec = pack_standins(tmp_path / "standins", env)
    fixture = _site(tmp_path / "site", spec, tmp_path / "standins" / "tgz", env)
    install(manager, fixture, env)
    generate(fixture, env, elf_cache)
    out = tmp_path / "out"
    # the pipeline's load check requires each function in a fresh node: without the peer it fails (exit 5)
    doc = bundle_ok("netlify", fixture.project, out, capsys, "--runtime", "nodejs20.x")
    assert doc["load_check"]["skipped"] is False, doc["load_check"]
    orders = out / "functions" / "orders.zip"
    with zipfile.ZipFile(orders) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "unpacked")
    assert "node_modules/host-lite/index.js" in names  # only plugin-lite names it, as a peer
    result = load_handler(tmp_path / "unpacked", "orders.js")
    assert result["plugin"] == {"host": "host"}
    with zipfile.ZipFile(out / "functions" / "health.zip") as zf:  # a function that loads neither gets neither
        assert not [n for n in zf.namelist() if "host-lite" in n or "plugin-lite" in n]
