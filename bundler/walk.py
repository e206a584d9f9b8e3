"""Walk a project tree once: every regular file with its mode, size and mtime, symlinks followed.

A symlink whose target leaves the project root, a dangling link, a link loop (a link that resolves to
itself), a directory link back to one of its own ancestors (a cycle) and a folder that cannot be listed
are *problems*. By default the first one is an error naming it. A caller that passes a `problems` list
gets them collected instead and the walk goes on: it then decides whether a problem path matters (a
file the bundle needs) or not (a dangling link in node_modules/.bin, an unreadable folder inside a
devDependency), see bundler/problems.py. `skip_dir` lets the caller prune folders (the output folder,
.git) before they are entered, and `skip_link` lets it ignore links the user excluded, so neither can
cause a problem.

The walk is iterative (a 1,200-level folder chain is no recursion error) and bounded: it stops with an
error after MAX_WALK_ENTRIES directory entries, counting each path a symlink reaches (a folder reached
through many link paths is walked once per path, so a fan-out of links without a cycle could otherwise
take exponential time).

Each file and folder keeps the stat facts that change whenever it does (mode, size, mtime, ctime,
inode), taken while walking, so a later run can tell with one stat per path that nothing was added,
removed or written since (bundler/reuse.py).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from bundler.errors import ProjectError

MAX_WALK_ENTRIES = 1_000_000  # files, folders and links walked, each path a link reaches counted again


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


class WalkProblem(NamedTuple):
    """A path the walk could not follow. `rel` ends in '/' for a folder that could not be listed.

    kind: "outside" (a link leaving the project), "broken" (a dangling link), "loop" (a link resolving to
    itself), "cycle" (a folder link to its own ancestor), "unreadable" (a folder that cannot be listed)."""

    rel: str
    kind: str
    message: str
    hint: str

    def error(self) -> ProjectError:
        return ProjectError(self.message, hint=self.hint)


def _never(rel: str) -> bool:
    return False


def walk_tree(root: Path, skip_dir: Callable[[str], bool] = _never,
              skip_link: Callable[[str], bool] = _never, folders: list[FolderEntry] | None = None,
              problems: list[WalkProblem] | None = None, max_entries: int = MAX_WALK_ENTRIES, *,
              rel_prefix: str = "", resolved: bool = False) -> list[FileEntry]:
    """All files below root, sorted by relative path. Folder paths passed to the callbacks end in '/'.

    `rel_prefix` is put before every FileEntry.rel (not before the paths the callbacks and problems see): a
    caller that names the files by another place (bundler/layout.py) gets them named so in the same pass.
    `resolved` says root is already a real path (no symlink on the way), which spares resolving it.

    `folders`, when given, receives every folder that was listed, with its stat facts taken before listing.
    `problems`, when given, receives every path that could not be followed (see WalkProblem) and the walk
    goes on without it; without it the first problem raises its ProjectError. The root itself must be
    readable either way. More than `max_entries` entries walked is a ProjectError."""
    real_root = str(root) if resolved else str(root.resolve())
    out: list[FileEntry] = []
    found = problems if problems is not None else _Raising()
    walked = 0
    # a folder reached again through another link path is listed once, each link resolved once
    listed: set[str] = set()
    listings: dict[str, list[os.DirEntry[str]]] = {}
    followed: dict[str, tuple[str, os.stat_result] | WalkProblem] = {}
    # (rel prefix, real folder, real folders on the way down): depth-first, in listing order
    stack: list[tuple[str, str, tuple[str, ...]]] = [("", real_root, (real_root,))]
    while stack:
        prefix, directory, ancestors = stack.pop()
        try:
            if folders is not None:
                st = os.stat(directory)  # noqa: PTH116 - strings, not Path objects, on this hot path
                folders.append(FolderEntry(directory, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
            entries = listings.get(directory) if directory in listed else None
            if entries is None:
                with os.scandir(directory) as listing:
                    entries = list(listing)
                if directory in listed:
                    listings[directory] = entries
                listed.add(directory)
        except OSError as err:
            if not prefix:
                raise ProjectError(f"cannot read folder {directory}: {err.strerror}") from None
            found.append(WalkProblem(prefix, "unreadable", f"cannot read folder {prefix} ({directory}): {err.strerror}",
                                     "make it readable (chmod) or exclude it (--exclude)"))
            continue
        walked += len(entries)
        if walked > max_entries:
            raise ProjectError(
                f"the project tree has more than {max_entries:,} files and folders below {real_root} (counting "
                f"each path a symbolic link reaches; stopped in {_shorten(prefix or './')})",
                hint="exclude large or generated folders (--exclude), or remove symbolic links that reach the same "
                     "folders many times")
        stack.extend(reversed(_entries(entries, prefix, ancestors, real_root, (skip_dir, skip_link), out, found,
                                       followed, rel_prefix)))
    out.sort(key=lambda e: e.rel)
    return out


def _entries(entries: list[os.DirEntry[str]], prefix: str, ancestors: tuple[str, ...], real_root: str,
             skips: tuple[Callable[[str], bool], Callable[[str], bool]], out: list[FileEntry],
             found: list[WalkProblem], followed: dict[str, tuple[str, os.stat_result] | WalkProblem],
             named: str = "") -> list[tuple[str, str, tuple[str, ...]]]:
    """Files of one listed folder go to `out`, problems to `found`; returns the folders to walk next."""
    skip_dir, skip_link = skips
    subfolders: list[tuple[str, str, tuple[str, ...]]] = []
    for entry in entries:
        rel = f"{prefix}{entry.name}"
        if entry.is_symlink():
            if skip_link(rel) or skip_link(rel + "/"):
                continue
            link = followed.get(entry.path)
            if link is None or isinstance(link, WalkProblem):
                link = followed[entry.path] = _follow(entry.path, rel, real_root)
            if isinstance(link, WalkProblem):
                found.append(link)
                continue
            target, st = link
            if stat.S_ISDIR(st.st_mode):
                if skip_dir(rel + "/"):
                    continue
                if target in ancestors:
                    found.append(WalkProblem(
                        rel, "cycle", f"symlink cycle: {rel} points back to its own parent folder {target}",
                        "remove the link or exclude it (--exclude)"))
                    continue
                subfolders.append((rel + "/", target, (*ancestors, target)))
            elif stat.S_ISREG(st.st_mode):
                out.append(FileEntry(named + rel, target, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                     st.st_ino))
            continue
        if entry.is_dir(follow_symlinks=False):
            if skip_dir(rel + "/"):
                continue
            subfolders.append((rel + "/", entry.path, (*ancestors, entry.path)))
        elif entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            out.append(FileEntry(named + rel, entry.path, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                 st.st_ino))
    return subfolders


def _follow(link: str, rel: str, real_root: str) -> tuple[str, os.stat_result] | WalkProblem:
    """(real target, its stat) of a symlink inside the project, or the problem with it."""
    target = os.path.realpath(link)
    try:
        st = os.stat(link)  # noqa: PTH116 - follows the whole chain of links
    except OSError as err:
        if err.errno == errno.ELOOP:
            return WalkProblem(rel, "loop", f"symlink {rel} is a loop: following it ({rel} -> {Path(link).readlink()} "
                                            "-> ...) leads back to itself, never to a file or folder",
                               "remove the link or exclude it (--exclude)")
        if not _inside(target, real_root):
            return _outside(rel, target)
        if err.errno == errno.ENOENT:
            return WalkProblem(rel, "broken", f"symlink {rel} is broken (points to {target}, which does not exist)",
                               "remove it or exclude it (--exclude)")
        return WalkProblem(rel, "broken", f"symlink {rel} points to {target}, which cannot be read: {err.strerror}",
                           "remove it or exclude it (--exclude)")
    if not _inside(target, real_root):
        return _outside(rel, target)
    return target, st


def _shorten(rel: str, width: int = 160) -> str:
    return rel if len(rel) <= width else rel[:width // 2] + "..." + rel[-width // 2:]


def _outside(rel: str, target: str) -> WalkProblem:
    return WalkProblem(rel, "outside", f"symlink {rel} points outside the project to {target}",
                       "copy the target into the project, or exclude the link (--exclude)")


class _Raising(list[WalkProblem]):
    """A problems list that raises the first problem (walk_tree without a `problems` list)."""

    def append(self, problem: WalkProblem) -> None:
        raise problem.error()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
