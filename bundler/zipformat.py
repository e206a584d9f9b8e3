"""The zip records photon-bundle writes (APPNOTE 6.3): local file headers, central directory headers, the end
records, with zip64 only where sizes or offsets demand it. Pure functions of their arguments: the compression
workers (bundler/zipjobs.py) build local headers with them, the writer (bundler/archive.py) the rest.

Every entry is written the same way: no data descriptor, no extra field but zip64's, a fixed DOS timestamp,
the Unix mode in the external attributes (made by Unix, version 3), UTF-8 names flagged when not ASCII.
"""

from __future__ import annotations

import struct
import time
from typing import NamedTuple

from bundler.errors import ProjectError

ZIP64_LIMIT = 0xFFFFFFFF
DOS_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the earliest time a zip can hold
DOS_LAST = 4354819198  # 2107-12-31T23:59:58Z, the latest
_LOCAL = struct.Struct("<IHHHHHIIIHH")


class Record(NamedTuple):
    """What the central directory needs of one entry, besides its mode and offset."""

    name: bytes
    flags: int
    method: int  # 8 deflate, 0 stored
    crc: int
    size: int
    csize: int


def dos_time(epoch: int) -> tuple[int, int]:
    t = time.gmtime(min(max(epoch, DOS_EPOCH), DOS_LAST))
    dos_date = ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_clock = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_clock, dos_date


def zip_name(arc: str, source: object) -> tuple[bytes, int]:
    """The entry's name as the zip stores it (UTF-8) and its flags. A name that is not UTF-8 (bytes the file
    system kept, surrogate-escaped by Python) cannot be written so that every unzip reads it the same way."""
    try:
        return arc.encode("utf-8"), 0 if arc.isascii() else 0x800
    except UnicodeEncodeError:
        shown = arc.encode("utf-8", errors="surrogateescape")
        raise ProjectError(f"the file name {shown!r} is not UTF-8 (source: {source!r}); a zip cannot carry "
                           "it so that the platform unpacks it under the same name",
                           hint="rename it to a UTF-8 name, or leave it out with --exclude") from None


def _zip64(record: Record) -> bool:
    return record.size >= ZIP64_LIMIT or record.csize >= ZIP64_LIMIT


def needed_version(record: Record, offset: int) -> int:
    return 45 if _zip64(record) or offset >= ZIP64_LIMIT else 20


def local_header(record: Record, offset: int, dos: tuple[int, int]) -> bytes:
    """The local file header and name of an entry whose header starts at `offset`."""
    if record.size < ZIP64_LIMIT and record.csize < ZIP64_LIMIT and offset < ZIP64_LIMIT:  # all but huge entries
        return _LOCAL.pack(0x04034B50, 20, record.flags, record.method, dos[0], dos[1], record.crc, record.csize,
                           record.size, len(record.name), 0) + record.name
    zip64 = _zip64(record)
    extra = struct.pack("<HHQQ", 1, 16, record.size, record.csize) if zip64 else b""
    csize, size = (ZIP64_LIMIT, ZIP64_LIMIT) if zip64 else (record.csize, record.size)
    return _LOCAL.pack(0x04034B50, needed_version(record, offset), record.flags, record.method, dos[0], dos[1],
                       record.crc, csize, size, len(record.name), len(extra)) + record.name + extra


def central_header(record: Record, mode: int, offset: int, dos: tuple[int, int]) -> bytes:
    extra_fields: list[int] = []
    size, csize, off = record.size, record.csize, offset
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
    needed = needed_version(record, offset)
    external = ((0o100000 | (mode & 0o7777)) << 16) & 0xFFFFFFFF
    return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | needed, needed, record.flags, record.method,
                       dos[0], dos[1], record.crc, csize, size, len(record.name), len(extra), 0, 0, 0,
                       external, off) + record.name + extra


def end_records(offset: int, count: int, cd_size: int, cd_offset: int) -> bytes:
    """The end of central directory record, preceded by zip64's when needed; `offset` is where they start."""
    if count >= 0xFFFF or cd_size >= ZIP64_LIMIT or cd_offset >= ZIP64_LIMIT:
        return (struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, (3 << 8) | 45, 45, 0, 0, count, count, cd_size, cd_offset)
                + struct.pack("<IIQI", 0x07064B50, 0, offset, 1)
                + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, ZIP64_LIMIT, ZIP64_LIMIT, 0))
    return struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, cd_size, cd_offset, 0)
