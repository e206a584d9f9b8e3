"""The deterministic zip writer: byte-identical serial and parallel output, zip64, modes, times, unzip."""

from __future__ import annotations

import hashlib
import random
import stat
import subprocess
import time
import tracemalloc
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bundler import zipjobs
from bundler.archive import DOS_EPOCH, ArchiveResult, content_digest, write_zip, zip_epoch
from bundler.errors import ProjectError


@dataclass(frozen=True)
class Entry:
    arc: str
    mode: int = 0o644
    source: Path | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class SizedEntry(Entry):
    size: int = 0  # as PlanEntry carries it: the size the walk saw


def text(n: int, seed: int = 0) -> bytes:
    """Compressible, not trivially: words drawn from a small vocabulary."""
    rng = random.Random(seed)
    words = [f"word{i}" for i in range(300)]
    out = " ".join(rng.choices(words, k=n // 6 + 1)).encode()
    return out[:n]


def noise(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def unzip_test(path: Path) -> None:
    done = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> int:
    """Segment large files at 64 KiB (not 1 MiB) so the tests stay fast; returns the segment size."""
    monkeypatch.setattr(zipjobs, "SEGMENT", 64 << 10)
    monkeypatch.setattr(zipjobs, "SPLIT_MIN", 128 << 10)
    return zipjobs.SEGMENT


@pytest.fixture
def mixed(tmp_path: Path, small_segments: int) -> list[Entry]:
    """Small and large, compressible and not, empty, generated, executable: every path of the writer."""
    SEGMENT, SPLIT_MIN = small_segments, zipjobs.SPLIT_MIN  # noqa: N806
    src = tmp_path / "src"
    src.mkdir()
    files = {
        "handler.js": text(5000, 1),
        "empty.txt": b"",
        "random.bin": noise(70_000, 2),
        "engine.so.node": text(SPLIT_MIN + SEGMENT // 2 + 17, 3),  # segmented, last segment short
        "exact.bin": text(3 * SEGMENT, 4),  # segmented, a whole number of segments
        "just-below.bin": text(SPLIT_MIN - 1, 5),  # the largest whole entry
        "big-random.bin": noise(SPLIT_MIN + 5, 6),  # segmented and incompressible: stored
    }
    for name, data in files.items():
        (src / name).write_bytes(data)
    entries = [Entry(f"app/{name}", 0o755 if name.endswith(".node") else 0o644, source=src / name)
               for name in sorted(files)]
    entries.append(Entry("bootstrap", 0o755, data=b"#!/bin/sh\nexec node handler.js\n" * 20))
    return entries


def contents(entry: Entry) -> bytes:
    if entry.data is not None:
        return entry.data
    assert entry.source is not None
    return entry.source.read_bytes()


def test_serial_and_parallel_are_byte_identical(tmp_path: Path, mixed: list[Entry]) -> None:
    results = {w: write_zip(mixed, tmp_path / f"w{w}.zip", workers=w) for w in (1, 2, 3, 8)}
    digests = {w: hashlib.sha256((tmp_path / f"w{w}.zip").read_bytes()).hexdigest() for w in results}
    assert len(set(digests.values())) == 1
    assert all(r.sha256 == digests[1] for r in results.values())
    assert (tmp_path / "w1.zip").read_bytes() == (tmp_path / "w8.zip").read_bytes()


def test_small_in_flight_budget_changes_nothing(tmp_path: Path, mixed: list[Entry],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    reference = write_zip(mixed, tmp_path / "a.zip", workers=2)
    monkeypatch.setattr(zipjobs, "INFLIGHT_BYTES", 1)
    monkeypatch.setattr(zipjobs, "INFLIGHT_JOBS", 1)
    assert write_zip(mixed, tmp_path / "b.zip", workers=4).sha256 == reference.sha256


def test_many_small_files_between_large_ones_batch_and_keep_their_order(tmp_path: Path, small_segments: int,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Small entries are grouped into jobs (by bytes and by count) around segmented ones; the output is the
    same as the serial path and every entry is in its place."""
    monkeypatch.setattr(zipjobs, "BATCH_BYTES", 20_000)
    monkeypatch.setattr(zipjobs, "BATCH_MAX", 7)
    src = tmp_path / "src"
    src.mkdir()
    entries: list[Entry] = []
    for i in range(60):
        size = zipjobs.SPLIT_MIN + 3 if i % 17 == 5 else (i * 997) % 9000
        (src / f"f{i:03}").write_bytes(text(size, i))
        entries.append(Entry(f"pkg/f{i:03}.js", 0o644, source=src / f"f{i:03}"))
    jobs = list(zipjobs._jobs(entries))
    batches = [j for j in jobs if isinstance(j, zipjobs._Batch)]
    assert len(batches) > 8 and all(len(b.entries) <= 7 for b in batches)
    assert [e.arc for j in jobs for e in (j.entries if isinstance(j, zipjobs._Batch) else (j.entry,) if j.last
                                          else ())] == [e.arc for e in entries]
    serial = write_zip(entries, tmp_path / "serial.zip", workers=1)
    assert write_zip(entries, tmp_path / "parallel.zip", workers=3).sha256 == serial.sha256
    with zipfile.ZipFile(tmp_path / "parallel.zip") as zf:
        assert zf.namelist() == [e.arc for e in entries]
        assert all(zf.read(e.arc) == contents(e) for e in entries)


def test_round_trip_with_zipfile_and_unzip(tmp_path: Path, mixed: list[Entry]) -> None:
    result = write_zip(mixed, tmp_path / "out.zip", workers=2)
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.testzip() is None
        assert zf.namelist() == [e.arc for e in mixed]
        for entry in mixed:
            assert zf.read(entry.arc) == contents(entry)
    unzip_test(tmp_path / "out.zip")
    assert result.file_count == len(mixed)
    assert result.unzipped_size == sum(len(contents(e)) for e in mixed)
    assert result.zipped_size == (tmp_path / "out.zip").stat().st_size
    assert result.sha256 == hashlib.sha256((tmp_path / "out.zip").read_bytes()).hexdigest()
    for written, entry in zip(result.entries, mixed):
        assert written.sha256 == hashlib.sha256(contents(entry)).hexdigest()
        assert written.size == len(contents(entry))


def test_stored_or_deflated(tmp_path: Path, mixed: list[Entry]) -> None:
    write_zip(mixed, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        method = {i.filename: i.compress_type for i in zf.infolist()}
        sizes = {i.filename: (i.compress_size, i.file_size) for i in zf.infolist()}
    assert method["app/handler.js"] == zipfile.ZIP_DEFLATED
    assert method["app/engine.so.node"] == zipfile.ZIP_DEFLATED
    assert method["app/exact.bin"] == zipfile.ZIP_DEFLATED
    assert method["app/random.bin"] == zipfile.ZIP_STORED
    assert method["app/big-random.bin"] == zipfile.ZIP_STORED
    assert method["app/empty.txt"] == zipfile.ZIP_STORED
    assert all(c <= f for c, f in sizes.values())


def test_segmented_deflate_costs_almost_nothing(tmp_path: Path) -> None:
    data = text(6 * zipjobs.SEGMENT + 123, 9)  # the real segment size
    (tmp_path / "big").write_bytes(data)
    write_zip([Entry("big", source=tmp_path / "big")], tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        segmented = zf.getinfo("big").compress_size
    comp = __import__("zlib").compressobj(6, 8, -15)
    whole = len(comp.compress(data) + comp.flush())
    assert segmented <= whole * 1.005


def test_exec_bits_and_unix_attributes(tmp_path: Path, mixed: list[Entry]) -> None:
    write_zip(mixed, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        for info, entry in zip(zf.infolist(), mixed):
            assert info.create_system == 3
            mode = info.external_attr >> 16
            assert stat.S_ISREG(mode)
            assert stat.S_IMODE(mode) == entry.mode
    out = tmp_path / "x"
    subprocess.run(["unzip", "-q", str(tmp_path / "out.zip"), "-d", str(out)], check=True)
    assert (out / "app/engine.so.node").stat().st_mode & 0o111
    assert (out / "bootstrap").stat().st_mode & 0o111
    assert not (out / "app/handler.js").stat().st_mode & 0o111


def test_fixed_timestamps_make_reruns_identical(tmp_path: Path, mixed: list[Entry]) -> None:
    first = write_zip(mixed, tmp_path / "a.zip")
    for entry in mixed:  # new mtimes on every source: they must not reach the zip
        if entry.source is not None:
            entry.source.touch()
    time.sleep(0.01)
    assert write_zip(mixed, tmp_path / "b.zip").sha256 == first.sha256
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch(tmp_path: Path, mixed: list[Entry]) -> None:
    epoch = zip_epoch({"SOURCE_DATE_EPOCH": "1700000000"})  # 2023-11-14T22:13:20Z
    assert epoch == 1700000000
    result = write_zip(mixed, tmp_path / "a.zip", epoch=epoch)
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    assert write_zip(mixed, tmp_path / "b.zip", epoch=epoch).sha256 == result.sha256
    assert write_zip(mixed, tmp_path / "c.zip").sha256 != result.sha256


@pytest.mark.parametrize("value", [None, "", "not-a-number", "-5", "100"])
def test_source_date_epoch_fallbacks(value: str | None) -> None:
    env = {} if value is None else {"SOURCE_DATE_EPOCH": value}
    assert zip_epoch(env) == DOS_EPOCH  # unset, invalid or before 1980: the zip's earliest time


def test_unicode_names(tmp_path: Path) -> None:
    names = ["node_modules/café/index.js", "node_modules/日本語/README.md", "plain.js"]
    entries = [Entry(name, data=f"// {name}\n".encode()) for name in names]
    write_zip(entries, tmp_path / "u.zip")
    with zipfile.ZipFile(tmp_path / "u.zip") as zf:
        assert zf.namelist() == names
        flags = {i.filename: i.flag_bits & 0x800 for i in zf.infolist()}
        assert zf.read("node_modules/日本語/README.md") == "// node_modules/日本語/README.md\n".encode()
    assert flags == {names[0]: 0x800, names[1]: 0x800, "plain.js": 0}
    unzip_test(tmp_path / "u.zip")


def test_zip64_beyond_65535_entries(tmp_path: Path) -> None:
    count = 70_000
    entries = [Entry(f"node_modules/p{i // 1000}/f{i:05d}.js", data=b"x" * (i % 7)) for i in range(count)]
    result = write_zip(entries, tmp_path / "many.zip", workers=2)
    raw = (tmp_path / "many.zip").read_bytes()
    assert raw.rfind(b"PK\x06\x06") > 0  # zip64 end of central directory record
    assert raw.rfind(b"PK\x06\x07") > 0  # and its locator
    with zipfile.ZipFile(tmp_path / "many.zip") as zf:
        infos = zf.infolist()
        assert len(infos) == count
        assert zf.read("node_modules/p69/f69999.js") == b"x" * (69999 % 7)
        assert zf.read("node_modules/p0/f00000.js") == b""
    assert result.file_count == count
    unzip_test(tmp_path / "many.zip")


def test_memory_stays_flat_for_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink every buffer: a file 64x the in-flight budget must not be held in memory."""
    monkeypatch.setattr(zipjobs, "SEGMENT", 64 << 10)
    monkeypatch.setattr(zipjobs, "SPLIT_MIN", 128 << 10)
    monkeypatch.setattr(zipjobs, "SPOOL_MAX", 128 << 10)
    monkeypatch.setattr(zipjobs, "INFLIGHT_BYTES", 128 << 10)
    monkeypatch.setattr(zipjobs, "INFLIGHT_MAX_BYTES", 256 << 10)
    monkeypatch.setattr(zipjobs, "CHUNK", 64 << 10)
    size = 16 << 20
    (tmp_path / "text.bin").write_bytes(text(size, 11))
    (tmp_path / "noise.bin").write_bytes(noise(size, 12))
    entries = [Entry("noise.bin", source=tmp_path / "noise.bin"), Entry("text.bin", source=tmp_path / "text.bin")]
    tracemalloc.start()
    try:
        write_zip(entries, tmp_path / "out.zip", workers=2, level=1)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak} bytes of Python memory while zipping 2 x {size} bytes"
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.testzip() is None


def test_a_file_that_changes_size_is_an_error(tmp_path: Path, small_segments: int) -> None:
    SEGMENT, SPLIT_MIN = small_segments, zipjobs.SPLIT_MIN  # noqa: N806
    (tmp_path / "big").write_bytes(text(SPLIT_MIN + 10))
    stale = SizedEntry("big", source=tmp_path / "big", size=SPLIT_MIN + 10 + SEGMENT)  # shrank since the walk
    with pytest.raises(ProjectError, match="changed size while it was being zipped"):
        write_zip([stale], tmp_path / "out.zip", workers=2)
    grown = SizedEntry("big", source=tmp_path / "big", size=SPLIT_MIN + 5)
    with pytest.raises(ProjectError, match="changed size"):
        write_zip([grown], tmp_path / "out.zip", workers=1)


def test_a_missing_file_is_a_project_error(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="cannot read"):
        write_zip([Entry("gone.js", source=tmp_path / "gone.js")], tmp_path / "out.zip", workers=2)


def test_on_entry_progress_and_content_digest(tmp_path: Path, mixed: list[Entry]) -> None:
    seen: list[int] = []
    result: ArchiveResult = write_zip(mixed, tmp_path / "out.zip", on_entry=seen.append)
    assert seen == [len(contents(e)) for e in mixed]
    reordered = list(reversed([(e.arc, e.mode, e.sha256) for e in result.entries]))
    assert content_digest(reordered) == result.content_digest


def test_unreadable_source_advice_depends_on_the_reason() -> None:
    import errno

    from bundler.plan import PlanEntry
    from bundler.zipjobs import _unreadable

    entry = PlanEntry(arc="lib/secret.js", size=1, mode=0o644, package="(app)", source="/app/lib/secret.js")
    denied = _unreadable(entry, OSError(errno.EACCES, "Permission denied"))
    assert "chmod" in (denied.hint or "") and "nothing else changes" not in (denied.hint or "")
    gone = _unreadable(entry, OSError(errno.ENOENT, "No such file or directory"))
    assert "went away" in (gone.hint or "")


def test_a_file_name_that_is_not_utf8_is_a_project_error(tmp_path: Path) -> None:
    from bundler.plan import PlanEntry

    name = b"caf\xe9.js".decode("utf-8", errors="surrogateescape")
    entry = PlanEntry(arc=name, size=0, mode=0o644, package="(app)", data=b"")
    with pytest.raises(ProjectError, match=r"b'caf\\xe9.js' is not UTF-8"):
        write_zip([entry], tmp_path / "a.zip")


def test_a_small_file_is_zipped_as_it_is_when_read_even_if_its_size_changed_since_the_walk(tmp_path: Path) -> None:
    """A small file is read whole: one read of the walked size (plus one byte) when it did not change, more reads
    when it grew, fewer bytes when it shrank; the zip holds what was read, with its own size and CRC."""
    grown, shrunk, same = text(50_000, 1), text(300, 2), text(7000, 3)
    for name, data in (("grown", grown), ("shrunk", shrunk), ("same", same)):
        (tmp_path / name).write_bytes(data)
    entries = [SizedEntry("grown.js", source=tmp_path / "grown", size=1000),
               SizedEntry("shrunk.js", source=tmp_path / "shrunk", size=5000),
               SizedEntry("same.js", source=tmp_path / "same", size=7000)]
    result = write_zip(entries, tmp_path / "out.zip", workers=2)
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.testzip() is None
        assert [zf.read(n) for n in ("grown.js", "shrunk.js", "same.js")] == [grown, shrunk, same]
    assert [w.size for w in result.entries] == [50_000, 300, 7000]


def test_blocks_written_entry_by_entry_near_4_gib_give_the_same_bytes(tmp_path: Path, mixed: list[Entry],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's block that would cross 4 GiB is written entry by entry with headers made for their offsets;
    below 4 GiB those headers are the workers' own, so moving the threshold down must not change a byte."""
    from bundler import archive

    reference = write_zip(mixed, tmp_path / "a.zip", workers=2)
    monkeypatch.setattr(archive, "ZIP64_LIMIT", 1)  # every block takes the entry-by-entry path
    assert write_zip(mixed, tmp_path / "b.zip", workers=2).sha256 == reference.sha256
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
