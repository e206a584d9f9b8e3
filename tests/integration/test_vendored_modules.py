"""node_modules folders inside the app's own files, decided by Node's semantics: Node looks in EVERY parent
folder's node_modules, so `require('@app/utils')` in src/app.js loads src/node_modules/@app/utils, and what that
package requires is looked up from its own folder upwards (its own node_modules, src/node_modules, then the
project's). Such a folder with no package.json beside it is vendored code: nothing says which of it the app
loads, so all of it ships at its path, its packages' dependencies join the closure, and the bundle loads in a
fresh node. A node_modules beside a package.json (a function folder's own install) is that package's install:
what its package.json names ships, not the rest.

The project is installed by the real npm from local tarballs (tests/layouts.py); the vendored folders are
written the way a repository keeps them."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok, zip_names
from tests.integration.test_layouts import _installed
from tests.layouts import load_handler, offline_env, pack_standins
from tests.projects import write_json

HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const app = require('./src/app');
const prisma = new PrismaClient();
exports.handler = async () => ({ engine: prisma.enginePath, app });
"""
APP = "module.exports = { utils: require('@app/utils'), loose: require('loose') };\n"
UTILS = """\
module.exports = { helper: require('local-helper'), ms: require('ms'),
                   pinned: require('left-pad').version };
"""


@pytest.fixture(scope="module")
def standins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("standins")
    return pack_standins(base, offline_env(base / "home"))


def _vendor(project: Path) -> None:
    vendored = project / "src" / "node_modules"
    write_json(vendored / "@app" / "utils" / "package.json",
               {"name": "@app/utils", "version": "0.0.0", "main": "index.js",
                "dependencies": {"local-helper": "*", "ms": "*", "left-pad": "*"}})
    (vendored / "@app" / "utils" / "index.js").write_text(UTILS)
    # its own nested copy wins over the sibling, as in Node
    for folder, version in ((vendored / "@app" / "utils" / "node_modules" / "left-pad", "9.9.9"),
                            (vendored / "left-pad", "1.0.0")):
        write_json(folder / "package.json", {"name": "left-pad", "version": version})
        (folder / "index.js").write_text(f"module.exports = {{ version: '{version}' }};\n")
    write_json(vendored / "local-helper" / "package.json", {"name": "local-helper", "version": "1.0.0"})
    (vendored / "local-helper" / "index.js").write_text("module.exports = 'local helper';\n")
    (vendored / "loose.js").write_text("module.exports = 'a one-file module';\n")  # Node loads node_modules/x.js
    (project / "src" / "app.js").write_text(APP)
    (project / "handler.js").write_text(HANDLER)


def test_a_vendored_node_modules_ships_whole_and_loads(tmp_path: Path, standins: dict[str, str], elf_cache: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    fixture, _ = _installed(tmp_path, "npm-flat", standins, elf_cache)
    project = fixture.project
    _vendor(project)
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    names = set(zip_names(tmp_path / "out" / "function.zip"))
    assert {"src/node_modules/@app/utils/index.js", "src/node_modules/local-helper/index.js",
            "src/node_modules/loose.js", "src/node_modules/@app/utils/node_modules/left-pad/package.json",
            "node_modules/ms/index.js"} <= names
    assert not [n for n in names if n.startswith("node_modules/local-helper/")]  # not copied twice
    assert doc["load_check"]["entries"] == [{"path": "handler.js", "ok": True}]
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        zf.extractall(tmp_path / "unpacked")
    result = load_handler(tmp_path / "unpacked")
    app = result["app"]
    assert isinstance(app, dict)
    assert app["loose"] == "a one-file module"
    assert app["utils"] == {"helper": "local helper", "ms": {"name": "ms", "version": "2.1.2", "deps": []},
                            "pinned": "9.9.9"}


def test_a_vendored_package_needing_an_undeclared_installed_package_brings_it(
        tmp_path: Path, standins: dict[str, str], elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`express-lite` is installed (nested ms 3) but the project declares only debug: the vendored package that
    requires it is what makes Node load it, so it is bundled with its own ms."""
    fixture, _ = _installed(tmp_path, "npm-flat", standins, elf_cache)
    project = fixture.project
    pkg = json.loads((project / "package.json").read_text())
    del pkg["dependencies"]["express-lite"]
    (project / "package.json").write_text(json.dumps(pkg))
    vendored = project / "lib" / "node_modules" / "server"
    write_json(vendored / "package.json", {"name": "server", "version": "1.0.0", "dependencies": {"express-lite": "*"}})
    (vendored / "index.js").write_text("module.exports = require('express-lite');\n")
    (project / "handler.js").write_text("const s = require('./lib/node_modules/server');\n"
                                        "exports.handler = async () => ({ s });\n")
    bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    names = set(zip_names(tmp_path / "out" / "function.zip"))
    assert "node_modules/express-lite/index.js" in names
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        zf.extractall(tmp_path / "unpacked")
    s = load_handler(tmp_path / "unpacked")["s"]
    assert isinstance(s, dict) and s["name"] == "express-lite" and s["deps"][0]["version"] == "3.0.0"


def test_a_function_folders_own_install_ships_what_its_package_json_names(
        tmp_path: Path, standins: dict[str, str], elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture, _ = _installed(tmp_path, "npm-flat", standins, elf_cache)
    project = fixture.project
    tools = project / "tools"
    write_json(tools / "package.json", {"name": "tools", "version": "1.0.0", "dependencies": {}})
    write_json(tools / "node_modules" / "huge-cli" / "package.json", {"name": "huge-cli", "version": "1.0.0"})
    (tools / "node_modules" / "huge-cli" / "index.js").write_text("module.exports = 1;\n")
    bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    names = zip_names(tmp_path / "out" / "function.zip")
    assert not [n for n in names if "huge-cli" in n]
