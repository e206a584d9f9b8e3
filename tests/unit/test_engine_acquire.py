"""acquire() paths that need no network: local, offline, caches, source checks, the Docker hook."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from bundler.engines import EngineKind
from bundler.engines.acquire import AcquiredEngine, EngineOptions, acquire
from bundler.engines.cache import EngineCache
from bundler.errors import ConfigError, EngineNotFoundError

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
TARGET = "rhel-openssl-1.0.x"
DATA = b"\x7fELF engine bytes"
DIGEST = hashlib.sha256(DATA).hexdigest()


def _options(tmp_path: Path, **kw: object) -> EngineOptions:
    env = {"HOME": str(tmp_path / "home")}
    return EngineOptions(cache_dir=tmp_path / "cache", env=env, **kw)  # type: ignore[arg-type]


def _fill_cache(tmp_path: Path, kind: EngineKind = "binary") -> Path:
    cache = EngineCache(tmp_path / "cache")
    entry = cache.entry(HASH, TARGET, kind)
    entry.dir.mkdir(parents=True, exist_ok=True)
    tmp = entry.dir / ".x.part"
    tmp.write_bytes(DATA)
    return cache.store(entry, tmp, DIGEST)


def test_local_source_uses_the_projects_engine(tmp_path: Path) -> None:
    local = tmp_path / "query-engine-rhel-openssl-1.0.x"
    local.write_bytes(DATA)
    got = acquire("binary", TARGET, project_root=tmp_path, local=local, options=_options(tmp_path, source="local"))
    assert (got.path, got.source, got.sha256, got.version) == (local, "local", DIGEST, None)


def test_local_source_without_engine_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(EngineNotFoundError) as err:
        acquire("binary", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path, source="local"))
    text = str(err.value)
    assert TARGET in text
    assert f'binaryTargets = ["native", "{TARGET}"]' in text
    assert "prisma generate" in text
    assert "--engine-source auto|mirror" in text


def test_auto_prefers_local_and_needs_no_version(tmp_path: Path) -> None:
    local = tmp_path / "e"
    local.write_bytes(DATA)
    got = acquire("binary", TARGET, project_root=tmp_path, local=local, options=_options(tmp_path))
    assert got.source == "local"


def test_auto_without_local_or_version_explains_both(tmp_path: Path) -> None:
    with pytest.raises(EngineNotFoundError) as err:
        acquire("binary", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path))
    text = str(err.value)
    assert "not in the project" in text
    assert "--engine-version" in text
    assert "binaryTargets" in text


def test_offline_cache_hit(tmp_path: Path) -> None:
    path = _fill_cache(tmp_path)
    got = acquire("binary", TARGET, project_root=tmp_path, local=None,
                  options=_options(tmp_path, offline=True, version=HASH))
    assert (got.path, got.source, got.sha256, got.version) == (path, "cache", DIGEST, HASH)


def test_offline_miss_lists_every_source(tmp_path: Path) -> None:
    with pytest.raises(EngineNotFoundError) as err:
        acquire("binary", TARGET, project_root=tmp_path, local=None,
                options=_options(tmp_path, offline=True, version=HASH, mirror="http://mirror.invalid"))
    text = str(err.value)
    assert "project: no query-engine-rhel-openssl-1.0.x on disk" in text
    assert "photon-bundle cache:" in text
    assert "Prisma's cache: not in" in text
    assert "mirror: not contacted (--offline): http://mirror.invalid/all_commits/" in text
    assert f"photon-bundle engines fetch --target {TARGET} --kind binary --version {HASH}" in text


def test_cache_source_reuses_prismas_cache(tmp_path: Path) -> None:
    folder = tmp_path / "home" / ".cache" / "prisma" / "master" / HASH / TARGET
    folder.mkdir(parents=True)
    (folder / "libquery-engine").write_bytes(DATA)
    (folder / "libquery-engine.sha256").write_text(DIGEST)
    got = acquire("library", TARGET, project_root=tmp_path, local=None,
                  options=_options(tmp_path, source="cache", version=HASH))
    assert got.source == "prisma-cache"
    assert got.path == tmp_path / "cache" / "engines" / HASH / TARGET / "libquery_engine-rhel-openssl-1.0.x.so.node"
    assert got.path.read_bytes() == DATA
    assert got.path.stat().st_mode & 0o777 == 0o755
    again = acquire("library", TARGET, project_root=tmp_path, local=None,
                    options=_options(tmp_path, source="cache", version=HASH))
    assert again.source == "cache"


def test_unknown_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean mirror"):
        acquire("binary", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path, source="mirrror"))


def test_client_engine_has_nothing_to_acquire(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="client"):
        acquire("client", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path))


def test_docker_source_absent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--engine-source docker is not available"):
        acquire("binary", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path, source="docker"))


def test_docker_source_passed_per_call(tmp_path: Path) -> None:
    def bound(kind: EngineKind, target: str, *, version: str | None, project_root: Path,
              options: EngineOptions) -> AcquiredEngine:
        return AcquiredEngine(path=project_root / "built", source="docker", sha256=DIGEST, kind=kind, target=target,
                              version=version)

    got = acquire("library", TARGET, project_root=tmp_path, local=None, options=_options(tmp_path, source="docker"),
                  docker=bound)
    assert (got.source, got.path, got.version) == ("docker", tmp_path / "built", None)
