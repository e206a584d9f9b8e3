"""Walk a project tree once: every regular file with its mode, size and mtime, symlinks followed.

A symlink whose target leaves the project root is an error naming it; a directory link back to one of
its own ancestors is a cycle, also an error. `skip_dir` lets the caller prune folders (the output
folder, .git) before they are entered, and `skip_link` lets it ignore links the user excluded, so
neither can cause either error.

Each file and folder keeps the stat facts that change whenever it does (mode, size, mtime, ctime,
inode), taken while walking, so a later run can tell with one stat per path that nothing was added,
removed or written since (bundler/reuse.py).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from bundler.errors import ProjectError


class FileEntry(NamedTuple):
    """A file of the tree. A named tuple (not a dataclass) and a string path: the walk makes one per file,
    so what it costs to build one counts (tens of thousands in a node_modules)."""

    rel: str  # POSIX path relative to the root, as seen through links
    fspath: str  # where the bytes are (the real file)
    mode: int  # st_mode permission bits
    size: int
    mtime_ns: int
    ctime_ns: int = 0
    ino: int = 0

    @property
    def path(self) -> Path:
        return Path(self.fspath)


class FolderEntry(NamedTuple):
    path: str  # the real folder that was listed
    mtime_ns: int
    ctime_ns: int
    ino: int


def _never(rel: str) -> bool:
    return False


def walk_tree(root: Path, skip_dir: Callable[[str], bool] = _never,
              skip_link: Callable[[str], bool] = _never, folders: list[FolderEntry] | None = None) -> list[FileEntry]:
    """All files below root, sorted by relative path. Folder paths passed to the callbacks end in '/'.

    `folders`, when given, receives every folder that was listed, with its stat facts taken before listing."""
    real_root = str(root.resolve())
    out: list[FileEntry] = []
    _walk(real_root, "", real_root, (real_root,), (skip_dir, skip_link), out, folders)
    out.sort(key=lambda e: e.rel)
    return out


def _walk(
    real_root: str,
    prefix: str,
    directory: str,
    ancestors: tuple[str, ...],
    skips: tuple[Callable[[str], bool], Callable[[str], bool]],
    out: list[FileEntry],
    folders: list[FolderEntry] | None,
) -> None:
    skip_dir, skip_link = skips
    try:
        if folders is not None:
            st = os.stat(directory)  # noqa: PTH116 - strings, not Path objects, on this hot path
            folders.append(FolderEntry(directory, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        entries = list(os.scandir(directory))
    except OSError as err:
        raise ProjectError(f"cannot read folder {directory}: {err.strerror}") from None
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_symlink():
            if skip_link(rel) or skip_link(rel + "/"):
                continue
            target = os.path.realpath(entry.path)
            if not _inside(target, real_root):
                raise ProjectError(
                    f"symlink {rel} points outside the project to {target}",
                    hint="copy the target into the project, or exclude the link (--exclude)",
                )
            try:
                st = os.stat(target)  # noqa: PTH116
            except OSError:
                raise ProjectError(f"symlink {rel} is broken (points to {target})",
                                   hint="remove it or exclude it (--exclude)") from None
            if stat.S_ISDIR(st.st_mode):
                if skip_dir(rel + "/"):
                    continue
                if target in ancestors:
                    raise ProjectError(
                        f"symlink cycle: {rel} points back to its own parent folder {target}",
                        hint="remove the link or exclude it (--exclude)",
                    )
                _walk(real_root, rel + "/", target, (*ancestors, target), skips, out, folders)
            elif stat.S_ISREG(st.st_mode):
                out.append(FileEntry(rel, target, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
            continue
        if entry.is_dir(follow_symlinks=False):
            if skip_dir(rel + "/"):
                continue
            _walk(real_root, rel + "/", entry.path, (*ancestors, entry.path), skips, out, folders)
        elif entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            out.append(FileEntry(rel, entry.path, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
