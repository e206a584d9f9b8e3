"""`photon-bundle serverless`: per-function or shared zips from serverless.yml, and a copy of it with
package.artifact set (comments kept; the user's file only with --write-config)."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_modules as modules
from tests.cli_helpers import zip_names as names
from tests.elf_fixtures import patch_machine
from tests.projects import make_photon_project, make_project, tree_digest

pytestmark = pytest.mark.usefixtures("own_engine_cache")


GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "serverless"
TARGETS = ("rhel-openssl-1.0.x", "rhel-openssl-3.0.x", "linux-arm64-openssl-3.0.x", "debian-openssl-3.0.x")
EM_AARCH64 = 183
USERS = """\
const { PrismaClient } = require('@prisma/client');
const debug = require('debug');
const { format } = require('./lib/format');
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ engine: prisma.enginePath, n: format(1) }) });
"""
ORDERS = """\
const { PrismaClient } = require('@prisma/client');
const express = require('express-lite');
const fs = require('fs');
const prisma = new PrismaClient();
const template = __dirname + '/../templates/order.html';
exports.handler = async () => ({ statusCode: 200, body: fs.readFileSync(template, 'utf8') });
"""
SERVERLESS_YML = """\
# Orders API: two functions on AWS Lambda
service: orders-api
frameworkVersion: '3'

provider:
  name: aws
  runtime: nodejs18.x   # Amazon Linux 2
  stage: ${opt:stage, 'dev'}
  region: ${env:AWS_REGION, 'eu-west-1'}
  environment:
    DATABASE_URL: ${ssm:/orders/${sls:stage}/database-url}   # resolved by Serverless at deploy time

package:
  individually: true
  patterns:
    - '!docs/**'
    - '!**/*.test.js'

functions:
  users:
    handler: src/users.handler
    events:
      - httpApi: 'GET /users'
    # orders runs on Graviton, Node 20

  orders:
    handler: src/orders.handler
    runtime: nodejs20.x
    architecture: arm64
    package:
      patterns:
        - 'templates/**'   # read with fs at run time
    events:
      - httpApi: 'POST /orders'

# end of serverless.yml
"""


def sls(project: Path, out: Path | None, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    where = ["--out", str(out)] if out is not None else []
    code, stdout, err = run(["serverless", str(project), *where, "--json", "--offline", *extra], capsys)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(stdout)
    return doc


def engines(zip_path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as zf:
        return [i for i in zf.infolist() if "query_engine-" in i.filename or "query-engine-" in i.filename]


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    """A Prisma app as a Serverless service: users (Prisma + debug + a local module) and orders (Prisma +
    express-lite + a template), docs and tests that patterns leave out. The arm64 engine is an aarch64 ELF."""
    root = make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)
    arm = root / "node_modules/.prisma/client/libquery_engine-linux-arm64-openssl-3.0.x.so.node"
    patch_machine(arm, arm, EM_AARCH64)
    (root / "src" / "lib").mkdir(parents=True)
    (root / "src" / "users.js").write_text(USERS)
    (root / "src" / "users.test.js").write_text("require('./users');\n")
    (root / "src" / "lib" / "format.js").write_text("exports.format = (x) => String(x);\n")
    (root / "src" / "orders.js").write_text(ORDERS)
    (root / "templates").mkdir()
    (root / "templates" / "order.html").write_text("<p>order</p>\n")
    (root / "docs").mkdir()
    (root / "docs" / "api.md").write_text("# API\n")
    (root / "serverless.yml").write_text(SERVERLESS_YML)
    return root


def test_each_function_gets_its_own_deps_and_exactly_one_engine(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    out = tmp_path / "out"
    doc = sls(project, out, capsys)
    assert tree_digest(project) == before  # nothing written into the project without --write-config
    assert [u["name"] for u in doc["units"]] == ["users", "orders"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
                  and not p.name.startswith(".")) == [
        "functions/orders.zip", "functions/users.zip", "manifest.json", "serverless.yml"]

    users = out / "functions" / "users.zip"
    assert modules(users) == {"node_modules/.prisma", "node_modules/@prisma/client", "node_modules/debug",
                              "node_modules/ms"}
    assert [n for n in names(users) if not n.startswith("node_modules/")] == [
        "package.json", "src/lib/format.js", "src/users.js"]
    orders = out / "functions" / "orders.zip"
    assert modules(orders) == {"node_modules/.prisma", "node_modules/@prisma/client", "node_modules/express-lite",
                               "node_modules/express-lite/node_modules/ms"}
    assert [n for n in names(orders) if not n.startswith("node_modules/")] == [
        "package.json", "src/orders.js", "templates/order.html"]
    for zip_path, target in ((users, "rhel-openssl-1.0.x"), (orders, "linux-arm64-openssl-3.0.x")):
        (engine,) = engines(zip_path)
        assert engine.filename == f"node_modules/.prisma/client/libquery_engine-{target}.so.node"
        assert engine.external_attr >> 16 == 0o100755
    assert not [n for z in (users, orders) for n in names(z)
                if n.startswith(("docs/", "node_modules/prisma/", "node_modules/jest-lite/", ".env", ".git"))
                or n in ("serverless.yml", "deploy.pem", ".npmrc")]
    by_name = {u["name"]: u for u in doc["units"]}
    assert by_name["users"]["meta"] == {"function": "users", "handler": "src/users.handler",
                                        "entry": "src/users.js"}
    assert doc["platform"] == "serverless"
    assert {lim["limit"] for lim in doc["limits"] if lim["what"] == "zipped"} == {52428800}
    assert {lim["limit"] for lim in doc["limits"] if lim["what"] == "unzipped"} == {262144000}
    assert doc["verify"]["skipped"] is False


def test_per_function_runtime_and_architecture(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    doc = sls(project, tmp_path / "out", capsys)
    by_name = {u["name"]: u for u in doc["units"]}
    users, orders = by_name["users"], by_name["orders"]
    assert (users["runtime"], users["arch"], users["engine"]["target"]) == ("nodejs18.x", "x86_64",
                                                                            "rhel-openssl-1.0.x")
    assert users["runtime_source"] == "serverless.yml:7 provider.runtime"
    assert users["os"] == "Amazon Linux 2"
    assert (orders["runtime"], orders["arch"], orders["engine"]["target"]) == ("nodejs20.x", "arm64",
                                                                               "linux-arm64-openssl-3.0.x")
    assert orders["runtime_source"] == "serverless.yml:28 functions.orders.runtime"
    assert orders["os"] == "Amazon Linux 2023"

    # --runtime overrides every function's, and says so where the file differs.
    code, stdout, err = run(["serverless", str(project), "--out", str(tmp_path / "o2"), "--json", "--offline",
                             "--runtime", "nodejs20.x"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    by_name = {u["name"]: u for u in doc["units"]}
    assert by_name["users"]["engine"]["target"] == "rhel-openssl-3.0.x"
    assert by_name["orders"]["engine"]["target"] == "linux-arm64-openssl-3.0.x"  # architecture still the file's
    assert ("users: function users: --runtime nodejs20.x overrides nodejs18.x (serverless.yml:7 provider.runtime): "
            "deploy it with nodejs20.x") in doc["warnings"]


def test_unpacked_function_loads_its_engine(project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    sls(project, tmp_path / "out", capsys)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(tmp_path / "out" / "functions" / "users.zip") as zf:
        zf.extractall(unpacked)
    script = "require('./src/users.js').handler({}).then((r) => console.log(JSON.parse(r.body).engine))"
    proc = subprocess.run(["node", "-e", script], cwd=unpacked, capture_output=True, text=True, check=True)
    engine = unpacked / "node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"
    assert proc.stdout.strip() == str(engine)


def test_shared_artifact_when_not_individually(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = SERVERLESS_YML.replace("  individually: true\n", "").replace(
        "    runtime: nodejs20.x\n    architecture: arm64\n", "")
    (project / "serverless.yml").write_text(text)
    out = tmp_path / "out"
    doc = sls(project, out, capsys)
    assert "units" not in doc  # one unnamed unit: a plain single-artifact manifest
    assert [a["path"] for a in doc["artifacts"]] == ["service.zip"]
    assert doc["meta"] == {"functions": ["users", "orders"], "artifact": "package.artifact"}
    listed = names(out / "service.zip")
    assert {"src/users.js", "src/orders.js", "src/lib/format.js", "handler.js", "lib/util.js",
            "templates/order.html"} <= set(listed)
    assert "src/users.test.js" not in listed and not [n for n in listed if n.startswith("docs/")]
    assert "serverless.yml" not in listed  # Serverless leaves its own config file out
    assert modules(out / "service.zip") == {
        "node_modules/.prisma", "node_modules/@prisma/client", "node_modules/debug", "node_modules/ms",
        "node_modules/express-lite", "node_modules/express-lite/node_modules/ms", "node_modules/fsevents-lite"}
    (engine,) = engines(out / "service.zip")
    assert engine.filename.endswith("libquery_engine-rhel-openssl-1.0.x.so.node")
    assert engine.external_attr >> 16 == 0o100755
    copy = (out / "serverless.yml").read_text()
    assert f"    - '!**/*.test.js'\n  artifact: {out / 'service.zip'}\n\nfunctions:" in copy
    assert "artifact" not in copy.split("functions:")[1]
    assert any("function orders: package.patterns at function level only apply with package.individually" in w
               for w in doc["warnings"])


def test_shared_artifact_with_functions_needing_different_engines_is_an_error(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace("  individually: true\n", ""))
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert "share one artifact (service.zip) but need different query engines" in err
    assert "users: nodejs18.x x86_64 -> rhel-openssl-1.0.x" in err
    assert "orders: nodejs20.x arm64 -> linux-arm64-openssl-3.0.x" in err
    assert "package.individually: true" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_function_level_individually_mixes_own_and_shared_zips(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SERVERLESS_YML.replace("  individually: true\n", "").replace(
        "    package:\n      patterns:\n", "    package:\n      individually: true\n      patterns:\n")
    (project / "serverless.yml").write_text(text)
    out = tmp_path / "out"
    doc = sls(project, out, capsys)
    assert [(u["name"], u["artifacts"]) for u in doc["units"]] == [
        ("(service)", ["service.zip"]), ("orders", ["functions/orders.zip"])]
    copy = (out / "serverless.yml").read_text()
    assert f"  artifact: {out / 'service.zip'}\n" in copy
    assert f"        - 'templates/**'   # read with fs at run time\n      artifact: {out / 'functions/orders.zip'}\n" \
           in copy


def test_patterns_exclude_and_reinclude_in_order(project: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (project / "docs" / "internal.md").write_text("secret plans\n")
    (project / "templates" / "draft.html").write_text("<p>draft</p>\n")
    (project / "data").mkdir()
    (project / "data" / "seed.json").write_text("[]\n")
    text = SERVERLESS_YML.replace(
        "    - '!**/*.test.js'\n",
        "    - '!**/*.test.js'\n    - 'docs/api.md'\n    - '!node_modules/debug/**'\n"
        "    - 'node_modules/debug/index.js'\n"
    ).replace(
        "        - 'templates/**'   # read with fs at run time\n",
        "        - 'templates/**'   # read with fs at run time\n        - '!templates/draft.html'\n"
        "        - './data/*.{json,csv}'\n        - 'node_modules/jest-lite/**'\n")
    (project / "serverless.yml").write_text(text)
    out = tmp_path / "out"
    sls(project, out, capsys)
    users = names(out / "functions" / "users.zip")
    orders = names(out / "functions" / "orders.zip")
    # service-level: docs/ out, then docs/api.md back (the handler does not require it: named in by the pattern)
    assert "docs/api.md" in users and "docs/api.md" in orders
    assert "docs/internal.md" not in users + orders
    # debug's files out, then only index.js back in
    assert [n for n in users if n.startswith("node_modules/debug/")] == ["node_modules/debug/index.js"]
    # function-level, in order: templates in, the draft out again, a brace glob, a dev dependency never forced in
    assert "templates/order.html" in orders and "templates/draft.html" not in orders
    assert "data/seed.json" in orders and "data/seed.json" not in users
    assert not [n for n in orders if n.startswith("node_modules/jest-lite/")]
    assert not [n for n in users if n.startswith("templates/")]


def test_variables_resolved_from_stage_env_self_and_fallbacks(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "serverless.yml").write_text("""\
service: orders-api
custom:
  runtimes:
    dev: nodejs18.x
    prod: nodejs20.x
  srcDir: src
  individually: true
  extraPatterns:
    - '!docs/**'
provider:
  name: aws
  stage: ${opt:stage, 'dev'}
  runtime: ${self:custom.runtimes.${sls:stage}}
  architecture: ${env:LAMBDA_ARCH, 'x86_64'}
package:
  individually: ${self:custom.individually}
  patterns: ${self:custom.extraPatterns}
functions:
  users:
    handler: ${self:custom.srcDir}/users.handler
  orders:
    handler: ${self:custom.srcDir, 'lib'}/orders.handler
    runtime: ${env:ORDERS_RUNTIME, self:provider.runtime}
""")
    monkeypatch.delenv("LAMBDA_ARCH", raising=False)
    monkeypatch.delenv("ORDERS_RUNTIME", raising=False)
    doc = sls(project, tmp_path / "dev", capsys)
    assert {u["name"]: (u["runtime"], u["arch"]) for u in doc["units"]} == {
        "users": ("nodejs18.x", "x86_64"), "orders": ("nodejs18.x", "x86_64")}

    monkeypatch.setenv("LAMBDA_ARCH", "arm64")
    doc = sls(project, tmp_path / "prod", capsys, "--stage", "prod")
    assert {u["name"]: (u["runtime"], u["arch"], u["engine"]["target"]) for u in doc["units"]} == {
        "users": ("nodejs20.x", "arm64", "linux-arm64-openssl-3.0.x"),
        "orders": ("nodejs20.x", "arm64", "linux-arm64-openssl-3.0.x")}

    monkeypatch.setenv("ORDERS_RUNTIME", "nodejs22.x")
    doc = sls(project, tmp_path / "env", capsys, "--stage", "prod")
    assert {u["name"]: u["runtime"] for u in doc["units"]} == {"users": "nodejs20.x", "orders": "nodejs22.x"}
    # the copy keeps the variables as written
    copy = (tmp_path / "env" / "serverless.yml").read_text()
    assert "runtime: ${self:custom.runtimes.${sls:stage}}\n" in copy


def test_stage_from_photon_bundle_toml(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SERVERLESS_YML.replace("  runtime: nodejs18.x   # Amazon Linux 2\n",
                                  "  runtime: ${self:custom.runtime.${sls:stage}}\n")
    (project / "serverless.yml").write_text(
        text + "custom:\n  runtime:\n    dev: nodejs18.x\n    staging: nodejs22.x\n")
    (project / "photon-bundle.toml").write_text('[serverless]\nstage = "staging"\n')
    doc = sls(project, tmp_path / "out", capsys)
    assert {u["name"]: u["runtime"] for u in doc["units"]} == {"users": "nodejs22.x", "orders": "nodejs20.x"}


@pytest.mark.parametrize(("runtime_line", "line", "variable", "reason"), [
    ("runtime: ${ssm:/orders/runtime}", 7, "${ssm:/orders/runtime}", "ssm: sources are looked up at deploy time"),
    ("runtime: ${ssm:/orders/runtime, 'nodejs20.x'}", 7, "${ssm:/orders/runtime, 'nodejs20.x'}",
     "looked up at deploy time"),
    ("runtime: ${env:PB_TEST_UNSET_RUNTIME}", 7, "${env:PB_TEST_UNSET_RUNTIME}",
     "the environment variable PB_TEST_UNSET_RUNTIME is not set"),
    ("runtime: ${self:custom.nope}", 7, "${self:custom.nope}", "self:custom.nope does not exist"),
    ("runtime: ${opt:stage, dev}", 7, "", "'dev' in ${opt:stage, dev} is not a source or a literal"),
])
def test_unresolvable_variable_in_a_needed_field_names_the_line(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        runtime_line: str, line: int, variable: str, reason: str) -> None:
    monkeypatch.delenv("PB_TEST_UNSET_RUNTIME", raising=False)
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace("runtime: nodejs18.x   # Amazon Linux 2",
                                                                   runtime_line))
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"error: {project / 'serverless.yml'}:{line}: provider.runtime: " in err
    assert variable in err and reason in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unresolvable_variable_reached_through_self_names_both_lines(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = SERVERLESS_YML.replace("    handler: src/users.handler\n", "    handler: ${self:custom.usersHandler}\n")
    (project / "serverless.yml").write_text(text + "custom:\n  usersHandler: ${file(./handlers.yml):users}\n")
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    path = project / "serverless.yml"
    assert f"{path}:38: custom.usersHandler: cannot resolve ${{file(./handlers.yml):users}}" in err
    assert f"(needed for functions.users.handler at {path}:21)" in err


def test_written_copy_keeps_comments_and_sets_artifacts(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = sls(project, None, capsys)  # default output folder inside the project: relative artifact paths
    copy = project / ".photon-bundle" / "serverless" / "serverless.yml"
    assert copy.read_text() == (GOLDEN / "serverless.yml").read_text()
    assert (project / "serverless.yml").read_text() == SERVERLESS_YML
    (note,) = doc["outputs"]
    assert note["in_place"] is False and "--write-config updates it in place" in note["note"]


def test_write_config_updates_the_users_file_in_place(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = sls(project, None, capsys, "--write-config")
    assert (project / "serverless.yml").read_text() == (GOLDEN / "serverless.yml").read_text()
    assert [o["in_place"] for o in doc["outputs"]] == [False, True]
    # a second run reads its own artifact paths back and leaves the file (and the artifacts) as they are
    before = tree_digest(project)
    again = sls(project, None, capsys, "--write-config")
    assert [a["sha256"] for a in again["artifacts"]] == [a["sha256"] for a in doc["artifacts"]]
    after = tree_digest(project)
    assert {k: v for k, v in after.items() if "/.photon-bundle-state" not in k} == \
        {k: v for k, v in before.items() if "/.photon-bundle-state" not in k}


def test_yaml_that_does_not_round_trip_is_not_overwritten(project: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    text = SERVERLESS_YML.replace("service: orders-api", "service:    orders-api")  # ruamel writes one space
    (project / "serverless.yml").write_text(text)
    out = tmp_path / "out"
    code, _, err = run(["serverless", str(project), "--out", str(out), "--offline", "--write-config"], capsys)
    assert code == 0, err
    assert (project / "serverless.yml").read_text() == text
    assert f"warning: {project / 'serverless.yml'} was NOT updated although --write-config was given" in err
    assert "line 2 ('service:    orders-api' -> 'service: orders-api')" in err
    copy = (out / "serverless.yml").read_text()
    assert f"artifact: {out / 'functions' / 'users.zip'}" in copy


def test_malformed_yaml_names_file_and_line(project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace("  runtime: nodejs20.x\n",
                                                                   "  runtime: [nodejs20.x\n"))
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / 'serverless.yml'}:" in err and "invalid YAML" in err
    line = int(err.split(f"{project / 'serverless.yml'}:")[1].split(":")[0])
    assert 29 <= line <= 31
    assert "Traceback" not in err


def test_over_the_size_limit_writes_nothing(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run(["serverless", str(project), "--out", str(out), "--offline", "--max-size", "3kb"], capsys)
    assert code == 4
    assert "users: functions/users.zip max-size" in err and "over the limit of 3.0 KiB" in err
    assert not list(out.rglob("*.zip")) and not (out / "serverless.yml").exists()
    assert not (out / "manifest.json").exists()


def test_second_run_into_another_folder_is_byte_identical(project: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = sls(project, tmp_path / "a", capsys)
    second = sls(project, tmp_path / "b", capsys)
    assert [a["sha256"] for a in first["artifacts"]] == [a["sha256"] for a in second["artifacts"]]
    for rel in ("functions/users.zip", "functions/orders.zip"):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()


@pytest.mark.parametrize(("handler", "files", "message"), [
    ("src/missing.handler", {}, "function users: handler 'src/missing.handler': no file src/missing.js "
                                "(or .mjs, .cjs)"),
    ("src/typed.handler", {"src/typed.ts": "export const handler = async () => 1;\n"},
     "handler 'src/typed.handler' is src/typed.ts, which Lambda cannot run without a build"),
    ("users", {}, "handler 'users' of function users is not file.export"),
    ("../outside.handler", {}, "is outside the service folder"),
])
def test_bad_handler_names_function_and_line(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             handler: str, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (project / rel).write_text(text)
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace("handler: src/users.handler",
                                                                   f"handler: {handler}"))
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / 'serverless.yml'}:21: functions.users.handler: " in err
    assert message in err and "Traceback" not in err


def test_esm_handlers_and_nested_export_paths(project: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    (project / "src" / "ping.mjs").write_text("export const routes = { get: async () => ({ statusCode: 204 }) };\n")
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace(
        "\n# end of serverless.yml", "  ping:\n    handler: src/ping.routes.get\n\n# end of serverless.yml"))
    out = tmp_path / "out"
    doc = sls(project, out, capsys)
    (ping,) = [u for u in doc["units"] if u["name"] == "ping"]
    assert ping["meta"]["entry"] == "src/ping.mjs"
    assert names(out / "functions" / "ping.zip") == ["package.json", "src/ping.mjs"]
    assert ping["engine"].get("file") is None


@pytest.mark.parametrize(("old", "new", "code", "message"), [
    ("runtime: nodejs20.x", "runtime: nodejs19.x", 2,
     "serverless.yml:28: functions.orders.runtime: 'nodejs19.x' is not an AWS Lambda Node.js runtime"),
    ("architecture: arm64", "architecture: aarch64", 2,
     "serverless.yml:29: functions.orders.architecture: 'aarch64' is not a Lambda architecture"),
    ("runtime: nodejs20.x", "runtime: nodejs10.x", 2,
     "serverless.yml:29: function orders: nodejs10.x does not run on arm64"),
    ("  individually: true\n", "  individually: 'yes'\n", 3,
     "serverless.yml:14: package.individually: must be true or false, not 'yes'"),
    ("runtime: nodejs20.x", "runtime: python3.12", 0, "function orders runs python3.12"),
])
def test_bad_runtime_and_settings(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  old: str, new: str, code: int, message: str) -> None:
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace(old, new))
    got, stdout, err = run(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline", "--json"],
                           capsys)
    assert got == code, err
    if code:
        assert message in err and "Traceback" not in err
    else:  # a Python function packaged on its own is left to Serverless
        doc = json.loads(stdout)
        assert [u["name"] for u in doc["units"]] == ["users"]
        assert any(message in w and "left to Serverless" in w for w in doc["warnings"])
        orders = ("orders:\n    handler: src/orders.handler\n    runtime: python3.12\n    architecture: arm64\n"
                  "    package:\n      patterns:\n        - 'templates/**'   # read with fs at run time\n    events:")
        assert orders in (tmp_path / "out" / "serverless.yml").read_text()  # no artifact: Serverless packages it


def test_serverless_yaml_is_read_and_json_is_refused(project: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (project / "serverless.yml").rename(project / "serverless.yaml")
    sls(project, tmp_path / "out", capsys)
    assert (tmp_path / "out" / "serverless.yaml").is_file() and not (tmp_path / "out" / "serverless.yml").exists()
    (project / "serverless.yaml").unlink()
    (project / "serverless.json").write_text('{"service": "orders-api"}\n')
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "o2"), "--offline"], capsys)
    assert code == 3
    assert "serverless.json: photon-bundle reads serverless.yml or serverless.yaml only" in err
    (project / "serverless.json").unlink()
    code, _, err = run(["serverless", str(project), "--out", str(tmp_path / "o2"), "--offline"], capsys)
    assert code == 3 and f"no serverless.yml in {project}" in err


def test_unchanged_second_run_reuses_the_artifacts(project: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    first = sls(project, tmp_path / "a", capsys)
    assert first["reused"] is False
    again = sls(project, tmp_path / "a", capsys)
    assert again["reused"] is True
    assert again["artifacts"] == first["artifacts"]


PHOTON_SLS = """\
# a 2019 Photon.js GraphQL API on Lambda (Node 10, Amazon Linux 2)
service: photon-graphql
provider:
  name: aws
  runtime: nodejs10.x
functions:
  graphql:
    handler: index.handler
"""


def test_photon_2019_service_gets_the_libssl1_0_2_binary(tmp_path: Path, elf_cache: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """2019: the `platforms` generator field, the client in node_modules/@generated/photon and one
    prisma-<platform> binary per platform; Lambda Node 10 needed linux-glibc-libssl1.0.2 (rhel-openssl-1.0.x)."""
    project = make_photon_project(tmp_path / "photon", elf_cache=elf_cache)
    (project / "serverless.yml").write_text(PHOTON_SLS)
    out = tmp_path / "out"
    doc = sls(project, out, capsys)
    assert (doc["runtime"], doc["engine"]["kind"], doc["engine"]["target"]) == ("nodejs10.x", "binary",
                                                                                 "rhel-openssl-1.0.x")
    (artifact,) = [a["path"] for a in doc["artifacts"]]
    listed = names(out / artifact)
    (engine,) = engines_or_photon(out / artifact)
    assert engine.filename == "node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.2"
    assert (engine.external_attr >> 16) & 0o777 == 0o755
    assert "index.js" in listed and not [n for n in listed if "prisma2" in n]
    assert modules(out / artifact) >= {"node_modules/@generated/photon", "node_modules/graphql-yoga-lite"}


def engines_or_photon(zip_path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as zf:
        return [i for i in zf.infolist() if "/runtime/prisma-" in i.filename or "query-engine-" in i.filename
                or "query_engine-" in i.filename]


def test_an_environment_variable_in_serverless_yml_is_an_input_of_the_no_op_check(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """serverless.yml may read any variable (${env:X}); changing one must rebuild, not reuse."""
    monkeypatch.delenv("ORDERS_RUNTIME", raising=False)
    (project / "serverless.yml").write_text(SERVERLESS_YML.replace(
        "runtime: nodejs18.x   # Amazon Linux 2", "runtime: ${env:ORDERS_RUNTIME, 'nodejs18.x'}"))
    out = tmp_path / "out"
    first = sls(project, out, capsys)
    users = {u["name"]: u for u in first["units"]}["users"]
    assert (users["runtime"], users["engine"]["target"]) == ("nodejs18.x", "rhel-openssl-1.0.x")
    assert sls(project, out, capsys)["reused"] is True
    monkeypatch.setenv("ORDERS_RUNTIME", "nodejs20.x")
    again = sls(project, out, capsys)
    users = {u["name"]: u for u in again["units"]}["users"]
    assert again["reused"] is False
    assert (users["runtime"], users["engine"]["target"]) == ("nodejs20.x", "rhel-openssl-3.0.x")
