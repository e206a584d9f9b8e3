"""File-tree helpers that do not recurse, so a deep tree (a 1,200-level folder chain) cannot hit Python's
recursion limit: `os.makedirs`, `shutil.rmtree` and `zipfile.extract` all recurse once per level."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def make_dirs(path: Path) -> None:
    """mkdir -p, one level at a time."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)  # noqa: PTH102 - one level: Path.mkdir(parents=True) recurses
        except FileExistsError:
            continue


def remove_tree(path: Path) -> None:
    """rm -rf without recursion: files first, then folders deepest first; links are removed, never followed."""
    if not path.is_dir() or path.is_symlink():
        path.unlink(missing_ok=True)
        return
    folders: list[str] = []
    stack = [str(path)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)  # noqa: PTH108 - strings, many of them
    for folder in reversed(folders):
        os.rmdir(folder)  # noqa: PTH106


@contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """tempfile.TemporaryDirectory, removed without recursion."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        try:
            remove_tree(folder)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)


def extract_zip(zip_path: Path, dest: Path) -> None:
    """Unpack a zip with the Unix modes it stores (an engine's exec bit matters), without recursion. Entries
    that would land outside `dest` (absolute, `..`) are refused, as unzip does."""
    root = os.path.realpath(dest)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = Path(os.path.normpath(os.path.join(root, info.filename)))  # noqa: PTH118
            if not str(target).startswith(root + os.sep):
                raise ValueError(f"{zip_path}: entry {info.filename!r} lands outside the folder it is unpacked to")
            if info.is_dir():
                make_dirs(target)
                continue
            make_dirs(target.parent)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            mode = info.external_attr >> 16 & 0o777
            if mode:
                target.chmod(stat.S_IMODE(mode))
