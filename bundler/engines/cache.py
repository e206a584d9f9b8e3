"""photon-bundle's engine cache: `<cache>/engines/<version>/<target>/<file>` with `<file>.sha256` beside it.

The cache folder is `$PHOTON_BUNDLE_CACHE`, else `$XDG_CACHE_HOME/photon-bundle`, else
`~/.cache/photon-bundle`. Every write is a temp file in the same folder moved into place with
`os.replace`, so a reader sees the old file or the new one, never a torn one. Each engine has a lock
file (`.<file>.lock`, fcntl.flock) held while it is looked up and fetched: two processes asking for the
same engine at once get one download (the second finds it cached) and never step on each other. A
cached file whose sha256 no longer matches its `.sha256` is discarded so it is fetched again.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from bundler.engines import EngineKind, engine_filename, mirror_filename, parse_engine_filename
from bundler.engines.mirror_urls import parse_checksum
from bundler.engines.version import check_version
from bundler.errors import ConfigError, EngineFetchError
from bundler.hashing import sha256_file

if sys.platform != "win32":
    import fcntl

log = logging.getLogger(__name__)

CACHE_ENV = "PHOTON_BUNDLE_CACHE"
ENGINES_DIR = "engines"
LOCK_WAIT = 900.0  # seconds to wait for another process fetching the same engine
_LOCK_POLL = 0.05
_HASH_CHUNK = 1024 * 1024


def cache_root(override: Path | None, env: Mapping[str, str]) -> Path:
    """`override`, else $PHOTON_BUNDLE_CACHE, else $XDG_CACHE_HOME/photon-bundle, else ~/.cache/photon-bundle."""
    if override is not None:
        return override
    if env.get(CACHE_ENV, "").strip():
        return Path(env[CACHE_ENV].strip()).expanduser()
    if env.get("XDG_CACHE_HOME", "").strip():
        return Path(env["XDG_CACHE_HOME"].strip()).expanduser() / "photon-bundle"
    home = Path(env["HOME"]) if env.get("HOME", "").strip() else Path.home()
    return home / ".cache" / "photon-bundle"



def _check_segment(value: str, what: str) -> str:
    if not value or value in (".", "..") or "/" in value or "\\" in value or value.startswith("."):
        raise ConfigError(f"{what} {value!r} cannot name a cache folder", hint=f"pass a valid {what}")
    return value


@dataclass(frozen=True)
class CacheEntry:
    """Where one engine lives in the cache."""

    root: Path
    version: str
    target: str
    kind: EngineKind

    @property
    def dir(self) -> Path:
        return self.root / ENGINES_DIR / self.version / self.target

    @property
    def name(self) -> str:
        return engine_filename(self.kind, self.target)

    @property
    def path(self) -> Path:
        return self.dir / self.name

    @property
    def sha_path(self) -> Path:
        return self.dir / f"{self.name}.sha256"

    @property
    def lock_path(self) -> Path:
        return self.dir / f".{self.name}.lock"


@dataclass(frozen=True)
class CachedEngine:
    """One engine file found by `EngineCache.entries()`."""

    version: str
    target: str
    kind: EngineKind | None
    name: str
    path: Path
    size: int
    recorded_sha256: str | None


class EngineCache:
    def __init__(self, root: Path, *, lock_wait: float = LOCK_WAIT) -> None:
        self.root = root
        self.lock_wait = lock_wait

    def entry(self, version: str, target: str, kind: EngineKind) -> CacheEntry:
        check_version(version, origin="the engine version")
        return CacheEntry(self.root, version, _check_segment(target, "engine target"), kind)

    # -- locking -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, entry: CacheEntry) -> Iterator[bool]:
        """Hold the engine's lock; yields False (no lock, read only) when the cache folder is not writable."""
        try:
            entry.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(entry.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            log.debug("engine cache %s is not writable (%s); looking up without a lock", entry.dir, err)
            yield False
            return
        try:
            self._flock(fd, entry)
            self._remove_stale_parts(entry)
            yield True
        finally:
            os.close(fd)  # closing releases the flock

    def _flock(self, fd: int, entry: CacheEntry) -> None:
        if sys.platform == "win32":  # pragma: no cover - atomic replace alone keeps files whole there
            return
        deadline = time.monotonic() + self.lock_wait
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if not waited:
                    log.info("waiting for another process fetching %s", entry.path)
                    waited = True
                if time.monotonic() >= deadline:
                    raise EngineFetchError(
                        f"gave up after {self.lock_wait:.0f}s waiting for another process to finish fetching "
                        f"{entry.path}",
                        hint=f"wait for the other photon-bundle process, or stop it; the lock is {entry.lock_path}",
                    ) from None
                time.sleep(_LOCK_POLL)

    @staticmethod
    def _remove_stale_parts(entry: CacheEntry) -> None:
        """Temp files of a process killed mid-download (only called while holding the lock): a copy's
        `.<engine file>.*.part`, a download's `.<file name on the mirror>.*.part` (bundler/engines/mirror.py names
        it after the URL, e.g. `.libquery_engine.so.node.*.part`) and a checksum's `.*.sha256.*.tmp`."""
        names = {entry.name, mirror_filename(entry.kind, entry.target)}
        for part in [*(p for name in sorted(names) for p in entry.dir.glob(f".{glob.escape(name)}.*.part")),
                     *entry.dir.glob(f".{glob.escape(entry.name)}.sha256.*.tmp")]:
            with contextlib.suppress(OSError):
                part.unlink()

    # -- reading -----------------------------------------------------------------------------------

    def lookup(self, entry: CacheEntry, *, may_discard: bool = True) -> str | None:
        """The sha256 of the cached engine if it is there and intact; else None (a corrupt copy is removed)."""
        if not entry.path.is_file():
            return None
        try:
            recorded = parse_checksum(entry.sha_path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            recorded = None
        actual = sha256_file(entry.path)
        if recorded is not None and actual == recorded:
            if may_discard and entry.path.stat().st_mode & 0o111 != 0o111:
                entry.path.chmod(0o755)
            return actual
        log.warning(
            "cached engine %s is damaged (sha256 %s, recorded %s); %s",
            entry.path,
            actual,
            recorded or "nothing",
            "discarding it" if may_discard else "ignoring it",
        )
        if may_discard:
            self.discard(entry)
        return None

    def discard(self, entry: CacheEntry) -> None:
        for path in (entry.sha_path, entry.path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- writing (hold the lock) -------------------------------------------------------------------

    def store(self, entry: CacheEntry, tmp: Path, sha256: str) -> Path:
        """Move a verified temp file (in entry.dir) into place, then record its checksum."""
        try:
            tmp.chmod(0o755)
            with contextlib.suppress(FileNotFoundError):
                entry.sha_path.unlink()  # a crash before the new .sha256 is written leaves "damaged", not "wrong"
            tmp.replace(entry.path)
            _write_atomic(entry.sha_path, f"{sha256}  {entry.name}\n")
        except OSError as err:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise EngineFetchError(
                f"cannot write {entry.path}: {err.strerror or err}",
                hint=f"free disk space or point {CACHE_ENV} at a writable folder",
            ) from None
        return entry.path

    def store_copy(self, entry: CacheEntry, source: Path, sha256: str) -> Path:
        """Copy a file into the cache, checking it still has `sha256` on the way."""
        try:
            fd, tmp_name = tempfile.mkstemp(dir=entry.dir, prefix=f".{entry.name}.", suffix=".part")
        except OSError as err:
            raise EngineFetchError(
                f"cannot write to the engine cache {entry.dir}: {err.strerror or err}",
                hint=f"make it writable or point {CACHE_ENV} at a writable folder",
            ) from None
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for block in iter(lambda: src.read(_HASH_CHUNK), b""):
                    digest.update(block)
                    out.write(block)
            if digest.hexdigest() != sha256:
                raise EngineFetchError(f"{source} changed while it was copied into the cache", hint="run again")
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return self.store(entry, tmp, sha256)

    # -- listing and clearing ----------------------------------------------------------------------

    def entries(self) -> list[CachedEngine]:
        found: list[CachedEngine] = []
        base = self.root / ENGINES_DIR
        if not base.is_dir():
            return found
        for path in sorted(base.glob("*/*/*")):
            if path.name.startswith(".") or path.name.endswith(".sha256") or not path.is_file():
                continue
            name = parse_engine_filename(path.name)
            sha_path = path.with_name(path.name + ".sha256")
            try:
                recorded = parse_checksum(sha_path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                recorded = None
            found.append(
                CachedEngine(
                    version=path.parent.parent.name,
                    target=path.parent.name,
                    kind=name.kind if name else None,
                    name=path.name,
                    path=path,
                    size=path.stat().st_size,
                    recorded_sha256=recorded,
                )
            )
        return found

    def clear(self) -> tuple[int, int]:
        """Remove every cached engine; returns (engines removed, bytes freed)."""
        engines = self.entries()
        base = self.root / ENGINES_DIR
        if base.is_dir():
            try:
                shutil.rmtree(base)
            except OSError as err:
                raise EngineFetchError(
                    f"cannot remove {base}: {err.strerror or err}", hint="check the folder's permissions"
                ) from None
        return len(engines), sum(e.size for e in engines)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        Path(tmp_name).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp_name).unlink()
        raise
