"""The done criterion of --bundler esbuild on the REAL Prisma client (prisma and @prisma/client 5.22.0 from local
tarballs, generated offline; tests/real_prisma.py): the example app's code (examples/lambda-app/src) on the real
client for Lambda, and a two-function Netlify site, bundled are at least 5x smaller unzipped than unbundled, load,
and the load check finds exactly the runtime's engine beside the bundle.

What is compared: the engines here are gcc-built stand-ins of 15 KB, where Prisma's real engines are 15-20 MB
and the same in both artifacts (one engine either way), so the ratio is taken on everything but the engine (app
code, node_modules closure, schema.prisma); both totals are printed too. The real client's own lookup is
checked as well: in a fresh node it searches the bundle's folder first."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok, zip_names
from tests.esbuild_fixtures import EXAMPLE, engines_in, esbuild_missing, link_esbuild, size_line, unzip, zip_sizes
from tests.real_prisma import LAMBDA_TARGET, clean_node_env, make_real_project, missing_reason

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(missing_reason() is not None or esbuild_missing() is not None,
                                 reason=missing_reason() or esbuild_missing() or "")]

ENGINE = f"libquery_engine-{LAMBDA_TARGET}.so.node"
MIN_RATIO = 5.0
# In a fresh node: require the bundle, construct a client and connect; on this host (not Lambda's target) the
# real client rejects with its own lookup's message, which lists the folders it searched in order.
PROBE = """\
process.on('unhandledRejection', () => {});  // the module-level client's own start, reported by $connect below
const m = require(process.argv[1]);
const { PrismaClient } = m;
Promise.resolve(m.handler({})).then(async (result) => {
  let error = null;
  try { await new PrismaClient().$connect(); } catch (e) { error = String(e.message); }
  console.log(JSON.stringify({ result, error }));
});
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real-client project with the example app's handler and helper (src/), esbuild linked in."""
    app = make_real_project(tmp_path_factory.mktemp("real-esbuild"))
    shutil.copytree(EXAMPLE / "src", app / "src")
    # the example's handler requires `debug`: its stand-in package, as the example app ships it
    for name in ("debug", "ms"):
        shutil.copytree(EXAMPLE / "node_modules" / name, app / "node_modules" / name)
    data = json.loads((app / "package.json").read_text())
    data["main"] = "src/handler.js"
    data["dependencies"]["debug"] = "4.3.4"
    (app / "package.json").write_text(json.dumps(data, indent=2))
    # the probe constructs a client from the bundle's own copy of the client
    (app / "src" / "handler.js").write_text((app / "src" / "handler.js").read_text()
                                            + "exports.PrismaClient = PrismaClient;\n")
    link_esbuild(app)
    return app


def test_the_example_app_on_the_real_client_is_5x_smaller_bundled(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundled_doc = bundle_ok("lambda", project, tmp_path / "esb", capsys, "--runtime", "nodejs20.x",
                            "--bundler", "esbuild")
    bundle_ok("lambda", project, tmp_path / "plain", capsys, "--runtime", "nodejs20.x")
    bundled, plain = tmp_path / "esb" / "function.zip", tmp_path / "plain" / "function.zip"
    b, p = zip_sizes(bundled), zip_sizes(plain)
    print(size_line("example app on @prisma/client 5.22.0, Lambda nodejs20.x", b, p))
    assert p["code"] >= MIN_RATIO * b["code"], (b, p)
    assert engines_in(bundled) == [f"src/{ENGINE}"]
    assert sorted(zip_names(bundled)) == sorted(["package.json", "src/handler.js", f"src/{ENGINE}",
                                                 "src/schema.prisma"])
    assert bundled_doc["load_check"]["engine"] == {"found": f"src/{ENGINE}", "via": "the generated client's folder"}
    assert bundled_doc["load_check"]["clients"] == ["src"]

    # the real client, bundled: its own lookup (resolveEnginePath, inlined in the bundle) searches the bundle's
    # folder first, where the one engine is (on this host it looks for the host's target, which is not there)
    unpacked = unzip(bundled, tmp_path / "unpacked")
    done = subprocess.run(["node", "-e", PROBE, str(unpacked / "src" / "handler.js")], cwd=unpacked,
                          env=clean_node_env(), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["result"]["statusCode"] == 200
    error = probe["error"]
    assert error is not None and "could not locate the Query Engine" in error, error
    searched = error.split("The following locations have been searched:")[1].split()
    assert searched[0] == str(unpacked / "src")
    assert (unpacked / "src" / ENGINE).is_file()


NETLIFY_TOML = """\
[functions]
  directory = "netlify/functions"
  node_bundler = "esbuild"
"""


def test_a_two_function_netlify_site_on_the_real_client_is_5x_smaller_bundled(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    shutil.copytree(project, site, symlinks=True)
    functions = site / "netlify" / "functions"
    functions.mkdir(parents=True)
    (functions / "users.js").write_text(
        "const { PrismaClient } = require('@prisma/client');\nconst prisma = new PrismaClient();\n"
        "exports.handler = async () => ({ statusCode: 200, body: typeof prisma.user.findMany });\n")
    (functions / "orders.mjs").write_text(
        "import { PrismaClient } from '@prisma/client';\nimport { formatOrder } from '../../src/format.js';\n"
        "const prisma = new PrismaClient();\n"
        "export const handler = async () => ({ statusCode: 200, body: formatOrder({ id: 2, total: 300 }) + "
        "typeof prisma.user });\n")
    (site / "netlify.toml").write_text(NETLIFY_TOML)
    doc = bundle_ok("netlify", site, tmp_path / "esb", capsys, "--runtime", "nodejs20.x")
    bundle_ok("netlify", site, tmp_path / "plain", capsys, "--runtime", "nodejs20.x", "--bundler", "none")
    for name, check in doc["load_check"]["units"].items():
        assert check["engine"] == {"found": f"netlify/functions/{ENGINE}", "via": "the generated client's folder"}
        bundled = tmp_path / "esb" / "functions" / f"{name}.zip"
        b, p = zip_sizes(bundled), zip_sizes(tmp_path / "plain" / "functions" / f"{name}.zip")
        print(size_line(f"Netlify function {name} on @prisma/client 5.22.0", b, p))
        assert p["code"] >= MIN_RATIO * b["code"], (name, b, p)
        assert engines_in(bundled) == [f"netlify/functions/{ENGINE}"]
        assert not [n for n in zip_names(bundled) if n.startswith("node_modules/")]
