"""File-tree helpers that do not recurse, so a deep tree (a 1,200-level folder chain) cannot hit Python's
recursion limit: `os.makedirs`, `shutil.rmtree` and `zipfile.extract` all recurse once per level."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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


def extract_zip(zip_path: Path, dest: Path, workers: int | None = None) -> None:
    """Unpack a zip with the Unix modes it stores (an engine's exec bit matters), without recursion. Entries
    that would land outside `dest` (absolute, `..`) are refused, as unzip does.

    Folders are made first, then the files are unpacked by `workers` threads (all cores), each with its own
    handle on the zip: inflating and writing release the GIL, and a bundle of 14,000 small files is mostly
    per-file work that one thread would do alone."""
    root = os.path.realpath(dest)
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    folders: set[str] = set()
    files: list[tuple[zipfile.ZipInfo, str]] = []
    for info in infos:
        target = os.path.normpath(os.path.join(root, info.filename))  # noqa: PTH118 - strings, many of them
        if not target.startswith(root + os.sep):
            raise ValueError(f"{zip_path}: entry {info.filename!r} lands outside the folder it is unpacked to")
        if info.is_dir():
            folders.add(target)
        else:
            folders.add(os.path.dirname(target))  # noqa: PTH120
            files.append((info, target))
    for folder in sorted(folders):  # a parent sorts before its children
        make_dirs(Path(folder))
    workers = max(1, min(workers or os.cpu_count() or 1, len(files) // 64 or 1))
    if len({target for _info, target in files}) != len(files):
        workers = 1  # a name twice: the last one wins, as when unpacked in order
    share = -(-len(files) // workers)
    parts = [files[i:i + share] for i in range(0, len(files), share)]
    if len(parts) <= 1:
        for part in parts:
            _extract_files(zip_path, part)
        return
    with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="unzip") as pool:
        for future in [pool.submit(_extract_files, zip_path, part) for part in parts]:
            future.result()


_WHOLE_MAX = 16 << 20  # entries up to this size are read in one call; larger ones are copied in chunks


def _extract_files(zip_path: Path, files: list[tuple[zipfile.ZipInfo, str]]) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    with zipfile.ZipFile(zip_path) as zf:
        for info, target in files:
            fd = os.open(target, flags, 0o666)  # as open("wb"): the umask applies when the zip stores no mode
            try:
                with os.fdopen(fd, "wb", closefd=False) as out:
                    if info.file_size <= _WHOLE_MAX:
                        out.write(zf.read(info))
                    else:
                        with zf.open(info) as src:
                            shutil.copyfileobj(src, out, 1 << 20)
                mode = info.external_attr >> 16 & 0o777
                if mode:
                    os.fchmod(fd, stat.S_IMODE(mode))
            finally:
                os.close(fd)
