"""The mirror transport: `file://` and http(s) URLs opened with the environment's proxies (HTTP(S)_PROXY,
NO_PROXY), one timeout for connecting and for each read, two retries with backoff on 5xx answers, timeouts and
dropped connections (none on 404), and an overall deadline per download (see bundler/engines/mirror.py).
Only the standard library."""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO, TypeVar

from bundler import __version__
from bundler.engines.mirror_urls import bypasses_proxy, describe, proxies_from_env
from bundler.errors import EngineFetchError

log = logging.getLogger(__name__)

_T = TypeVar("_T")

RETRIES = 2
RETRY_BACKOFF: tuple[float, ...] = (0.5, 1.5)  # seconds to wait before retry 1, retry 2
MAX_CHECKSUM_BYTES = 4096
DEADLINE_FACTOR = 10  # a download may take this many times --timeout ...
DEADLINE_RATE = 64 * 1024  # ... plus one second per this many bytes announced (Content-Length)


def read_some(stream: BinaryIO, size: int) -> bytes:
    """Whatever one read gives, up to `size` (read1): a slow server cannot hold a read for `size` bytes."""
    read1 = getattr(stream, "read1", None)
    return bytes(read1(size)) if read1 is not None else stream.read(size)


class MissingError(Exception):
    """The server says the file is not there (HTTP 404/410, or no such file for file://)."""


class TransientError(Exception):
    """Worth another try: 5xx, timeout, refused or dropped connection."""


class Transport:
    """Opens URLs of one mirror; stateless apart from its two urllib openers (direct and through the proxy)."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        timeout: float = 30.0,
        retries: int = RETRIES,
        backoff: tuple[float, ...] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.env = env
        self.timeout = timeout
        self.retries = retries
        self.backoff = RETRY_BACKOFF if backoff is None else backoff
        self._sleep = sleep
        self._proxies = proxies_from_env(env)
        proxied = {k: v for k, v in self._proxies.items() if k != "no"}
        self._via_proxy = urllib.request.build_opener(urllib.request.ProxyHandler(proxied))
        self._direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- opening -----------------------------------------------------------------------------------

    def open(self, url: str) -> tuple[BinaryIO, int | None]:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme == "file":
            path = Path(urllib.request.url2pathname(parsed.path))
            try:
                fh = path.open("rb")
            except FileNotFoundError:
                raise MissingError(f"no such file {path}") from None
            except OSError as err:
                raise EngineFetchError(
                    f"cannot read {path} from the file:// mirror: {err.strerror or err}",
                    hint="check the --mirror path and its permissions",
                ) from None
            return fh, os.fstat(fh.fileno()).st_size
        opener = self._direct if bypasses_proxy(url, self._proxies) else self._via_proxy
        request = urllib.request.Request(  # noqa: S310 - scheme checked by mirror_base
            url, headers={"User-Agent": f"photon-bundle/{__version__}", "Accept-Encoding": "identity"}
        )
        try:
            response = opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as err:
            err.close()
            status = f"HTTP {err.code} {err.reason}".rstrip()
            if err.code in (404, 410):
                raise MissingError(status) from None
            if err.code >= 500 or err.code in (408, 429):
                raise TransientError(status) from None
            raise EngineFetchError(
                f"the mirror refused {url}: {status}",
                hint="check --mirror / $PRISMA_ENGINES_MIRROR and any proxy or credentials it needs",
            ) from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, ssl.SSLError):
                raise EngineFetchError(
                    f"TLS failure talking to {parsed.netloc}: {describe(err)}",
                    hint="check the mirror's certificate (SSL_CERT_FILE for a private CA) or use an http:// mirror",
                ) from None
            if isinstance(err.reason, socket.gaierror):
                raise EngineFetchError(
                    f"cannot resolve the mirror host {parsed.hostname!r}: {describe(err)}",
                    hint="check the network, the proxy (HTTPS_PROXY) and --mirror; use --offline to rely on the cache",
                ) from None
            raise TransientError(describe(err)) from None
        except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
            raise TransientError(describe(err)) from None
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        return response, total

    def retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        tries = self.retries + 1
        for number in range(tries):
            try:
                return attempt()
            except TransientError as err:
                if number + 1 >= tries:
                    raise EngineFetchError(
                        f"{what} failed after {tries} attempts: {err}",
                        hint="the mirror is unreachable or failing; retry later, check the proxy, fetch it once "
                        "with a longer timeout (`photon-bundle engines fetch --timeout 120 ...`), or use --offline "
                        "/ --engine-source cache with a cached engine",
                    ) from None
                delay = self.backoff[min(number, len(self.backoff) - 1)] if self.backoff else 0.0
                log.info("%s: %s; retrying in %.1fs", what, err, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def deadline(self, announced: int | None) -> float:
        """Seconds one download may take in all: DEADLINE_FACTOR x timeout, plus 1 s per DEADLINE_RATE bytes."""
        return self.timeout * DEADLINE_FACTOR + (announced or 0) / DEADLINE_RATE

    def read_small(self, url: str) -> str | None:
        def attempt() -> str | None:
            started = time.monotonic()
            try:
                stream, _ = self.open(url)
            except MissingError:
                return None
            body = b""
            try:
                with contextlib.closing(stream):
                    while len(body) < MAX_CHECKSUM_BYTES:
                        chunk = read_some(stream, MAX_CHECKSUM_BYTES - len(body))
                        if not chunk:
                            break
                        body += chunk
                        self.check_deadline(url, started, None, len(body))
            except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
                raise TransientError(describe(err)) from None
            return body.decode("utf-8", "replace")

        return self.retrying(f"downloading {url}", attempt)

    def check_deadline(self, url: str, started: float, total: int | None, received: int) -> None:
        limit = self.deadline(total)
        if time.monotonic() - started > limit:
            raise EngineFetchError(
                f"downloading {url} took longer than its deadline of {limit:.0f} s (only {received} bytes arrived"
                + (f" of {total}" if total is not None else "") + "): the mirror or the network is too slow",
                hint=f"a download may take {DEADLINE_FACTOR} x --timeout plus 1 s per {DEADLINE_RATE // 1024} KiB; "
                "retry with a longer --timeout (`photon-bundle engines fetch --timeout 120 ...`), or use another "
                "mirror",
            )
