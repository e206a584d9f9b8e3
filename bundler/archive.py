"""Deterministic zip writer with parallel compression.

Same entries in, same bytes out: entries are written in the order given (the plan sorts them), every
timestamp is fixed (SOURCE_DATE_EPOCH, else 1980-01-01), modes are normalised and stored as Unix
external attributes (create_system 3) so `unzip` and Lambda keep the exec bit, and no extra fields
are written except zip64 where sizes demand it.

Python's zipfile cannot take data compressed elsewhere, so the format is written here (APPNOTE 6.3):
entries are deflated concurrently on worker threads (zlib and hashlib release the GIL), and the writer
consumes the results strictly in order, so the output is byte-identical to the serial path
(`workers=1`). Large files are compressed in chunks into a spooled temp file, keeping memory flat.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

CHUNK = 1 << 20
SPOOL_MAX = 8 << 20  # compressed output larger than this goes to a temp file
ZIP64_LIMIT = 0xFFFFFFFF
DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold


class ArchiveEntry(Protocol):
    @property
    def arc(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def source(self) -> Path | None: ...
    @property
    def data(self) -> bytes | None: ...


@dataclass(frozen=True)
class WrittenEntry:
    arc: str
    mode: int
    size: int
    compressed: int
    sha256: str


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    sha256: str
    zipped_size: int
    unzipped_size: int
    entries: tuple[WrittenEntry, ...]

    @property
    def file_count(self) -> int:
        return len(self.entries)

    @property
    def content_digest(self) -> str:
        return content_digest((e.arc, e.mode, e.sha256) for e in self.entries)


def content_digest(entries: Iterator[tuple[str, int, str]] | Sequence[tuple[str, int, str]]) -> str:
    """A hash over sorted (path, mode, content sha256): equal on every machine for equal contents."""
    h = hashlib.sha256()
    for arc, mode, sha in sorted(entries):
        h.update(f"{arc}\0{mode:o}\0{sha}\n".encode())
    return h.hexdigest()


def zip_epoch(env: dict[str, str] | None = None) -> int:
    """The timestamp for every entry: SOURCE_DATE_EPOCH when set (not before 1980), else 1980-01-01."""
    value = (env if env is not None else os.environ).get("SOURCE_DATE_EPOCH")
    if value and value.strip().isdigit():
        return max(int(value), DOS_EPOCH)
    return DOS_EPOCH


def _dos_time(epoch: int) -> tuple[int, int]:
    t = time.gmtime(epoch)
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, dos_date


@dataclass
class _Compressed:
    crc: int
    size: int
    sha256: str
    method: int  # 8 deflate, 0 stored
    payload: bytes | IO[bytes]  # compressed bytes, or a temp file holding them
    payload_size: int


def _read_chunks(entry: ArchiveEntry) -> Iterator[bytes]:
    if entry.data is not None:
        yield entry.data
        return
    assert entry.source is not None
    with entry.source.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _compress(entry: ArchiveEntry, level: int) -> _Compressed:
    crc, size = 0, 0
    sha = hashlib.sha256()
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115 - returned to caller
    for chunk in _read_chunks(entry):
        crc = zlib.crc32(chunk, crc)
        size += len(chunk)
        sha.update(chunk)
        spool.write(comp.compress(chunk))
    spool.write(comp.flush())
    compressed_size = spool.tell()
    if compressed_size >= size:  # incompressible (or empty): store it as it is
        spool.close()
        if entry.data is not None:
            return _Compressed(crc, size, sha.hexdigest(), 0, entry.data, size)
        stored: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115
        for chunk in _read_chunks(entry):
            stored.write(chunk)
        stored.seek(0)
        return _Compressed(crc, size, sha.hexdigest(), 0, stored, size)
    spool.seek(0)
    return _Compressed(crc, size, sha.hexdigest(), 8, spool, compressed_size)


class _HashingWriter:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        self.sha.update(data)
        self.offset += len(data)


def write_zip(
    entries: Sequence[ArchiveEntry],
    dest: Path,
    *,
    epoch: int = DOS_EPOCH,
    level: int = 6,
    workers: int | None = None,
    on_entry: Callable[[int], None] | None = None,
) -> ArchiveResult:
    """Write entries, in the given order, as a zip at dest (the caller renames it into place)."""
    workers = workers or os.cpu_count() or 1
    dos_time, dos_date = _dos_time(epoch)
    written: list[WrittenEntry] = []
    central: list[bytes] = []
    with dest.open("wb") as raw:
        out = _HashingWriter(raw)
        for entry, result in zip(entries, _compressed_in_order(entries, level, workers)):
            offset = out.offset
            name = entry.arc.encode("utf-8")
            flags = 0 if entry.arc.isascii() else 0x800
            zip64 = result.size >= ZIP64_LIMIT or result.payload_size >= ZIP64_LIMIT
            needed = 45 if zip64 or offset >= ZIP64_LIMIT else 20
            local_extra = struct.pack("<HHQQ", 1, 16, result.size, result.payload_size) if zip64 else b""
            sizes = (ZIP64_LIMIT, ZIP64_LIMIT) if zip64 else (result.payload_size, result.size)
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, needed, flags, result.method, dos_time, dos_date,
                                  result.crc, sizes[0], sizes[1], len(name), len(local_extra)))
            out.write(name)
            out.write(local_extra)
            _copy_payload(result, out)
            central.append(_central_header(entry, result, name, flags, needed, offset, dos_time, dos_date))
            written.append(WrittenEntry(entry.arc, entry.mode, result.size, result.payload_size, result.sha256))
            if on_entry is not None:
                on_entry(result.size)
        cd_offset = out.offset
        for header in central:
            out.write(header)
        _end_records(out, len(central), out.offset - cd_offset, cd_offset)
    return ArchiveResult(path=dest, sha256=out.sha.hexdigest(), zipped_size=out.offset,
                         unzipped_size=sum(w.size for w in written), entries=tuple(written))


def _compressed_in_order(entries: Sequence[ArchiveEntry], level: int, workers: int) -> Iterator[_Compressed]:
    if workers <= 1:
        for entry in entries:
            yield _compress(entry, level)
        return
    window = workers * 4
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deflate") as pool:
        pending: deque[Future[_Compressed]] = deque()
        it = iter(entries)
        try:
            for entry in it:
                pending.append(pool.submit(_compress, entry, level))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _copy_payload(result: _Compressed, out: _HashingWriter) -> None:
    if isinstance(result.payload, bytes):
        out.write(result.payload)
        return
    with result.payload as fh:
        while chunk := fh.read(CHUNK):
            out.write(chunk)


def _central_header(entry: ArchiveEntry, result: _Compressed, name: bytes, flags: int, needed: int, offset: int,
                    dos_time: int, dos_date: int) -> bytes:
    extra_fields: list[int] = []
    size, csize, off = result.size, result.payload_size, offset
    if size >= ZIP64_LIMIT:
        extra_fields.append(size)
        size = ZIP64_LIMIT
    if csize >= ZIP64_LIMIT:
        extra_fields.append(csize)
        csize = ZIP64_LIMIT
    if off >= ZIP64_LIMIT:
        extra_fields.append(off)
        off = ZIP64_LIMIT
    extra = struct.pack(f"<HH{len(extra_fields)}Q", 1, 8 * len(extra_fields), *extra_fields) if extra_fields else b""
    external = ((0o100000 | (entry.mode & 0o7777)) << 16) & 0xFFFFFFFF
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | needed, needed, flags, result.method,
                       dos_time, dos_date, result.crc, csize, size, len(name), len(extra), 0, 0, 0,
                       external, off) + name + extra


def _end_records(out: _HashingWriter, count: int, cd_size: int, cd_offset: int) -> None:
    if count >= 0xFFFF or cd_size >= ZIP64_LIMIT or cd_offset >= ZIP64_LIMIT:
        zip64_offset = out.offset
        out.write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, (3 << 8) | 45, 45, 0, 0, count, count,
                              cd_size, cd_offset))
        out.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1))
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, ZIP64_LIMIT, ZIP64_LIMIT, 0))
        return
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0))
