"""Deterministic zip writer with parallel compression.

Same entries in, same bytes out: entries are written in the order given (the plan sorts them), every
timestamp is fixed (SOURCE_DATE_EPOCH, else 1980-01-01), modes are normalised and stored as Unix
external attributes (create_system 3) so `unzip` and Lambda keep the exec bit, and no extra fields
are written except zip64 where sizes demand it.

Python's zipfile cannot take data compressed elsewhere, so the format is written here (APPNOTE 6.3).
The work is cut into jobs that worker threads run concurrently (zlib and hashlib release the GIL):

* small entries (below SPLIT_MIN) are read, CRC'd, hashed and deflated in memory, consecutive ones
  grouped into one job of up to BATCH_BYTES / BATCH_MAX, so thousands of tiny files cost few jobs;
* a large file is cut into SEGMENT-sized jobs, deflated independently the way pigz does it: each
  segment is primed with the 32 KiB before it as the deflate dictionary and ends with a sync flush
  (the last one finishes the stream), so the pieces concatenate into one valid deflate stream and a
  single 20 MB engine keeps every core busy. The writer thread takes the segments in order, updates
  CRC and sha256 over the raw bytes and spools the compressed bytes (memory stays flat).

How files are cut and grouped depends only on their sizes, never on the number of workers, and the writer consumes
job results strictly in order, so the output is byte-identical to the serial path (`workers=1`).
Jobs in flight are bounded by count and by bytes, so peak memory does not grow with file sizes.

Deflate comes from bundler/deflate.py: zlib-ng when it is installed (measured on the benchmark's file
set at level 6: 93 vs 45 MB/s on one core for zlib, output 0.1 % smaller), else zlib. Output is
byte-identical for the same input and the same backend version (DEFLATE_BACKEND, recorded in the
inputs fingerprint and the manifest).
"""

from __future__ import annotations

import errno
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
from typing import IO, BinaryIO, Protocol, Union

from bundler.deflate import backend as _deflate
from bundler.errors import ProjectError

CHUNK = 1 << 20  # copy buffer
SEGMENT = 1 << 20  # large files are deflated in segments of this size, one job each
SPLIT_MIN = 2 * SEGMENT  # files at least this large are segmented
BATCH_BYTES = 1 << 20  # smaller files are grouped into jobs of about this many bytes ...
BATCH_MAX = 256  # ... or this many files
DICT_SIZE = 32 << 10  # deflate's window: each segment is primed with this much of the data before it
SPOOL_MAX = 8 << 20  # a segmented entry's compressed bytes beyond this go to a temp file
INFLIGHT_BYTES = 8 << 20  # per worker: uncompressed bytes of jobs submitted but not yet written
INFLIGHT_MAX_BYTES = 64 << 20
INFLIGHT_JOBS = 64  # per worker
ZIP64_LIMIT = 0xFFFFFFFF
DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold
DOS_LAST = 4354819198  # 2107-12-31T23:59:58Z, the latest
HEAD_BYTES = 16


class ArchiveEntry(Protocol):
    @property
    def arc(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def source(self) -> str | Path | None: ...
    @property
    def data(self) -> bytes | None: ...


@dataclass(frozen=True)
class WrittenEntry:
    arc: str
    mode: int
    size: int
    compressed: int
    sha256: str
    head: bytes = b""  # the first HEAD_BYTES of the content (what verify needs to tell ELF files apart)


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
        h.update(f"{arc}\0{mode:o}\0{sha}\n".encode(errors="surrogateescape"))
    return h.hexdigest()


def zip_epoch(env: dict[str, str] | None = None) -> int:
    """The timestamp for every entry: SOURCE_DATE_EPOCH when set (not before 1980), else 1980-01-01."""
    value = (env if env is not None else os.environ).get("SOURCE_DATE_EPOCH")
    if value and value.strip().isdigit():
        return max(int(value), DOS_EPOCH)
    return DOS_EPOCH


def _dos_time(epoch: int) -> tuple[int, int]:
    t = time.gmtime(min(max(epoch, DOS_EPOCH), DOS_LAST))
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, dos_date


@dataclass
class _Compressed:
    crc: int
    size: int
    sha256: str
    method: int  # 8 deflate, 0 stored
    payload: bytes | IO[bytes]  # compressed (or stored) bytes, or a temp file holding them
    payload_size: int
    head: bytes = b""


@dataclass(frozen=True)
class _Job:
    """One segment of a large file."""

    entry: ArchiveEntry
    offset: int  # where the segment starts in the file
    length: int
    last: bool  # the entry's last segment
    cost: int  # bytes to read, for the in-flight budget

    def run(self, level: int) -> _Segment:
        return _deflate_segment(self, level)


@dataclass(frozen=True)
class _Batch:
    """Consecutive small entries compressed by one worker: one job per BATCH_BYTES, not per file, so the
    writer thread's per-job work (submit, wait, hand over) does not grow with the number of small files."""

    entries: tuple[ArchiveEntry, ...]
    cost: int

    def run(self, level: int) -> list[_Compressed]:
        return [_compress(entry, level) for entry in self.entries]


@dataclass(frozen=True)
class _Segment:
    raw: bytes
    deflated: bytes


_Result = Union[list[_Compressed], _Segment]
_Work = Union[_Job, _Batch]


def _jobs(entries: Sequence[ArchiveEntry]) -> Iterator[_Work]:
    """The work, in entry order: small entries batched together, a job per SEGMENT of each large file.

    How entries are cut and grouped depends only on their sizes, never on the number of workers."""
    batch: list[ArchiveEntry] = []
    cost = 0
    for entry in entries:
        size = _source_size(entry)
        if size < SPLIT_MIN or entry.data is not None:
            batch.append(entry)
            cost += max(size, 1)
            if cost >= BATCH_BYTES or len(batch) >= BATCH_MAX:
                yield _Batch(tuple(batch), cost)
                batch, cost = [], 0
            continue
        if batch:
            yield _Batch(tuple(batch), cost)
            batch, cost = [], 0
        for offset in range(0, size, SEGMENT):
            length = min(SEGMENT, size - offset)
            yield _Job(entry, offset, length, offset + length >= size, length)
    if batch:
        yield _Batch(tuple(batch), cost)


def _source_size(entry: ArchiveEntry) -> int:
    if entry.data is not None:
        return len(entry.data)
    assert entry.source is not None
    size = getattr(entry, "size", None)  # the plan's size (from the walk), to spare a stat
    if isinstance(size, int):
        return size
    try:
        return os.stat(entry.source).st_size  # noqa: PTH116 - a str or a Path
    except OSError as err:
        raise _unreadable(entry, err) from None


def _unreadable(entry: ArchiveEntry, err: OSError) -> ProjectError:
    if err.errno in (errno.EACCES, errno.EPERM):
        hint = "make it readable (chmod a+r), or leave it out with --exclude if the function does not need it"
    elif err.errno == errno.ENOENT:
        hint = "it went away while the bundle was written: run again when nothing else changes the project"
    else:
        hint = "check the file, or leave it out with --exclude if the function does not need it"
    return ProjectError(f"cannot read {entry.source} (for {entry.arc}): {err.strerror or err}", hint=hint)


def _changed(entry: ArchiveEntry) -> ProjectError:
    return ProjectError(f"{entry.source} changed size while it was being zipped (for {entry.arc})",
                        hint="run again when nothing else writes to the project")


def _compress(entry: ArchiveEntry, level: int) -> _Compressed:
    """A whole (small) entry, in memory: stored when deflate does not make it smaller."""
    if entry.data is not None:
        raw = entry.data
    else:
        assert entry.source is not None
        try:
            with open(entry.source, "rb") as fh:  # noqa: PTH123 - a str or a Path
                raw = fh.read()
        except OSError as err:
            raise _unreadable(entry, err) from None
    comp = _deflate.compressobj(level, zlib.DEFLATED, -15)
    deflated = comp.compress(raw) + comp.flush()
    crc, sha = zlib.crc32(raw), hashlib.sha256(raw).hexdigest()
    if len(deflated) >= len(raw):  # incompressible (or empty): store it as it is
        return _Compressed(crc, len(raw), sha, 0, raw, len(raw), raw[:HEAD_BYTES])
    return _Compressed(crc, len(raw), sha, 8, deflated, len(deflated), raw[:HEAD_BYTES])


def _deflate_segment(job: _Job, level: int) -> _Segment:
    """One segment of a large file, as a piece of the entry's deflate stream (pigz's method)."""
    assert job.entry.source is not None
    start = max(0, job.offset - DICT_SIZE)
    try:
        with open(job.entry.source, "rb") as fh:  # noqa: PTH123
            fh.seek(start)
            dictionary = fh.read(job.offset - start)
            raw = fh.read(job.length + 1 if job.last else job.length)
    except OSError as err:
        raise _unreadable(job.entry, err) from None
    if len(dictionary) != job.offset - start or len(raw) != job.length:
        raise _changed(job.entry)
    if dictionary:
        comp = _deflate.compressobj(level, zlib.DEFLATED, -15, zlib.DEF_MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY,
                                     dictionary)
    else:
        comp = _deflate.compressobj(level, zlib.DEFLATED, -15)
    deflated = comp.compress(raw) + comp.flush(zlib.Z_FINISH if job.last else zlib.Z_SYNC_FLUSH)
    return _Segment(raw, deflated)


class _Assembler:
    """Joins a segmented entry's results, in order, into one _Compressed (writer thread)."""

    def __init__(self, entry: ArchiveEntry) -> None:
        self.entry = entry
        self.crc = 0
        self.size = 0
        self.sha = hashlib.sha256()
        self.head = b""
        self.spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115 - handed on

    def add(self, segment: _Segment) -> None:
        if not self.size:
            self.head = segment.raw[:HEAD_BYTES]
        self.crc = zlib.crc32(segment.raw, self.crc)
        self.size += len(segment.raw)
        self.sha.update(segment.raw)
        self.spool.write(segment.deflated)

    def result(self) -> _Compressed:
        compressed_size = self.spool.tell()
        if compressed_size < self.size:
            self.spool.seek(0)
            return _Compressed(self.crc, self.size, self.sha.hexdigest(), 8, self.spool, compressed_size, self.head)
        self.spool.close()  # incompressible: store the file's bytes, read again (and checked) into a spool
        assert self.entry.source is not None
        stored: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115 - handed on
        crc = 0
        try:
            with open(self.entry.source, "rb") as fh:  # noqa: PTH123
                while chunk := fh.read(min(CHUNK, self.size - stored.tell() + 1)):
                    crc = zlib.crc32(chunk, crc)
                    stored.write(chunk)
        except OSError as err:
            stored.close()
            raise _unreadable(self.entry, err) from None
        if stored.tell() != self.size or crc != self.crc:
            stored.close()
            raise _changed(self.entry)
        stored.seek(0)
        return _Compressed(self.crc, self.size, self.sha.hexdigest(), 0, stored, self.size, self.head)


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
            name = _zip_name(entry)
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
            written.append(WrittenEntry(entry.arc, entry.mode, result.size, result.payload_size, result.sha256,
                                        result.head))
            if on_entry is not None:
                on_entry(result.size)
        cd_offset = out.offset
        for header in central:
            out.write(header)
        _end_records(out, len(central), out.offset - cd_offset, cd_offset)
    return ArchiveResult(path=dest, sha256=out.sha.hexdigest(), zipped_size=out.offset,
                         unzipped_size=sum(w.size for w in written), entries=tuple(written))


def _compressed_in_order(entries: Sequence[ArchiveEntry], level: int, workers: int) -> Iterator[_Compressed]:
    """Every entry's _Compressed, in the order given; jobs run on `workers` threads."""
    assembler: _Assembler | None = None
    try:
        for job, result in _run_jobs(_jobs(entries), level, workers):
            if isinstance(result, list):
                yield from result
                continue
            assert isinstance(job, _Job)
            if assembler is None:
                assembler = _Assembler(job.entry)
            assembler.add(result)
            if job.last:
                done, assembler = assembler.result(), None
                yield done
    finally:
        if assembler is not None:
            assembler.spool.close()


def _run_jobs(jobs: Iterator[_Work], level: int, workers: int) -> Iterator[tuple[_Work, _Result]]:
    """Run jobs, yielding results in submission order, with a bounded number and size in flight."""
    if workers <= 1:
        for job in jobs:
            yield job, job.run(level)
        return
    max_bytes = min(max(workers * INFLIGHT_BYTES, 2 * SPLIT_MIN), INFLIGHT_MAX_BYTES)
    max_jobs = workers * INFLIGHT_JOBS
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deflate") as pool:
        pending: deque[tuple[_Work, Future[_Result]]] = deque()
        inflight = 0
        try:
            for job in jobs:
                while pending and (inflight + job.cost > max_bytes or len(pending) >= max_jobs):
                    done, future = pending.popleft()
                    inflight -= done.cost
                    yield done, future.result()
                pending.append((job, pool.submit(job.run, level)))
                inflight += job.cost
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _job, future in pending:
                future.cancel()


def _copy_payload(result: _Compressed, out: _HashingWriter) -> None:
    if isinstance(result.payload, bytes):
        out.write(result.payload)
        return
    with result.payload as fh:
        while chunk := fh.read(CHUNK):
            out.write(chunk)


def _zip_name(entry: ArchiveEntry) -> bytes:
    """The entry's name as the zip stores it (UTF-8). A name that is not UTF-8 (bytes the file system
    kept, surrogate-escaped by Python) cannot be written so that every unzip reads it the same way."""
    try:
        return entry.arc.encode("utf-8")
    except UnicodeEncodeError:
        shown = entry.arc.encode("utf-8", errors="surrogateescape")
        raise ProjectError(f"the file name {shown!r} is not UTF-8 (source: {entry.source!r}); a zip cannot carry "
                           "it so that the platform unpacks it under the same name",
                           hint="rename it to a UTF-8 name, or leave it out with --exclude") from None


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
