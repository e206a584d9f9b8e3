"""Cache folder resolution, entry layout, store/lookup/discard, Prisma's cache: files only, no sockets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bundler.engines.cache import EngineCache, cache_root
from bundler.engines.prisma_cache import candidate_names, find_in_prisma_cache, prisma_cache_roots
from bundler.errors import ConfigError
from bundler.hashing import sha256_file

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
DATA = b"\x7fELF not really an engine"
DIGEST = hashlib.sha256(DATA).hexdigest()


def test_cache_root_precedence(tmp_path: Path) -> None:
    assert cache_root(tmp_path / "o", {"PHOTON_BUNDLE_CACHE": "/e"}) == tmp_path / "o"
    env = {"PHOTON_BUNDLE_CACHE": "/e", "XDG_CACHE_HOME": "/x", "HOME": "/h"}
    assert cache_root(None, env) == Path("/e")
    assert cache_root(None, {"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == Path("/x/photon-bundle")
    assert cache_root(None, {"HOME": "/h"}) == Path("/h/.cache/photon-bundle")
    assert cache_root(None, {"PHOTON_BUNDLE_CACHE": " ", "HOME": "/h"}) == Path("/h/.cache/photon-bundle")


def test_entry_layout(tmp_path: Path) -> None:
    entry = EngineCache(tmp_path).entry(HASH, "rhel-openssl-1.0.x", "library")
    folder = tmp_path / "engines" / HASH / "rhel-openssl-1.0.x"
    assert entry.path == folder / "libquery_engine-rhel-openssl-1.0.x.so.node"
    assert entry.sha_path == folder / "libquery_engine-rhel-openssl-1.0.x.so.node.sha256"
    assert entry.lock_path == folder / ".libquery_engine-rhel-openssl-1.0.x.so.node.lock"
    binary = EngineCache(tmp_path).entry(HASH, "debian-openssl-3.0.x", "binary")
    assert binary.path.name == "query-engine-debian-openssl-3.0.x"


@pytest.mark.parametrize(("version", "target"), [("../etc", "t"), ("a/b", "t"), (".hidden", "t"), ("", "t"),
                                                 (HASH, ".."), (HASH, "a/b")])
def test_entry_refuses_names_that_escape_the_cache(tmp_path: Path, version: str, target: str) -> None:
    with pytest.raises(ConfigError):
        EngineCache(tmp_path).entry(version, target, "binary")


def _stage(cache: EngineCache, version: str, target: str) -> Path:
    entry = cache.entry(version, target, "binary")
    entry.dir.mkdir(parents=True, exist_ok=True)
    tmp = entry.dir / f".{entry.name}.x.part"
    tmp.write_bytes(DATA)
    return cache.store(entry, tmp, DIGEST)


def test_store_then_lookup(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    entry = cache.entry(HASH, "linux-musl", "binary")
    with cache.locked(entry) as writable:
        assert writable
        assert cache.lookup(entry) is None
        path = _stage(cache, HASH, "linux-musl")
        assert path == entry.path
        assert cache.lookup(entry) == DIGEST
    assert path.read_bytes() == DATA
    assert path.stat().st_mode & 0o777 == 0o755
    assert entry.sha_path.read_text().split()[0] == DIGEST
    assert not list(entry.dir.glob("*.part"))
    assert sha256_file(path) == DIGEST


def test_lookup_discards_a_damaged_copy(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    entry = cache.entry(HASH, "linux-musl", "binary")
    _stage(cache, HASH, "linux-musl")
    entry.path.write_bytes(DATA + b"!")
    assert cache.lookup(entry, may_discard=False) is None
    assert entry.path.exists()  # read-only lookups leave it
    assert cache.lookup(entry) is None
    assert not entry.path.exists()
    assert not entry.sha_path.exists()


def test_lookup_discards_a_copy_without_checksum(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    entry = cache.entry(HASH, "linux-musl", "binary")
    _stage(cache, HASH, "linux-musl")
    entry.sha_path.unlink()
    assert cache.lookup(entry) is None
    assert not entry.path.exists()


def test_locking_removes_stale_temp_files(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    entry = cache.entry(HASH, "linux-musl", "binary")
    entry.dir.mkdir(parents=True)
    stale = entry.dir / f".{entry.name}.abc123.part"
    stale.write_bytes(b"half")
    with cache.locked(entry):
        pass
    assert not stale.exists()


def test_locking_removes_a_killed_downloads_part_named_after_the_mirror_file(tmp_path: Path) -> None:
    """mirror.py names its temp file after the URL (`.libquery_engine.so.node.*.part`), not the cache name;
    the other kind's download in the same folder (under its own lock) is left alone."""
    cache = EngineCache(tmp_path)
    entry = cache.entry(HASH, "rhel-openssl-3.0.x", "library")
    entry.dir.mkdir(parents=True)
    killed = entry.dir / ".libquery_engine.so.node.k2x9a1b0.part"
    killed.write_bytes(b"half")
    other_kind = entry.dir / ".query-engine.z8y7x6w5.part"
    other_kind.write_bytes(b"running")
    with cache.locked(entry):
        pass
    assert not killed.exists()
    assert other_kind.exists()


def test_entries_and_clear(tmp_path: Path) -> None:
    cache = EngineCache(tmp_path)
    _stage(cache, HASH, "linux-musl")
    _stage(cache, "b" * 40, "rhel-openssl-3.0.x")
    with cache.locked(cache.entry(HASH, "linux-musl", "binary")):
        listed = cache.entries()
    assert [(e.version, e.target, e.kind, e.size) for e in listed] == [
        (HASH, "linux-musl", "binary", len(DATA)),
        ("b" * 40, "rhel-openssl-3.0.x", "binary", len(DATA)),
    ]
    assert all(e.recorded_sha256 == DIGEST for e in listed)
    (tmp_path / "keep.txt").write_text("user file")
    assert cache.clear() == (2, 2 * len(DATA))
    assert cache.entries() == []
    assert (tmp_path / "keep.txt").exists()  # only <cache>/engines is removed


def test_prisma_cache_roots() -> None:
    assert prisma_cache_roots({"XDG_CACHE_HOME": "/x", "HOME": "/h"}) == [Path("/x/prisma"), Path("/h/.cache/prisma")]
    assert prisma_cache_roots({"XDG_CACHE_HOME": "/h/.cache", "HOME": "/h"}) == [Path("/h/.cache/prisma")]


def test_prisma_cache_candidate_names() -> None:
    assert candidate_names("binary", "rhel-openssl-1.0.x") == ["query-engine", "query-engine-rhel-openssl-1.0.x"]
    assert candidate_names("library", "rhel-openssl-1.0.x") == [
        "libquery-engine",
        "libquery_engine-rhel-openssl-1.0.x.so.node",
        "libquery_engine.so.node",
    ]


def test_find_in_prisma_cache(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    folder = tmp_path / ".cache" / "prisma" / "master" / HASH / "linux-musl"
    folder.mkdir(parents=True)
    (folder / "query-engine").write_bytes(DATA)
    assert find_in_prisma_cache("binary", "linux-musl", HASH, env).path is None  # no .sha256: never trusted
    (folder / "query-engine.sha256").write_text("0" * 64)
    miss = find_in_prisma_cache("binary", "linux-musl", HASH, env)
    assert miss.path is None
    assert "does not match" in miss.notes[0]
    (folder / "query-engine.sha256").write_text(DIGEST)
    hit = find_in_prisma_cache("binary", "linux-musl", HASH, env)
    assert hit.path == folder / "query-engine"
    assert hit.sha256 == DIGEST
