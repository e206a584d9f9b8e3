"""Which engine version a project needs: package.json fields, the flag, the env override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bundler.engines.version import engines_version
from bundler.errors import ConfigError, ProjectError

A = "a" * 40
B = "b" * 40
C = "c" * 40


def _package(root: Path, name: str, prisma: object) -> None:
    folder = root.joinpath("node_modules", *name.split("/"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"name": name, "prisma": prisma}), encoding="utf-8")


def test_engines_version_package_first(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/engines-version", {"enginesVersion": A})
    _package(tmp_path, "@prisma/client", {"enginesVersion": B})
    assert engines_version(tmp_path, C, {}) == A


def test_client_package_next(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/client", {"enginesVersion": B})
    assert engines_version(tmp_path, C, {}) == B


def test_prisma_2_client_commit_field(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/client", {"version": B})
    assert engines_version(tmp_path, None, {}) == B
    _package(tmp_path, "@prisma/client", {"version": "2.0.0"})  # a semver is not an engine commit
    assert engines_version(tmp_path, C, {}) == C


def test_flag_last(tmp_path: Path) -> None:
    assert engines_version(tmp_path, C, {}) == C


def test_env_overrides_everything(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/engines-version", {"enginesVersion": A})
    assert engines_version(tmp_path, C, {"BINARY_DOWNLOAD_VERSION": B}) == B


def test_hoisted_node_modules_in_a_parent(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/engines-version", {"enginesVersion": A})
    app = tmp_path / "packages" / "api"
    app.mkdir(parents=True)
    assert engines_version(app, None, {}) == A


def test_missing_version_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as err:
        engines_version(tmp_path, None, {})
    text = str(err.value)
    assert "node_modules/@prisma/engines-version/package.json" in text
    assert "node_modules/@prisma/client/package.json" in text
    assert "--engine-version" in text
    assert "BINARY_DOWNLOAD_VERSION" in text


def test_package_without_field_is_reported(tmp_path: Path) -> None:
    _package(tmp_path, "@prisma/client", {})
    with pytest.raises(ProjectError, match=r"client/package.json \(no prisma.enginesVersion\)"):
        engines_version(tmp_path, None, {})


def test_malformed_package_json(tmp_path: Path) -> None:
    folder = tmp_path / "node_modules" / "@prisma" / "engines-version"
    folder.mkdir(parents=True)
    (folder / "package.json").write_text("{ nope", encoding="utf-8")
    with pytest.raises(ProjectError, match="cannot read"):
        engines_version(tmp_path, A, {})


@pytest.mark.parametrize("bad", ["../../etc", "a b", "x/y", ".."])
def test_unsafe_versions_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError, match="not a prisma-engines version"):
        engines_version(tmp_path, bad, {})
    with pytest.raises(ConfigError, match="BINARY_DOWNLOAD_VERSION"):
        engines_version(tmp_path, None, {"BINARY_DOWNLOAD_VERSION": bad})
