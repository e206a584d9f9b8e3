"""No-op rebuilds: the previous artifacts are reused when nothing they depend on changed, and only then."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.cli import cli
from bundler.cli.common import run_guarded
from bundler.options import resolve
from bundler.reuse import HASHES_NAME, STATE_NAME, quick_reuse
from platforms import adapter
from tests.projects import make_project

TARGETS = ("rhel-openssl-3.0.x", "debian-openssl-3.0.x")


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTON_BUNDLE_CACHE", str(tmp_path / "engine-cache"))
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)


def bundle(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    code = run_guarded(cli, ["lambda", str(project), "--out", str(out), "--json", "--offline", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc: dict[str, Any] = json.loads(captured.out)
    return doc


def quick(project: Path, out: Path) -> dict[str, Any] | None:
    """What the command's first, stat-only check says (before any walk or plan)."""
    env = dict(os.environ)
    options = resolve("lambda", {}, env, {"out": str(out), "offline": True}, adapter("lambda").extras)
    return quick_reuse("lambda", project, out, options, env)


def zip_state(out: Path) -> tuple[int, bytes]:
    path = out / "function.zip"
    return path.stat().st_mtime_ns, path.read_bytes()


def test_unchanged_tree_is_reused_by_the_quick_check(project: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    first = bundle(project, out, capsys)
    assert first["reused"] is False and first["inputs_fingerprint"]
    assert (out / STATE_NAME).is_file() and (out / HASHES_NAME).is_file()
    before = zip_state(out)
    assert quick(project, out) is not None
    again = bundle(project, out, capsys)
    assert again["reused"] is True
    assert again["artifacts"] == first["artifacts"] and again["inputs_fingerprint"] == first["inputs_fingerprint"]
    assert zip_state(out) == before


def test_touch_without_change_is_reused_by_the_content_check(project: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys)
    before = zip_state(out)
    handler = project / "handler.js"
    os.utime(handler, ns=(handler.stat().st_atime_ns, handler.stat().st_mtime_ns + 5_000_000_000))
    assert quick(project, out) is None  # the stat facts changed ...
    assert bundle(project, out, capsys)["reused"] is True  # ... the contents did not
    assert zip_state(out) == before
    assert quick(project, out) is not None  # the record was refreshed: the next run is quick again


def test_content_change_with_the_same_size_and_mtime_is_rebuilt(project: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys)
    util = project / "lib" / "util.js"
    st = util.stat()
    util.write_text(util.read_text().replace("42", "43"))
    os.utime(util, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, mtime put back: only the ctime tells
    assert util.stat().st_size == st.st_size
    assert quick(project, out) is None
    doc = bundle(project, out, capsys)
    assert doc["reused"] is False
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert b"43" in zf.read("lib/util.js")


def test_changes_that_do_and_do_not_matter(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys)
    # a devDependency's file is not in the bundle and cannot change it: the quick check does not even look
    (project / "node_modules" / "jest-lite" / "index.js").write_text("module.exports = 'changed';\n")
    assert quick(project, out) is not None
    assert bundle(project, out, capsys)["reused"] is True
    # a package.json is read for the dependency closure: the quick check looks, the contents decide
    pkg = project / "node_modules" / "jest-lite" / "package.json"
    text = pkg.read_text()
    assert '"29.0.0"' in text
    pkg.write_text(text.replace('"29.0.0"', '"29.0.1"'))
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is True
    # a new file in a dev package's folder changes the folder
    (project / "node_modules" / "jest-lite" / "extra.js").write_text("1;\n")
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is True
    # a new app file is: rebuilt with it
    (project / "lib" / "new.js").write_text("module.exports = 1;\n")
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is False
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert "lib/new.js" in zf.namelist()
    # a removed file: rebuilt without it
    (project / "lib" / "new.js").unlink()
    assert bundle(project, out, capsys)["reused"] is False
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert "lib/new.js" not in zf.namelist()


def test_damaged_or_missing_artifact_is_rebuilt(project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    first = bundle(project, out, capsys)
    good = (out / "function.zip").read_bytes()
    damaged = bytearray(good)
    damaged[100] ^= 0xFF  # same size, other bytes
    (out / "function.zip").write_bytes(bytes(damaged))
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is False
    assert (out / "function.zip").read_bytes() == good
    (out / "function.zip").unlink()
    again = bundle(project, out, capsys)
    assert again["reused"] is False and again["artifacts"] == first["artifacts"]


def test_options_environment_and_force_rebuild(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys)
    assert bundle(project, out, capsys, "--force")["reused"] is False
    assert bundle(project, out, capsys, "--exclude", "lib/**")["reused"] is False
    assert bundle(project, out, capsys)["reused"] is False  # back to the default options: rebuilt again
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is False
    assert bundle(project, out, capsys)["reused"] is True


def test_a_copy_of_the_project_with_the_same_contents_reuses(project: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """What a CI job sees when it restores the output folder beside a fresh checkout."""
    out = tmp_path / "out"
    first = bundle(project, out, capsys)
    copy = tmp_path / "checkout"
    shutil.copytree(project, copy, symlinks=True)  # new paths, inodes, ctimes and mtimes
    assert quick(copy, out) is None
    again = bundle(copy, out, capsys)
    assert again["reused"] is True and again["artifacts"] == first["artifacts"]
    (copy / "handler.js").write_text("exports.handler = async () => 1;\n")
    assert bundle(copy, out, capsys)["reused"] is False


def test_a_damaged_state_file_only_costs_the_quick_check(project: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bundle(project, out, capsys)
    (out / STATE_NAME).write_text("{not json")
    (out / HASHES_NAME).write_text('{"version": 1, "files": {"x": [1]}}')
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is True
    assert quick(project, out) is not None


def test_the_quick_check_vouches_for_the_artifacts_by_their_stat_facts(project: Path, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The artifacts are not hashed again by the quick check: their own stat facts, recorded once they were
    in place, are part of the tree state; any write or replacement changes them."""
    out = tmp_path / "out"
    bundle(project, out, capsys)
    import bundler.reuse

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"the quick check hashed {path}")

    with monkeypatch.context() as patched:
        patched.setattr(bundler.reuse, "sha256_file", no_hashing)
        assert quick(project, out) is not None
    # the same bytes written back, mtime restored: the ctime tells, and the content check then reuses
    artifact = out / "function.zip"
    st = artifact.stat()
    artifact.write_bytes(artifact.read_bytes())
    os.utime(artifact, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert quick(project, out) is None
    assert bundle(project, out, capsys)["reused"] is True
    assert quick(project, out) is not None
    # the output folder restored elsewhere (a CI cache): other inodes, so the content check decides
    moved = tmp_path / "restored"
    shutil.copytree(out, moved)
    assert quick(project, moved) is None
    assert bundle(project, moved, capsys)["reused"] is True
    assert quick(project, moved) is not None
