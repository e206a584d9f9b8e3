"""sha256 of a file, read in chunks: for the engine cache, the no-op check and the manifest's artifacts.

A module of its own, importing nothing heavy, so the no-op check can use it without loading the engine
download code."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
