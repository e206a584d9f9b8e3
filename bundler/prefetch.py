"""Compress small files of the tree while the engine is found and the bundle planned, on the cores the plan
leaves idle.

Planning is pure Python on one core; the zip write that follows keeps every core busy. Between the walk
and the write, `Prefetch` reads and compresses (bundler/zipjobs.compress_whole: the same call the write
makes, so the same bytes) the tree's small files in the order the write will reach them, up to a byte budget,
on `os.cpu_count() - 1` threads. The write takes a file's result when the plan kept the file and its size is
still the one the walk saw, and compresses any other file itself; `stop()` ends the prefetch when the write
begins, so it never competes with the write's own workers. Files that a plan leaves out cost only the idle
core's time. Nothing is prefetched on one core.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from bundler.zipjobs import SPLIT_MIN, Compressed, compress_whole

PREFETCH_BYTES = 24 << 20  # about what one core deflates while a 15,000-file tree is planned
CHUNK_BYTES = 1 << 20  # files per job
_SKIPPED_DIRS = ("node_modules/.bin/", "node_modules/.cache/")


class _File(Protocol):
    @property
    def rel(self) -> str: ...
    @property
    def fspath(self) -> str: ...
    @property
    def size(self) -> int: ...


class Prefetch:
    """A cache of files compressed ahead of the write, filled by background threads (see the module doc)."""

    def __init__(self, files: Sequence[_File], level: int = 6, *, budget: int = PREFETCH_BYTES,
                 workers: int | None = None) -> None:
        self.level = level
        self._done: dict[tuple[str, int], Compressed] = {}
        self._stopped = threading.Event()
        cores = os.cpu_count() or 1
        workers = workers if workers is not None else cores - 1
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="prefetch") if workers > 0 else None
        self._futures: list[Future[None]] = []
        if self._pool is not None:
            for chunk in _chunks(_picks(files, budget)):
                self._futures.append(self._pool.submit(self._run, chunk))

    def _run(self, chunk: list[tuple[str, int]]) -> None:
        for path, size in chunk:
            if self._stopped.is_set():
                return
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    raw = os.read(fd, size + 1)
                finally:
                    os.close(fd)
            except OSError:
                continue  # the write reads it again and reports what is wrong
            if len(raw) == size:  # a file that changed since the walk is left to the write
                self._done[(path, size)] = compress_whole(raw, self.level)

    def join(self) -> None:
        """Wait until every picked file is prefetched (for tests and measurements)."""
        for future in self._futures:
            if not future.cancelled():
                future.result()

    def take(self, source: str, size: int) -> Compressed | None:
        """The file's compressed bytes when they were prefetched at this size (each result is taken once)."""
        return self._done.pop((source, size), None)

    def stop(self) -> None:
        """No new file is started (the write begins); what is done stays to be taken."""
        self._stopped.set()
        if self._pool is not None:
            for future in self._futures:
                future.cancel()
            self._pool.shutdown(wait=True)

    def close(self) -> None:
        self.stop()
        self._done.clear()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def prefetched(self) -> int:
        return len(self._done)


def _picks(files: Sequence[_File], budget: int) -> list[tuple[str, int]]:
    """The tree's small files in path order (the write's order for most bundles), up to `budget` bytes."""
    picks: list[tuple[str, int]] = []
    total = 0
    for f in files:
        if 0 < f.size < SPLIT_MIN and not f.rel.startswith(_SKIPPED_DIRS) and "/node_modules/.bin/" not in f.rel:
            picks.append((f.fspath, f.size))
            total += f.size
            if total >= budget:
                break
    return picks


def _chunks(picks: list[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    chunks: list[list[tuple[str, int]]] = [[]]
    size = 0
    for pick in picks:
        if size >= CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(pick)
        size += pick[1]
    return [c for c in chunks if c]
