"""Deterministic zip writer with parallel compression.

Same entries in, same bytes out: entries are written in the order given (the plan sorts them), every
timestamp is fixed (SOURCE_DATE_EPOCH, else 1980-01-01), modes are normalised and stored as Unix
external attributes (create_system 3) so `unzip` and Lambda keep the exec bit, and no extra fields
are written except zip64 where sizes demand it.

Python's zipfile cannot take data compressed elsewhere, so the format is written here (APPNOTE 6.3, the
records in bundler/zipformat.py). The compression runs on worker threads (bundler/zipjobs.py: small files
batched, large ones cut into pigz-style segments); each worker also reads, CRCs, hashes and builds the local
headers of its entries, so this thread only appends each batch's block of local records to the file, keeps
the facts the central directory needs, and writes the central directory at the end. Nothing is read twice:
the per-file sha256 (for the manifest, the no-op check and the content digest) and the first bytes of each
file (for verify) come out of the same pass that compressed it.

Deflate comes from bundler/deflate.py: zlib-ng when it is installed (measured on the benchmark's file
set at level 6: 93 vs 45 MB/s on one core for zlib, output 0.1 % smaller), else zlib. Output is
byte-identical for the same input and the same backend version (DEFLATE_BACKEND, recorded in the
inputs fingerprint and the manifest), whatever the number of workers (tests/unit/test_archive_pinned.py pins
the digest of a fixture's artifact).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bundler.zipformat import DOS_EPOCH, ZIP64_LIMIT, central_header, dos_time, end_records, local_header
from bundler.zipjobs import (
    CHUNK,
    HEAD_BYTES,
    ArchiveEntry,
    Cache,
    Packed,
    Whole,
    WrittenEntry,
    compressed_in_order,
)

__all__ = ["DOS_EPOCH", "HEAD_BYTES", "ArchiveEntry", "ArchiveResult", "WrittenEntry", "content_digest",
           "write_zip", "zip_epoch"]


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


class _HashingWriter:
    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.sha = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes | memoryview) -> None:
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
    prefetched: Cache | None = None,
) -> ArchiveResult:
    """Write entries, in the given order, as a zip at dest (the caller renames it into place). `prefetched`:
    small files already compressed while the plan was made (bundler/prefetch.py); the bytes are the same."""
    workers = workers or os.cpu_count() or 1
    dos = dos_time(epoch)
    central: list[bytes] = []  # built while the workers compress what comes next
    written: list[WrittenEntry] = []
    with dest.open("wb") as raw:
        out = _HashingWriter(raw)
        for item in compressed_in_order(entries, level, workers, dos, prefetched):
            if isinstance(item, Packed) and out.offset + len(item.block) < ZIP64_LIMIT:
                base = out.offset
                out.write(item.block)  # every header in it starts below 4 GiB: written as the worker built it
                central += [central_header(p.record, w.mode, base + p.offset, dos)
                            for p, w in zip(item.entries, item.written)]
            elif isinstance(item, Packed):  # the rare block that crosses 4 GiB: headers again, for their offsets
                block = memoryview(item.block)
                for p, w in zip(item.entries, item.written):
                    start = p.offset + p.header
                    central.append(central_header(p.record, w.mode, out.offset, dos))
                    out.write(local_header(p.record, out.offset, dos))
                    out.write(block[start:start + p.record.csize])
            else:
                central.append(central_header(item.record, item.written.mode, out.offset, dos))
                out.write(local_header(item.record, out.offset, dos))
                _copy_payload(item, out)
            batch = item.written if isinstance(item, Packed) else (item.written,)
            written += batch
            if on_entry is not None:
                for w in batch:
                    on_entry(w.size)
        cd_offset = out.offset
        out.write(b"".join(central))
        out.write(end_records(out.offset, len(central), out.offset - cd_offset, cd_offset))
    return ArchiveResult(path=dest, sha256=out.sha.hexdigest(), zipped_size=out.offset,
                         unzipped_size=sum(w.size for w in written), entries=tuple(written))


def _copy_payload(item: Whole, out: _HashingWriter) -> None:
    with item.payload as fh:
        while chunk := fh.read(CHUNK):
            out.write(chunk)
