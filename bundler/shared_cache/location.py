"""Where the shared cache keeps what (pure): `s3://bucket/prefix` parsed, and the key of each object."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_SHA256 = re.compile(r"[0-9a-f]{64}")
INDEX_VERSION = 1


@dataclass(frozen=True)
class Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def engine_key(self, version: str, target: str, name: str) -> str:
        return f"{self.prefix}engines/{version}/{target}/{name}"

    def blob_key(self, sha256: str) -> str:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return f"{self.prefix}blobs/{sha256}"

    def index_key(self, fingerprint: str) -> str:
        if not _SHA256.fullmatch(fingerprint):
            raise ValueError(f"not an inputs fingerprint: {fingerprint!r}")
        return f"{self.prefix}artifacts/{fingerprint}.json"

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def parse_location(value: str) -> Location:
    """`s3://bucket` or `s3://bucket/prefix` (a trailing slash is added); ValueError saying what is wrong."""
    text = value.strip()
    if not text.startswith("s3://"):
        raise ValueError("the shared cache is an S3 location: s3://bucket/prefix")
    bucket, _, prefix = text[len("s3://"):].partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"{bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)")
    prefix = prefix.strip("/")
    parts = prefix.split("/") if prefix else []
    if any(p in ("", ".", "..") for p in parts) or any(ord(c) < 32 or c == "\\" for c in prefix):
        raise ValueError(f"{prefix!r} is not a usable key prefix (no empty, '.' or '..' parts, no control characters)")
    return Location(bucket, prefix + "/" if prefix else "")
