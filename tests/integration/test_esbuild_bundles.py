"""--bundler esbuild and --prebuilt DIR on real esbuild 0.24.0 (pinned, .tools/) with the example app's stand-in
client and gcc-built engines: a TypeScript Lambda handler, a Netlify site with node_bundler = "esbuild" (two
functions), a serverless.yml with serverless-esbuild's custom.esbuild, a webpack-style dist/ made by esbuild here
and given with --prebuilt, and a gcc-built native addon kept external with its closure. Each: exactly one
engine beside the bundle, byte-identical second run, the load check passed, loads and runs in a fresh node; the
size against the unbundled artifact is printed (pytest -s shows it)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.esbuild_fixtures import (
    engines_in,
    esbuild_missing,
    example_copy,
    link_esbuild,
    native_addon,
    node_call,
    size_line,
    unzip,
    zip_sizes,
)
from tests.projects import write_json

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(esbuild_missing() is not None, reason=esbuild_missing() or "")]

RHEL = "libquery_engine-rhel-openssl-3.0.x.so.node"
TS_HANDLER = """\
import { PrismaClient } from '@prisma/client';
import { formatOrder } from './format';

interface Order { id: number; total: number }
const prisma = new PrismaClient();

export const handler = async (_event: unknown): Promise<{ statusCode: number; body: string }> => {
  const order: Order = { id: 7, total: 1250 };
  return { statusCode: 200, body: JSON.stringify({ engine: prisma.engineFile, text: formatOrder(order) }) };
};
"""

JS_HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const { formatOrder } = require('./format');
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ engine: prisma.engineFile,
  text: formatOrder({ id: 7, total: 1250 }) }) });
"""


def _twice(platform: str, project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str
           ) -> dict[str, Any]:
    """Bundle, keep the artifacts' bytes, bundle again from scratch (--force): the same bytes."""
    doc = bundle_ok(platform, project, out, capsys, *extra)
    first = {p: p.read_bytes() for p in sorted(out.rglob("*.zip"))}
    again = bundle_ok(platform, project, out, capsys, "--force", *extra)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*.zip"))} == first
    assert again["artifacts"] == doc["artifacts"]
    return doc


def _unbundled(platform: str, project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    bundle_ok(platform, project, out, capsys, "--bundler", "none", *extra)


def test_a_typescript_lambda_handler_is_bundled_with_one_engine_beside_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    (project / "src" / "handler.ts").write_text(TS_HANDLER)
    (project / "src" / "handler.js").unlink()
    doc = _twice("lambda", project, tmp_path / "out", capsys, "--bundler", "esbuild",
                 "--handler", "src/handler.handler")
    zip_path = tmp_path / "out" / "function.zip"
    assert sorted(zip_names(zip_path)) == ["package.json", "src/handler.js", f"src/{RHEL}", "src/schema.prisma"]
    assert engines_in(zip_path) == [f"src/{RHEL}"]
    check = doc["load_check"]
    assert check["entries"] == [{"path": "src/handler.js", "ok": True}]
    assert check["engine"] == {"found": f"src/{RHEL}", "via": "the generated client's folder"}
    assert doc["meta"]["bundler"]["mode"] == "esbuild"
    result = json.loads(node_call(unzip(zip_path, tmp_path / "unpacked"), "src/handler.js"))
    assert json.loads(result["body"]) == {"engine": RHEL, "text": "order #7: 12.50 EUR"}
    # the bundle targets the runtime's Node (nodejs20.x) as CommonJS: no TypeScript left, no require of the client
    text = (tmp_path / "unpacked" / "src" / "handler.js").read_text()
    assert "interface Order" not in text and "require(\"@prisma/client\")" not in text

    (project / "src" / "handler.js").write_text(JS_HANDLER)  # the same handler in JavaScript, shipped unbundled
    _unbundled("lambda", project, tmp_path / "plain", capsys)
    print(size_line("TypeScript Lambda (stand-in client)", zip_sizes(zip_path),
                    zip_sizes(tmp_path / "plain/function.zip")))


def test_the_project_without_esbuild_is_told_to_install_it(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    (project / "node_modules" / ".bin" / "esbuild").unlink()
    code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out"), "--bundler", "esbuild"], capsys)
    assert code == 2
    assert "no esbuild in" in err and "npm i -D esbuild" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "function.zip").exists()


NETLIFY_TOML = """\
[build]
  publish = "public"

[functions]
  directory = "netlify/functions"
  node_bundler = "esbuild"
  external_node_modules = ["fastcalc"]
"""


def test_a_netlify_site_with_node_bundler_esbuild_bundles_every_function(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "site")
    native_addon(project)
    functions = project / "netlify" / "functions"
    functions.mkdir(parents=True)
    (functions / "orders.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst prisma = new PrismaClient();\n"
        "const { formatOrder } = require('../../src/format');\n"
        "exports.handler = async () => ({ statusCode: 200, body: prisma.engineFile + ' ' + "
        "formatOrder({ id: 1, total: 100 }) });\n")
    (functions / "calc").mkdir()
    (functions / "calc" / "calc.ts").write_text(
        "import { PrismaClient } from '@prisma/client';\nimport * as calc from 'fastcalc';\n"
        "const prisma = new PrismaClient();\n"
        "export const handler = async () => ({ statusCode: 200, body: `${prisma.engineFile} ${calc.native} "
        "${calc.unit}` });\n")
    (project / "netlify.toml").write_text(NETLIFY_TOML)
    doc = _twice("netlify", project, tmp_path / "out", capsys)
    out = tmp_path / "out" / "functions"
    assert sorted(p.name for p in out.glob("*.zip")) == ["calc.zip", "orders.zip"]
    orders, calc = out / "orders.zip", out / "calc.zip"
    # the root entry Netlify loads requires the function's bundle; the engine and schema sit beside the bundle
    assert sorted(zip_names(orders)) == ["netlify/functions/libquery_engine-rhel-openssl-3.0.x.so.node",
                                         "netlify/functions/orders.js", "netlify/functions/schema.prisma",
                                         "orders.js", "package.json"]
    assert engines_in(calc) == [f"netlify/functions/calc/{RHEL}"]
    # the native addon stays external, shipped with its own dependency; nothing else of node_modules
    assert sorted({n.split("/")[1] for n in zip_names(calc) if n.startswith("node_modules/")}) == [
        "calc-units", "fastcalc"]
    assert "node_modules/fastcalc/build/Release/fastcalc.node" in zip_names(calc)
    checks = doc["load_check"]["units"]
    assert sorted(checks) == ["calc", "orders"]
    for name, check in checks.items():
        assert check["engine"] == {"found": f"netlify/functions/{'calc/' if name == 'calc' else ''}{RHEL}",
                                   "via": "the generated client's folder"}, check
    assert "does not run esbuild" not in json.dumps(doc)
    assert json.loads(node_call(unzip(orders, tmp_path / "u1"), "orders.js")) == (
        {"statusCode": 200, "body": f"{RHEL} order #1: 1.00 EUR"})
    assert json.loads(node_call(unzip(calc, tmp_path / "u2"), "calc.js")) == (
        {"statusCode": 200, "body": f"{RHEL} object EUR"})

    plain = tmp_path / "plain"
    (functions / "calc" / "calc.ts").rename(functions / "calc" / "calc.js.ts-source")
    (functions / "calc" / "calc.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst calc = require('fastcalc');\n"
        "const prisma = new PrismaClient();\n"
        "exports.handler = async () => ({ statusCode: 200,\n"
        "  body: `${prisma.engineFile} ${calc.native} ${calc.unit}` });\n")
    _unbundled("netlify", project, plain, capsys)
    for name in ("orders.zip", "calc.zip"):
        print(size_line(f"Netlify {name} (stand-in client)", zip_sizes(out / name),
                        zip_sizes(plain / "functions" / name)))


SERVERLESS_YML = """\
service: orders
frameworkVersion: "3"
plugins:
  - serverless-esbuild
provider:
  name: aws
  runtime: nodejs20.x
package:
  individually: true
custom:
  esbuild:
    minify: true
    sourcemap: true
    external:
      - fastcalc
functions:
  list:
    handler: src/list.handler
  total:
    handler: src/total.handler
"""


def test_serverless_custom_esbuild_is_honoured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "svc")
    native_addon(project)
    (project / "serverless.yml").write_text(SERVERLESS_YML)
    (project / "src" / "list.ts").write_text(TS_HANDLER)
    (project / "src" / "total.ts").write_text(
        "import { PrismaClient } from '@prisma/client';\nimport { native } from 'fastcalc';\n"
        "const prisma = new PrismaClient();\n"
        "export const handler = async () => ({ statusCode: 200, body: `${prisma.engineFile}:${native}` });\n")
    doc = _twice("serverless", project, tmp_path / "out", capsys)
    out = tmp_path / "out" / "functions"
    listed, total = out / "list.zip", out / "total.zip"
    assert sorted(zip_names(listed)) == sorted(["package.json", "src/list.js", "src/list.js.map",
                                                f"src/{RHEL}", "src/schema.prisma"])
    assert engines_in(total) == [f"src/{RHEL}"]
    assert "node_modules/fastcalc/index.js" in zip_names(total)
    text = unzip(listed, tmp_path / "u1").joinpath("src/list.js").read_text()
    assert text.count("\n") < 10  # minified, as custom.esbuild.minify says
    # the map names the sources as they are relative to the bundle, not to this machine's project folder
    sources = json.loads((tmp_path / "u1" / "src" / "list.js.map").read_text())["sources"]
    assert "list.ts" in sources and "../node_modules/.prisma/client/index.js" in sources, sources
    assert json.loads(json.loads(node_call(tmp_path / "u1", "src/list.js"))["body"])["engine"] == RHEL
    assert json.loads(node_call(unzip(total, tmp_path / "u2"), "src/total.js"))["body"] == f"{RHEL}:object"
    assert [c["engine"]["found"] for c in doc["load_check"]["units"].values()] == [f"src/{RHEL}"] * 2
    assert "plugin serverless-esbuild builds the functions" not in json.dumps(doc)
    (project / "src" / "list.js").write_text(JS_HANDLER)  # the same handlers in JavaScript, shipped unbundled
    (project / "src" / "total.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst { native } = require('fastcalc');\n"
        "const prisma = new PrismaClient();\n"
        "exports.handler = async () => ({ statusCode: 200, body: `${prisma.engineFile}:${native}` });\n")
    _unbundled("serverless", project, tmp_path / "plain", capsys)
    for name in ("list.zip", "total.zip"):
        print(size_line(f"serverless {name} (stand-in client, minified + map)", zip_sizes(out / name),
                        zip_sizes(tmp_path / "plain" / "functions" / name)))


def test_a_prebuilt_dist_gets_its_engine_and_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    native_addon(project)
    (project / "src" / "handler.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst calc = require('fastcalc');\n"
        "const prisma = new PrismaClient();\n"
        "exports.handler = async () => ({ statusCode: 200, body: prisma.engineFile + ' ' + calc.native });\n")
    esbuild = link_esbuild(project)
    # the user's own bundler, webpack-style: one file in dist/, the addon left as a require, no engine, no schema
    subprocess.run([str(esbuild), "src/handler.js", "--bundle", "--platform=node", "--target=node20",
                    "--outfile=dist/handler.js", "--external:fastcalc", "--log-level=error"], cwd=project, check=True)
    (project / "dist" / "libquery_engine-debian-openssl-3.0.x.so.node").write_bytes(b"\x7fELF not ours")
    code, stdout, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out"), "--offline", "--json",
                                 "--prebuilt", "dist"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    notes = "\n".join(doc["meta"]["bundler"]["notes"])
    assert "dist/handler.js contains Prisma's client code, but the bundler left out its schema.prisma and query " \
           "engine" in notes
    assert f"added schema.prisma (from node_modules/.prisma/client/schema.prisma) and the engine {RHEL}" in notes
    assert "left out: libquery_engine-debian-openssl-3.0.x.so.node" in notes
    assert "shipped in node_modules with their dependencies: fastcalc" in notes
    zip_path = tmp_path / "out" / "function.zip"
    names = zip_names(zip_path)
    assert engines_in(zip_path) == [RHEL]
    assert {"handler.js", "schema.prisma", "node_modules/fastcalc/index.js",
            "node_modules/calc-units/index.js"} <= set(names)
    assert not [n for n in names if n.startswith(("src/", "node_modules/.prisma", "node_modules/@prisma"))]
    assert doc["load_check"]["engine"]["found"] == RHEL
    assert json.loads(node_call(unzip(zip_path, tmp_path / "u"), "handler.js")) == (
        {"statusCode": 200, "body": f"{RHEL} object"})
    first = zip_path.read_bytes()
    bundle_ok("lambda", project, tmp_path / "out", capsys, "--force", "--prebuilt", "dist")
    assert zip_path.read_bytes() == first

    (project / "dist" / "libquery_engine-debian-openssl-3.0.x.so.node").unlink()
    _unbundled("lambda", project, tmp_path / "plain", capsys)
    print(size_line("pre-built dist/ (stand-in client)", zip_sizes(zip_path),
                    zip_sizes(tmp_path / "plain/function.zip")))


def test_prebuilt_folder_that_does_not_exist_is_a_usage_error(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out"), "--prebuilt", "dist"], capsys)
    assert code == 2 and "pre-built folder" in err and "does not exist" in err and "Traceback" not in err


def test_prebuilt_per_platform_in_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    subprocess.run([str(project / "node_modules/.bin/esbuild"), "src/handler.js", "--bundle", "--platform=node",
                    "--outfile=build/index.js", "--log-level=error"], cwd=project, check=True)
    (project / "photon-bundle.toml").write_text('[lambda]\nprebuilt = "build"\n')
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys)
    assert sorted(zip_names(tmp_path / "out" / "function.zip")) == sorted(["index.js", RHEL, "package.json",
                                                                           "schema.prisma"])
    assert doc["load_check"]["entries"] == [{"path": "index.js", "ok": True}]


def test_gcf_refuses_the_bundler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    write_json(project / "package-lock.json", {"lockfileVersion": 3, "packages": {}})
    code, _, err = run_cli(["gcf", str(project), "--out", str(tmp_path / "out"), "--bundler", "esbuild"], capsys)
    assert code == 2 and "function platforms" in err


def test_the_aws_sdk_is_left_to_the_lambda_runtime_and_a_build_error_is_esbuilds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    (project / "src" / "handler.js").write_text(
        "const { S3Client } = require('@aws-sdk/client-s3');\nconst { PrismaClient } = require('@prisma/client');\n"
        "const prisma = new PrismaClient();\n"
        "exports.handler = async () => ({ statusCode: 200, body: typeof S3Client + prisma.engineFile });\n")
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--bundler", "esbuild")
    names = zip_names(tmp_path / "out" / "function.zip")
    assert not [n for n in names if "aws-sdk" in n]
    assert "@aws-sdk/client-s3" in doc["load_check"]["runtime_provided"]
    text = unzip(tmp_path / "out" / "function.zip", tmp_path / "u").joinpath("src/handler.js").read_text()
    assert 'require("@aws-sdk/client-s3")' in text

    (project / "src" / "handler.js").write_text("const x = require('./missing-file');\nexports.handler = x;\n")
    code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out"), "--bundler", "esbuild"], capsys)
    assert code == 3
    assert "esbuild could not bundle src/handler.js" in err and "missing-file" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "function.zip").exists()  # a failed run withdraws the previous artifacts


@pytest.mark.parametrize(("platform", "config", "runtime", "target"), [
    ("vercel", ("vercel.json", "{}"), "nodejs20.x", "rhel-openssl-3.0.x"),
    ("now", ("now.json", '{"version": 2, "builds": [{"src": "api/*.js", "use": "@now/node"}]}'), "nodejs10.x",
     "rhel-openssl-1.0.x"),
])
def test_vercel_and_now_functions_are_bundled_for_their_runtime(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], platform: str, config: tuple[str, str], runtime: str,
        target: str) -> None:
    project = example_copy(tmp_path / "app")
    (project / "api").mkdir()
    (project / "api" / "hello.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst prisma = new PrismaClient();\n"
        "module.exports = (req, res) => res.end(prisma.engineFile);\n")
    (project / config[0]).write_text(config[1])
    doc = _twice(platform, project, tmp_path / "out", capsys, "--bundler", "esbuild", "--runtime", runtime)
    zip_path = tmp_path / "out" / "functions" / "api" / "hello.zip"
    engine = f"libquery_engine-{target}.so.node"
    assert sorted(zip_names(zip_path)) == sorted(["api/hello.js", f"api/{engine}", "api/schema.prisma",
                                                  "package.json"])
    assert doc["load_check"]["units"]["api/hello"]["engine"]["found"] == f"api/{engine}"
    # the bundle targets the runtime's Node: for Node 10, no `??` or `?.` left in it
    text = unzip(zip_path, tmp_path / "u").joinpath("api/hello.js").read_text()
    if runtime == "nodejs10.x":
        assert "??" not in text and "?." not in text


def test_up_bundles_the_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = example_copy(tmp_path / "app")
    doc = _twice("up", project, tmp_path / "out", capsys, "--bundler", "esbuild")
    names = zip_names(tmp_path / "out" / "function.zip")
    engines = engines_in(tmp_path / "out" / "function.zip")  # up's default runtime (nodejs10.x: AL2, OpenSSL 1.0)
    assert engines == [f"src/libquery_engine-{doc['engine']['target']}.so.node"]
    assert not [n for n in names if n.startswith("node_modules/")]
    assert doc["load_check"]["engine"]["found"] == engines[0]


def test_a_client_kept_external_ships_as_installed_with_its_engine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Prisma's other documented way: @prisma/client external; then the generated client and its one engine ship
    # in node_modules as without a bundler, and the app's own code is bundled
    project = example_copy(tmp_path / "site")
    (project / "netlify" / "functions").mkdir(parents=True)
    (project / "netlify" / "functions" / "hello.js").write_text(JS_HANDLER.replace("'./format'", "'../../src/format'"))
    (project / "netlify.toml").write_text('[functions]\n  node_bundler = "esbuild"\n'
                                          '  external_node_modules = ["@prisma/client"]\n')
    doc = bundle_ok("netlify", project, tmp_path / "out", capsys)
    zip_path = tmp_path / "out" / "functions" / "hello.zip"
    names = zip_names(zip_path)
    assert engines_in(zip_path) == [f"node_modules/.prisma/client/{RHEL}"]
    assert "node_modules/@prisma/client/index.js" in names and "src/format.js" not in names
    assert 'require("@prisma/client")' in unzip(zip_path, tmp_path / "u").joinpath(
        "netlify/functions/hello.js").read_text()
    assert doc["load_check"]["units"]["hello"]["clients"] == ["node_modules/.prisma/client"]
