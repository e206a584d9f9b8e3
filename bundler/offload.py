"""Compute strings on the idle core while this process goes on: a forked child runs a pure function and hands its
result back through a pipe.

Python threads cannot share the GIL-bound work of building a large record (loops over every file, JSON) with the
rest of the pipeline, but a forked child can: it starts with this process's memory (copy on write), computes,
writes the strings to a pipe and exits, while the parent verifies, load-checks and commits. `result()` reads
them; when anything goes wrong in the child (or there is no fork, or threads are running, which a fork must not
copy) the function simply runs in this process, so the outcome never depends on the child. The function must
be pure: the child writes no file, prints nothing and exits with os._exit, never running the parent's cleanup.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
from collections.abc import Callable
from typing import NoReturn

_LENGTH = 8  # bytes of each string's length prefix


class Offloaded:
    """`fn()` started in a child now (see the module doc); `result()` is what it returned, `cancel()` drops it."""

    def __init__(self, fn: Callable[[], list[str]]) -> None:
        self._fn = fn
        self._pid = 0
        self._read = -1
        self._frozen = False
        if not hasattr(os, "fork") or threading.active_count() > 1:
            return  # computed in this process by result()
        read, write = os.pipe()
        gc.freeze()  # neither process's collector touches (and so copies) the objects they share
        self._frozen = True
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            self._thaw()
            return
        if pid == 0:  # the child
            _child(fn, read, write)
        os.close(write)
        self._pid, self._read = pid, read

    def result(self) -> list[str]:
        """The function's strings: from the child when it finished well, else computed here."""
        texts = self._collect() if self._pid else None
        return texts if texts is not None else self._fn()

    def cancel(self) -> None:
        """Stop the child (the run failed before its result was needed)."""
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            self._reap()

    def _collect(self) -> list[str] | None:
        chunks: list[bytes] = []
        try:
            while chunk := os.read(self._read, 1 << 20):
                chunks.append(chunk)
        except OSError:
            chunks = []
        ok = self._reap() == 0
        data = b"".join(chunks)
        return _decode(data) if ok else None

    def _reap(self) -> int | None:
        """Wait for the child; its exit code (None when it was killed)."""
        pid, self._pid = self._pid, 0
        if self._read >= 0:
            os.close(self._read)
            self._read = -1
        self._thaw()
        if not pid:
            return None
        _, status = os.waitpid(pid, 0)
        return os.WEXITSTATUS(status) if os.WIFEXITED(status) else None

    def _thaw(self) -> None:
        if self._frozen:
            gc.unfreeze()
            self._frozen = False

    def __enter__(self) -> Offloaded:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _child(fn: Callable[[], list[str]], read: int, write: int) -> NoReturn:
    """Run fn, write its strings to the pipe, exit: never returns, never runs the parent's handlers."""
    code = 1
    try:
        os.close(read)
        gc.disable()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # a Ctrl-C or SIGTERM ends the child, not a handler of ours
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        data = _encode(fn())
        view = memoryview(data)
        while view:
            view = view[os.write(write, view):]
        code = 0
    finally:
        os._exit(code)


def _encode(texts: list[str]) -> bytes:
    parts: list[bytes] = []
    for text in texts:
        raw = text.encode("utf-8", "surrogateescape")
        parts += (len(raw).to_bytes(_LENGTH, "little"), raw)
    return b"".join(parts)


def _decode(data: bytes) -> list[str] | None:
    texts: list[str] = []
    at = 0
    while at < len(data):
        size = int.from_bytes(data[at:at + _LENGTH], "little")
        at += _LENGTH
        if at + size > len(data):
            return None
        texts.append(data[at:at + size].decode("utf-8", "surrogateescape"))
        at += size
    return texts
