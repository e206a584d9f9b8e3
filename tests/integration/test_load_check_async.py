"""The load check fails on ASYNCHRONOUS errors too: Prisma 5's `new PrismaClient()` returns at once and loads its
engine in a promise, so an engine that cannot load is an unhandled rejection after the handler's require returned
(on Lambda: Runtime.UnhandledPromiseRejection at the first cold start).

With the REAL Prisma 5.22 client (tests/real_prisma.py) and a gcc-built Node-API stand-in engine the real client
can dlopen: on this machine's own target (a GCF nodejs20 bundle: debian-openssl-3.0.x) the check constructs the
real client, awaits its engine loading and records that it loaded exactly the bundled file; an engine whose
QueryEngine constructor throws fails the check (exit 5) with the rejection and the likely cause, and nothing is
written. Off the platform's target (a Lambda bundle checked here) the client's own loading is noted, not judged.
Any other unhandled rejection or uncaught exception at load time fails the check as well."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.integration.test_load_check import fails
from tests.projects import make_project
from tests.real_prisma import NODE_API_HEADERS, clean_node_env, make_real_project, missing_reason, napi_engine

pytestmark = [pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(shutil.which("node") is None, reason="needs the host's node")]
real_client = pytest.mark.skipif(missing_reason() is not None or not (NODE_API_HEADERS / "node_api.h").is_file(),
                                 reason=missing_reason() or f"needs node's headers in {NODE_API_HEADERS}")

GCF_TARGET = "debian-openssl-3.0.x"  # GCF nodejs20 (Ubuntu 22.04)
GCF_ENGINE = f"node_modules/.prisma/client/libquery_engine-{GCF_TARGET}.so.node"


@pytest.fixture(scope="module")
def real_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_real_project(tmp_path_factory.mktemp("real-prisma-async"))


def _machine_target(project: Path) -> str:
    """The target the real client detects on this machine (its own get-platform)."""
    return subprocess.run(
        ["node", "-e", "require('@prisma/get-platform').getBinaryTargetForCurrentPlatform().then(console.log)"],
        cwd=project, env=clean_node_env(), check=True, capture_output=True, text=True).stdout.strip()


def _copy_with_engine(real_project: Path, dest: Path, *, fail: str | None) -> Path:
    if _machine_target(real_project) != GCF_TARGET:
        pytest.skip(f"this machine is not {GCF_TARGET}: the real client's own engine loading runs on that target only")
    project = dest / "app"
    shutil.copytree(real_project, project, symlinks=True)
    napi_engine(project / GCF_ENGINE, marker="napi-standin", fail=fail)
    return project


@real_client
def test_the_real_client_loads_exactly_the_bundled_engine_on_its_target(
        real_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _copy_with_engine(real_project, tmp_path, fail=None)
    doc = bundle_ok("gcf", project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    check = doc["load_check"]
    assert check["entries"] == [{"path": "handler.js", "ok": True}]
    assert check["engine"]["loaded_by_client"] == {"path": GCF_ENGINE, "target": GCF_TARGET}, check
    assert not check.get("notes"), check


@real_client
def test_an_engine_that_fails_asynchronously_fails_the_load_check(
        real_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _copy_with_engine(real_project, tmp_path, fail="stand-in engine: cannot start")
    err = fails("gcf", project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    # the handler's module-scope client: its engine loading rejects after require('./handler.js') returned
    assert "an unhandled rejection after handler.js loaded: stand-in engine: cannot start" in err
    assert "Runtime.UnhandledPromiseRejection" in err
    # the check's own client, awaited: which engine, which target, why
    assert (f"the Prisma client (node_modules/.prisma/client) loading its engine for {GCF_TARGET} fails "
            "asynchronously: stand-in engine: cannot start") in err
    assert f"the bundled engine {GCF_ENGINE} does not load on this target" in err
    assert "Traceback" not in err


@real_client
def test_off_the_platform_target_the_client_loading_is_noted_not_judged(
        real_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if _machine_target(real_project) == "rhel-openssl-3.0.x":
        pytest.skip("this machine is Lambda's target")
    doc = bundle_ok("lambda", real_project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    notes = "\n".join(doc["load_check"]["notes"])
    assert "the Prisma client's own engine loading was not run: this machine is" in notes
    # the handler's module-scope client looked for this machine's engine: noted, as it cannot happen on Lambda
    assert "unhandled rejection after handler.js loaded" in notes and "could not locate the Query Engine" in notes
    assert "loaded_by_client" not in doc["load_check"]["engine"]


@pytest.mark.parametrize(("code", "expected"), [
    ("Promise.reject(new Error('config service unreachable'));",
     "an unhandled rejection after handler.js loaded: config service unreachable"),
    ("setTimeout(() => { throw new Error('late failure'); }, 20);",
     "an uncaught exception after handler.js loaded: late failure"),
])
def test_an_async_error_at_load_time_fails_the_check(code: str, expected: str, tmp_path: Path, elf_cache: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "handler.js").write_text(f"{code}\nexports.handler = async () => ({{ statusCode: 200 }});\n")
    err = fails("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    assert expected in err and "Traceback" not in err


def test_async_work_that_succeeds_is_awaited_and_passes(tmp_path: Path, elf_cache: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "handler.js").write_text(
        "const ready = new Promise((resolve) => setTimeout(resolve, 50)).then(() => 'warm');\n"
        "ready.catch(() => {});\nexports.handler = async () => ({ statusCode: 200, body: await ready });\n")
    code, _, err = run(["lambda", str(project), "--out", str(tmp_path / "out"), "--offline", "--runtime",
                        "nodejs20.x"], capsys)
    assert code == 0, err
