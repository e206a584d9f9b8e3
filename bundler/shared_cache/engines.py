"""The shared cache's engine step: after the local caches, before the mirror (bundler/engines/acquire.py).

An engine comes down into photon-bundle's own cache folder exactly as a mirror download does: a temp file beside
the entry, under the entry's lock, checked against the sha256 recorded with the S3 object, then moved into place
with its `.sha256`; so the local cache holds it for the next run and a damaged object is never used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from bundler.engines.cache import CacheEntry, EngineCache
from bundler.shared_cache.store import RefusedError, SharedStore

log = logging.getLogger(__name__)

ENGINE_LIMIT = 256 * 1024 * 1024  # the mirror's cap on an unpacked engine (README "Bounds")


def engine_from_shared(store: SharedStore, entry: CacheEntry, cache: EngineCache) -> tuple[Path, str] | str:
    """(path in the local cache, sha256), or why not (a line for the error that lists every source)."""
    key = store.location.engine_key(entry.version, entry.target, entry.name)
    url = store.location.url_of(key)
    fd, tmp_name = tempfile.mkstemp(dir=entry.dir, prefix=f".{entry.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            got = store.download(key, out, limit=ENGINE_LIMIT)
    except RefusedError as err:
        tmp.unlink(missing_ok=True)
        log.warning("shared cache: refused %s: %s; fetching it elsewhere", url, err.reason)
        return f"{url} refused ({err.reason})"
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if got is None:
        tmp.unlink(missing_ok=True)
        return f"{url} unavailable ({store.down})" if store.down else f"not in {url}"
    return cache.store(entry, tmp, got.sha256), got.sha256


def engine_to_shared(store: SharedStore, entry: CacheEntry, sha256: str) -> None:
    """Share an engine just fetched from the mirror (unless the same one is there already)."""
    key = store.location.engine_key(entry.version, entry.target, entry.name)
    size = entry.path.stat().st_size
    if not store.has(key, sha256, size) and store.upload(key, entry.path, sha256):
        log.info("shared cache: uploaded %s", store.location.url_of(key))
