"""Shared fixtures: fixture projects whose engines are compiled once per session."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# The Docker fixtures (docker_client, images, registry) and the database servers (postgres, mariadb) for any
# test that asks for them.
pytest_plugins = ("tests.integration.docker_fixtures", "tests.integration.db_servers", "tests.aws_server")


@pytest.fixture(scope="session")
def elf_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("elf-cache")


@pytest.fixture
def own_engine_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """photon-bundle's engine cache in the test's own folder (use with pytest.mark.usefixtures)."""
    cache = tmp_path / "engine-cache"
    monkeypatch.setenv("PHOTON_BUNDLE_CACHE", str(cache))
    return cache


_PRODUCING_TIERS = ("integration", "e2e")  # the tests that run bundles; unit tests write hand-made manifests


@pytest.fixture(autouse=True)
def manifests_match_the_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every manifest.json photon-bundle writes in an integration or e2e test's folder passes
    bundler/manifest.schema.json (checked once the test is done, whatever wrote it: the CLI in a child
    process or the pipeline in this one)."""
    tier = request.node.path.parent.name
    if tier not in _PRODUCING_TIERS or "tmp_path" not in request.fixturenames:
        yield
        return
    folder: Path = request.getfixturevalue("tmp_path")
    yield
    from jsonschema import Draft202012Validator

    from bundler.manifest import SCHEMA_FILE

    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    for path in _manifests_under(folder):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a test's deliberately damaged file
        if not (isinstance(doc, dict) and str(doc.get("tool", "")).startswith("photon-bundle ")):
            continue  # another tool's manifest.json (a fixture project's own file)
        problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                    for e in validator.iter_errors(doc)]
        assert not problems, f"{path} does not match {SCHEMA_FILE.name}:\n" + "\n".join(problems[:10])


def _manifests_under(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in ("node_modules", ".git", ".pnpm-store", ".yarn")]
        if "manifest.json" in files:
            yield Path(root) / "manifest.json"
