"""`photon-bundle engines fetch|list|path|clear` as a user runs them: real processes, a real mirror."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mirror_server import MirrorServer, cli_env, compile_elf, engines_cli, publish_engine

pytestmark = pytest.mark.network

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"


@pytest.fixture(scope="module")
def elf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return compile_elf(tmp_path_factory.mktemp("elf") / "query-engine").read_bytes()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MirrorServer]:
    with MirrorServer(tmp_path / "mirror", lifetime=60) as srv:
        yield srv


def _run(tmp_path: Path, *args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*engines_cli(), *args],
        env=cli_env(tmp_path / "cache", tmp_path / "home", **env),
        cwd=cwd or tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _fetch_args(server: MirrorServer, *targets: str, kind: str = "binary") -> list[str]:
    args = ["fetch", "--kind", kind, "--version", HASH, "--mirror", server.base_url]
    for target in targets:
        args += ["--target", target]
    return args


def test_fetch_list_path_clear(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    for target in ("rhel-openssl-1.0.x", "debian-openssl-1.0.x"):
        publish_engine(server.root, HASH, target, "binary", elf)

    # a 2019 Photon.js name is accepted and mapped to today's target
    fetched = _run(tmp_path, *_fetch_args(server, "rhel-openssl-1.0.x", "linux-glibc-libssl1.0.2"), "--json")
    assert fetched.returncode == 0, fetched.stderr
    rows = json.loads(fetched.stdout)
    assert [(r["target"], r["source"], r["kind"], r["version"]) for r in rows] == [
        ("rhel-openssl-1.0.x", "mirror", "binary", HASH),
        ("debian-openssl-1.0.x", "mirror", "binary", HASH),
    ]
    for row in rows:
        assert Path(row["path"]).read_bytes() == elf
        assert row["size"] == len(elf)
        assert os.access(row["path"], os.X_OK)

    again = _run(tmp_path, *_fetch_args(server, "rhel-openssl-1.0.x"))
    assert again.returncode == 0
    assert "found in the photon-bundle cache" in again.stderr
    assert server.count(".gz") == 2

    listed = _run(tmp_path, "list")
    assert listed.returncode == 0, listed.stderr
    assert "rhel-openssl-1.0.x" in listed.stdout
    assert "debian-openssl-1.0.x" in listed.stdout
    assert "KiB" in listed.stdout
    assert "2 engine(s)" in listed.stderr

    listed_json = json.loads(_run(tmp_path, "list", "--json", "--verify").stdout)
    assert listed_json["total_size"] == 2 * len(elf)
    assert all(e["ok"] for e in listed_json["engines"])

    located = _run(tmp_path, "path", "--target", "rhel-openssl-1.0.x", "--kind", "binary", "--version", HASH)
    assert located.returncode == 0, located.stderr
    engine = Path(located.stdout.strip())
    assert engine == tmp_path / "cache" / "engines" / HASH / "rhel-openssl-1.0.x" / "query-engine-rhel-openssl-1.0.x"

    engine.write_bytes(b"rot")
    assert json.loads(_run(tmp_path, "list", "--json", "--verify").stdout)["engines"][1]["ok"] is False

    cleared = _run(tmp_path, "clear")
    assert cleared.returncode == 0
    assert "removed 2 engine(s)" in cleared.stderr
    assert "no engines cached" in _run(tmp_path, "list").stderr


def test_fetch_library_engine_with_version_from_the_project(tmp_path: Path, server: MirrorServer) -> None:
    so = compile_elf(tmp_path / "so" / "lib.so", shared=True).read_bytes()
    publish_engine(server.root, HASH, "linux-arm64-openssl-3.0.x", "library", so)
    project = tmp_path / "project"
    manifest = project / "node_modules" / "@prisma" / "engines-version" / "package.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"prisma": {"enginesVersion": HASH}}))
    result = _run(tmp_path, "fetch", "--target", "linux-arm64-openssl-3.0.x", "--mirror", server.base_url,
                  "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)
    assert Path(row["path"]).name == "libquery_engine-linux-arm64-openssl-3.0.x.so.node"
    assert Path(row["path"]).read_bytes() == so


def test_offline_fetch(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    publish_engine(server.root, HASH, "linux-musl", "binary", elf)
    missing = _run(tmp_path, *_fetch_args(server, "linux-musl"), "--offline")
    assert missing.returncode == 3
    assert "not contacted (--offline)" in missing.stderr
    assert "drop --offline" in missing.stderr
    assert server.requests == []
    assert _run(tmp_path, *_fetch_args(server, "linux-musl")).returncode == 0
    before = len(server.requests)
    hit = _run(tmp_path, *_fetch_args(server, "linux-musl"), "--offline", "--json")
    assert hit.returncode == 0, hit.stderr
    assert json.loads(hit.stdout)[0]["source"] == "cache"
    assert len(server.requests) == before


def test_file_mirror_from_the_cli(tmp_path: Path, elf: bytes) -> None:
    root = tmp_path / "mirror dir"
    publish_engine(root, HASH, "linux-musl", "binary", elf)
    result = _run(tmp_path, "fetch", "--target", "linux-musl", "--kind", "binary", "--version", HASH,
                  "--mirror", root.as_uri(), "--json")
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)[0]["path"]).read_bytes() == elf


def test_download_failure_is_one_clear_message(tmp_path: Path, server: MirrorServer) -> None:
    result = _run(tmp_path, *_fetch_args(server, "rhel-openssl-1.0.x"))
    assert result.returncode == 6
    assert result.stderr.startswith("error: cannot get the binary engine query-engine-rhel-openssl-1.0.x")
    assert "engine not found on the mirror" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list((tmp_path / "cache").rglob("query-engine-*"))


def test_env_mirror_and_missing_checksum_ignored(tmp_path: Path, server: MirrorServer, elf: bytes) -> None:
    publish_engine(server.root, HASH, "linux-musl", "binary", elf, checksums=False)
    args = ["fetch", "--target", "linux-musl", "--kind", "binary", "--version", HASH]
    refused = _run(tmp_path, *args, PRISMA_ENGINES_MIRROR=server.base_url)
    assert refused.returncode == 6
    assert "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING=1" in refused.stderr
    accepted = _run(tmp_path, *args, PRISMA_ENGINES_MIRROR=server.base_url, PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING="1")
    assert accepted.returncode == 0, accepted.stderr
    assert "WITHOUT verifying" in accepted.stderr


def test_usage_errors(tmp_path: Path) -> None:
    unknown = _run(tmp_path, "fetch", "--target", "rhel-openssl-1.0", "--version", HASH)
    assert unknown.returncode == 2
    assert "unknown engine target 'rhel-openssl-1.0'" in unknown.stderr
    assert "did you mean" in unknown.stderr
    native = _run(tmp_path, "fetch", "--target", "native", "--version", HASH)
    assert native.returncode == 2
    assert "name the target" in native.stderr
    no_version = _run(tmp_path, "fetch", "--target", "linux-musl", cwd=tmp_path)
    assert no_version.returncode == 3
    # the hint names this command's own flag, not the bundle commands' --engine-version
    assert "pass --version <prisma-engines commit hash>" in no_version.stderr
    assert "--engine-version" not in no_version.stderr
    not_cached = _run(tmp_path, "path", "--target", "linux-musl", "--version", HASH)
    assert not_cached.returncode == 3
    assert "is not in the cache" in not_cached.stderr
    assert f"photon-bundle engines fetch --target linux-musl --kind library --version {HASH}" in not_cached.stderr
    bad_mirror = _run(tmp_path, "fetch", "--target", "linux-musl", "--version", HASH, "--mirror", "ftp://x")
    assert bad_mirror.returncode == 2
    assert "not an http(s):// or file:// URL" in bad_mirror.stderr


def test_importing_the_command_does_not_import_rich() -> None:
    code = "import sys, bundler.cli.engines_cmd; print('rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "False"
