"""The engine cache against a real mirror: damaged copies, --offline, Prisma's cache, two processes at once."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.engines import EngineKind
from bundler.engines.acquire import AcquiredEngine, EngineOptions, acquire
from bundler.errors import EngineNotFoundError
from bundler.hashing import sha256_file
from tests.mirror_server import MirrorServer, cli_env, compile_elf, engines_cli, publish_engine

pytestmark = pytest.mark.network

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
TARGET = "rhel-openssl-3.0.x"


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_elf(tmp_path_factory.mktemp("elf") / "query-engine").read_bytes()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MirrorServer]:
    with MirrorServer(tmp_path / "mirror", lifetime=60) as srv:
        yield srv


def _acquire(
    tmp_path: Path,
    base_url: str,
    kind: EngineKind = "binary",
    *,
    offline: bool = False,
    env: dict[str, str] | None = None,
) -> AcquiredEngine:
    options = EngineOptions(
        mirror=base_url,
        offline=offline,
        version=HASH,
        cache_dir=tmp_path / "cache",
        timeout=10,
        env={"HOME": str(tmp_path / "home"), "NO_PROXY": "127.0.0.1", **(env or {})},
    )
    return acquire(kind, TARGET, project_root=tmp_path / "project", local=None, options=options)


def test_damaged_cached_file_is_fetched_again(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = publish_engine(server.root, HASH, TARGET, "binary", elf)
    first = _acquire(tmp_path, server.base_url)
    first.path.write_bytes(b"\x7fELF bit rot")
    second = _acquire(tmp_path, server.base_url)
    assert (second.source, second.path) == ("mirror", first.path)
    assert second.path.read_bytes() == elf
    assert sha256_file(second.path) == published.sha256
    assert server.count(".gz") == 2
    third = _acquire(tmp_path, server.base_url)
    assert third.source == "cache"


def test_cached_file_that_lost_its_checksum_is_fetched_again(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    publish_engine(server.root, HASH, TARGET, "binary", elf)
    first = _acquire(tmp_path, server.base_url)
    first.path.with_name(first.path.name + ".sha256").unlink()
    assert _acquire(tmp_path, server.base_url).source == "mirror"


def test_offline_with_a_cache_hit_touches_no_network(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    publish_engine(server.root, HASH, TARGET, "binary", elf)
    fetched = _acquire(tmp_path, server.base_url)
    before = len(server.requests)
    got = _acquire(tmp_path, server.base_url, offline=True)
    assert (got.source, got.path, got.sha256) == ("cache", fetched.path, fetched.sha256)
    assert len(server.requests) == before


def test_offline_without_a_cache_hit_says_what_is_missing(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    publish_engine(server.root, HASH, TARGET, "binary", elf)
    with pytest.raises(EngineNotFoundError) as err:
        _acquire(tmp_path, server.base_url, offline=True)
    text = str(err.value)
    assert f"query-engine-{TARGET}" in text
    assert f"mirror: not contacted (--offline): {server.base_url}/all_commits/{HASH}/{TARGET}/query-engine.gz" in text
    assert "drop --offline" in text
    assert server.requests == []


@pytest.mark.parametrize("where", ["home", "xdg"])
def test_prismas_cache_is_reused_when_its_sha_matches(
    tmp_path: Path, server: MirrorServer, elf: bytes, where: str
) -> None:
    published = publish_engine(server.root, HASH, TARGET, "library", elf)
    root = tmp_path / "home" / ".cache" / "prisma" if where == "home" else tmp_path / "xdg" / "prisma"
    folder = root / "master" / HASH / TARGET
    folder.mkdir(parents=True)
    (folder / "libquery-engine").write_bytes(elf)
    (folder / "libquery-engine.sha256").write_text(published.sha256)
    (folder / "libquery-engine.gz.sha256").write_text(published.gz_sha256)
    extra = {"XDG_CACHE_HOME": str(tmp_path / "xdg")} if where == "xdg" else {}
    got = _acquire(tmp_path, server.base_url, "library", env=extra)
    assert got.source == "prisma-cache"
    assert got.path.read_bytes() == elf
    assert got.path.is_relative_to(tmp_path / "cache")  # copied into our cache; Prisma's is left alone
    assert (folder / "libquery-engine").read_bytes() == elf
    assert server.requests == []


def test_prismas_cache_is_ignored_when_its_sha_does_not_match(
    tmp_path: Path, server: MirrorServer, elf: bytes
) -> None:
    published = publish_engine(server.root, HASH, TARGET, "library", elf)
    folder = tmp_path / "home" / ".cache" / "prisma" / "master" / HASH / TARGET
    folder.mkdir(parents=True)
    (folder / "libquery-engine").write_bytes(b"tampered")
    (folder / "libquery-engine.sha256").write_text(published.sha256)
    got = _acquire(tmp_path, server.base_url, "library")
    assert got.source == "mirror"
    assert got.path.read_bytes() == elf
    assert server.count(".gz") == 1


def test_two_processes_fetching_the_same_engine(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    big = elf + random.Random(3).randbytes(600_000)  # ~37 chunks: the downloads overlap when throttled
    published = publish_engine(server.root, HASH, TARGET, "binary", big)
    server.throttle(0.04)  # ~1.5 s per download
    env = cli_env(tmp_path / "cache", tmp_path / "home")
    argv = [*engines_cli(), "fetch", "--target", TARGET, "--kind", "binary", "--version", HASH,
            "--mirror", server.base_url, "--json"]
    procs = [
        subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    results = [json.loads(out)[0] for out, _ in outputs]
    path = Path(results[0]["path"])
    assert {r["path"] for r in results} == {str(path)}
    assert sorted(r["source"] for r in results) == ["cache", "mirror"]
    assert path.read_bytes() == big
    assert sha256_file(path) == published.sha256
    assert path.with_name(path.name + ".sha256").read_text().split()[0] == published.sha256
    assert path.stat().st_mode & 0o777 == 0o755
    assert [p.name for p in path.parent.iterdir() if p.name.endswith((".part", ".tmp"))] == []
    assert server.count(".gz") == 1  # the second process waited on the lock and found the engine cached
    assert subprocess.run([str(path)], check=False, timeout=30).returncode == 0
