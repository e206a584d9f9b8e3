"""The CLI as users run it: a real process, exit codes, no tracebacks, and a bundle node can load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.projects import make_project

NODE = shutil.which("node")


def photon(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bundler", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("fmt", ["zip", "both"])
def test_unpacked_bundle_handler_loads_in_node(tmp_path: Path, elf_cache: Path, fmt: str) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    out = tmp_path / "out"
    result = photon("lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x", "--format", fmt,
                    "--no-verify")
    assert result.returncode == 0, result.stderr
    task = tmp_path / "var-task"
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(task)
    env = {"PATH": "/usr/bin:/bin"}
    if fmt == "both":
        opt = tmp_path / "opt"
        with zipfile.ZipFile(out / "layer.zip") as zf:
            zf.extractall(opt)
        engine = opt / "photon-bundle/engines/libquery_engine-rhel-openssl-3.0.x.so.node"
        env["PRISMA_QUERY_ENGINE_LIBRARY"] = str(engine)
    script = "require('./handler.js').handler({}).then(r => console.log(r.body))"
    assert NODE is not None
    ran = subprocess.run([NODE, "-e", script], cwd=task, capture_output=True, text=True, env=env, timeout=60,
                         check=False)
    assert ran.returncode == 0, ran.stderr
    body = json.loads(ran.stdout)
    assert body["engine"].endswith("libquery_engine-rhel-openssl-3.0.x.so.node")
    if fmt == "both":
        # without the layer's variable the function has no engine: the layer really carries it
        ran = subprocess.run([NODE, "-e", script], cwd=task, capture_output=True, text=True,
                             env={"PATH": "/usr/bin:/bin"}, timeout=60, check=False)
        assert ran.returncode != 0 and "could not be found" in ran.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["lambda", "{p}", "--runtime", "nodejs99.x"], 2, "unknown AWS Lambda runtime 'nodejs99.x'"),
    (["lambda", "{p}", "--max-size", "1kb", "--no-verify"], 4, "bundle too large"),
    (["lambda", "{p}/missing"], 3, "does not exist"),
    (["lambda", "{p}", "--max-size", "lots"], 2, "cannot read size 'lots'"),
])
def test_errors_are_one_message_with_exit_code(tmp_path: Path, elf_cache: Path, args: list[str], code: int,
                                               message: str) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    result = photon(*[a.replace("{p}", str(project)) for a in args])
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") or "error:" in result.stderr


def test_malformed_schema_names_file_and_line(tmp_path: Path, elf_cache: Path) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    schema = project / "prisma" / "schema.prisma"
    schema.write_text(schema.read_text().replace('provider      = "prisma-client-js"', "provider = prisma-client-js"))
    result = photon("lambda", str(project))
    assert result.returncode == 3
    assert "prisma/schema.prisma:" in result.stderr and "expected a quoted string" in result.stderr
    debug = photon("lambda", str(project), "--debug")
    assert "Traceback" in debug.stderr


def test_targets_command_prints_matrix() -> None:
    result = photon("targets", "--platform", "lambda", "--json")
    rows = json.loads(result.stdout)
    assert {"platform": "lambda", "runtime": "nodejs8.10", "arch": "x86_64", "target": "rhel-openssl-1.0.x",
            "photon_2019": "linux-glibc-libssl1.0.1"}.items() <= rows[0].items()
    assert len(rows) == 16


@pytest.mark.skipif(NODE is None or shutil.which("make") is None, reason="node and make are needed")
def test_the_readme_demo_bundles_the_example_and_its_handler_loads(tmp_path: Path) -> None:
    """What `make demo` does, on the example app the README names (its stand-in engines built by make)."""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(["make", "-s", "example-engines"], cwd=repo, check=True, capture_output=True, timeout=300)
    example = repo / "examples" / "lambda-app"
    out = tmp_path / "out"
    result = photon("lambda", str(example), "--out", str(out))
    assert result.returncode == 0, result.stderr
    task = tmp_path / "var-task"
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(task)
    main = json.loads((example / "package.json").read_text())["main"]
    script = f"require('./{main}').handler({{}}).then(r => console.log(r.body))"
    assert NODE is not None
    ran = subprocess.run([NODE, "-e", script], cwd=task, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin"}, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["engine"] == "libquery_engine-rhel-openssl-3.0.x.so.node"
    demo = (repo / "Makefile").read_text()
    assert f"require('./build/demo-unpacked/{main}')" in demo  # the Makefile's demo loads the same file
