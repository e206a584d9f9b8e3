"""Engine downloads against a real HTTP mirror on 127.0.0.1: the happy paths and every fault the issue lists."""

from __future__ import annotations

import logging
import random
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bundler.engines import EngineKind, engine_filename, mirror_http
from bundler.engines import mirror as mirror_module
from bundler.engines.acquire import AcquiredEngine, EngineOptions, acquire, fetch_engine
from bundler.errors import EngineFetchError
from tests.mirror_server import MirrorServer, PublishedEngine, compile_elf, gzip_bytes, publish_engine, sha256_hex

pytestmark = pytest.mark.network

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
TARGET = "rhel-openssl-1.0.x"


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_elf(tmp_path_factory.mktemp("elf") / "query-engine").read_bytes()


@pytest.fixture(scope="module")
def shared_object(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_elf(tmp_path_factory.mktemp("so") / "libquery_engine.so.node", shared=True).read_bytes()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MirrorServer]:
    with MirrorServer(tmp_path / "mirror", lifetime=60) as srv:
        yield srv


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mirror_http, "RETRY_BACKOFF", (0.05, 0.1))


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "NO_PROXY": "127.0.0.1,localhost", **extra}


def _fetch(
    tmp_path: Path,
    base_url: str,
    kind: EngineKind = "binary",
    *,
    timeout: float = 10.0,
    env: dict[str, str] | None = None,
) -> AcquiredEngine:
    options = EngineOptions(
        mirror=base_url, cache_dir=tmp_path / "cache", timeout=timeout, env=env or _env(tmp_path), version=HASH
    )
    return acquire(kind, TARGET, project_root=tmp_path / "project", local=None, options=options)


def _publish(server: MirrorServer, data: bytes, kind: EngineKind = "binary", **kw: object) -> PublishedEngine:
    return publish_engine(server.root, HASH, TARGET, kind, data, **kw)  # type: ignore[arg-type]


def _cache_is_clean(tmp_path: Path) -> bool:
    folder = tmp_path / "cache" / "engines" / HASH / TARGET
    leftovers = [p.name for p in folder.iterdir() if not p.name.endswith(".lock")] if folder.exists() else []
    return leftovers == []


# ------------------------------------------------------------------------------------------- happy


def test_binary_engine(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    got = _fetch(tmp_path, server.base_url)
    assert got.source == "mirror"
    assert got.path == tmp_path / "cache" / "engines" / HASH / TARGET / "query-engine-rhel-openssl-1.0.x"
    assert got.path.read_bytes() == elf
    assert got.sha256 == published.sha256
    assert got.path.stat().st_mode & 0o777 == 0o755
    assert subprocess.run([str(got.path)], check=False, timeout=30).returncode == 0
    assert got.path.with_name(got.path.name + ".sha256").read_text().split()[0] == published.sha256
    assert [r.path.rsplit("/", 1)[-1] for r in server.requests] == [
        "query-engine.gz.sha256", "query-engine.sha256", "query-engine.gz"
    ]
    again = _fetch(tmp_path, server.base_url)
    assert (again.source, again.path) == ("cache", got.path)
    assert server.count(".gz") == 1


def test_library_engine(tmp_path: Path, server: MirrorServer, shared_object: bytes) -> None:
    published = _publish(server, shared_object, "library")
    assert published.url_path.endswith(f"/{TARGET}/libquery_engine.so.node.gz")
    got = _fetch(tmp_path, server.base_url, "library")
    assert got.path.name == engine_filename("library", TARGET) == "libquery_engine-rhel-openssl-1.0.x.so.node"
    assert got.path.read_bytes() == shared_object
    assert got.path.stat().st_mode & 0o777 == 0o755
    assert (got.kind, got.target, got.version, got.sha256) == ("library", TARGET, HASH, published.sha256)


def test_large_engine_streams_in_many_chunks(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    big = elf + random.Random(7).randbytes(3_000_000)  # incompressible: the .gz is ~3 MB too
    published = _publish(server, big)
    seen: list[tuple[int, int | None]] = []
    client = mirror_module.MirrorClient(env=_env(tmp_path), timeout=10)
    url = published.url(server.base_url)
    (tmp_path / "dl").mkdir()
    result = client.download(url, tmp_path / "dl", expected=client.checksums(url),
                              progress=lambda done, total: seen.append((done, total)))
    assert result.path.read_bytes() == big
    assert (result.sha256, result.gz_sha256) == (published.sha256, published.gz_sha256)
    assert len(seen) > 2
    assert seen[-1] == (len(published.gz), len(published.gz))


def test_multi_member_gzip(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    half = len(elf) // 2
    _publish(server, elf, gz=gzip_bytes(elf[:half]) + gzip_bytes(elf[half:]))
    assert _fetch(tmp_path, server.base_url).path.read_bytes() == elf


def test_file_mirror(tmp_path: Path, elf: bytes) -> None:
    root = tmp_path / "air gapped"  # a space, to check the path is quoted in the URL
    publish_engine(root, HASH, TARGET, "binary", elf)
    got = _fetch(tmp_path, root.as_uri())
    assert got.path.read_bytes() == elf
    assert got.source == "mirror"


def test_mirror_given_as_a_plain_path(tmp_path: Path, elf: bytes) -> None:
    publish_engine(tmp_path / "m", HASH, "linux-musl", "binary", elf)
    options = EngineOptions(mirror=str(tmp_path / "m"), cache_dir=tmp_path / "cache", env=_env(tmp_path))
    got = fetch_engine("binary", "linux-musl", HASH, options, steps=("mirror",))
    assert got.path.read_bytes() == elf


def test_file_mirror_missing_engine(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    expected = r"engine not found on the mirror: file://.*query-engine\.gz \(no such file"
    with pytest.raises(EngineFetchError, match=expected):
        _fetch(tmp_path, (tmp_path / "empty").as_uri())


def test_http_proxy_is_used(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf)
    env = _env(tmp_path, HTTP_PROXY=server.base_url, NO_PROXY="")
    got = _fetch(tmp_path, "http://mirror.invalid", env=env)
    assert got.path.read_bytes() == elf
    assert server.requests and all(r.proxied for r in server.requests)


def test_no_proxy_bypasses_a_dead_proxy(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = _env(tmp_path, HTTP_PROXY=dead, http_proxy=dead, NO_PROXY="127.0.0.1,localhost")
    assert _fetch(tmp_path, server.base_url, env=env).path.read_bytes() == elf
    assert not any(r.proxied for r in server.requests)


# --------------------------------------------------------------------------------------- checksums


def test_gz_checksum_mismatch(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf, gz_sha256="0" * 64)
    with pytest.raises(EngineFetchError, match=r"checksum mismatch for .*query-engine\.gz: the \.gz has sha256"):
        _fetch(tmp_path, server.base_url)
    assert _cache_is_clean(tmp_path)


def test_unpacked_checksum_mismatch(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf, sha256="1" * 64)
    with pytest.raises(EngineFetchError, match="checksum mismatch for the unpacked query-engine"):
        _fetch(tmp_path, server.base_url)
    assert _cache_is_clean(tmp_path)


def test_bytes_corrupted_in_transit_fail_the_gz_checksum(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    broken = bytearray(published.gz)
    broken[len(broken) // 2] ^= 0xFF
    published.gz_path.write_bytes(bytes(broken))  # checksums still describe the good file
    with pytest.raises(EngineFetchError, match="checksum mismatch"):
        _fetch(tmp_path, server.base_url)
    assert _cache_is_clean(tmp_path)


@pytest.mark.parametrize("missing", ["query-engine.gz.sha256", "query-engine.sha256"])
def test_missing_checksum_is_fatal(tmp_path: Path, server: MirrorServer, elf: bytes, missing: str) -> None:
    published = _publish(server, elf)
    (published.gz_path.parent / missing).unlink()
    with pytest.raises(EngineFetchError) as err:
        _fetch(tmp_path, server.base_url)
    assert f"checksum file missing on the mirror: {server.base_url}" in str(err.value)
    assert missing in str(err.value)
    assert "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1" in str(err.value)
    assert server.count(missing) == 1  # a 404 is not retried
    assert _cache_is_clean(tmp_path)


def test_missing_checksums_can_be_ignored_loudly(
    tmp_path: Path, server: MirrorServer, elf: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    published = _publish(server, elf, checksums=False)
    env = _env(tmp_path, PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING="1")
    with caplog.at_level(logging.WARNING, logger="bundler.engines.mirror"):
        got = _fetch(tmp_path, server.base_url, env=env)
    assert got.path.read_bytes() == elf
    assert got.sha256 == published.sha256
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("WITHOUT verifying" in w and "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING" in w for w in warnings)


def test_ignore_missing_still_checks_the_checksums_that_exist(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf, sha256="2" * 64)
    (published.gz_path.parent / "query-engine.gz.sha256").unlink()
    env = _env(tmp_path, PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING="1")
    with pytest.raises(EngineFetchError, match="checksum mismatch for the unpacked"):
        _fetch(tmp_path, server.base_url, env=env)


def test_garbage_checksum_file(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    (published.gz_path.parent / "query-engine.sha256").write_text("<html>Access denied</html>")
    with pytest.raises(EngineFetchError, match="does not start with a SHA-256 digest"):
        _fetch(tmp_path, server.base_url)


# ------------------------------------------------------------------------------------- HTTP faults


def test_404_is_not_retried(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    published.gz_path.unlink()
    with pytest.raises(EngineFetchError) as err:
        _fetch(tmp_path, server.base_url)
    assert "engine not found on the mirror" in str(err.value)
    assert "404" in str(err.value)
    assert server.count(".gz") == 1
    assert _cache_is_clean(tmp_path)


def test_nothing_published_says_the_engine_is_missing(tmp_path: Path, server: MirrorServer) -> None:
    with pytest.raises(EngineFetchError) as err:
        _fetch(tmp_path, server.base_url)
    assert "engine not found on the mirror" in str(err.value)
    assert "(HTTP 404 Not Found)" in str(err.value)
    assert "checksum" not in str(err.value)
    assert server.count(".gz.sha256") == 1


def test_500_then_success(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf)
    server.fail(".gz", 500, 503)
    server.fail("query-engine.sha256", 502)
    got = _fetch(tmp_path, server.base_url)
    assert got.path.read_bytes() == elf
    assert server.count(".gz") == 3
    assert server.count(".gz", status=500) == 1
    assert server.count("query-engine.sha256") == 2


def test_500_three_times_gives_up(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf)
    server.fail(".gz", 500, 500, 500)
    with pytest.raises(EngineFetchError, match=r"failed after 3 attempts: HTTP 500") as failed:
        _fetch(tmp_path, server.base_url)
    assert "photon-bundle engines fetch --timeout" in str(failed.value)  # a flag that exists, where it exists
    assert server.count(".gz") == 3
    assert _cache_is_clean(tmp_path)


def test_connection_dropped_mid_body_is_retried(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    server.drop(".gz", after_bytes=len(published.gz) // 2)
    got = _fetch(tmp_path, server.base_url)
    assert got.path.read_bytes() == elf
    assert server.count(".gz") == 2
    names = sorted(p.name for p in got.path.parent.iterdir() if not p.name.endswith(".lock"))
    assert names == [got.path.name, got.path.name + ".sha256"]


def test_connection_dropped_every_time(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    published = _publish(server, elf)
    server.drop(".gz", after_bytes=100, times=3)
    with pytest.raises(EngineFetchError) as err:
        _fetch(tmp_path, server.base_url)
    assert f"connection closed after 100 of {len(published.gz)} bytes" in str(err.value)
    assert _cache_is_clean(tmp_path)


def test_slow_server_hits_the_timeout(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf)
    server.stall(".gz", 5.0)
    started = time.monotonic()
    with pytest.raises(EngineFetchError, match="timed out"):
        _fetch(tmp_path, server.base_url, timeout=0.5)
    assert time.monotonic() - started < 4.5  # 3 tries x 0.5 s + short backoff, never the 5 s stall
    assert _cache_is_clean(tmp_path)


def test_refused_connection(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EngineFetchError, match="failed after 3 attempts"):
        _fetch(tmp_path, f"http://127.0.0.1:{port}")


def test_truncated_gzip(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    whole = gzip_bytes(elf)
    cut = whole[: len(whole) - 20]
    _publish(server, elf, gz=cut, gz_sha256=sha256_hex(cut))  # the mirror's own checksum matches the cut file
    with pytest.raises(EngineFetchError, match="is not a complete gzip file: the gzip stream ends early"):
        _fetch(tmp_path, server.base_url)
    assert _cache_is_clean(tmp_path)


def test_not_gzip_at_all(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    _publish(server, elf, gz=elf, gz_sha256=sha256_hex(elf))
    with pytest.raises(EngineFetchError, match="corrupt gzip data"):
        _fetch(tmp_path, server.base_url)
    assert _cache_is_clean(tmp_path)


def test_progress_bar_off_a_terminal_writes_nothing_to_stdout(
    tmp_path: Path, server: MirrorServer, elf: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    _publish(server, elf)
    options = EngineOptions(mirror=server.base_url, cache_dir=tmp_path / "cache", env=_env(tmp_path), version=HASH,
                            progress=True)
    got = acquire("binary", TARGET, project_root=tmp_path, local=None, options=options)
    assert got.path.read_bytes() == elf
    assert capsys.readouterr().out == ""
