"""bundler/fstree.py: deep trees made, unpacked and removed without recursion."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from bundler.fstree import extract_zip, make_dirs, remove_tree, scratch_dir, temporary_folder

DEPTH = 1500  # deeper than Python's default recursion limit (1000)


def test_make_dirs_extract_and_remove_a_deep_chain(tmp_path: Path) -> None:
    deep = tmp_path.joinpath("src", *["d"] * DEPTH)
    make_dirs(deep)
    assert deep.is_dir()
    archive = tmp_path / "a.zip"
    name = "/".join(["d"] * DEPTH) + "/engine"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100755 << 16
        zf.writestr(info, b"x")
    with temporary_folder("fstree-test-") as tmp:
        extract_zip(archive, tmp)
        target = tmp / name
        assert target.read_bytes() == b"x" and os.access(target, os.X_OK)
        kept = tmp
    assert not kept.exists()
    remove_tree(tmp_path / "src")
    assert not (tmp_path / "src").exists()


def test_extract_refuses_entries_outside_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../escaped.txt", b"x")
    with pytest.raises(ValueError, match="lands outside"):
        extract_zip(archive, tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_extract_on_several_threads_gives_every_file_its_bytes_and_mode(tmp_path: Path, workers: int) -> None:
    """Many files (so the work is split across threads), folders stored and implied, modes, an entry larger
    than one read, and a name stored twice (the last one wins, as in order)."""
    archive = tmp_path / "many.zip"
    expected: dict[str, tuple[bytes, int | None]] = {}
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("empty-folder/"), b"")
        for i in range(700):
            name = f"pkg{i % 9}/lib/sub{i % 4}/f{i}.js"
            data = f"module.exports = {i};\n".encode() * (i % 50)
            info = zipfile.ZipInfo(name)
            mode = 0o755 if i % 7 == 0 else 0o644 if i % 3 else None
            if mode is not None:
                info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data)
            expected[name] = (data, mode)
        big = os.urandom(17 << 20)
        zf.writestr("engine/libquery_engine.so.node", big)
        expected["engine/libquery_engine.so.node"] = (big, None)
    twice = tmp_path / "twice.zip"
    with zipfile.ZipFile(twice, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        for i in range(200):
            zf.writestr(f"f{i}.js", b"first")
        zf.writestr("f7.js", b"second")
    dest = tmp_path / "out"
    dest.mkdir()
    extract_zip(archive, dest, workers=workers)
    assert (dest / "empty-folder").is_dir()
    found = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert found == set(expected)
    umask = os.umask(0)
    os.umask(umask)
    with zipfile.ZipFile(archive) as zf:
        stored = {i.filename: i.external_attr >> 16 & 0o777 for i in zf.infolist()}
    assert {stored[n] for n, (_d, m) in expected.items() if m is not None} == {0o755, 0o644}
    for name, (data, _mode) in expected.items():
        assert (dest / name).read_bytes() == data
        assert (dest / name).stat().st_mode & 0o777 == (stored[name] or 0o666 & ~umask)  # no mode: as open("wb")
    extract_zip(twice, tmp_path / "twice", workers=workers)
    assert (tmp_path / "twice" / "f7.js").read_bytes() == b"second"


def test_scratch_dir_is_memory_only_with_room_and_no_chosen_temp_folder() -> None:
    from bundler.fstree import SHM

    assert scratch_dir(0, {}) is None  # nothing known about the size
    assert scratch_dir(1, {"TMPDIR": "/elsewhere"}) is None  # the user's temp folder wins
    assert scratch_dir(1 << 60, {}) is None  # more than any machine holds
    if Path(SHM).is_dir() and os.access(SHM, os.W_OK) and not os.statvfs(SHM).f_flag & os.ST_NOEXEC:
        assert scratch_dir(1 << 20, {}) == SHM


def test_extract_handles_stored_deflated_chunked_and_other_methods_and_checks_crcs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bundler.fstree

    monkeypatch.setattr(bundler.fstree, "_WHOLE_MAX", 1000)  # the 5,000-byte entries go through the chunked path
    monkeypatch.setattr(bundler.fstree, "_CHUNK", 777)
    contents = {"stored.txt": (b"s" * 5000, zipfile.ZIP_STORED), "small.js": (b"x = 1;\n" * 10, zipfile.ZIP_DEFLATED),
                "big.js": (os.urandom(2500) * 2, zipfile.ZIP_DEFLATED), "empty": (b"", zipfile.ZIP_DEFLATED),
                "bz.txt": (b"b" * 3000, zipfile.ZIP_BZIP2)}
    archive = tmp_path / "mixed.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name, (data, method) in contents.items():
            info = zipfile.ZipInfo(f"dir/{name}")
            info.compress_type = method
            info.external_attr = 0o100640 << 16
            zf.writestr(info, data)
    extract_zip(archive, tmp_path / "out", workers=2)
    for name, (data, _method) in contents.items():
        target = tmp_path / "out" / "dir" / name
        assert target.read_bytes() == data, name
        assert target.stat().st_mode & 0o777 == 0o640
    # a flipped byte in a deflated entry's data: refused, never unpacked silently
    raw = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("dir/stored.txt")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    raw[at] ^= 0xFF
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(raw))
    with pytest.raises(zipfile.BadZipFile, match="CRC"):
        extract_zip(damaged, tmp_path / "out2", workers=1)


@pytest.mark.parametrize("options", ["size=64m", "size=64m,noexec", "size=64m,ro", "size=1m"])
def test_scratch_dir_refuses_a_tmpfs_mounted_noexec_read_only_or_too_small(tmp_path: Path, options: str) -> None:
    """A real tmpfs mounted with each option: only the plain one with room is taken."""
    mount_point = tmp_path / "mem"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        got = scratch_dir(8 << 20, {}, str(mount_point))
        assert got == (str(mount_point) if options == "size=64m" else None)
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)
