"""The quick no-op check's tree digest: the same whether the paths are statted in one process or in two halves
(the second in a forked child, bundler/offload.py), and any change in either half shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bundler import reuse

REPO = Path(__file__).resolve().parents[2]


def make_tree(root: Path, count: int) -> tuple[list[str], list[str]]:
    files: list[str] = []
    folders: list[str] = []
    for d in range(count // 10):
        folder = root / f"pkg{d}"
        folder.mkdir(parents=True)
        folders.append(str(folder))
        for n in range(10):
            path = folder / f"f{n}.js"
            path.write_text(f"module.exports = {d * 10 + n};\n")
            files.append(str(path))
    return files, folders


def recorded(files: list[str], folders: list[str]) -> str:
    """The digest as a run records it (bundler/reuse.py tree_text), from its walk's stat facts."""
    file_lines = [reuse._file_line(p, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                  for p in files for st in (Path(p).stat(),)]
    folder_lines = [reuse._folder_line(p, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                    for p in folders for st in (Path(p).stat(),)]
    return reuse._digest(file_lines, folder_lines)


def current_forked(files: list[str], folders: list[str]) -> str | None:
    """_current_digest in a fresh single-threaded interpreter with the split forced on (so the child really runs)."""
    script = ("import json, sys\nfrom bundler import reuse\nreuse.STAT_SPLIT_MIN = 0\n"
              "files, folders = json.load(sys.stdin)\nprint(json.dumps(reuse._current_digest(files, folders)))\n")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps([files, folders]), capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True)
    result: str | None = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("where", ["first half", "second half"])
def test_split_and_serial_checks_agree_and_see_a_change_in_either_half(tmp_path: Path, where: str) -> None:
    files, folders = make_tree(tmp_path / "tree", 200)
    digest = recorded(files, folders)
    assert reuse._current_digest(files, folders) == digest  # serial (below STAT_SPLIT_MIN)
    assert current_forked(files, folders) == digest
    changed = Path(files[10] if where == "first half" else files[-10])
    changed.write_text(changed.read_text())  # same bytes: the ctime tells
    assert reuse._current_digest(files, folders) != digest
    assert current_forked(files, folders) not in (digest, None)
    assert current_forked(files, folders) == recorded(files, folders)


def test_a_path_gone_in_either_half_means_no_digest(tmp_path: Path) -> None:
    files, folders = make_tree(tmp_path / "tree", 100)
    Path(files[-1]).unlink()
    assert reuse._current_digest(files, folders) is None
    assert current_forked(files, folders) is None
    files, folders = make_tree(tmp_path / "other", 100)
    Path(files[0]).unlink()
    assert current_forked(files, folders) is None
