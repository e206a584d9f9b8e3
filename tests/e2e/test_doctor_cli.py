"""`photon-bundle doctor` as users run it: golden JSON for the example app and for a serverless.yml whose
functions share a database, credentials masked in every output, the findings in a bundle's summary and manifest,
and the require timing in a fresh node whose network is guarded."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli

REPO = Path(__file__).resolve().parent.parent.parent
EXAMPLE = REPO / "examples" / "lambda-app"
SHARED = REPO / "tests" / "doctor_fixtures" / "serverless-shared"
GOLDEN = REPO / "tests" / "golden" / "doctor"
SECRETS = ("Sup3rSecret-db", "svc_user", "Rep0rt-Pw", "report:", "user:secret", ":secret@")


@pytest.fixture(scope="module")
def example_engines() -> None:
    """The example's stand-in engines (built by make, as `make demo` does): the golden counts them."""
    subprocess.run(["make", "-s", "example-engines"], cwd=REPO, check=True, capture_output=True, timeout=300)


def normalised(text: str, **paths: Path) -> Any:
    for name, path in paths.items():
        text = text.replace(str(path), f"<{name}>")
    return json.loads(text)


def check_golden(name: str, doc: Any) -> None:
    path = GOLDEN / name
    if os.environ.get("PHOTON_BUNDLE_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert doc == json.loads(path.read_text()), f"differs from {path} (PHOTON_BUNDLE_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.usefixtures("example_engines")
def test_example_app_golden(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, err = run_cli(["doctor", str(EXAMPLE), "--platform", "lambda", "--json", "--no-require-timing",
                                 "--out", str(out)], capsys)
    assert code == 0, err  # warnings only
    doc = normalised(stdout, project=EXAMPLE, out=out)
    check_golden("lambda-app.json", doc)
    assert doc["functions"][0]["entry"] == "src/handler.js" and doc["functions"][0]["pool"] == 1
    placement = [f for f in doc["findings"] if f["check"] == "placement"]
    assert [(f["severity"], f["where"]) for f in placement] == [("ok", "src/handler.js:7")]
    assert not any(s in stdout for s in SECRETS)
    code, _, err = run_cli(["doctor", str(EXAMPLE), "--platform", "lambda", "--json", "--no-require-timing",
                            "--out", str(out), "--strict"], capsys)
    assert code == 10 and "--strict" in err


def test_serverless_functions_sharing_a_database_golden(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPORTS_DATABASE_URL", raising=False)
    out = tmp_path / "out"
    args = ["doctor", str(SHARED), "--platform", "serverless", "--no-require-timing", "--out", str(out),
            "--db-instance", "db.t3.medium"]
    code, stdout, err = run_cli([*args, "--json"], capsys)
    assert code == 10 and "3 error(s)" in err
    doc = normalised(stdout, project=SHARED, out=out)
    check_golden("serverless-shared.json", doc)
    shared = next(f for f in doc["findings"] if "sum_N_x_C" in f["numbers"])
    assert shared["numbers"]["functions"] == ["orders", "users"]
    assert shared["numbers"]["sum_N_x_C"] == 2 * 50 + 5 * 1000  # users: 3008 MB -> 2 vCPU -> 2 x 2 + 1
    assert shared["numbers"]["M"] == (4 << 30) // 9531392
    # the text report: the same numbers, no credentials
    code, text, err = run_cli(args, capsys)
    assert "2 × 50 + 5 × 1,000 = 5,100 connections" in text
    assert "postgresql://***@db.internal:5432/shop" in text
    for secret in SECRETS:
        assert secret not in text + err + stdout


@pytest.mark.usefixtures("example_engines")
def test_bundle_summary_and_manifest_carry_the_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["lambda", str(EXAMPLE), "--out", str(out), "--offline"], capsys)
    assert code == 0, err
    assert "doctor warns (0 error(s), 2 warning(s) about database connections" in err
    assert "  [warning] N × C = 1 × 1,000 = 1,000 connections" in err
    assert "warning:" not in err  # the summary's own warnings stay countable
    manifest = json.loads((out / "manifest.json").read_text())
    section = manifest["doctor"]
    assert section["version"] == 1 and "project" not in section
    assert any(f["check"] == "cold-start" and f["numbers"].get("files") for f in section["findings"])
    assert not any(s in json.dumps(manifest) + err for s in SECRETS)
    # doctor then reads that bundle's sizes
    code, stdout, _ = run_cli(["doctor", str(EXAMPLE), "--platform", "lambda", "--json", "--out", str(out)], capsys)
    doc = json.loads(stdout)
    sizes = next(f for f in doc["findings"] if f["check"] == "cold-start" and "zipped_bytes" in f["numbers"])
    assert sizes["numbers"]["zipped_bytes"] == manifest["artifacts"][0]["zipped_bytes"]
    timed = next(f for f in doc["findings"] if "require_ms" in f["numbers"])
    assert timed["severity"] == "ok" and timed["where"] == "src/handler.js"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_require_timing_guards_the_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A handler that starts a server and connects at load time: timed, no port bound, nothing reached."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path / "app"
    root.mkdir()
    (root / "package.json").write_text(json.dumps({"name": "a", "version": "1.0.0", "main": "index.js"}))
    (root / "index.js").write_text(
        "const http = require('http'); const net = require('net');\n"
        f"http.createServer(() => {{}}).listen({port}, '127.0.0.1');\n"
        f"const s = net.connect({port}, '127.0.0.1'); s.on('error', () => {{}});\n"
        "exports.handler = async () => 'ok';\n")
    with socket.socket() as listener:  # if the guard failed, the app's listen would fail and connect reach us
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(0.1)
        code, stdout, err = run_cli(["doctor", str(root), "--platform", "lambda", "--json"], capsys)
        assert code == 0, err
        with pytest.raises(socket.timeout):
            listener.accept()
    timed = next(f for f in json.loads(stdout)["findings"] if "require_ms" in f["numbers"])
    assert timed["severity"] == "ok", timed
