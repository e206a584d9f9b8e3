"""The REAL Prisma client: a project on prisma and @prisma/client 5.22.0 (local tarballs, installed offline by npm,
generated offline by the real CLI with stand-in engines; tests/real_prisma.py) bundles for Lambda, passes the
load check, and the unpacked zip loads in a fresh node where the real client's own engine lookup searches the
folder the bundled engine is in first; in a Lambda-like image (Prisma detects rhel-openssl-3.0.x) the real
client picks exactly the bundled engine file."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.loadcheck import MARK
from tests.cli_helpers import bundle_ok, run_cli, zip_names
from tests.docker_images import Entry, File, ImageFactory, host_node_entries
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


NODE_SCRIPTS = Path(__file__).resolve().parents[2] / "bundler" / "_node"


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

    unpacked = unzip(zip_path, tmp_path / "unpacked")
    probe = real_client_probe(unpacked)
    assert probe["result"] == {"statusCode": 200, "body": "function"}
    assert probe["clientVersion"] == "5.22.0"
    # the real lookup (resolveEnginePath in @prisma/client/runtime/library.js) searches the generated client's
    # folder first: on Lambda (rhel-openssl-3.0.x) that is where the one bundled engine is
    error = probe["connectError"]
    assert error is not None and "could not locate the Query Engine" in error, error
    assert real_searched(error)[0] == str(unpacked / "node_modules/.prisma/client")
    assert (unpacked / ENGINE).is_file()


def test_the_load_check_searches_where_the_real_client_searches(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The engine lookup of bundler/_node/check.js against the real one, for this host's target (which the
    # bundle lacks, so both search everything): the same folders in the same order, except the generator's
    # `output`, the build machine's path, which check.js leaves out as it is not on the platform.
    bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    unpacked = unzip(tmp_path / "out" / "function.zip", tmp_path / "unpacked")
    error = real_client_probe(unpacked)["connectError"]
    native = re.search(r'could not locate the Query Engine for runtime "([^"]+)"', error)
    assert native is not None, error
    real = real_searched(error)
    output = str(project / "node_modules/@prisma/client")  # the generator's output, as the build machine has it
    assert output in real
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("guard.js", "check.js", "provided.js"):
        shutil.copy(NODE_SCRIPTS / name, tools / name)
    spec = {"root": str(unpacked), "tools": str(tools), "entries": [{"path": "handler.js", "export": "handler"}],
            "clients": [{"kind": "prisma"}], "clientFrom": ["."], "pathMap": [],
            "engine": {"path": str(unpacked / ENGINE), "names": [f"libquery_engine-{native[1]}.so.node"],
                       "kind": "library", "envVar": "PRISMA_QUERY_ENGINE_LIBRARY", "extraDirs": []}}
    done = subprocess.run(["node", "--require", str(tools / "guard.js"), str(tools / "check.js"), json.dumps(spec)],
                          cwd=unpacked, env={**clean_node_env(), "PHOTON_LOADCHECK_ROOTS": json.dumps([str(unpacked)])},
                          capture_output=True, text=True, timeout=60, check=False)
    events = [json.loads(line[len(MARK):]) for line in done.stdout.splitlines() if line.startswith(MARK)]
    failed = [e for e in events if e.get("event") == "engine-fail"]
    assert len(failed) == 1 and failed[0]["problem"] == "not-found", done.stdout + done.stderr
    emulated = [s["path"] for s in failed[0]["searched"]]
    assert emulated == [p for p in real if p != output]
    assert [s["where"] for s in failed[0]["searched"]] == [
        "the generated client's folder", "the @prisma/client folder (the runtime's parent)", "/tmp/prisma-engines",
        "the schema folder (the client's cwd)"]


def unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


def real_client_probe(unpacked: Path) -> dict[str, Any]:
    done = subprocess.run(["node", "-e", PROBE, str(unpacked)], cwd=unpacked, env=clean_node_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    probe: dict[str, Any] = json.loads(done.stdout)
    return probe


def real_searched(error: str) -> list[str]:
    """The folders the real client's error message says it searched, in order."""
    return error.split("The following locations have been searched:")[1].split()


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


AMAZON_LINUX_2023 = 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n'


@pytest.mark.docker
def test_on_a_lambda_like_system_the_real_client_picks_exactly_the_bundled_engine(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], images: ImageFactory) -> None:
    # The unpacked zip at /var/task in an image whose os-release and libssl make Prisma's own platform
    # detection say rhel-openssl-3.0.x (Lambda's nodejs20.x target): the real lookup finds the bundled engine
    # and loads it (a stand-in, so loading fails, naming the file it chose). No network in the container.
    bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    unpacked = unzip(tmp_path / "out" / "function.zip", tmp_path / "unpacked")
    entries: dict[str, Entry] = {**host_node_entries(), "/etc/os-release": AMAZON_LINUX_2023,
                                 "/usr/lib64/libssl.so.3": File(b"stand-in", 0o755)}
    for path in sorted(unpacked.rglob("*")):
        if path.is_file():
            entries[f"/var/task/{path.relative_to(unpacked).as_posix()}"] = File(path.read_bytes(), 0o755)
    image = images.imported(entries, name="lambda-like")
    done = subprocess.run(["docker", "run", "--rm", "--network", "none", "-w", "/var/task", image,
                           "/usr/bin/node", "-e", PROBE, "/var/task"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    probe = json.loads(done.stdout)
    assert probe["result"] == {"statusCode": 200, "body": "function"}
    error = probe["connectError"]
    assert error is not None and f"Unable to require(`/var/task/{ENGINE}`)" in error, error
