"""Where a Prisma engines mirror is and what to ask it, pure: the base URL (flag, PRISMA_ENGINES_MIRROR,
PRISMA_BINARIES_MIRROR), an engine's URL and its checksum URLs, a checksum file's digest, the proxies of the
environment and whether a URL bypasses them, and a network error in one phrase. bundler/engines/mirror.py
downloads."""

from __future__ import annotations

import re
import socket
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from bundler.engines import EngineKind, mirror_filename
from bundler.errors import ConfigError, echo

DEFAULT_MIRROR = "https://binaries.prisma.sh"


MIRROR_ENV = "PRISMA_ENGINES_MIRROR"


LEGACY_MIRROR_ENV = "PRISMA_BINARIES_MIRROR"  # Prisma still reads it after PRISMA_ENGINES_MIRROR


CHANNEL = "all_commits"


_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


_FALSE_WORDS = ("", "0", "false", "no", "off")


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _FALSE_WORDS


def mirror_base(flag: str | None, env: Mapping[str, str]) -> str:
    """The mirror's base URL: --mirror, else $PRISMA_ENGINES_MIRROR, else Prisma's own server.

    A bare absolute path is taken as a `file://` mirror. Raises ConfigError for anything that is not an
    http(s) or file URL.
    """
    origin = "--mirror"
    raw = flag
    if not raw:
        for name in (MIRROR_ENV, LEGACY_MIRROR_ENV):
            if env.get(name, "").strip():
                raw, origin = env[name], f"${name}"
                break
    if not raw:
        return DEFAULT_MIRROR
    value = raw.strip()
    if value.startswith("/"):
        return Path(value).as_uri().rstrip("/")
    try:
        parsed: urllib.parse.SplitResult | None = urllib.parse.urlsplit(value)
        _ = parsed.port if parsed is not None else None  # a port that is not a number raises here, not later
    except ValueError:  # 'http://[::1' (an unclosed IPv6 address), a bad port
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https", "file") or (
            parsed.scheme != "file" and not parsed.netloc):
        raise ConfigError(
            f"engine mirror {echo(raw)} from {origin} is not an http(s):// or file:// URL",
            hint=f"use e.g. --mirror https://mirror.example.com/prisma or --mirror file:///srv/prisma-mirror "
            f"(default {DEFAULT_MIRROR})",
        )
    return value.rstrip("/")


def engine_url(base: str, version: str, target: str, kind: EngineKind) -> str:
    """`<base>/all_commits/<hash>/<target>/<mirror file>.gz`."""
    return f"{base.rstrip('/')}/{CHANNEL}/{version}/{target}/{mirror_filename(kind, target)}.gz"


def checksum_urls(url: str) -> tuple[str, str]:
    """(checksum of the .gz, checksum of the unpacked file) for an engine URL ending in .gz."""
    if not url.endswith(".gz"):
        raise ValueError(f"engine URL must end in .gz: {url}")
    return f"{url}.sha256", f"{url[:-3]}.sha256"


def parse_checksum(text: str) -> str | None:
    """The first whitespace-separated token, lower-cased, if it is a SHA-256 hex digest; else None.

    Accepts `sha256sum` output ("<hex>  query-engine.gz") and a bare digest with or without a newline.
    """
    tokens = text.split()
    if not tokens or not _SHA256.match(tokens[0]):
        return None
    return tokens[0].lower()


def proxies_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """`{scheme: proxy URL, "no": "host,..."}` from *_PROXY variables, as urllib reads os.environ.

    Lower-case names win over upper-case ones (curl and urllib agree on this).
    """
    proxies: dict[str, str] = {}
    for name, value in env.items():
        if name.lower().endswith("_proxy") and name != name.lower() and value:
            proxies[name[:-6].lower()] = value
    for name, value in env.items():
        if name.endswith("_proxy") and name == name.lower():
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def bypasses_proxy(url: str, proxies: Mapping[str, str]) -> bool:
    """True when NO_PROXY names the URL's host (or is `*`)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    no_proxy = proxies.get("no", "")
    if not host or not no_proxy:
        return False
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # loads the HTTP stack: here only

    return bool(proxy_bypass_environment(host, {"no": no_proxy}))


def describe(err: BaseException) -> str:
    from urllib.error import HTTPError, URLError

    if isinstance(err, URLError) and not isinstance(err, HTTPError):
        return describe(err.reason) if isinstance(err.reason, BaseException) else str(err.reason)
    if isinstance(err, (TimeoutError, socket.timeout)):
        return "timed out"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
