"""The artifact readers: a zip or an unpacked folder, listed and read with bounds. The only part of verify that
touches the file system."""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from bundler.errors import ProjectError
from bundler.limits import format_size

# The largest native file verify reads (an engine is 15-60 MB; the biggest native files deployed on
# these platforms are a few hundred MB). A bigger entry is an error "too large to inspect", never read.
MAX_NATIVE_BYTES = 512 * 1024 * 1024


MAX_LINK_BYTES = 4096  # a symbolic link's target stored in a zip


_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class _Entry:
    path: str
    size: int
    mode: int | None  # permission bits; None when the zip stores no Unix mode
    symlink: bool = False


class _Artifact(Protocol):
    zip_bytes: int | None

    def entries(self) -> list[_Entry]: ...

    def read(self, entry: _Entry, limit: int | None = None) -> bytes: ...

    def native(self, entry: _Entry) -> IO[bytes]: ...


class _ZipArtifact:
    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise ProjectError(
                f"cannot read {path} as a zip file: {err}",
                hint="give a deployment zip or an unpacked directory",
            ) from None
        self.zip_bytes: int | None = path.stat().st_size

    def close(self) -> None:
        self._zip.close()

    def entries(self) -> list[_Entry]:
        out: list[_Entry] = []
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            unix = info.external_attr >> 16
            mode = stat.S_IMODE(unix) if (unix or info.create_system == 3) else None
            out.append(_Entry(info.filename, info.file_size, mode, symlink=stat.S_ISLNK(unix)))
        return out

    def read(self, entry: _Entry, limit: int | None = None) -> bytes:
        with self._zip.open(entry.path) as fh:
            return fh.read() if limit is None else fh.read(limit)

    def native(self, entry: _Entry) -> IO[bytes]:
        """The entry unpacked into an anonymous temp file (pyelftools seeks back and forth; a deflated zip
        entry can only be read forwards), at most MAX_NATIVE_BYTES of it, never the whole entry in memory."""
        spill = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, who closes it
        try:
            with self._zip.open(entry.path) as fh:
                copied = 0
                while chunk := fh.read(_COPY_CHUNK):
                    copied += len(chunk)
                    if copied > MAX_NATIVE_BYTES:
                        raise ValueError(f"unpacks to more than {format_size(MAX_NATIVE_BYTES)}, "
                                         "more than verify reads of one native file")
                    spill.write(chunk)
            spill.seek(0)
        except BaseException:
            spill.close()
            raise
        return spill


class _DirArtifact:
    def __init__(self, path: Path) -> None:
        self.root = path
        self.zip_bytes: int | None = None

    def close(self) -> None:
        pass

    def entries(self) -> list[_Entry]:
        out: list[_Entry] = []
        pending = [""]  # folders still to list, relative to the root (iterative: any depth)
        while pending:
            prefix = pending.pop()
            folder = self.root / prefix if prefix else self.root
            try:
                with os.scandir(folder) as listing:
                    items = sorted(listing, key=lambda e: e.name)
            except OSError as err:
                raise ProjectError(f"cannot read folder {folder}: {err.strerror}",
                                   hint="make it readable, or verify the zip instead") from None
            for item in items:
                rel = prefix + item.name
                if item.is_dir(follow_symlinks=False):
                    pending.append(rel + "/")
                    continue
                try:
                    st = item.stat()
                except OSError:  # dangling symlink
                    out.append(_Entry(rel, 0, None, symlink=True))
                    continue
                if stat.S_ISREG(st.st_mode):  # a symbolic link to a file counts as that file
                    out.append(_Entry(rel, st.st_size, stat.S_IMODE(st.st_mode)))
        return out

    def read(self, entry: _Entry, limit: int | None = None) -> bytes:
        with (self.root / entry.path).open("rb") as fh:
            return fh.read() if limit is None else fh.read(limit)

    def native(self, entry: _Entry) -> IO[bytes]:
        return (self.root / entry.path).open("rb")  # a regular file (entries() keeps no others): seekable


def _open_artifact(path: Path) -> _ZipArtifact | _DirArtifact:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ProjectError(f"{path} does not exist", hint="give a deployment zip or an unpacked directory") from None
    except OSError as err:
        raise ProjectError(f"cannot read {path}: {err.strerror}",
                           hint="give a deployment zip or an unpacked directory") from None
    if stat.S_ISDIR(st.st_mode):
        return _DirArtifact(path)
    if not stat.S_ISREG(st.st_mode):
        raise ProjectError(f"{path} is not a regular file but {_file_kind(st.st_mode)}",
                           hint="give a deployment zip or an unpacked directory")
    return _ZipArtifact(path)


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def unzipped_size(path: Path) -> int:
    """Bytes a zip or directory takes once extracted (e.g. a layer deployed with a function)."""
    artifact = _open_artifact(path)
    try:
        return sum(e.size for e in artifact.entries())
    finally:
        artifact.close()


_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError)
