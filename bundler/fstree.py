"""File-tree helpers that do not recurse, so a deep tree (a 1,200-level folder chain) cannot hit Python's
recursion limit: `os.makedirs`, `shutil.rmtree` and `zipfile.extract` all recurse once per level."""

from __future__ import annotations

import mmap
import os
import shutil
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType


def make_dirs(path: Path) -> None:
    """mkdir -p, one level at a time."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder)  # noqa: PTH102 - one level: Path.mkdir(parents=True) recurses
        except FileExistsError:
            continue


def remove_tree(path: Path) -> None:
    """rm -rf without recursion: files first, then folders deepest first; links are removed, never followed."""
    if not path.is_dir() or path.is_symlink():
        path.unlink(missing_ok=True)
        return
    folders: list[str] = []
    stack = [str(path)]
    while stack:
        folder = stack.pop()
        folders.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)  # noqa: PTH108 - strings, many of them
    for folder in reversed(folders):
        os.rmdir(folder)  # noqa: PTH106


@contextmanager
def temporary_folder(prefix: str, parent: str | None = None) -> Iterator[Path]:
    """tempfile.TemporaryDirectory (in `parent`, else the temp folder), removed without recursion."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield folder
    finally:
        try:
            remove_tree(folder)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)


SHM = "/dev/shm"


def scratch_dir(need: int, env: Mapping[str, str], memory: str = SHM) -> str | None:
    """A folder in memory (`memory`: Linux's /dev/shm tmpfs) for `need` bytes of short-lived files, when the
    user chose no temp folder (TMPDIR, TEMP or TMP, as tempfile reads them), both the tmpfs and the machine's
    available memory hold twice that, and it is not mounted noexec or read-only (a library engine is mapped
    executable from there); else None (the temp folder). Unpacking a bundle of 14,000 files into a folder on
    disk measured 1.3-4.5 s on the project's machine, depending on what the disk was still writing back; in
    memory 0.5 s."""
    if need <= 0 or any(env.get(name) for name in ("TMPDIR", "TEMP", "TMP")) or not os.path.isdir(memory):  # noqa: PTH112
        return None
    try:
        room = os.statvfs(memory)
        available = _mem_available()
    except OSError:
        return None
    free = room.f_bavail * room.f_frsize
    if free < 2 * need or available < 2 * need or not os.access(memory, os.W_OK | os.X_OK):
        return None
    if room.f_flag & getattr(os, "ST_RDONLY", 0) or not executable_folder(memory):
        return None  # read-only, or mounted noexec (hardened hosts): the engine could not be loaded from there
    return memory


def executable_folder(folder: str) -> bool:
    """Whether files in `folder` can be executed or mapped executable: its file system is not mounted noexec."""
    try:
        return not os.statvfs(folder).f_flag & getattr(os, "ST_NOEXEC", 0)
    except OSError:
        return True  # nothing known


def _mem_available() -> int:
    """MemAvailable of /proc/meminfo, in bytes (0 when it cannot be read)."""
    with open("/proc/meminfo", encoding="ascii") as fh:  # noqa: PTH123
        for line in fh:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def extract_zip(zip_path: Path, dest: Path, workers: int | None = None) -> None:
    """Unpack a zip with the Unix modes it stores (an engine's exec bit matters), without recursion. Entries
    that would land outside `dest` (absolute, `..`) are refused, as unzip does.

    The central directory is read once (zipfile); folders are made first, then the files are unpacked by
    `workers` threads (all cores) straight from a shared read-only map of the zip: each entry's bytes are
    inflated in one call (zlib-ng when installed, bundler/deflate.py), their CRC-32 checked, and written with
    one call. Inflating, hashing and writing release the GIL, and zipfile's own per-entry reader costs more
    Python than the rest for a bundle of 14,000 small files. Entries this reader does not handle (other methods,
    encryption) are read through zipfile."""
    root = os.path.realpath(dest)
    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
    folders: set[str] = set()
    files: list[tuple[zipfile.ZipInfo, str]] = []
    for info in infos:
        target = os.path.normpath(os.path.join(root, info.filename))  # noqa: PTH118 - strings, many of them
        if not target.startswith(root + os.sep):
            raise ValueError(f"{zip_path}: entry {info.filename!r} lands outside the folder it is unpacked to")
        if info.is_dir():
            folders.add(target)
        else:
            folders.add(os.path.dirname(target))  # noqa: PTH120
            files.append((info, target))
    for folder in sorted(folders):  # a parent sorts before its children
        make_dirs(Path(folder))
    if not files:
        return
    workers = max(1, min(workers or os.cpu_count() or 1, len(files) // 64 or 1))
    if len({target for _info, target in files}) != len(files):
        workers = 1  # a name twice: the last one wins, as when unpacked in order
    share = -(-len(files) // workers)
    parts = [files[i:i + share] for i in range(0, len(files), share)]
    with zip_path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
        if len(parts) <= 1:
            for part in parts:
                _extract_files(zip_path, view, part)
            return
        with ThreadPoolExecutor(max_workers=len(parts), thread_name_prefix="unzip") as pool:
            for future in [pool.submit(_extract_files, zip_path, view, part) for part in parts]:
                future.result()


_WHOLE_MAX = 16 << 20  # entries up to this size are inflated in one call; larger ones in chunks
_LOCAL = struct.Struct("<4s22xHH")  # a local file header: signature, ..., name length, extra length
_CHUNK = 1 << 20


def _extract_files(zip_path: Path, view: mmap.mmap, files: list[tuple[zipfile.ZipInfo, str]]) -> None:
    from bundler.deflate import backend  # zlib-ng's inflate and CRC-32 when installed (the same API as zlib)

    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    for info, target in files:
        fd = os.open(target, flags, 0o666)  # as open("wb"): the umask applies when the zip stores no mode
        try:
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                _write_via_zipfile(zip_path, info, fd)  # encrypted or another method: zipfile says what it can
            else:
                crc = _write_entry(view, info, fd, backend)
                if crc != info.CRC:
                    raise zipfile.BadZipFile(f"{zip_path}: bad CRC-32 for {info.filename!r}")
            mode = info.external_attr >> 16 & 0o777
            if mode:
                os.fchmod(fd, stat.S_IMODE(mode))
        finally:
            os.close(fd)


def _write_entry(view: mmap.mmap, info: zipfile.ZipInfo, fd: int, backend: ModuleType) -> int:
    """Write one stored or deflated entry's bytes to fd from the map of the zip; their CRC-32."""
    signature, name_length, extra_length = _LOCAL.unpack_from(view, info.header_offset)
    if signature != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename!r}")
    start = info.header_offset + _LOCAL.size + name_length + extra_length
    if start + info.compress_size > len(view):
        raise zipfile.BadZipFile(f"{info.filename!r} runs past the end of the zip")
    raw = memoryview(view)[start:start + info.compress_size]
    crc32 = backend.crc32
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            if info.compress_size != info.file_size:
                raise zipfile.BadZipFile(f"{info.filename!r}: stored with two sizes")
            _write_all(fd, raw)
            return int(crc32(raw))
        if info.file_size <= _WHOLE_MAX:
            data = backend.decompress(raw, -15, max(info.file_size, 1))
            if len(data) != info.file_size:
                raise zipfile.BadZipFile(f"{info.filename!r}: {len(data)} bytes, the zip says {info.file_size}")
            _write_all(fd, data)
            return int(crc32(data))
        inflater = backend.decompressobj(-15)
        crc, size = 0, 0
        for at in range(0, len(raw), _CHUNK):
            data = inflater.decompress(raw[at:at + _CHUNK])
            crc, size = crc32(data, crc), size + len(data)
            _write_all(fd, data)
        data = inflater.flush()
        crc, size = crc32(data, crc), size + len(data)
        _write_all(fd, data)
        if size != info.file_size:
            raise zipfile.BadZipFile(f"{info.filename!r}: {size} bytes, the zip says {info.file_size}")
        return int(crc)
    finally:
        raw.release()


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _write_via_zipfile(zip_path: Path, info: zipfile.ZipInfo, fd: int) -> None:
    with zipfile.ZipFile(zip_path) as zf, zf.open(info) as src, os.fdopen(fd, "wb", closefd=False) as out:
        shutil.copyfileobj(src, out, _CHUNK)
