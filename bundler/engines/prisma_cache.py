"""Prisma's own engine cache, reused read-only when its checksum vouches for the file (FACTS.md section 5).

Prisma's fetch-engine keeps `<root>/master/<hash>/<target>/<name>` with `<name>.sha256` (the unpacked
file's digest) beside it; `<root>` is `$XDG_CACHE_HOME/prisma` or `~/.cache/prisma`. `<name>` is
fetch-engine's binary type (`query-engine`, `libquery-engine`); the on-disk and server names are also
tried, for caches filled by other tools. A copy without a matching `.sha256` is never used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bundler.engines import EngineKind, engine_filename, mirror_filename
from bundler.engines.mirror_urls import parse_checksum
from bundler.hashing import sha256_file

CHANNEL = "master"
_BINARY_TYPE: dict[str, str] = {"binary": "query-engine", "library": "libquery-engine"}


def prisma_cache_roots(env: Mapping[str, str]) -> list[Path]:
    roots: list[Path] = []
    if env.get("XDG_CACHE_HOME", "").strip():
        roots.append(Path(env["XDG_CACHE_HOME"].strip()).expanduser() / "prisma")
    home = Path(env["HOME"]) if env.get("HOME", "").strip() else Path.home()
    roots.append(home / ".cache" / "prisma")
    return list(dict.fromkeys(roots))


def candidate_names(kind: EngineKind, target: str) -> list[str]:
    names = [_BINARY_TYPE[kind], engine_filename(kind, target), mirror_filename(kind, target)]
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class PrismaCacheResult:
    path: Path | None = None
    sha256: str | None = None
    notes: list[str] = field(default_factory=list)  # why each copy that exists was not used


def find_in_prisma_cache(kind: EngineKind, target: str, version: str, env: Mapping[str, str]) -> PrismaCacheResult:
    """The first copy in Prisma's cache whose `.sha256` matches its content."""
    notes: list[str] = []
    for root in prisma_cache_roots(env):
        folder = root / CHANNEL / version / target
        for name in candidate_names(kind, target):
            path = folder / name
            if not path.is_file():
                continue
            try:
                text = path.with_name(name + ".sha256").read_text(encoding="utf-8", errors="replace")
            except OSError:
                notes.append(f"{path} has no readable .sha256 beside it (ignored)")
                continue
            recorded = parse_checksum(text)
            if recorded is None:
                notes.append(f"{path}.sha256 holds no sha256 digest (ignored)")
                continue
            try:
                actual = sha256_file(path)
            except OSError as err:
                notes.append(f"{path} cannot be read: {err.strerror or err} (ignored)")
                continue
            if actual != recorded:
                notes.append(f"{path} does not match its .sha256 (ignored)")
                continue
            return PrismaCacheResult(path=path, sha256=actual, notes=notes)
    return PrismaCacheResult(notes=notes)
