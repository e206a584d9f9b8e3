"""Datasource URLs: what Prisma reads from them (provider, host, connection_limit, timeouts) and the one
way they are shown to people — masked.

A URL is never printed as it is: `mask()` replaces the user and password with `***`, and any query
parameter that carries a secret (`password`, `sslpassword`, `sslkey`...). Every message of the doctor
that mentions a URL goes through `mask()`, and `scrub()` removes any credential that could still appear
in a driver's error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

SCHEMES = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql", "mariadb": "mysql",
           "sqlserver": "sqlserver", "mongodb": "mongodb", "mongodb+srv": "mongodb", "file": "sqlite",
           "prisma": "accelerate", "prisma+postgres": "accelerate", "cockroachdb": "postgresql"}
SECRET_PARAMS = frozenset({"password", "sslpassword", "sslkey", "api_key", "apikey", "token"})
MASK = "***"
# Prisma's URL parameters that matter here (prisma.io/docs: connection URLs / connection pool).
INT_PARAMS = ("connection_limit", "pool_timeout", "connect_timeout", "socket_timeout")
_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+]*://[^\s'\"<>]+", re.IGNORECASE)


@dataclass(frozen=True)
class DbUrl:
    scheme: str  # as written
    provider: str  # postgresql | mysql | sqlite | sqlserver | mongodb | accelerate | unknown
    host: str
    port: int | None
    database: str
    user: str
    password: str
    params: tuple[tuple[str, str], ...]
    masked: str

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def int_param(self, name: str) -> int | None:
        """A whole-number parameter, or None when absent or not a number (`bad_params` names those)."""
        value = self.param(name)
        return int(value) if value is not None and value.strip().isdigit() else None

    @property
    def bad_params(self) -> list[str]:
        return [name for name in INT_PARAMS if self.param(name) is not None and self.int_param(name) is None]

    @property
    def identity(self) -> str:
        """Which database: functions with the same identity share its max_connections."""
        return f"{self.provider}://{self.host}:{self.port or ''}/{self.database}"

    @property
    def pgbouncer(self) -> bool:
        return (self.param("pgbouncer") or "").lower() == "true"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The strings that must never be shown (user name included: it is half of the credential)."""
        found = [s for s in (self.user, self.password) if s]
        found += [v for k, v in self.params if k.lower() in SECRET_PARAMS and v]
        return tuple(found)


def parse(url: str) -> DbUrl | None:
    """The parts of a datasource URL, or None when it is not a URL."""
    text = url.strip()
    if "://" not in text and not text.startswith("file:"):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return DbUrl(scheme=scheme, provider=SCHEMES.get(scheme, "unknown"), host=parts.hostname or "", port=port,
                 database=unquote(parts.path.lstrip("/")), user=unquote(parts.username or ""),
                 password=unquote(parts.password or ""), params=params, masked=mask(text))


def mask(url: str) -> str:
    """The URL with user:password and secret parameters replaced by ***."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return f"{url.split('://', 1)[0]}://{MASK}" if "://" in url else MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = "&".join(f"{k}={MASK}" if k.lower() in SECRET_PARAMS else (f"{k}={v}" if v or "=" in pair else k)
                     for pair in parts.query.split("&") if pair for k, _, v in [pair.partition("=")])
    out = f"{parts.scheme}://{netloc}{parts.path}"
    return out + (f"?{query}" if query else "")


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Text with every URL masked and every known secret replaced: for driver errors and any free text."""
    text = _URL_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 2:  # as a whole token: the user "postgres" is not the "postgres" of postgresql://
            text = re.sub(r"(?<![\w])" + re.escape(secret) + r"(?![\w])", MASK, text)
    return text
