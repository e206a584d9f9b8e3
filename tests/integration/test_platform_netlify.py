"""`photon-bundle netlify`: one zip per function with only its own files and dependencies, Netlify's manifest."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_modules as modules
from tests.cli_helpers import zip_names as names
from tests.projects import make_photon_project, make_project, tree_digest

pytestmark = pytest.mark.usefixtures("own_engine_cache")


TARGETS = ("rhel-openssl-1.0.x", "rhel-openssl-3.0.x", "debian-openssl-3.0.x")
USERS = """\
const { PrismaClient } = require('@prisma/client');
const debug = require('debug');
const { format } = require('../../lib/util');
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ engine: prisma.enginePath, debug }) });
"""
HEALTH = """\
const express = require('express-lite');
const fs = require('fs');
exports.handler = async () => ({ statusCode: 200, body: fs.readFileSync(__dirname + '/template.html', 'utf8') });
"""
NETLIFY_TOML = """\
[build]
  command = "npm run build"

[build.environment]
  AWS_LAMBDA_JS_RUNTIME = "nodejs18.x"

[functions]
  directory = "netlify/functions"
"""


def netlify(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return bundle_ok("netlify", project, out, capsys, *extra)


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    """A Prisma app with three functions: a file function using Prisma, a folder function with a template
    and its own dependency, and one that loads nothing."""
    root = make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)
    (root / "lib" / "util.js").write_text("exports.format = (x) => String(x);\n")
    functions = root / "netlify" / "functions"
    (functions / "health").mkdir(parents=True)
    (functions / "users.js").write_text(USERS)
    (functions / "health" / "index.js").write_text(HEALTH)
    (functions / "health" / "template.html").write_text("<p>ok</p>\n")
    (functions / "ping.mjs").write_text("export const handler = async () => ({ statusCode: 204 });\n")
    (functions / "_helpers.js").write_text("// not a function: Netlify skips names starting with _\n")
    (root / "netlify.toml").write_text(NETLIFY_TOML)
    return root


def test_each_function_gets_only_its_own_files_and_dependencies(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    out = tmp_path / "out"
    doc = netlify(project, out, capsys)
    assert tree_digest(project) == before
    assert [u["name"] for u in doc["units"]] == ["health", "ping", "users"]
    assert {u["runtime"] for u in doc["units"]} == {"nodejs18.x"}
    assert doc["units"][0]["runtime_source"] == "netlify.toml [build.environment] AWS_LAMBDA_JS_RUNTIME"
    fdir = out / "functions"
    assert sorted(p.name for p in fdir.iterdir()) == ["health.zip", "manifest.json", "ping.zip", "users.zip"]

    users = names(fdir / "users.zip")
    engines = [n for n in users if "query_engine-" in n or "query-engine-" in n]
    assert engines == ["node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"]
    assert "lib/util.js" in users and "users.js" in users and "netlify/functions/users.js" in users
    assert modules(fdir / "users.zip") == {"node_modules/.prisma", "node_modules/@prisma/client",
                                           "node_modules/debug", "node_modules/ms"}
    with zipfile.ZipFile(fdir / "users.zip") as zf:
        info = zf.getinfo(engines[0])
        assert (info.external_attr >> 16) & 0o777 == 0o755
        assert zf.read("users.js") == b"module.exports = require('./netlify/functions/users.js');\n"

    health = names(fdir / "health.zip")
    assert "netlify/functions/health/template.html" in health and "health.js" in health
    assert modules(fdir / "health.zip") == {"node_modules/express-lite", "node_modules/express-lite/node_modules/ms"}
    assert not [n for n in health if "prisma" in n]

    ping = names(fdir / "ping.zip")
    assert ping == ["netlify/functions/ping.mjs", "package.json", "ping.mjs"]
    (ping_unit,) = [u for u in doc["units"] if u["name"] == "ping"]
    assert ping_unit["engine"].get("file") is None
    assert not any("_helpers" in n for z in ("users", "health", "ping") for n in names(fdir / f"{z}.zip"))


def test_netlify_manifest_in_netlifys_shape(project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    doc = netlify(project, out, capsys, "--runtime", "nodejs20.x")
    nmanifest = json.loads((out / "functions" / "manifest.json").read_text())
    assert nmanifest["version"] == 1
    assert nmanifest["system"] == {"arch": "x64", "platform": "linux"}
    sizes = {a["path"]: a["zipped_bytes"] for a in doc["artifacts"]}
    assert nmanifest["functions"] == [
        {"mainFile": "netlify/functions/health/index.js", "name": "health", "path": "health.zip", "runtime": "js",
         "runtimeVersion": "nodejs20.x", "size": sizes["functions/health.zip"]},
        {"mainFile": "netlify/functions/ping.mjs", "name": "ping", "path": "ping.zip", "runtime": "js",
         "runtimeVersion": "nodejs20.x", "size": sizes["functions/ping.zip"]},
        {"mainFile": "netlify/functions/users.js", "name": "users", "path": "users.zip", "runtime": "js",
         "runtimeVersion": "nodejs20.x", "size": sizes["functions/users.zip"]},
    ]
    assert json.loads((out / "manifest.json").read_text())["platform"] == "netlify"
    # an unchanged second run reuses the zips and writes Netlify's manifest from the reused manifest's records
    written = (out / "functions" / "manifest.json").read_bytes()
    (out / "functions" / "manifest.json").unlink()
    again = netlify(project, out, capsys, "--runtime", "nodejs20.x")
    assert again["reused"] is True
    assert (out / "functions" / "manifest.json").read_bytes() == written


def test_arm64_needs_an_arm64_engine(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["netlify", str(project), "--out", str(tmp_path / "out"), "--offline", "--arch", "arm64",
            "--runtime", "nodejs20.x"]
    code, _, err = run(argv, capsys)
    assert code == 3
    assert "linux-arm64-openssl-3.0.x" in err and "engines fetch" in err
    client = project / "node_modules" / ".prisma" / "client"
    # An x86_64 file under the arm64 name: caught by the ELF check before anything is written.
    (client / "libquery_engine-linux-arm64-openssl-3.0.x.so.node").write_bytes(
        (client / "libquery_engine-rhel-openssl-3.0.x.so.node").read_bytes())
    code, _, err = run(argv, capsys)
    assert code == 5
    assert "users.zip would not run on Netlify Functions nodejs20.x (arm64)" in err
    assert not list((tmp_path / "out").rglob("*.zip"))
    code, _, err = run([*argv, "--no-verify", "--json"], capsys)
    assert code == 0, err
    nmanifest = json.loads((tmp_path / "out" / "functions" / "manifest.json").read_text())
    assert nmanifest["system"] == {"arch": "arm64", "platform": "linux"}


def test_node_version_picks_the_runtime_and_the_unpacked_function_loads(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "netlify.toml").write_text('[build.environment]\n  NODE_VERSION = "20.11.1"\n\n'
                                          '[functions]\n  directory = "netlify/functions"\n')
    out = tmp_path / "out"
    doc = netlify(project, out, capsys)
    assert doc["runtime"] == "nodejs20.x" and doc["engine"]["target"] == "rhel-openssl-3.0.x"
    assert doc["units"][0]["runtime_source"] == 'netlify.toml [build.environment] NODE_VERSION "20.11.1"'
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(out / "functions" / "users.zip") as zf:
        zf.extractall(unpacked)
    script = "require('./users.js').handler({}).then((r) => console.log(JSON.parse(r.body).engine))"
    proc = subprocess.run(["node", "-e", script], cwd=unpacked, capture_output=True, text=True, check=True)
    assert proc.stdout.strip().endswith("libquery_engine-rhel-openssl-3.0.x.so.node")


def test_included_external_and_ignored_modules(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (project / "data").mkdir()
    (project / "data" / "seed.json").write_text("[]\n")
    (project / "data" / "notes.txt").write_text("not for deploy\n")
    (project / "netlify.toml").write_text(NETLIFY_TOML + (
        '  included_files = ["data/**", "!data/notes.txt"]\n\n'
        '[functions."heal*"]\n  external_node_modules = ["fsevents-lite"]\n  ignored_node_modules = ["ms"]\n'
    ))
    out = tmp_path / "out"
    netlify(project, out, capsys)
    health = names(out / "functions" / "health.zip")
    assert "data/seed.json" in health and "data/notes.txt" not in health
    assert modules(out / "functions" / "health.zip") == {"node_modules/express-lite", "node_modules/fsevents-lite"}
    assert "data/seed.json" in names(out / "functions" / "users.zip")


def test_photon_2019_project(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_photon_project(tmp_path / "photon", elf_cache=elf_cache)
    (root / "functions").mkdir()
    (root / "functions" / "graphql.js").write_text("module.exports = require('../index.js');\n")
    (root / "netlify.toml").write_text('[build]\n  functions = "functions"\n')
    out = tmp_path / "out"
    doc = netlify(root, out, capsys, "--runtime", "nodejs10.x")
    listed = names(out / "functions" / "graphql.zip")
    engines = [n for n in listed if "/runtime/prisma-" in n]
    assert engines == ["node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.2"]
    assert doc["engine"]["target"] == "rhel-openssl-1.0.x" and doc["engine"]["kind"] == "binary"
    assert "index.js" in listed and "functions/graphql.js" in listed
    assert modules(out / "functions" / "graphql.zip") == {
        "node_modules/@generated/photon", "node_modules/graphql-lite", "node_modules/graphql-yoga-lite"}
    assert not [n for n in listed if "prisma2" in n]
    with zipfile.ZipFile(out / "functions" / "graphql.zip") as zf:
        assert (zf.getinfo(engines[0]).external_attr >> 16) & 0o777 == 0o755


def test_byte_identical_on_a_second_run(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = netlify(project, tmp_path / "one", capsys)
    second = netlify(project, tmp_path / "two", capsys)
    assert [a["sha256"] for a in first["artifacts"]] == [a["sha256"] for a in second["artifacts"]]
    for name in ("users.zip", "health.zip", "ping.zip", "manifest.json"):
        assert (tmp_path / "one" / "functions" / name).read_bytes() == \
            (tmp_path / "two" / "functions" / name).read_bytes()


def test_over_the_limit_writes_nothing(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run(["netlify", str(project), "--out", str(out), "--offline", "--max-size", "3kb"], capsys)
    assert code == 4
    assert "users.zip" in err and "over the limit" in err and "largest packages" in err.lower()
    assert not list(out.rglob("*.zip")) and not (out / "functions" / "manifest.json").exists()


@pytest.mark.parametrize(("toml", "code", "expected"), [
    ('[functions]\n  directory = "netlify/functions"\n  included_files = "data/**"\n', 3,
     "netlify.toml:3: [functions] included_files must be a list of strings"),
    ('[functions\n  directory = "x"\n', 3, "netlify.toml:1:11: invalid TOML"),
    ('[build.environment]\n  AWS_LAMBDA_JS_RUNTIME = "nodejs99.x"\n', 2,
     "netlify.toml:2: AWS_LAMBDA_JS_RUNTIME 'nodejs99.x' is not a Netlify Functions runtime"),
    ('[build.environment]\n  NODE_VERSION = "6"\n', 2, "netlify.toml:2: NODE_VERSION '6': Netlify Functions have no"),
    ('[functions]\n  directory = "lambdas"\n', 3, "does not exist (netlify.toml [functions] directory)"),
])
def test_bad_netlify_toml_is_one_clear_error(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             toml: str, code: int, expected: str) -> None:
    (project / "netlify.toml").write_text(toml)
    got, _, err = run(["netlify", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert got == code, err
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.zip"))


def test_no_functions_folder(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)
    code, _, err = run(["netlify", str(root), "--offline"], capsys)
    assert code == 3
    assert "no functions folder" in err and "--functions-dir" in err
    # lib/util.js exports no `handler` (the load check would refuse it); this test is about the folder flag
    code, _, err = run(["netlify", str(root), "--offline", "--functions-dir", "lib", "--no-load-check"], capsys)
    assert code == 0, err
    assert (root / ".photon-bundle" / "netlify" / "functions" / "util.zip").is_file()
