"""--trace on a realistic multi-dependency app (express, lodash, aws-sdk v2, apollo, graphql, uuid, zod and the REAL
@prisma/client 5.22.0), installed by the real npm and pnpm offline (tests/trace_app.py):

* the traced Lambda zip ships no more than @vercel/nft traces plus the engine, the generated client and package.json
  files (the only other files are the `module-sync` targets that Node 20.19+ loads and nft 0.29 does not know);
* it passes the pipeline's load check, and unpacked in a fresh node the handler runs and the real Prisma client
  searches first the folder holding the one bundled engine;
* computed requires are named file:line; a glob of their literal parts and a path built from __dirname are
  traced; a plugin named by configuration is not (the bundle loads, the call fails), and --include adds it;
* the same on pnpm's layout, the same files; a second run is byte-identical;
* file count, unzipped and zipped sizes traced vs untraced (and nft's count) are printed.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.real_prisma import LAMBDA_TARGET, clean_node_env
from tests.trace_app import (
    EXPANDED_REQUIRE,
    HANDLER,
    PLUGIN,
    PLUGIN_ENV,
    PLUGIN_REQUIRE,
    make_trace_app,
    missing_reason,
    nft_files,
)

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(missing_reason("pnpm") is not None, reason=missing_reason("pnpm") or "")]

ENGINE = f"node_modules/.prisma/client/libquery_engine-{LAMBDA_TARGET}.so.node"
ENGINE_FILE = re.compile(r"(^|/)(libquery_engine-|query-engine-|query_engine-)[^/]*$")
CLIENT = "node_modules/.prisma/client/"
LAMBDA = ("--handler", HANDLER, "--runtime", "nodejs20.x")

# In a fresh node with nothing but PATH: require the handler (its module scope makes the PrismaClient), call it,
# and connect a client: on this host (not Lambda's target) the real engine lookup fails with the folders it
# searched, in order. No database is contacted.
PROBE = """\
const root = process.argv[1];
const out = { handler: null, handlerError: null, connectError: null, rejections: [] };
process.on('unhandledRejection', (e) => out.rejections.push(String(e && e.message || e).split('\\n')[0]));
(async () => {
  try { out.handler = await require(root + '/src/handler.js').handler({}); }
  catch (e) { out.handlerError = String(e.message).split('\\n')[0]; }
  const { PrismaClient } = require(root + '/node_modules/@prisma/client');
  try { await new PrismaClient().$connect(); } catch (e) { out.connectError = String(e.message); }
  await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify(out));
})();
"""


@pytest.fixture(scope="module")
def npm_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trace_app(tmp_path_factory.mktemp("trace-npm"), "npm")


@pytest.fixture(scope="module")
def pnpm_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trace_app(tmp_path_factory.mktemp("trace-pnpm"), "pnpm")


def probe(unpacked: Path) -> dict[str, Any]:
    done = subprocess.run(["node", "-e", PROBE, str(unpacked)], cwd=unpacked, env={**clean_node_env(), **PLUGIN_ENV},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


def module_sync_target(app: Path, rel: str) -> bool:
    """True when `rel` is what its package's exports name under the `module-sync` condition."""
    match = re.match(r"^(.*node_modules/(?:@[^/]+/)?[^/]+)/(.*)$", rel)
    if match is None:
        return False
    exports = json.loads((app / match[1] / "package.json").read_text()).get("exports")
    return f'"module-sync": "./{match[2]}"' in json.dumps(exports)


def sizes(doc: dict[str, Any]) -> tuple[int, int, int]:
    artifact = doc["artifacts"][0]
    return artifact["files"], artifact["unzipped_bytes"], artifact["zipped_bytes"]


def test_traced_lambda_ships_no_more_than_nft_plus_engine_client_and_package_json(
        npm_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    whole = bundle_ok("lambda", npm_app, tmp_path / "whole", capsys, *LAMBDA)
    code, _, err = run_cli(["lambda", str(npm_app), "--out", str(tmp_path / "traced"), "--offline", "--trace",
                            *LAMBDA], capsys)  # not --json: the log is on stderr
    assert code == 0, err
    traced = json.loads((tmp_path / "traced" / "manifest.json").read_text())
    names = set(zip_names(tmp_path / "traced" / "function.zip"))
    nft = set(nft_files(npm_app, "src/handler.js"))

    assert [n for n in names if ENGINE_FILE.search(n)] == [ENGINE]  # exactly the one engine
    beyond = sorted(n for n in names - nft if not n.startswith(CLIENT) and posixpath.basename(n) != "package.json")
    assert beyond, "the module-sync targets are expected here (async-function & co. via aws-sdk's util)"
    assert [n for n in beyond if not module_sync_target(npm_app, n)] == []
    # what the handler loads is there; what only another function (src/graphql.js) loads is not
    for rel in ("src/handler.js", "src/lib/storage.js", "node_modules/express/index.js",
                "node_modules/lodash/lodash.js", "node_modules/aws-sdk/clients/s3.js", "node_modules/zod/lib/index.js",
                "node_modules/@prisma/client/runtime/library.js", f"{CLIENT}schema.prisma"):
        assert rel in names, rel
    assert not [n for n in names if n.startswith(("node_modules/@apollo/", "src/graphql.js", "node_modules/prisma/"))]
    # computed requires are named file:line, in the log and in the manifest; a glob's files ship, and so does the
    # template read at a path built from __dirname; the plugin named by configuration does not
    assert (f"warning: --trace: {EXPANDED_REQUIRE}: require('../locales/' + lang + '.json') has a computed argument: "
            "shipped the 2 file(s) matching src/locales/*.json") in err
    assert f"warning: --trace: {PLUGIN_REQUIRE}: require(process.env.ORDERS_FORMATTER) has a computed argument" in err
    assert any(w.startswith(f"--trace: {PLUGIN_REQUIRE}:") for w in traced["warnings"])
    assert {"src/locales/en.json", "src/locales/de.json", "src/templates/receipt.txt"} <= names
    assert PLUGIN not in names
    assert "--trace: node_modules/express loads modules by computed names (lib/view.js:" in err
    assert traced["load_check"]["engine"] == {"found": ENGINE, "via": "the generated client's folder"}

    (files_w, unzipped_w, zipped_w), (files_t, unzipped_t, zipped_t) = sizes(whole), sizes(traced)
    assert files_t < files_w / 5 and unzipped_t < unzipped_w / 10 and zipped_t < zipped_w / 5
    with capsys.disabled():
        print(f"\n--trace on the trace app (npm, lambda nodejs20.x): untraced {files_w:,} files / "
              f"{unzipped_w / 2**20:.1f} MiB unzipped / {zipped_w / 2**20:.1f} MiB zipped; traced {files_t:,} files / "
              f"{unzipped_t / 2**20:.1f} MiB / {zipped_t / 2**20:.2f} MiB; @vercel/nft lists {len(nft):,} files "
              f"(every engine; {len(beyond)} module-sync targets it misses)")


def test_traced_artifact_loads_and_the_real_client_finds_exactly_the_bundled_engine(
        npm_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    doc = bundle_ok("lambda", npm_app, out, capsys, "--trace", "--include", PLUGIN, *LAMBDA)
    check = doc["load_check"]
    assert check["skipped"] is False and check["entries"] == [{"path": "src/handler.js", "ok": True}]
    assert check["engine"] == {"found": ENGINE, "via": "the generated client's folder"}
    names = zip_names(out / "function.zip")
    assert PLUGIN in names  # --include adds what tracing cannot see
    unpacked = unzip(out / "function.zip", tmp_path / "unpacked")
    result = probe(unpacked)
    assert result["handlerError"] is None, result
    assert result["handler"]["statusCode"] == 200
    assert json.loads(result["handler"]["body"]) == {
        "id": 36, "ok": True, "hello": "hello", "gql": "world", "summary": {"sum": 6, "max": 3}, "routes": 3,
        "storage": "function", "client": "function", "receipt": "receipt 42", "formatted": '{"total":3}'}
    error = result["connectError"]
    assert error is not None and "could not locate the Query Engine" in error, error
    searched = error.split("The following locations have been searched:")[1].split()
    assert searched[0] == str(unpacked / "node_modules/.prisma/client")  # first: where the one engine is
    assert sorted(p.name for p in unpacked.rglob("*") if ENGINE_FILE.search(p.name)) == [posixpath.basename(ENGINE)]


def test_without_include_the_plugin_named_by_configuration_is_missing(
        npm_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the load check requires the entry (module scope): it passes; the call reaches the require of the plugin named
    # by configuration, whose file tracing could not see, and fails exactly there, as the warning said
    out = tmp_path / "out"
    bundle_ok("lambda", npm_app, out, capsys, "--trace", *LAMBDA)
    result = probe(unzip(out / "function.zip", tmp_path / "unpacked"))
    assert result["handlerError"] is not None and "Cannot find module './format-json'" in result["handlerError"]


def test_pnpm_layout_traces_the_same_files_and_loads(
        npm_app: Path, pnpm_app: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pnpm_doc = bundle_ok("lambda", pnpm_app, tmp_path / "pnpm", capsys, "--trace", *LAMBDA)
    bundle_ok("lambda", npm_app, tmp_path / "npm", capsys, "--trace", *LAMBDA)
    assert pnpm_doc["layout"]["manager"] == "pnpm"
    assert pnpm_doc["load_check"]["engine"] == {"found": ENGINE, "via": "the generated client's folder"}
    pnpm_names = set(zip_names(tmp_path / "pnpm" / "function.zip"))
    npm_names = set(zip_names(tmp_path / "npm" / "function.zip"))
    assert pnpm_names - {"pnpm-lock.yaml"} == npm_names - {"package-lock.json"}
    result = probe(unzip(tmp_path / "pnpm" / "function.zip", tmp_path / "unpacked"))
    assert result["handlerError"] is not None and "./format-json" in result["handlerError"]
    assert str(tmp_path / "unpacked" / "node_modules/.prisma/client") in result["connectError"]
    whole = bundle_ok("lambda", pnpm_app, tmp_path / "whole", capsys, *LAMBDA)
    (files_w, unzipped_w, zipped_w), (files_t, unzipped_t, zipped_t) = sizes(whole), sizes(pnpm_doc)
    with capsys.disabled():
        print(f"\n--trace on the trace app (pnpm): untraced {files_w:,} files / {unzipped_w / 2**20:.1f} MiB / "
              f"{zipped_w / 2**20:.1f} MiB zipped; traced {files_t:,} files / {unzipped_t / 2**20:.1f} MiB / "
              f"{zipped_t / 2**20:.2f} MiB zipped")


def test_a_second_traced_run_is_byte_identical(npm_app: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    digests = []
    for n in (1, 2):
        bundle_ok("lambda", npm_app, tmp_path / f"out{n}", capsys, "--trace", *LAMBDA)
        digests.append(hashlib.sha256((tmp_path / f"out{n}" / "function.zip").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


NETLIFY_FUNCTIONS = {
    "functions/orders.js": "exports.handler = require('../src/handler').handler;\n",
    "functions/graphql.js": "const { server } = require('../src/graphql');\n"
                            "exports.handler = async () => ({ statusCode: 200, body: typeof server });\n",
}


def test_netlify_functions_each_ship_what_they_reach(npm_app: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    # two functions of one site: Netlify's entry stub (graphql.js at the zip root, generated) is traced too; apollo's
    # peer dependency graphql is reached by the trace, so the graphql function loads
    site = tmp_path / "site"
    subprocess.run(["cp", "-a", str(npm_app), str(site)], check=True)
    for rel, text in NETLIFY_FUNCTIONS.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    (site / "netlify.toml").write_text(f'[functions]\ndirectory = "functions"\nincluded_files = ["{PLUGIN}"]\n')
    traced = bundle_ok("netlify", site, tmp_path / "traced", capsys, "--trace", "--runtime", "nodejs20.x")
    # untraced, for the sizes: without its load check, as the per-function package scan does not follow apollo's
    # peer dependency graphql and that function would not load
    whole = bundle_ok("netlify", site, tmp_path / "whole", capsys, "--runtime", "nodejs20.x", "--no-load-check")
    orders = set(zip_names(tmp_path / "traced" / "functions" / "orders.zip"))
    graphql = set(zip_names(tmp_path / "traced" / "functions" / "graphql.zip"))
    assert PLUGIN in orders  # included_files add what tracing cannot see
    assert [n for n in orders if ENGINE_FILE.search(n)] == [ENGINE]
    assert not [n for n in orders if n.startswith("node_modules/@apollo/")]
    assert "node_modules/@apollo/server/package.json" in graphql and "node_modules/graphql/index.js" in graphql
    assert not [n for n in graphql if n.startswith(("node_modules/express/", "node_modules/aws-sdk/"))]
    checks = traced["load_check"]["units"]
    assert checks["graphql"]["entries"] == [{"ok": True, "path": "graphql.js"}]
    assert checks["orders"]["entries"] == [{"ok": True, "path": "orders.js"}]
    assert checks["orders"]["engine"] == {"found": ENGINE, "via": "the generated client's folder"}
    by_path = {a["path"]: a for a in whole["artifacts"]}
    with capsys.disabled():
        for a in traced["artifacts"]:
            w = by_path[a["path"]]
            print(f"\n--trace netlify {a['path']}: untraced {w['files']:,} files / "
                  f"{w['unzipped_bytes'] / 2**20:.1f} MiB / {w['zipped_bytes'] / 2**20:.1f} MiB zipped; "
                  f"traced {a['files']:,} files / "
                  f"{a['unzipped_bytes'] / 2**20:.1f} MiB / {a['zipped_bytes'] / 2**20:.2f} MiB zipped")
        assert a["unzipped_bytes"] * 5 < w["unzipped_bytes"]

