"""Copying trees into a container (a tar stream, never a bind mount) and out of it (extracted safely: no
absolute paths, no `..`, no links leaving the tree)."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from bundler.dockerio.daemon import _fail
from bundler.errors import DockerError


def put_directory(
    box: Any,
    source: Path,
    destination: str,
    *,
    skip: Callable[[PurePosixPath, bool], bool] = lambda _path, _is_dir: False,
) -> int:
    """Copy the tree at `source` into the container at `destination` (created with its parents) as a tar
    stream. `skip(relative_path, is_dir)` leaves entries out. Files keep their modes; owners become root.
    Returns the number of entries copied."""
    dest = PurePosixPath(destination)
    if not dest.is_absolute():
        raise ValueError("destination must be absolute")
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        count = 0
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            parents = [PurePosixPath(*dest.parts[1 : i + 1]) for i in range(1, len(dest.parts))]
            for parent in parents:
                info = tarfile.TarInfo(str(parent))
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(_owned_by_root(info))
            for path, relative in _walk(source, skip):
                info = tar.gettarinfo(str(path), arcname=str(PurePosixPath(dest.relative_to("/"), relative)))
                if not (info.isfile() or info.isdir() or info.issym()):
                    continue
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(_owned_by_root(info), fh)
                else:
                    tar.addfile(_owned_by_root(info))
                count += 1
        spool.seek(0)
        try:
            box.put_archive("/", spool)
        except Exception as err:  # noqa: BLE001
            _fail(f"cannot copy {source} into the container", err)
    return count


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _walk(root: Path, skip: Callable[[PurePosixPath, bool], bool]) -> Iterator[tuple[Path, PurePosixPath]]:
    """(path, relative path) for `root` itself and everything under it, sorted, not following links."""
    yield root, PurePosixPath()
    for current, dirs, files in os.walk(root):
        base = PurePosixPath(Path(current).relative_to(root).as_posix())
        base = PurePosixPath() if str(base) == "." else base
        keep = []
        for name in sorted(dirs):
            rel = base / name
            full = Path(current) / name
            if skip(rel, not full.is_symlink()):
                continue
            if full.is_symlink():
                yield full, rel  # a link to a directory is copied as the link
            else:
                keep.append(name)
                yield full, rel
        dirs[:] = keep
        for name in sorted(files):
            rel = base / name
            if not skip(rel, False):
                yield Path(current) / name, rel


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the SDK's archive stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _archive(box: Any, path: str) -> tuple[IO[bytes], dict[str, Any]]:
    try:
        chunks, stat_ = box.get_archive(path, chunk_size=1 << 20)
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot copy {path} out of the container", err)
    return io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20), stat_


@dataclass(frozen=True)
class FetchReport:
    files: int
    directories: int
    links: int
    skipped: tuple[str, ...]


def fetch_directory(box: Any, path: str, destination: Path) -> FetchReport:
    """Copy the directory `path` out of the container into `destination` (created; must not exist or be
    empty). Entries that would land outside `destination` (absolute names, `..`, links pointing out) and
    special files are skipped and listed in the report."""
    destination.mkdir(parents=True, exist_ok=True)
    stream, _ = _archive(box, path)
    extractor = _Extractor(destination.resolve(), PurePosixPath(path).name)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                extractor.extract(tar, member)
    except tarfile.TarError as err:
        raise DockerError(f"the archive of {path} from the container is unreadable: {err}") from err
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot copy {path} out of the container", err)
    return extractor.finish()


class _Extractor:
    """Safe extraction of a container directory's tar stream: files keep their permission bits (not owners,
    not setuid), directories stay writable by their owner, nothing lands outside the root."""

    def __init__(self, root: Path, top: str) -> None:
        self.root, self.top = root, top
        self.files = self.dirs = self.links = 0
        self.skipped: list[str] = []
        self.dir_modes: list[tuple[Path, int]] = []

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _relative_member(member.name, self.top)
        if rel is None:
            self.skipped.append(member.name)
            return
        if not rel.parts:
            return
        target = self.root.joinpath(*rel.parts)
        if not _inside(self.root, target.parent):
            self.skipped.append(member.name)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.isdir():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(exist_ok=True)
            self.dir_modes.append((target, (member.mode & 0o777) | 0o700))
            self.dirs += 1
        elif member.isfile():
            self._file(tar, member, target)
        elif member.issym():
            if PurePosixPath(member.linkname).is_absolute() or not _inside(self.root, target.parent / member.linkname):
                self.skipped.append(f"{member.name} -> {member.linkname}")
                return
            _replace(target)
            target.symlink_to(member.linkname)
            self.links += 1
        elif member.islnk():
            source_rel = _relative_member(member.linkname, self.top)
            source = self.root.joinpath(*source_rel.parts) if source_rel and source_rel.parts else None
            if source is None or not _inside(self.root, source) or not source.is_file():
                self.skipped.append(f"{member.name} (hard link to {member.linkname})")
                return
            _replace(target)
            os.link(source, target)
            self.files += 1
        else:
            self.skipped.append(member.name)

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
        source = tar.extractfile(member)
        if source is None:
            self.skipped.append(member.name)
            return
        _replace(target)
        with target.open("wb") as out:
            while block := source.read(1 << 20):
                out.write(block)
        target.chmod(member.mode & 0o777)
        os.utime(target, (member.mtime, member.mtime))
        self.files += 1

    def finish(self) -> FetchReport:
        for directory, mode in reversed(self.dir_modes):
            directory.chmod(mode)
        return FetchReport(files=self.files, directories=self.dirs, links=self.links, skipped=tuple(self.skipped))


def _relative_member(name: str, top: str) -> PurePosixPath | None:
    parts = PurePosixPath(name).parts
    if not parts or parts[0] in ("/", "..") or ".." in parts:
        return None
    if parts[0] != top:
        return None
    return PurePosixPath(*parts[1:])


def _inside(root: Path, path: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def _replace(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
