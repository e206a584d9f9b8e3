"""URL building, checksum parsing, mirror and proxy settings: pure functions, no sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.engines.mirror_urls import (
    DEFAULT_MIRROR,
    bypasses_proxy,
    checksum_urls,
    engine_url,
    mirror_base,
    parse_checksum,
    proxies_from_env,
    truthy,
)
from bundler.errors import ConfigError

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
DIGEST = "3c82ee6cd9fedaec18a5e7cd3fc41f8c6b3dd32575dc13443d96aab4bd018411"


@pytest.mark.parametrize(
    ("kind", "target", "tail"),
    [
        ("binary", "rhel-openssl-1.0.x", "rhel-openssl-1.0.x/query-engine.gz"),
        ("library", "rhel-openssl-3.0.x", "rhel-openssl-3.0.x/libquery_engine.so.node.gz"),
        ("library", "darwin-arm64", "darwin-arm64/libquery_engine.dylib.node.gz"),
        ("binary", "windows", "windows/query-engine.exe.gz"),
        ("library", "windows", "windows/query_engine.dll.node.gz"),
    ],
)
def test_engine_url_follows_prismas_layout(kind: str, target: str, tail: str) -> None:
    url = engine_url("https://binaries.prisma.sh", HASH, target, kind)  # type: ignore[arg-type]
    assert url == f"https://binaries.prisma.sh/all_commits/{HASH}/{tail}"


def test_engine_url_tolerates_trailing_slash() -> None:
    assert engine_url("http://m/x/", HASH, "linux-musl", "binary") == f"http://m/x/all_commits/{HASH}/linux-musl/query-engine.gz"


def test_checksum_urls_are_beside_the_gz_and_the_unpacked_name() -> None:
    gz, unpacked = checksum_urls("http://m/all_commits/h/t/query-engine.gz")
    assert gz == "http://m/all_commits/h/t/query-engine.gz.sha256"
    assert unpacked == "http://m/all_commits/h/t/query-engine.sha256"


def test_checksum_urls_need_a_gz_url() -> None:
    with pytest.raises(ValueError, match=r"\.gz"):
        checksum_urls("http://m/query-engine")


@pytest.mark.parametrize(
    "text",
    [
        f"{DIGEST}  query-engine.gz\n",
        DIGEST,
        f"{DIGEST}\n",
        f"  {DIGEST.upper()}\tquery-engine\n",
        f"{DIGEST} *query-engine.gz",
    ],
)
def test_parse_checksum_takes_the_first_token(text: str) -> None:
    assert parse_checksum(text) == DIGEST


@pytest.mark.parametrize("text", ["", "   \n", "not-a-digest", DIGEST[:-1], DIGEST + "0", "<html>404</html>"])
def test_parse_checksum_rejects_what_is_not_a_sha256(text: str) -> None:
    assert parse_checksum(text) is None


def test_mirror_base_precedence() -> None:
    env = {"PRISMA_ENGINES_MIRROR": "https://env.example/", "PRISMA_BINARIES_MIRROR": "https://legacy.example"}
    assert mirror_base("http://flag.example/p/", env) == "http://flag.example/p"
    assert mirror_base(None, env) == "https://env.example"
    assert mirror_base(None, {"PRISMA_BINARIES_MIRROR": "https://legacy.example"}) == "https://legacy.example"
    assert mirror_base(None, {}) == DEFAULT_MIRROR
    assert mirror_base("", {"PRISMA_ENGINES_MIRROR": "  "}) == DEFAULT_MIRROR


def test_mirror_base_accepts_file_urls_and_absolute_paths(tmp_path: Path) -> None:
    assert mirror_base(f"file://{tmp_path}/", {}) == f"file://{tmp_path}"
    assert mirror_base(str(tmp_path), {}) == tmp_path.as_uri()


@pytest.mark.parametrize("bad", ["ftp://m.example", "binaries.example.com", "http://", "relative/dir"])
def test_mirror_base_rejects_other_urls(bad: str) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        mirror_base(bad, {})


def test_mirror_base_error_names_the_env_var() -> None:
    with pytest.raises(ConfigError, match=r"\$PRISMA_ENGINES_MIRROR"):
        mirror_base(None, {"PRISMA_ENGINES_MIRROR": "nope"})


def test_proxies_from_env_lower_case_wins() -> None:
    env = {
        "HTTP_PROXY": "http://upper:1",
        "http_proxy": "http://lower:2",
        "HTTPS_PROXY": "http://secure:3",
        "NO_PROXY": "127.0.0.1,localhost",
        "PATH": "/bin",
    }
    assert proxies_from_env(env) == {"http": "http://lower:2", "https": "http://secure:3", "no": "127.0.0.1,localhost"}
    assert proxies_from_env({"HTTP_PROXY": "http://upper:1", "http_proxy": ""}) == {}


@pytest.mark.parametrize(
    ("url", "no_proxy", "bypass"),
    [
        ("http://127.0.0.1:8080/x", "127.0.0.1,localhost", True),
        ("http://localhost/x", "127.0.0.1,localhost", True),
        ("https://binaries.prisma.sh/x", "127.0.0.1,localhost", False),
        ("https://binaries.prisma.sh/x", ".prisma.sh", True),
        ("https://binaries.prisma.sh/x", "*", True),
        ("https://binaries.prisma.sh/x", "", False),
    ],
)
def test_no_proxy(url: str, no_proxy: str, bypass: bool) -> None:
    assert bypasses_proxy(url, {"http": "http://proxy:3128", "no": no_proxy}) is bypass


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("", False), ("0", False), ("false", False),
                                                 ("1", True), ("true", True), ("yes", True)])
def test_truthy(value: str | None, expected: bool) -> None:
    assert truthy(value) is expected
