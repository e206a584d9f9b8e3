"""bundler/fstree.py: deep trees made, unpacked and removed without recursion."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from bundler.fstree import extract_zip, make_dirs, remove_tree, temporary_folder

DEPTH = 1500  # deeper than Python's default recursion limit (1000)


def test_make_dirs_extract_and_remove_a_deep_chain(tmp_path: Path) -> None:
    deep = tmp_path.joinpath("src", *["d"] * DEPTH)
    make_dirs(deep)
    assert deep.is_dir()
    archive = tmp_path / "a.zip"
    name = "/".join(["d"] * DEPTH) + "/engine"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100755 << 16
        zf.writestr(info, b"x")
    with temporary_folder("fstree-test-") as tmp:
        extract_zip(archive, tmp)
        target = tmp / name
        assert target.read_bytes() == b"x" and os.access(target, os.X_OK)
        kept = tmp
    assert not kept.exists()
    remove_tree(tmp_path / "src")
    assert not (tmp_path / "src").exists()


def test_extract_refuses_entries_outside_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", b"x")
    with pytest.raises(ValueError, match="lands outside"):
        extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
