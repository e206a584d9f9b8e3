"""Shared fixtures: fixture projects whose engines are compiled once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

# The Docker fixtures (docker_client, images, registry) and the database servers (postgres, mariadb) for any
# test that asks for them.
pytest_plugins = ("tests.integration.docker_fixtures", "tests.integration.db_servers")


@pytest.fixture(scope="session")
def elf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elf-cache")


@pytest.fixture
def own_engine_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """photon-bundle's engine cache in the test's own folder (use with pytest.mark.usefixtures)."""
    cache = tmp_path / "engine-cache"
    monkeypatch.setenv("PHOTON_BUNDLE_CACHE", str(cache))
    return cache
