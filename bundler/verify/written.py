"""A zip this run has just written, read through what its writer saw, so verify does not read it a second time.

The entry list (path, size, mode) and the first bytes of every entry come from the writer's result; a native
file is read from the source the writer zipped, and only after its sha256 matches the one the writer took of
the bytes it put in the zip. A source that changed since (or an entry the writer generated) is read from the
zip itself, so a verdict is always about the artifact's bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

from bundler.verify.artifacts import _COPY_CHUNK, _Entry, _ZipArtifact


class WrittenFile(Protocol):
    """What the zip writer reports of each entry (bundler.archive.WrittenEntry)."""

    @property
    def arc(self) -> str: ...
    @property
    def mode(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def head(self) -> bytes: ...


class WrittenArtifact:
    def __init__(self, path: Path, written: Sequence[WrittenFile], sources: Mapping[str, str | Path | None]) -> None:
        self.path = path
        self.zip_bytes: int | None = path.stat().st_size
        self._written = {w.arc: w for w in written}
        self._sources = sources
        self._zip: _ZipArtifact | None = None
        self.heads = {w.arc: w.head for w in written}

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def entries(self) -> list[_Entry]:
        return [_Entry(w.arc, w.size, w.mode & 0o7777) for w in self._written.values()]

    def _from_zip(self) -> _ZipArtifact:
        if self._zip is None:
            self._zip = _ZipArtifact(self.path)
        return self._zip

    def read(self, entry: _Entry, limit: int | None = None) -> bytes:
        fh = self.native(entry)
        with fh:
            return fh.read() if limit is None else fh.read(limit)

    def native(self, entry: _Entry) -> IO[bytes]:
        """The source file the writer zipped, when its bytes still hash to what the writer zipped; else the
        entry unpacked from the zip."""
        source = self._sources.get(entry.path)
        if source is not None:
            fh = self._open_same(Path(source), self._written[entry.path].sha256)
            if fh is not None:
                return fh
        return self._from_zip().native(entry)

    @staticmethod
    def _open_same(source: Path, sha256: str) -> IO[bytes] | None:
        try:
            fh = source.open("rb")
        except OSError:
            return None
        digest = hashlib.sha256()
        while chunk := fh.read(_COPY_CHUNK):
            digest.update(chunk)
        if digest.hexdigest() != sha256:
            fh.close()
            return None
        fh.seek(0)
        return fh
