"""Verified objects in the shared cache: downloads checked against the sha256 recorded with each object, uploads
that record it. The thin I/O between S3 (bundler/aws.py, the one AWS seam) and local files.

A cache never fails a bundle: the first AWS failure (no credentials, access denied, no such bucket, throttled
after the retries) is one warning naming the AWS error and the fix, and the run goes on without the shared
cache. An object that does not match its recorded sha256 (or the sha256 the caller expects) is refused, never
used, and its key remembered so that this run's upload replaces it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from bundler.errors import CloudError
from bundler.shared_cache.location import Location

if TYPE_CHECKING:
    from bundler.aws import Aws

Log = Callable[[str], None]
T = TypeVar("T")
_SHA256 = re.compile(r"[0-9a-f]{64}")
INDEX_LIMIT = 16 * 1024 * 1024  # an index is a manifest and a few blob names: a few KB


class RefusedError(Exception):
    """An object that is there but does not verify."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True)
class Got:
    sha256: str
    size: int


@dataclass
class SharedStore:
    location: Location
    env: Mapping[str, str]
    log: Log
    down: str | None = None  # why the cache is not used for the rest of the run (the first AWS failure)
    refused: set[str] = field(default_factory=set)  # keys whose object was refused: an upload replaces them
    _aws: Aws | None = None

    # -- the AWS seam, and failures --------------------------------------------------------------------

    def _client(self) -> Aws:
        if self._aws is None:
            from bundler.aws import Aws  # boto3 is imported only when a shared cache is used

            self._aws = Aws(self.env)
        return self._aws

    def safely(self, what: str, action: Callable[[], T]) -> T | None:
        """`action()`, or None once an AWS call failed (said once, as a warning)."""
        if self.down is not None:
            return None
        try:
            return action()
        except CloudError as err:
            self.down = err.message
            fix = f" (fix: {err.hint})" if err.hint else ""
            self.log(f"warning: shared cache {self.location.url}: {what}: {err.message}{fix}; going on without it")
            return None

    def refuse(self, key: str, reason: str) -> RefusedError:
        self.refused.add(key)
        return RefusedError(self.location.url_of(key), reason)

    # -- reading ---------------------------------------------------------------------------------------

    def download(self, key: str, out: BinaryIO, *, expected: str | None = None, size: int | None = None,
                 limit: int) -> Got | None:
        """Stream the object into `out`, hashing it; None when it is not there (or the cache is down).
        Raises RefusedError when it has no recorded sha256, is over `limit` bytes, or its bytes, size or recorded
        sha256 are not what is recorded or expected."""
        seen: list[tuple[str, int]] = []

        def check(meta: dict[str, str], length: int) -> None:
            recorded = meta.get("sha256", "")
            if not _SHA256.fullmatch(recorded):
                raise self.refuse(key, "no sha256 recorded with the object")
            if expected is not None and recorded != expected:
                raise self.refuse(key, f"recorded sha256 {recorded}, expected {expected}")
            if length > limit or (size is not None and length != size):
                raise self.refuse(key, f"{length} bytes, expected {size if size is not None else f'at most {limit}'}")
            seen.append((recorded, length))

        chunks = self.safely("reading", lambda: self._client().get_object(self.location.bucket, key, check))
        if chunks is None:
            return None
        recorded, length = seen[0]
        digest = hashlib.sha256()
        try:
            count = self.safely("reading", lambda: _drain(chunks, out, digest, limit))
        except _TooBigError:
            raise self.refuse(key, f"more than {limit} bytes") from None
        if count is None:
            return None
        actual = digest.hexdigest()
        if count != length or actual != recorded:
            raise self.refuse(key, f"damaged: {count} bytes with sha256 {actual}, recorded {length} bytes with "
                                   f"sha256 {recorded}")
        return Got(actual, count)

    def read_json(self, key: str) -> dict[str, Any] | None:
        """A JSON object stored with its sha256 (an index); None when absent or the cache is down."""
        import io

        buf = io.BytesIO()
        if self.download(key, buf, limit=INDEX_LIMIT) is None:
            return None
        try:
            data = json.loads(buf.getvalue().decode("utf-8"))
        except (ValueError, RecursionError):
            raise self.refuse(key, "not a JSON document") from None
        if not isinstance(data, dict):
            raise self.refuse(key, "not a JSON object")
        return data

    def exists(self, key: str) -> bool:
        """Whether there is an object at `key` (False when the cache is down)."""
        return self._head(key) is not None

    def _head(self, key: str) -> dict[str, Any] | None:
        return self.safely("reading", lambda: self._client().missing(
            "s3", "HeadObject", {"Bucket": self.location.bucket, "Key": key}, self.location.url_of(key)))

    def has(self, key: str, sha256: str, size: int) -> bool:
        """Whether the object is there with this recorded sha256 and size (a HEAD; a refused key never is)."""
        if key in self.refused:
            return False
        head = self._head(key)
        if head is None:
            return False
        meta = {str(k).lower(): str(v) for k, v in (head.get("Metadata") or {}).items()}
        return meta.get("sha256") == sha256 and int(head.get("ContentLength") or -1) == size

    # -- writing ---------------------------------------------------------------------------------------

    def upload(self, key: str, path: Path, sha256: str) -> bool:
        """Put a file with its sha256 recorded (S3 checks the bytes it receives against it); True when done."""
        def put() -> bool:
            with path.open("rb") as body:
                self._put(key, body, sha256)
            return True

        return bool(self.safely("writing", put))

    def write_json(self, key: str, doc: Mapping[str, Any]) -> bool:
        import io

        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        sha = hashlib.sha256(data).hexdigest()
        return bool(self.safely("writing", lambda: self._put(key, io.BytesIO(data), sha)))

    def _put(self, key: str, body: BinaryIO, sha256: str) -> bool:
        self._client().call("s3", "PutObject", {
            "Bucket": self.location.bucket, "Key": key, "Body": body, "Metadata": {"sha256": sha256},
            "ChecksumSHA256": base64.b64encode(bytes.fromhex(sha256)).decode()}, self.location.url_of(key))
        self.refused.discard(key)
        return True


def shared_store(url: str | None, offline: bool, env: Mapping[str, str], log: Log) -> SharedStore | None:
    """The shared cache at `url` (`--cache`), unless none is set or the run is --offline (no network at all)."""
    if not url:
        return None
    if offline:
        log(f"shared cache {url} not used: --offline never touches the network")
        return None
    from bundler.shared_cache.location import parse_location

    return SharedStore(parse_location(url), env, log)


class _TooBigError(Exception):
    pass


def _drain(chunks: Generator[bytes, None, None], out: BinaryIO, digest: Any, limit: int) -> int:
    count = 0
    with contextlib.closing(chunks):
        for block in chunks:
            count += len(block)
            if count > limit:
                raise _TooBigError
            digest.update(block)
            out.write(block)
    return count
