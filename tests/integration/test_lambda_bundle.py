"""`photon-bundle lambda` on fixture projects: engine choice, modes, determinism, excludes, limits, layers."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.cli import cli
from bundler.cli.common import run_guarded
from tests.projects import make_project, tree_digest


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_guarded(cli, argv)
    out, err = capsys.readouterr()
    return code, out, err


def bundle(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code, stdout, err = run(["lambda", str(project), "--out", str(out), "--json", *extra], capsys)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(stdout)
    return doc


def engines_in(zip_path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as zf:
        return [i for i in zf.infolist() if "query_engine-" in i.filename or "query-engine-" in i.filename
                or "schema-engine" in i.filename]


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", elf_cache=elf_cache)


@pytest.mark.parametrize(("runtime", "arch", "target"), [
    ("nodejs20.x", "x86_64", "rhel-openssl-3.0.x"),
    ("nodejs18.x", "x86_64", "rhel-openssl-1.0.x"),
    ("nodejs22.x", "arm64", "linux-arm64-openssl-3.0.x"),
])
def test_exactly_one_engine_and_it_is_the_targets(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  runtime: str, arch: str, target: str) -> None:
    doc = bundle(project, tmp_path / "out", capsys, "--runtime", runtime, "--arch", arch, "--no-verify")
    (engine,) = engines_in(tmp_path / "out" / "function.zip")
    assert engine.filename == f"node_modules/.prisma/client/libquery_engine-{target}.so.node"
    assert engine.external_attr >> 16 == 0o100755
    source = project / engine.filename
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        assert zf.read(engine.filename) == source.read_bytes()
    assert (doc["engine"]["target"], doc["engine"]["source"], doc["engine"]["kind"]) == (target, "local", "library")


def test_binary_engine_keeps_exec_bit_even_if_lost_on_disk(tmp_path: Path, elf_cache: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", engine_kind="binary", elf_cache=elf_cache)
    engine = project / "node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x"
    engine.chmod(0o644)  # e.g. lost in a CI cache or a copy from Windows
    bundle(project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--no-verify")
    (info,) = engines_in(tmp_path / "out" / "function.zip")
    assert info.filename.endswith("query-engine-rhel-openssl-3.0.x")
    assert info.external_attr >> 16 == 0o100755
    assert info.create_system == 3


def test_no_dev_dependencies_no_secrets(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle(project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--no-verify")
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        names = set(zf.namelist())
    assert {"handler.js", "lib/util.js", "node_modules/debug/index.js", "node_modules/ms/index.js",
            "node_modules/express-lite/node_modules/ms/index.js", "node_modules/@prisma/client/index.js",
            "node_modules/.prisma/client/index.js"} <= names
    for prefix in ["node_modules/prisma/", "node_modules/jest-lite/", "node_modules/chalk-lite/",
                   "node_modules/@prisma/engines/", "node_modules/.cache/", ".git/"]:
        assert not [n for n in names if n.startswith(prefix)], prefix
    for secret in [".env", ".env.production", "deploy.pem", ".npmrc"]:
        assert secret not in names


def test_byte_identical_across_runs_paths_and_mtimes(tmp_path: Path, elf_cache: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    first = make_project(tmp_path / "checkout-a", elf_cache=elf_cache)
    second = tmp_path / "elsewhere" / "checkout-b"
    shutil.copytree(first, second, symlinks=True)
    for path in second.rglob("*"):
        if path.is_file():
            path.touch()  # different mtimes
    a = bundle(first, tmp_path / "out-a", capsys, "--runtime", "nodejs20.x", "--no-verify")
    b = bundle(second, tmp_path / "out-b", capsys, "--runtime", "nodejs20.x", "--no-verify")
    again = bundle(first, tmp_path / "out-a", capsys, "--runtime", "nodejs20.x", "--no-verify", "--force")
    zip_a = (tmp_path / "out-a" / "function.zip").read_bytes()
    assert zip_a == (tmp_path / "out-b" / "function.zip").read_bytes()
    assert a["artifacts"] == b["artifacts"] == again["artifacts"]
    artifact = a["artifacts"][0]
    assert len(artifact["content_digest"]) == 64


def test_source_date_epoch_sets_timestamps(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1577836800")  # 2020-01-01
    bundle(project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--no-verify")
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2020, 1, 1, 0, 0, 0)}


def test_project_unchanged_and_output_excluded(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    bundle(project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--no-verify")
    assert tree_digest(project) == before
    # default output folder inside the project: excluded from the next bundle
    code, _, err = run(["lambda", str(project), "--runtime", "nodejs20.x", "--no-verify", "-q"], capsys)
    assert code == 0, err
    code, _, err = run(["lambda", str(project), "--runtime", "nodejs20.x", "--no-verify", "--force", "-q"], capsys)
    assert code == 0, err
    with zipfile.ZipFile(project / ".photon-bundle" / "lambda" / "function.zip") as zf:
        assert not [n for n in zf.namelist() if n.startswith(".photon-bundle")]
    after = {k: v for k, v in tree_digest(project).items() if not k.startswith(".photon-bundle/")}
    assert after == before


def test_over_limit_leaves_nothing_and_prints_breakdown(project: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run(["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x", "--max-size", "2kb",
                        "--no-verify"], capsys)
    assert code == 4
    assert "over the limit of 2.0 KiB" in err
    assert "largest packages (unzipped):" in err and "(engine)" in err
    assert "largest files (unzipped):" in err and "libquery_engine-rhel-openssl-3.0.x.so.node" in err
    assert "fix:" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []


def test_a_failed_run_withdraws_the_previous_bundle(project: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """After a failed run the output folder holds no stale bundle a CI step could deploy by mistake."""
    out = tmp_path / "out"
    before = tree_digest(project)
    code, _, err = run(["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x", "--format", "both"],
                       capsys)
    assert code == 0, err
    (out / "notes.txt").write_text("mine\n")  # not photon-bundle's: stays
    code, _, err = run(["lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x", "--format", "both",
                        "--max-size", "2kb"], capsys)
    assert code == 4
    assert f"the previous run's artifacts were removed from {out}" in err and "function.zip" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert tree_digest(project) == before


def test_missing_engine_says_what_to_do(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["lambda", str(project), "--out", str(tmp_path / "o"), "--runtime", "nodejs20.x",
                        "--arch", "arm64", "--engine-source", "local", "--no-verify"], capsys)
    assert code == 0, err  # arm64 engine is there
    (project / "node_modules/.prisma/client/libquery_engine-linux-arm64-openssl-3.0.x.so.node").unlink()
    code, _, err = run(["lambda", str(project), "--out", str(tmp_path / "o"), "--runtime", "nodejs20.x",
                        "--arch", "arm64", "--engine-source", "local", "--no-verify"], capsys)
    assert code == 3
    assert "linux-arm64-openssl-3.0.x" in err and "binaryTargets" in err
    # what was found instead, so the user sees the project was generated for other targets
    assert "the project has libquery_engine-debian-openssl-3.0.x.so.node (node_modules/.prisma/client/)" in err
    assert "libquery_engine-rhel-openssl-3.0.x.so.node" in err
    assert "@prisma/engines" not in err  # the CLI's own engine is not one the client could load
    assert "Traceback" not in err


def test_unknown_runtime_and_bad_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["lambda", str(project), "--runtime", "node20"], capsys)
    assert code == 2 and "did you mean" in err
    (project / "photon-bundle.toml").write_text("[lambda]\nmax_sise = '10mb'\n")
    code, _, err = run(["lambda", str(project)], capsys)
    assert code == 2 and "unknown key 'max_sise'" in err and "max_size" in err


def test_runtime_from_engines_node_and_config(tmp_path: Path, elf_cache: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", engines_node="18.x", elf_cache=elf_cache)
    doc = bundle(project, tmp_path / "out", capsys, "--no-verify")
    assert doc["runtime"] == "nodejs18.x"
    assert doc["runtime_source"] == 'package.json engines.node "18.x"'
    (project / "photon-bundle.toml").write_text('[lambda]\nruntime = "nodejs22.x"\n')
    doc = bundle(project, tmp_path / "out", capsys, "--no-verify")
    assert doc["runtime"] == "nodejs22.x"
    assert doc["runtime_source"] == "photon-bundle.toml [lambda]"


def test_layer_and_function_with_exec_wrapper(project: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    doc = bundle(project, out, capsys, "--runtime", "nodejs20.x", "--format", "both", "--no-verify")
    assert not engines_in(out / "function.zip")
    (engine,) = engines_in(out / "layer.zip")
    assert engine.filename == "photon-bundle/engines/libquery_engine-rhel-openssl-3.0.x.so.node"
    assert engine.external_attr >> 16 == 0o100755
    assert doc["engine"]["exec_wrapper"] == "/opt/photon-bundle/exec-wrapper"
    assert doc["limits"][0]["name"].endswith("(function + layer)")
    # Unpack the layer where Lambda would (/opt -> a temp folder) and run the wrapper like Lambda does.
    opt = tmp_path / "opt"
    with zipfile.ZipFile(out / "layer.zip") as zf:
        zf.extractall(opt)
        assert zf.getinfo("photon-bundle/exec-wrapper").external_attr >> 16 == 0o100755
    wrapper = opt / "photon-bundle" / "exec-wrapper"
    wrapper.chmod(0o755)
    printed = subprocess.run([str(wrapper), "sh", "-c", "echo $PRISMA_QUERY_ENGINE_LIBRARY"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert printed == "/opt/photon-bundle/engines/libquery_engine-rhel-openssl-3.0.x.so.node"


def test_layer_with_node_modules(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys, "--runtime", "nodejs20.x", "--format", "layer", "--layer-node-modules",
           "--no-verify")
    assert not (out / "function.zip").exists()
    with zipfile.ZipFile(out / "layer.zip") as zf:
        names = zf.namelist()
    assert "nodejs/node_modules/debug/index.js" in names
    assert "nodejs/node_modules/.prisma/client/index.js" in names
    assert not [n for n in names if n.startswith("nodejs/node_modules/prisma/")]


def test_manifest_schema(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The manifest's documented fields, with values that can be checked against the files."""
    import hashlib
    import re

    out = tmp_path / "out"
    doc = bundle(project, out, capsys, "--runtime", "nodejs20.x", "--format", "both")
    assert doc["version"] == 1 and doc["platform"] == "lambda" and doc["reused"] is False
    assert (doc["runtime"], doc["arch"], doc["os"]) == ("nodejs20.x", "x86_64", "Amazon Linux 2023")
    assert doc["runtime_source"] == "--runtime"
    assert doc["compressor"].startswith(("zlib-ng ", "zlib "))
    engine = doc["engine"]
    source = project / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
    assert engine["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (engine["kind"], engine["target"], engine["source"]) == ("library", "rhel-openssl-3.0.x", "local")
    assert engine["runtime_path"] == "/opt/" + engine["file"] and engine["artifact"] == "layer.zip"
    for artifact in doc["artifacts"]:
        data = (out / artifact["path"]).read_bytes()
        assert artifact["sha256"] == hashlib.sha256(data).hexdigest() and artifact["zipped_bytes"] == len(data)
        with zipfile.ZipFile(out / artifact["path"]) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            assert artifact["files"] == len(infos) and artifact["unzipped_bytes"] == sum(i.file_size for i in infos)
    for lim in doc["limits"]:
        assert lim["headroom"] == lim["limit"] - lim["actual"] and lim["what"] in ("zipped", "unzipped")
    assert doc["pruned"]["files"] == sum(r["files"] for r in doc["pruned"]["by_reason"].values())
    assert re.fullmatch(r"[0-9a-f]{64}", doc["inputs_fingerprint"])
    text = (out / "manifest.json").read_text()
    assert not re.search(r"20\d\d-\d\d-\d\dT", text)  # no wall-clock time anywhere
