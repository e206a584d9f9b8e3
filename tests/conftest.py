"""Shared fixtures: fixture projects whose engines are compiled once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

# The Docker fixtures (docker_client, images, registry) for any test that asks for them.
pytest_plugins = ("tests.integration.docker_fixtures",)


@pytest.fixture(scope="session")
def elf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elf-cache")
