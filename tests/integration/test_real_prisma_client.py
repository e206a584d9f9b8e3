"""The REAL Prisma client: a project on prisma and @prisma/client 5.22.0 (local tarballs, installed offline by npm,
generated offline by the real CLI with stand-in engines; tests/real_prisma.py) bundles for Lambda, passes the
load check, and the unpacked zip loads in a fresh node where the real client's own engine lookup searches the
folder the bundled engine is in first."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.real_prisma import ENGINES_COMMIT, LAMBDA_TARGET, clean_node_env, make_real_project, missing_reason

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")]

ENGINE = f"node_modules/.prisma/client/libquery_engine-{LAMBDA_TARGET}.so.node"
ENGINE_FILE = re.compile(r"(^|/)(libquery_engine-|query-engine-|query_engine-)[^/]*$")

# In a fresh node with nothing but PATH: require the handler (whose module scope runs `new PrismaClient()`),
# call it, and construct a client. Prisma 5.22's LibraryEngine resolves and loads the engine as soon as a client
# is constructed; $connect awaits that and, on this host (not Lambda's target), rejects with the real lookup's
# message, which lists the folders it searched. No database is contacted: the engine is never loaded.
PROBE = """\
const rejections = [];
process.on('unhandledRejection', (e) => rejections.push(String(e && e.message || e).split('\\n')[0]));
const handler = require(process.argv[1] + '/handler.js');
const { PrismaClient } = require(process.argv[1] + '/node_modules/@prisma/client');
const client = new PrismaClient();
handler.handler({}).then(async (result) => {
  let connectError = null;
  try { await client.$connect(); } catch (e) { connectError = String(e.message); }
  await new Promise((r) => setTimeout(r, 50));
  console.log(JSON.stringify({ result, clientVersion: client._clientVersion, connectError, rejections }));
});
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_real_project(tmp_path_factory.mktemp("real-prisma"))


def test_the_real_client_bundles_loads_and_finds_exactly_the_bundled_engine(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    check = doc["load_check"]
    assert check["skipped"] is False and check["mode"] == "node"
    assert check["entries"] == [{"path": "handler.js", "ok": True}]
    assert check["clients"] == ["node_modules/.prisma/client"]
    assert check["engine"] == {"found": ENGINE, "via": "the generated client's folder"}
    # the engine the real generator copied beside the client, at the version @prisma/engines-version names
    assert (doc["engine"]["file"], doc["engine"]["source"], doc["engine"]["version"]) == (ENGINE, "local",
                                                                                         ENGINES_COMMIT)
    zip_path = tmp_path / "out" / "function.zip"
    names = zip_names(zip_path)
    assert [n for n in names if ENGINE_FILE.search(n)] == [ENGINE]
    assert "node_modules/@prisma/client/runtime/library.js" in names
    assert not [n for n in names if n.startswith(("node_modules/prisma/", "node_modules/@prisma/engines/"))]

    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(unpacked)
    done = subprocess.run(["node", "-e", PROBE, str(unpacked)], cwd=unpacked, env=clean_node_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    assert probe["result"] == {"statusCode": 200, "body": "function"}
    assert probe["clientVersion"] == "5.22.0"
    # the real lookup (resolveEnginePath in @prisma/client/runtime/library.js) searches the generated client's
    # folder first: on Lambda (rhel-openssl-3.0.x) that is where the one bundled engine is
    error = probe["connectError"]
    assert error is not None and "could not locate the Query Engine" in error, error
    searched = error.split("The following locations have been searched:")[1].split()
    assert searched[0] == str(unpacked / "node_modules/.prisma/client")
    assert (unpacked / ENGINE).is_file()


def test_the_real_client_without_its_generated_folder_fails_the_load_check(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--runtime", "nodejs20.x",
                                 "--exclude", "node_modules/.prisma/**"], capsys)
    assert code == 5, err
    assert stdout == ""
    assert "Cannot find module '.prisma/client/default'" in err
    assert "required by node_modules/@prisma/client/default.js" in err
    assert not (out / "function.zip").exists()
