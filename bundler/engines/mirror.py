"""Download a query engine from a Prisma engines mirror (FACTS.md section 5), verified while streaming.

`<base>/all_commits/<hash>/<target>/<mirror file>.gz`, with `<url>.sha256` (the .gz) and
`<url without .gz>.sha256` (the unpacked file) beside it. The body is streamed: each chunk updates the
hash of the .gz, is gunzipped, and the output updates the hash of the engine and goes to a temp file in
the destination folder, so an engine is never held in memory whole. Both hashes must match before the
caller may move the temp file into place; on any failure the temp file is removed.

The transport (bundler/engines/mirror_http.py, only the standard library): urllib with the proxies of the
environment passed in, `file://` mirrors for air-gapped CI, one timeout for connecting and for each read,
two retries with backoff on 5xx answers, timeouts and dropped connections (none on 404), and an overall
deadline per download besides the per-read timeout (a server sending one byte every half second never trips a
read timeout): DEADLINE_FACTOR x the timeout, plus one second for every DEADLINE_RATE bytes the server
announces in Content-Length.

Bounded: an engine is 15-60 MB unpacked: a .gz of more
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
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from bundler.engines.mirror_http import MissingError, TransientError, Transport, read_some
from bundler.engines.mirror_urls import (
    MIRROR_ENV,
    checksum_urls,
    describe,
    parse_checksum,
    truthy,
)
from bundler.errors import EngineFetchError

log = logging.getLogger(__name__)


IGNORE_MISSING_ENV = "PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING"


CHUNK = 64 * 1024


MAX_ENGINE_GZ_BYTES = 128 * 1024 * 1024  # an engine's .gz is 5-20 MB


MAX_ENGINE_BYTES = 256 * 1024 * 1024  # an engine is 15-60 MB unpacked: about 4x the largest


Progress = Callable[[int, "int | None"], None]  # (bytes received, total bytes or None)


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


class MirrorClient(Transport):
    """Checksums and verified downloads from one mirror (the transport: bundler/engines/mirror_http.py)."""

    @property
    def ignore_missing(self) -> bool:
        return truthy(self.env.get(IGNORE_MISSING_ENV))

    # -- checksums ---------------------------------------------------------------------------------

    def checksum(self, url: str) -> str | None:
        """The digest at `url`; None if it is missing and $PRISMA_ENGINES_CHECKSUM_IGNORE_MISSING is set."""
        body = self.read_small(url)
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
            stream, _ = self.open(url)
        except MissingError as err:
            return str(err)
        except (TransientError, EngineFetchError):
            return None
        stream.close()
        return None

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
                stream, total = self.open(url)
            except MissingError as err:
                raise _not_found(url, str(err)) from None
            if total is not None and total > MAX_ENGINE_GZ_BYTES:
                stream.close()
                raise _too_big(url, f"the mirror announces {total} bytes", MAX_ENGINE_GZ_BYTES, "compressed")
            with contextlib.closing(stream):
                return self._stream(url, stream, total, dest_dir, expected, progress)

        return self.retrying(f"downloading {url}", attempt)

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
                chunk = read_some(stream, CHUNK)
            except (TimeoutError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
                raise TransientError(f"connection failed after {received} bytes: {describe(err)}") from None
            if not chunk:
                break
            received += len(chunk)
            if received > MAX_ENGINE_GZ_BYTES:
                raise _too_big(url, f"more than {received} bytes arrived", MAX_ENGINE_GZ_BYTES, "compressed")
            self.check_deadline(url, started, total, received)
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
            raise TransientError(f"connection closed after {received} of {total} bytes")
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
