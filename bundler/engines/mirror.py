"""Download a query engine from a Prisma engines mirror (FACTS.md section 5), verified while streaming.

`<base>/all_commits/<hash>/<target>/<mirror file>.gz`, with `<url>.sha256` (the .gz) and
`<url without .gz>.sha256` (the unpacked file) beside it. The body is streamed: each chunk updates the
hash of the .gz, is gunzipped, and the output updates the hash of the engine and goes to a temp file in
the destination folder, so an engine is never held in memory whole. Both hashes must match before the
caller may move the temp file into place; on any failure the temp file is removed.

Only the standard library: urllib with the proxies of the environment passed in (HTTP(S)_PROXY,
NO_PROXY), `file://` mirrors for air-gapped CI, one timeout for connecting and for each read, and two
retries with backoff on 5xx answers, timeouts and dropped connections (none on 404).

Bounded: each download has an overall deadline besides the per-read timeout (a server sending one byte
every half second never trips a read timeout): DEADLINE_FACTOR x the timeout, plus one second for every
DEADLINE_RATE bytes the server announces in Content-Length. An engine is 15-60 MB unpacked: a .gz of more
than MAX_ENGINE_GZ_BYTES, or one that unpacks to more than MAX_ENGINE_BYTES, is refused as soon as the
count passes the cap (before its checksum can be compared), so a gzip bomb never fills the disk.

The URLs, checksums and proxies (pure) are bundler/engines/mirror_urls.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import socket
import ssl
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from bundler import __version__
from bundler.engines.mirror_urls import (
    MIRROR_ENV,
    bypasses_proxy,
    checksum_urls,
    describe,
    parse_checksum,
    proxies_from_env,
    truthy,
)
from bundler.errors import EngineFetchError

log = logging.getLogger(__name__)


_T = TypeVar("_T")


IGNORE_MISSING_ENV = "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING"


RETRIES = 2


RETRY_BACKOFF: tuple[float, ...] = (0.5, 1.5)  # seconds to wait before retry 1, retry 2


CHUNK = 64 * 1024


MAX_CHECKSUM_BYTES = 4096


MAX_ENGINE_GZ_BYTES = 128 * 1024 * 1024  # an engine's .gz is 5-20 MB


MAX_ENGINE_BYTES = 256 * 1024 * 1024  # an engine is 15-60 MB unpacked: about 4x the largest


DEADLINE_FACTOR = 10  # a download may take this many times --timeout ...


DEADLINE_RATE = 64 * 1024  # ... plus one second per this many bytes announced (Content-Length)


Progress = Callable[[int, "int | None"], None]  # (bytes received, total bytes or None)


def _read_some(stream: BinaryIO, size: int) -> bytes:
    """Whatever one read gives, up to `size` (read1): a slow server cannot hold a read for `size` bytes."""
    read1 = getattr(stream, "read1", None)
    return bytes(read1(size)) if read1 is not None else stream.read(size)


def inflated(inflaters: list[Any], chunk: bytes) -> Iterator[bytes]:
    """The gunzipped output of one chunk, at most CHUNK bytes at a time (a bomb never sits in memory whole);
    a new member of a multi-member gzip file gets a new inflater in inflaters[0]."""
    pending = chunk
    while pending:
        inflater = inflaters[0]
        data = inflater.decompress(pending, CHUNK)
        pending = inflater.unconsumed_tail
        if inflater.eof and inflater.unused_data:
            pending = inflater.unused_data
            inflaters[0] = zlib.decompressobj(16 + zlib.MAX_WBITS)
        if data:
            yield data


def _too_big(url: str, what: str, cap: int, kind: str) -> EngineFetchError:
    return EngineFetchError(
        f"refused {url}: {what}, over the {cap // (1024 * 1024)} MiB an engine may take {kind} (engines are "
        "15-60 MB); nothing was cached",
        hint="the mirror serves something that is not a Prisma engine: check --mirror / $PRISMA_ENGINES_MIRROR and "
        "the file on the mirror",
    )


class ChecksumMissingError(EngineFetchError):
    """A .sha256 file is not on the mirror (and missing checksums are not to be ignored)."""


def _not_found(url: str, why: str) -> EngineFetchError:
    return EngineFetchError(
        f"engine not found on the mirror: {url} ({why})",
        hint="check that this engine version and target exist on the mirror "
        f"(--mirror, ${MIRROR_ENV}); Prisma does not publish every target (e.g. linux-nixos, BSDs)",
    )


class _MissingError(Exception):
    """The server says the file is not there (HTTP 404/410, or no such file for file://)."""


class _TransientError(Exception):
    """Worth another try: 5xx, timeout, refused or dropped connection."""


@dataclass(frozen=True)
class Download:
    """An unpacked, verified engine in a temp file beside its final place; the caller moves or removes it."""

    path: Path
    sha256: str
    gz_sha256: str
    size: int
    gz_size: int
    checked_gz: bool
    checked_file: bool


@dataclass(frozen=True)
class Checksums:
    gz: str | None
    file: str | None


class MirrorClient:
    """Talks to one mirror; stateless apart from its two urllib openers (direct and through the proxy)."""

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

    @property
    def ignore_missing(self) -> bool:
        return truthy(self.env.get(IGNORE_MISSING_ENV))

    # -- opening -----------------------------------------------------------------------------------

    def _open(self, url: str) -> tuple[BinaryIO, int | None]:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme == "file":
            path = Path(urllib.request.url2pathname(parsed.path))
            try:
                fh = path.open("rb")
            except FileNotFoundError:
                raise _MissingError(f"no such file {path}") from None
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
                raise _MissingError(status) from None
            if err.code >= 500 or err.code in (408, 429):
                raise _TransientError(status) from None
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
            raise _TransientError(describe(err)) from None
        except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
            raise _TransientError(describe(err)) from None
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        return response, total

    def _retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        tries = self.retries + 1
        for number in range(tries):
            try:
                return attempt()
            except _TransientError as err:
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

    # -- checksums ---------------------------------------------------------------------------------

    def deadline(self, announced: int | None) -> float:
        """Seconds one download may take in all: DEADLINE_FACTOR x timeout, plus 1 s per DEADLINE_RATE bytes."""
        return self.timeout * DEADLINE_FACTOR + (announced or 0) / DEADLINE_RATE

    def _read_small(self, url: str) -> str | None:
        def attempt() -> str | None:
            started = time.monotonic()
            try:
                stream, _ = self._open(url)
            except _MissingError:
                return None
            body = b""
            try:
                with contextlib.closing(stream):
                    while len(body) < MAX_CHECKSUM_BYTES:
                        chunk = _read_some(stream, MAX_CHECKSUM_BYTES - len(body))
                        if not chunk:
                            break
                        body += chunk
                        self._check_deadline(url, started, None, len(body))
            except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
                raise _TransientError(describe(err)) from None
            return body.decode("utf-8", "replace")

        return self._retrying(f"downloading {url}", attempt)

    def checksum(self, url: str) -> str | None:
        """The digest at `url`; None if it is missing and $PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING is set."""
        body = self._read_small(url)
        if body is None:
            if self.ignore_missing:
                log.warning(
                    "checksum %s is missing on the mirror; continuing WITHOUT verifying against it because "
                    "%s is set",
                    url,
                    IGNORE_MISSING_ENV,
                )
                return None
            raise ChecksumMissingError(
                f"checksum file missing on the mirror: {url} (not found)",
                hint="a mirror must serve <file>.gz.sha256 and <file>.sha256 beside each <file>.gz; to accept an "
                f"unverified engine anyway set {IGNORE_MISSING_ENV}=1",
            )
        digest = parse_checksum(body)
        if digest is None:
            raise EngineFetchError(
                f"checksum file {url} does not start with a SHA-256 digest: {body[:80]!r}",
                hint="fix the mirror: each .sha256 file holds the hex digest, optionally followed by the file name",
            )
        return digest

    def checksums(self, url: str) -> Checksums:
        """Both checksums of the engine at `url` (a .gz). A missing one is fatal unless told to ignore it."""
        gz_url, file_url = checksum_urls(url)
        try:
            return Checksums(gz=self.checksum(gz_url), file=self.checksum(file_url))
        except ChecksumMissingError:
            missing = self._missing(url)
            if missing is not None:  # say what is really wrong: the engine itself is not there
                raise _not_found(url, missing) from None
            raise

    def _missing(self, url: str) -> str | None:
        """One GET, body not read: why the server says the file is not there, or None."""
        try:
            stream, _ = self._open(url)
        except _MissingError as err:
            return str(err)
        except (_TransientError, EngineFetchError):
            return None
        stream.close()
        return None

    def _check_deadline(self, url: str, started: float, total: int | None, received: int) -> None:
        limit = self.deadline(total)
        if time.monotonic() - started > limit:
            raise EngineFetchError(
                f"downloading {url} took longer than its deadline of {limit:.0f} s (only {received} bytes arrived"
                + (f" of {total}" if total is not None else "") + "): the mirror or the network is too slow",
                hint=f"a download may take {DEADLINE_FACTOR} x --timeout plus 1 s per {DEADLINE_RATE // 1024} KiB; "
                "retry with a longer --timeout (`photon-bundle engines fetch --timeout 120 ...`), or use another "
                "mirror",
            )

    # -- the engine --------------------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest_dir: Path,
        *,
        expected: Checksums,
        progress: Progress | None = None,
    ) -> Download:
        """Stream `url` (a .gz) into a temp file in `dest_dir`, unpacked, checked, mode 0755."""

        def attempt() -> Download:
            try:
                stream, total = self._open(url)
            except _MissingError as err:
                raise _not_found(url, str(err)) from None
            if total is not None and total > MAX_ENGINE_GZ_BYTES:
                stream.close()
                raise _too_big(url, f"the mirror announces {total} bytes", MAX_ENGINE_GZ_BYTES, "compressed")
            with contextlib.closing(stream):
                return self._stream(url, stream, total, dest_dir, expected, progress)

        return self._retrying(f"downloading {url}", attempt)

    def _stream(
        self,
        url: str,
        stream: BinaryIO,
        total: int | None,
        dest_dir: Path,
        expected: Checksums,
        progress: Progress | None,
    ) -> Download:
        name = url.rsplit("/", 1)[-1][:-3]
        try:
            fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{name}.", suffix=".part")
        except OSError as err:
            raise EngineFetchError(
                f"cannot write to the engine cache {dest_dir}: {err.strerror or err}",
                hint="make the folder writable or point PHOTON_BUNDLE_CACHE at a writable folder",
            ) from None
        tmp = Path(tmp_name)
        keep = False
        try:
            with os.fdopen(fd, "wb") as out:
                result = self._copy(url, stream, total, out, progress)
                out.flush()
                os.fsync(out.fileno())
            gz_hash, file_hash, received, written, gzip_problem = result
            if expected.gz is not None and gz_hash != expected.gz:
                raise EngineFetchError(
                    f"checksum mismatch for {url}: the .gz has sha256 {gz_hash}, the mirror says {expected.gz}",
                    hint="the download was corrupted or the mirror is inconsistent; nothing was cached. Retry, or "
                    "fix the mirror's files",
                )
            if gzip_problem:
                raise EngineFetchError(
                    f"{url} is not a complete gzip file: {gzip_problem}",
                    hint="the file on the mirror is damaged (truncated upload?); nothing was cached. Fix the mirror",
                )
            if expected.file is not None and file_hash != expected.file:
                raise EngineFetchError(
                    f"checksum mismatch for the unpacked {name}: sha256 {file_hash}, the mirror says {expected.file}",
                    hint="the mirror's .gz and .sha256 files disagree; nothing was cached. Fix the mirror",
                )
            if written == 0:
                raise EngineFetchError(f"{url} unpacks to an empty file", hint="fix the mirror")
            tmp.chmod(0o755)
            keep = True
            return Download(
                path=tmp,
                sha256=file_hash,
                gz_sha256=gz_hash,
                size=written,
                gz_size=received,
                checked_gz=expected.gz is not None,
                checked_file=expected.file is not None,
            )
        except OSError as err:
            if isinstance(err, (ConnectionError, TimeoutError, socket.timeout)):
                raise
            raise EngineFetchError(
                f"cannot write the engine to {dest_dir}: {err.strerror or err}",
                hint="free disk space or point PHOTON_BUNDLE_CACHE at another folder",
            ) from None
        finally:
            if not keep:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _copy(
        self,
        url: str,
        stream: BinaryIO,
        total: int | None,
        out: BinaryIO,
        progress: Progress | None,
    ) -> tuple[str, str, int, int, str | None]:
        gz_hash = hashlib.sha256()
        file_hash = hashlib.sha256()
        inflaters = [zlib.decompressobj(16 + zlib.MAX_WBITS)]  # the current member's
        gzip_problem: str | None = None
        received = written = 0
        started = time.monotonic()
        if progress is not None:
            progress(0, total)
        while True:
            try:
                chunk = _read_some(stream, CHUNK)
            except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
                raise _TransientError(f"connection failed after {received} bytes: {describe(err)}") from None
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_ENGINE_GZ_BYTES:
                raise _too_big(url, f"more than {received} bytes arrived", MAX_ENGINE_GZ_BYTES, "compressed")
            self._check_deadline(url, started, total, received)
            gz_hash.update(chunk)
            if progress is not None:
                progress(received, total)
            if gzip_problem is not None:
                continue  # keep hashing: a checksum mismatch explains a broken gzip better
            try:
                for data in inflated(inflaters, chunk):
                    written += len(data)
                    if written > MAX_ENGINE_BYTES:
                        raise _too_big(url, f"it unpacks to more than {written} bytes", MAX_ENGINE_BYTES, "unpacked")
                    out.write(data)
                    file_hash.update(data)
            except zlib.error as err:
                gzip_problem = f"corrupt gzip data ({err})"
                continue
        inflater = inflaters[0]
        if total is not None and received < total:
            raise _TransientError(f"connection closed after {received} of {total} bytes")
        if gzip_problem is None:
            try:
                tail = inflater.flush()
            except zlib.error as err:
                gzip_problem = f"corrupt gzip data ({err})"
            else:
                if tail:
                    out.write(tail)
                    file_hash.update(tail)
                    written += len(tail)
                if not inflater.eof:
                    gzip_problem = f"the gzip stream ends early (truncated after {received} bytes)"
        return gz_hash.hexdigest(), file_hash.hexdigest(), received, written, gzip_problem
