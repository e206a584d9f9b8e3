"""The `FileTree`: an abstract view of a root file system (a folder on disk, `DirTree`; or an image's files,
`bundler.dockerio.ImageTree`), with links resolved inside the tree, never on the host."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

NodeKind = Literal["file", "dir", "link", "other"]


Probe = Callable[[], "str | None"]


_MAX_LINKS = 40


@dataclass(frozen=True)
class Node:
    """What `lstat` says about one path in a tree. `target` is the link text for a symbolic link."""

    kind: NodeKind
    target: str = ""


class FileTree(Protocol):
    """A read-only root file system. Paths are absolute and POSIX; the resolver in this module guarantees
    that no component before the last one is a symbolic link when these methods are called."""

    def lstat(self, path: str) -> Node | None: ...

    def listdir(self, path: str) -> list[str] | None: ...

    def read_bytes(self, path: str, limit: int) -> bytes | None: ...


class DirTree:
    """A root file system that is a directory on this machine (`/` for the host)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _host(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))  # noqa: PTH118 - plain string join on purpose

    def lstat(self, path: str) -> Node | None:
        try:
            st = os.lstat(self._host(path))
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return Node("link", str(Path(self._host(path)).readlink()))
        if stat.S_ISDIR(st.st_mode):
            return Node("dir")
        return Node("file" if stat.S_ISREG(st.st_mode) else "other")

    def listdir(self, path: str) -> list[str] | None:
        try:
            return [entry.name for entry in Path(self._host(path)).iterdir()]
        except OSError:
            return None

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            with open(self._host(path), "rb") as fh:  # noqa: PTH123 - path is a str built above
                return fh.read(limit)
        except OSError:
            return None

    def __repr__(self) -> str:
        return f"DirTree({str(self.root)!r})"


def resolve(tree: FileTree, path: str) -> str | None:
    """The path with every symbolic link resolved inside `tree` (absolute targets are relative to its root),
    or None when it does not exist or the links loop."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/" + "/".join([*done, part])
        node = tree.lstat(current)
        if node is None:
            return None
        if node.kind == "link":
            hops += 1
            if hops > _MAX_LINKS:
                return None
            if node.target.startswith("/"):
                done = []
            pending = [p for p in node.target.split("/") if p not in ("", ".")] + pending
            continue
        if pending and node.kind != "dir":
            return None
        done.append(part)
    return "/" + "/".join(done)


def read_text(tree: FileTree, path: str, limit: int = 1 << 20) -> str | None:
    real = resolve(tree, path)
    if real is None or tree.lstat(real) != Node("file"):
        return None
    data = tree.read_bytes(real, limit)
    return None if data is None else data.decode("utf-8", "replace")


def list_dir(tree: FileTree, path: str) -> list[str] | None:
    real = resolve(tree, path)
    if real is None or tree.lstat(real) != Node("dir"):
        return None
    return tree.listdir(real)
