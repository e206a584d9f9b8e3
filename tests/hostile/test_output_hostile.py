"""Hostile inputs around the output folder, configs and installed packages (issue 18, part A).

Each case builds its trap in the test, runs the real CLI (in process, or as a subprocess where a signal or a
resource limit is the point) and asserts the exit code, one clear message (no traceback, no "internal
error"), that nothing outside --out was written or deleted, and that the project is untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, zip_names
from tests.mirror_server import MirrorServer, cli_env, publish_engine
from tests.projects import make_project, tree_digest, write_json

VERSION = "0123456789abcdef0123456789abcdef01234567"
pytestmark = pytest.mark.usefixtures("own_engine_cache")


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", elf_cache=elf_cache)


def one_clear_error(code: int, err: str, expected: int) -> None:
    assert code == expected, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.count("error: ") == 1, err


def snapshot(root: Path, *skip: str) -> dict[str, tuple[int, str]]:
    """tree_digest of root without the folders named in skip (the output folder, the engine cache)."""
    return {rel: v for rel, v in tree_digest(root).items() if not rel.startswith(tuple(f"{s}/" for s in skip))}


def lambda_run(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    return run_cli(["lambda", str(project), "--out", str(out), "--offline", *extra], capsys)


# ------------------------------------------------------------------------------ paths read from --out


@pytest.mark.parametrize("named", ["../victim.txt", "{abs}", "../../victim.txt", "linked/victim.txt"])
def test_a_failed_run_never_deletes_what_a_planted_manifest_names_outside_out(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], named: str) -> None:
    out = tmp_path / "out"
    code, _, err = lambda_run(project, out, capsys)
    assert code == 0, err
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "victim.txt").write_text("keep me too\n")
    (out / "linked").symlink_to(tmp_path / "elsewhere")  # a folder inside --out that leads outside
    doc = json.loads((out / "manifest.json").read_text())
    path = str(victim) if named == "{abs}" else named
    doc["artifacts"].append({"path": path, "sha256": "0" * 64, "zipped_bytes": 8, "kind": "function"})
    doc["outputs"] = [{"path": str(tmp_path / "elsewhere" / "victim.txt"), "in_place": False, "note": None}]
    (out / "manifest.json").write_text(json.dumps(doc))
    before = snapshot(tmp_path, "out", "engine-cache")

    code, _, err = lambda_run(project, out, capsys, "--max-size", "1")  # fails: the previous run is withdrawn

    one_clear_error(code, err, 4)
    assert snapshot(tmp_path, "out", "engine-cache") == before  # the victims and the project are untouched
    assert victim.read_text() == "keep me\n"
    assert "is outside the output folder" in err and "never touches anything there" in err
    assert not (out / "function.zip").exists() and not (out / "manifest.json").exists()


@pytest.mark.parametrize("text", ["not json at all", '{"version": 1, "artifacts": "x", "tool": "photon-bundle 0"}',
                                  '{"name": "my-web-app", "icons": []}', "\udcff"])
def test_a_foreign_or_corrupt_manifest_in_out_is_refused_and_kept(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "manifest.json").write_bytes(text.encode("utf-8", errors="surrogateescape"))
    before = snapshot(tmp_path, "engine-cache")
    code, _, err = lambda_run(project, out, capsys)
    one_clear_error(code, err, 2)
    assert "manifest.json is not a manifest photon-bundle wrote" in err and "pick another folder" in err
    assert snapshot(tmp_path, "engine-cache") == before


def test_corrupt_reuse_records_are_rebuilt_not_a_crash(project: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert lambda_run(project, out, capsys)[0] == 0
    (out / ".photon-bundle-state.json").write_text('{"version": 1, "key": 5, "files": [1, 2], "folders": {}}')
    (out / ".photon-bundle-hashes.json").write_text('{"version": 1, "files": {"/etc/passwd": 5, "x": [1]}}')
    code, _, err = lambda_run(project, out, capsys)
    assert code == 0, err
    (out / ".photon-bundle-state.json").write_bytes(b"\xff[[[")
    (out / ".photon-bundle-hashes.json").write_text("[" * 100)
    code, _, err = lambda_run(project, out, capsys)
    assert code == 0, err


def _run_capped(argv: list[str], tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess with a wall-clock cap and a 1 GiB address-space cap: a hang or a memory bomb
    fails the test instead of the machine."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "bundler", *argv], env=_subprocess_env(tmp_path), text=True,
                          capture_output=True, timeout=timeout, check=False, preexec_fn=limit)


@pytest.mark.parametrize("trap", ["dev-zero", "fifo", "outside"])
def test_records_in_out_are_never_read_through_links_or_fifos(project: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str], trap: str) -> None:
    out = tmp_path / "out"
    assert lambda_run(project, out, capsys)[0] == 0
    (tmp_path / "outside.json").write_text((out / "manifest.json").read_text())
    for name in ("manifest.json", ".photon-bundle-state.json", ".photon-bundle-hashes.json"):
        (out / name).unlink()
        if trap == "fifo":
            os.mkfifo(out / name)
        else:
            (out / name).symlink_to("/dev/zero" if trap == "dev-zero" else tmp_path / "outside.json")
    result = _run_capped(["lambda", str(project), "--out", str(out), "--offline"], tmp_path)
    one_clear_error(result.returncode, result.stderr, 2)
    reason = "not a regular file" if trap == "fifo" else "it is a symbolic link"
    assert f"manifest.json is not a manifest photon-bundle wrote ({reason})" in result.stderr
    (out / "manifest.json").unlink()  # the reuse records alone are a cache: ignored, the run rebuilds
    result = _run_capped(["lambda", str(project), "--out", str(out), "--offline"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "outside.json").is_file()


# ------------------------------------------------------------------------------ what --out may be


def test_out_over_app_code_is_refused_naming_the_files(project: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    code, _, err = lambda_run(project, project / "lib", capsys)
    one_clear_error(code, err, 2)
    assert "lib/util.js" in err and "would be left out of the bundle" in err and ".photon-bundle/lambda" in err
    assert tree_digest(project) == before


@pytest.mark.parametrize("out_rel", [".", ""])
def test_out_is_the_project_itself(project: Path, capsys: pytest.CaptureFixture[str], out_rel: str,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    before = tree_digest(project)
    code, _, err = run_cli(["lambda", ".", "--out", out_rel or str(project), "--offline"], capsys)
    one_clear_error(code, err, 2)
    assert "is the project folder itself" in err
    assert tree_digest(project) == before


def test_out_inside_the_project_is_fine_when_empty_or_ours(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = project / "dist-bundle"
    out.mkdir()
    assert lambda_run(project, out, capsys)[0] == 0
    code, _, err = lambda_run(project, out, capsys, "--force")  # now it holds our manifest and artifacts
    assert code == 0, err
    assert not any(n.startswith("dist-bundle/") for n in zip_names(out / "function.zip"))


def test_out_is_a_file(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.write_text("a file\n")
    code, _, err = lambda_run(project, out, capsys)
    one_clear_error(code, err, 9)
    assert f"{out} is a file, not a folder" in err
    assert out.read_text() == "a file\n"


# ------------------------------------------------------------------------------ write failures


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False,
                                                         capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_read_only_out_is_exit_8_naming_the_path(project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert lambda_run(project, out, capsys)[0] == 0
    with immutable(out):
        code, _, err = lambda_run(project, out, capsys, "--force")
    one_clear_error(code, err, 9)
    assert f"cannot write {out}" in err and "Operation not permitted" in err
    # the stale bundle could not be removed either: the message says so instead of claiming it was
    assert "could not remove the previous run's" in err and "do not deploy it" in err


def _subprocess_env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "engine-cache", tmp_path / "home", PYTHONDONTWRITEBYTECODE="1")


def test_file_too_large_efbig_withdraws_the_stale_bundle(project: Path, tmp_path: Path) -> None:
    """A real EFBIG: the run's file size limit (RLIMIT_FSIZE) is below the zip's size."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bundler", "lambda", str(project), "--out", str(out), "--offline"]
    env = _subprocess_env(tmp_path)
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=120, check=False).returncode == 0
    size = (out / "function.zip").stat().st_size

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (size // 2, size // 2))

    before = snapshot(tmp_path, "out", "engine-cache")
    result = subprocess.run([*cmd, "--force"], env=env, capture_output=True, text=True, timeout=120, check=False,
                            preexec_fn=limit)
    one_clear_error(result.returncode, result.stderr, 9)
    assert "File too large" in result.stderr and "ulimit -f" in result.stderr
    assert "the previous run's artifacts were removed" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == []  # no stale bundle, no temp file
    assert snapshot(tmp_path, "out", "engine-cache") == before


def test_disk_full_enospc_on_a_tiny_tmpfs(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "small"
    out.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(out)], check=False,
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert lambda_run(project, out, capsys)[0] == 0
        (project / "assets").mkdir()
        (project / "assets" / "big.bin").write_bytes(os.urandom(256 * 1024))  # incompressible, > 64k
        before = tree_digest(project)
        code, _, err = lambda_run(project, out, capsys)
        one_clear_error(code, err, 9)
        assert "No space left on device" in err and "free space" in err
        assert "the previous run's artifacts were removed" in err
        assert list(out.iterdir()) == []
        assert tree_digest(project) == before
    finally:
        subprocess.run(["umount", str(out)], check=False)


# ------------------------------------------------------------------------------ exit 2 or 3, never 1


def _edit_package(project: Path, **fields: object) -> None:
    data = json.loads((project / "package.json").read_text())
    data.update(fields)
    write_json(project / "package.json", data)


@pytest.mark.parametrize(("fields", "expected", "message"), [
    ({"engines": {"node": 20}}, 3, "engines.node must be a string"),
    ({"prisma": {"schema": 5}}, 3, "prisma.schema must be a string"),
])
def test_wrong_types_in_package_json(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     fields: dict[str, object], expected: int, message: str) -> None:
    _edit_package(project, **fields)
    code, _, err = lambda_run(project, tmp_path / "out", capsys)
    one_clear_error(code, err, expected)
    assert message in err


@pytest.mark.parametrize(("args", "message"), [
    (["--max-size", "9" * 400], "cannot read size"),
    (["--max-size", "9" * 40 + "gb"], "larger than any artifact"),
    (["--engine-source", "mirror", "--mirror", "http://[::1"], "is not an http(s):// or file:// URL"),
    (["--engine-source", "mirror", "--mirror", "http://127.0.0.1:99999999"], "is not an http(s)://"),
    (["--runtime", "x" * 100_000], "unknown AWS Lambda runtime"),
])
def test_bad_flag_values_are_exit_2_and_short(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              args: list[str], message: str) -> None:
    code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out"), *args], capsys)
    one_clear_error(code, err, 2)
    assert message in err
    assert len(err) < 4000  # a 100 KB value is not echoed in full


def test_config_file_not_utf8(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "photon-bundle.toml").write_bytes(b'runtime = "nodejs20.x\xff"\n')
    code, _, err = lambda_run(project, tmp_path / "out", capsys)
    one_clear_error(code, err, 2)
    assert "photon-bundle.toml: not UTF-8 text" in err


def test_file_name_not_utf8(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = os.fsencode(project / "lib") + b"/caf\xe9.js"
    with open(bad, "wb") as fh:  # noqa: PTH123 - a bytes path
        fh.write(b"module.exports = 1;\n")
    code, _, err = lambda_run(project, tmp_path / "out", capsys)
    one_clear_error(code, err, 3)
    assert "b'lib/caf\\xe9.js' is not UTF-8" in err and "--exclude" in err
    code, _, err = lambda_run(project, tmp_path / "out", capsys, "--exclude", "lib/caf*.js")
    assert code == 0, err


def test_gcf_refuses_an_invalid_package_lock(project: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (project / "package-lock.json").write_text('{"lockfileVersion": 3,\n  "packages": {,}\n}\n')
    code, _, err = run_cli(["gcf", str(project), "--out", str(tmp_path / "out"), "--offline",
                            "--runtime", "nodejs20"], capsys)
    one_clear_error(code, err, 3)
    assert "package-lock.json:2:" in err and "npm ci" in err


# ------------------------------------------------------------------------------ dependencies node loads


def test_package_json_with_bom_latin1_or_invalid_json_is_still_bundled(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nm = project / "node_modules"
    (project / "package.json").write_bytes(b"\xef\xbb\xbf" + (project / "package.json").read_bytes())
    (nm / "debug" / "package.json").write_bytes(b"\xef\xbb\xbf" + (nm / "debug" / "package.json").read_bytes())
    (nm / "ms" / "package.json").write_bytes(
        b'{"name": "ms", "version": "2.1.2", "description": "caf\xe9", "main": "index.js"}')
    (nm / "express-lite" / "package.json").write_text('{"name": "express-lite", "main": "index.js",}')
    out = tmp_path / "out"
    code, _, err = lambda_run(project, out, capsys, "--runtime", "nodejs20.x")
    assert code == 0, err
    names = zip_names(out / "function.zip")
    for rel in ("node_modules/debug/index.js", "node_modules/ms/index.js", "node_modules/express-lite/index.js"):
        assert rel in names
    assert err.count("warning:") == 1 and "express-lite/package.json:1:" in err and "invalid JSON" in err
    # node loads what it can: the BOM and Latin-1 packages load from the unpacked bundle
    task = tmp_path / "task"
    with zipfile.ZipFile(out / "function.zip") as zf:
        zf.extractall(task)
    result = subprocess.run(["node", "-e", "console.log(typeof require('debug'), require('ms'))"], cwd=task,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "function ms"  # debug is a factory, as the real package is


# ------------------------------------------------------------------------------ leaked build outputs


def test_other_tools_build_outputs_never_ship(project: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    sls = project / ".serverless"
    sls.mkdir()
    (sls / "cloudformation-template-update-stack.json").write_text('{"DbPassword": "hunter2"}')
    with zipfile.ZipFile(sls / "orders.zip", "w") as zf:
        zf.writestr(".env", "DATABASE_URL=postgresql://secret\n")
    for folder in (".esbuild/.build", ".webpack/service", "cdk.out", ".aws-sam/build", ".vercel/output",
                   ".next/cache", ".netlify/functions"):
        (project / folder).mkdir(parents=True)
        (project / folder / "leak.js").write_text("// built\n")
    (project / "terraform.tfstate").write_text('{"secret": "x"}')
    out = tmp_path / "out"
    code, stdout, err = lambda_run(project, out, capsys, "--json")
    assert code == 0, err
    names = zip_names(out / "function.zip")
    assert not [n for n in names if n.startswith((".serverless", ".esbuild", ".webpack", "cdk.out", ".aws-sam",
                                                  ".vercel", ".next", ".netlify")) or "tfstate" in n]
    reasons = json.loads(stdout)["pruned"]["by_reason"]
    assert reasons["excluded by default (another tool's build output or cache)"]["files"] == 9


# ------------------------------------------------------------------------------ signals and leftovers


def _wait_for(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def _slow_mirror_run(tmp_path: Path, elf_cache: Path, server: MirrorServer) -> tuple[subprocess.Popen[str], Path]:
    project = make_project(tmp_path / "slow-app", targets=("debian-openssl-3.0.x",), elf_cache=elf_cache,
                           engines_version=VERSION)
    publish_engine(tmp_path / "mirror", VERSION, "rhel-openssl-3.0.x", "library", os.urandom(3 << 20))
    server.throttle(0.05)  # 16 KiB every 50 ms: about 10 s for the engine
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bundler", "lambda", str(project), "--out", str(out), "--runtime", "nodejs20.x",
         "--mirror", server.base_url, "--engine-source", "mirror", "--no-verify"],
        env=_subprocess_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, project


def _parts(cache: Path) -> list[Path]:
    return list(cache.rglob("*.part"))


def test_sigterm_mid_download_is_exit_130_and_leaves_no_temp_files(tmp_path: Path, elf_cache: Path) -> None:
    cache = tmp_path / "engine-cache"
    with MirrorServer(tmp_path / "mirror") as server:
        proc, project = _slow_mirror_run(tmp_path, elf_cache, server)
        before = tree_digest(project)
        try:
            assert _wait_for(lambda: _parts(cache), 60), "the download never started"
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _parts(cache) == []
    assert not (tmp_path / "out").exists() or not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith(".tmp")]
    assert tree_digest(project) == before


def test_a_sigkilled_downloads_part_is_collected_by_the_next_run(tmp_path: Path, elf_cache: Path) -> None:
    cache = tmp_path / "engine-cache"
    with MirrorServer(tmp_path / "mirror") as server:
        proc, _ = _slow_mirror_run(tmp_path, elf_cache, server)
        try:
            assert _wait_for(lambda: _parts(cache), 60), "the download never started"
            proc.kill()
            proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert len(_parts(cache)) == 1  # SIGKILL cannot clean up
        server.throttle(0.0)
        result = subprocess.run(
            [sys.executable, "-m", "bundler", "engines", "fetch", "--target", "rhel-openssl-3.0.x",
             "--version", VERSION, "--kind", "library", "--mirror", server.base_url],
            env=_subprocess_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert _parts(cache) == []


def test_stale_temp_files_of_dead_runs_are_collected(project: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert lambda_run(project, out, capsys)[0] == 0
    dead = subprocess.Popen(["true"])
    dead.wait()
    (out / "functions").mkdir()
    stale = [out / f".function.zip.{dead.pid}.abcd1234.tmp", out / f".manifest.json.{dead.pid}.zz99yy88.tmp",
             out / "functions" / f".api.zip.{dead.pid}.q1w2e3r4.tmp"]
    old = out / f".function.zip.{os.getpid()}.old00000.tmp"  # a live pid, but a day old: pids are reused
    running = out / f".function.zip.{os.getpid()}.live0000.tmp"  # a live run's file
    users = out / "notes.tmp"
    for path in [*stale, old, running, users]:
        path.write_bytes(b"half")
    os.utime(old, (time.time() - 2 * 86400, time.time() - 2 * 86400))
    code, _, err = lambda_run(project, out, capsys, "--force")
    assert code == 0, err
    assert not any(p.exists() for p in [*stale, old])
    assert running.exists() and users.exists()
