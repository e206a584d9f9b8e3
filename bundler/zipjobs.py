"""The compression side of the zip writer: the entries cut into jobs, run on worker threads, results in order.

zlib-ng's deflate, hashlib's sha256 and crc32 release the GIL, so the workers use every core; what stays in
Python per entry is kept small and inside the workers, so the writer thread (bundler/archive.py) does little
more than append bytes to the file:

* small entries (below SPLIT_MIN) are grouped into a batch job of up to BATCH_BYTES / BATCH_MAX: the worker
  reads each file (one read of its known size), deflates it in one call, takes its CRC-32 and sha256 and
  builds its local header, and returns the batch as one block of local records (`Packed`) that the writer
  appends with one write, however many files it holds;
* a large file is cut into SEGMENT-sized jobs deflated independently the way pigz does it: each segment is
  primed with the 32 KiB before it as the deflate dictionary and ends with a sync flush (the last one
  finishes the stream), so the pieces concatenate into one valid deflate stream and a single 20 MB engine
  keeps every core busy. The writer thread joins the segments in order (CRC-32 and sha256 over the raw
  bytes, both at GB/s) and spools the compressed bytes (memory stays flat).

How entries are cut and grouped depends only on their sizes, never on the number of workers, and results are
consumed strictly in order, so the output is byte-identical to the serial path (`workers=1`). Jobs in flight
are bounded by count and by bytes, so peak memory does not grow with file sizes.
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple, Protocol, Union

from bundler.deflate import backend as _deflate
from bundler.errors import ProjectError
from bundler.zipformat import Record, local_header, zip_name

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


class WrittenEntry(NamedTuple):
    """What the writer reports of each entry (a named tuple: one per file, made in the workers)."""

    arc: str
    mode: int
    size: int
    compressed: int
    sha256: str
    head: bytes = b""  # the first HEAD_BYTES of the content (what verify needs to tell ELF files apart)


class PackedEntry(NamedTuple):
    offset: int  # where its local header starts in the block
    header: int  # length of its local header (with the name)
    record: Record


@dataclass(frozen=True)
class Packed:
    """A batch's entries as local file records back to back: headers built for offsets below 4 GiB."""

    block: bytes
    entries: tuple[PackedEntry, ...]
    written: tuple[WrittenEntry, ...]


@dataclass
class Whole:
    """A segmented entry, joined: its compressed (or stored) bytes in a spool the writer copies."""

    record: Record
    written: WrittenEntry
    payload: IO[bytes]


class Compressed(NamedTuple):
    """One small file's bytes as the zip stores them, with what the entry records of them."""

    size: int
    method: int  # 8 deflate, 0 stored
    payload: bytes
    crc: int
    sha256: str
    head: bytes


def compress_whole(raw: bytes, level: int) -> Compressed:
    """A small file in one call: deflated, or stored when deflate does not make it smaller (or it is empty)."""
    deflated = _deflate.compress(raw, level, -15)
    stored = len(deflated) >= len(raw)
    return Compressed(len(raw), 0 if stored else 8, raw if stored else deflated, _deflate.crc32(raw),
                      hashlib.sha256(raw).hexdigest(), raw[:HEAD_BYTES])


class Cache(Protocol):
    """Files compressed ahead of the write (bundler/prefetch.py), by source path and the size the walk saw."""

    level: int

    def take(self, source: str, size: int) -> Compressed | None: ...


@dataclass(frozen=True)
class _Batch:
    """Consecutive small entries compressed by one worker: one job per BATCH_BYTES, not per file."""

    entries: tuple[ArchiveEntry, ...]
    cost: int
    cache: Cache | None = None

    def run(self, level: int, dos: tuple[int, int]) -> Packed:
        cache = self.cache if self.cache is not None and self.cache.level == level else None
        parts: list[bytes] = []
        packed: list[PackedEntry] = []
        written: list[WrittenEntry] = []
        offset = 0
        for entry in self.entries:
            size = getattr(entry, "size", None)
            done = cache.take(str(entry.source), size) if cache and entry.data is None and isinstance(size, int) \
                else None
            if done is None:
                done = compress_whole(_read_whole(entry, size), level)
            name, flags = zip_name(entry.arc, entry.source)
            record = Record(name, flags, done.method, done.crc, done.size, len(done.payload))
            header = local_header(record, 0, dos)
            parts += (header, done.payload)
            packed.append(PackedEntry(offset, len(header), record))
            written.append(WrittenEntry(entry.arc, entry.mode, done.size, record.csize, done.sha256, done.head))
            offset += len(header) + record.csize
        return Packed(b"".join(parts), tuple(packed), tuple(written))


@dataclass(frozen=True)
class _Job:
    """One segment of a large file."""

    entry: ArchiveEntry
    offset: int  # where the segment starts in the file
    length: int
    last: bool  # the entry's last segment
    cost: int  # bytes to read, for the in-flight budget

    def run(self, level: int, dos: tuple[int, int]) -> _Segment:
        return _deflate_segment(self, level)


@dataclass(frozen=True)
class _Segment:
    raw: bytes
    deflated: bytes


_Result = Union[Packed, _Segment]
_Work = Union[_Job, _Batch]


def _jobs(entries: Sequence[ArchiveEntry], cache: Cache | None = None) -> Iterator[_Work]:
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
                yield _Batch(tuple(batch), cost, cache)
                batch, cost = [], 0
            continue
        if batch:
            yield _Batch(tuple(batch), cost, cache)
            batch, cost = [], 0
        for offset in range(0, size, SEGMENT):
            length = min(SEGMENT, size - offset)
            yield _Job(entry, offset, length, offset + length >= size, length)
    if batch:
        yield _Batch(tuple(batch), cost, cache)


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


def _read_whole(entry: ArchiveEntry, expected: object = None) -> bytes:
    """A small entry's bytes as they are now: one read of the size the walk saw (`expected`, the entry's `size`;
    plus one byte, to see a file that grew), more reads only when the size changed since."""
    if entry.data is not None:
        return entry.data
    assert entry.source is not None
    try:
        fd = os.open(entry.source, os.O_RDONLY)
        try:
            first = os.read(fd, expected + 1) if isinstance(expected, int) else b""
            if isinstance(expected, int) and len(first) == expected:
                return first  # the common case; a regular file reads short only at its end
            chunks = [first]
            while chunk := os.read(fd, CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)
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
    """Joins a segmented entry's results, in order, into one Whole (writer thread)."""

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
        self.crc = _deflate.crc32(segment.raw, self.crc)
        self.size += len(segment.raw)
        self.sha.update(segment.raw)
        self.spool.write(segment.deflated)

    def result(self) -> Whole:
        name, flags = zip_name(self.entry.arc, self.entry.source)
        compressed_size = self.spool.tell()
        if compressed_size < self.size:
            self.spool.seek(0)
            return Whole(Record(name, flags, 8, self.crc, self.size, compressed_size), self._written(compressed_size),
                         self.spool)
        self.spool.close()  # incompressible: store the file's bytes, read again (and checked) into a spool
        assert self.entry.source is not None
        stored: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115 - handed on
        crc = 0
        try:
            with open(self.entry.source, "rb") as fh:  # noqa: PTH123
                while chunk := fh.read(min(CHUNK, self.size - stored.tell() + 1)):
                    crc = _deflate.crc32(chunk, crc)
                    stored.write(chunk)
        except OSError as err:
            stored.close()
            raise _unreadable(self.entry, err) from None
        if stored.tell() != self.size or crc != self.crc:
            stored.close()
            raise _changed(self.entry)
        stored.seek(0)
        return Whole(Record(name, flags, 0, self.crc, self.size, self.size), self._written(self.size), stored)

    def _written(self, compressed: int) -> WrittenEntry:
        return WrittenEntry(self.entry.arc, self.entry.mode, self.size, compressed, self.sha.hexdigest(), self.head)


def compressed_in_order(entries: Sequence[ArchiveEntry], level: int, workers: int,
                        dos: tuple[int, int], cache: Cache | None = None) -> Iterator[Packed | Whole]:
    """The entries compressed, in the order given: a Packed per batch, a Whole per segmented entry."""
    assembler: _Assembler | None = None
    try:
        for job, result in _run_jobs(_jobs(entries, cache), level, workers, dos):
            if isinstance(result, Packed):
                yield result
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


def _run_jobs(jobs: Iterator[_Work], level: int, workers: int,
              dos: tuple[int, int]) -> Iterator[tuple[_Work, _Result]]:
    """Run jobs, yielding results in submission order, with a bounded number and size in flight."""
    if workers <= 1:
        for job in jobs:
            yield job, job.run(level, dos)
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
                pending.append((job, pool.submit(job.run, level, dos)))
                inflight += job.cost
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _job, future in pending:
                future.cancel()
