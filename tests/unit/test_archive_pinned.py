"""The zip writer's bytes are pinned: an artifact built from a fixed fixture has the digest it had before the
write path was reworked for speed (issue 15), on every worker count.

The fixture covers every path of the writer at its real sizes (no monkeypatched SEGMENT): thousands of small
files that batch together, files just below and above the segmenting threshold, a multi-segment text file, an
incompressible segmented file (stored), empty files, generated entries, non-ASCII names and exec bits. Its
bytes come from sha256 in counter mode, so they do not depend on Python's random module.

The digests were computed with the writer as it was before issue 15's changes (commit ca31f2d). Deflate
output depends on the backend's version, so a digest is pinned per DEFLATE_BACKEND; another backend version
is a skip that names itself, never a silent pass.
"""

from __future__ import annotations

import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from bundler import deflate, zipjobs
from bundler.archive import HEAD_BYTES, write_zip
from bundler.zipjobs import SEGMENT, SPLIT_MIN

# the content digest (sorted path, mode, sha256 of each entry) does not depend on the backend
CONTENT = "7aedff9ab6e0133ce57b3278fca028722f5edac1356b1b4575525a214dd670e0"
# sha256 of the zip per deflate backend, from the writer before issue 15 (ca31f2d)
PINNED = {
    "zlib-ng 2.3.3": ("1e6c7616c64bd3ea82cbcd7f7da21c1e3cab615e23b612cf05e6d56f178e2117", CONTENT),
    "zlib 1.2.13": ("dca91379c021514f3b989a41d3310d64ae1fab86c9ecfbd82cc4c568ee40802c", CONTENT),
}
EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Entry:
    arc: str
    mode: int
    source: Path | None = None
    data: bytes | None = None
    size: int | None = None


def stream(seed: str, n: int) -> bytes:
    """n pseudo-random bytes: sha256(seed, counter) blocks."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:n])


_WORDS = [w.encode() for w in (  # noqa: SIM905 - a word list reads better as one string
    "const let var function return if else for while new this module exports require undefined null true "
    "false typeof object string number value options callback promise error result data request response "
    "buffer stream path event listener handler client server query prototype length index key").split()]


def js_text(seed: str, n: int) -> bytes:
    """JavaScript-like text that compresses about like real code (words, punctuation, newlines)."""
    picks = stream(seed, n // 3 + 64)
    out = bytearray()
    for i, b in enumerate(picks):
        out += _WORDS[b % len(_WORDS)]
        out += b" " if b & 0x30 else (b";\n" if b & 0x40 else b"(")
        if i % 37 == 0:
            out += b"\n  "
        if len(out) >= n:
            break
    return bytes(out[:n])


def build_fixture(root: Path) -> list[Entry]:
    files: dict[str, tuple[bytes, int]] = {}
    for i in range(2500):  # many small files: batches cut by count and by bytes
        size = (i * 7919) % 6000 if i % 11 else (i * 104729) % 90_000
        files[f"node_modules/pkg{i % 40:02d}/lib/f{i:04d}.js"] = (js_text(f"small{i}", size), 0o644)
    files["node_modules/empty/index.js"] = (b"", 0o644)
    files["node_modules/noise/blob.bin"] = (stream("noise-small", 70_000), 0o644)
    files["node_modules/edge/below.js"] = (js_text("below", SPLIT_MIN - 1), 0o644)
    files["node_modules/edge/at.js"] = (js_text("at", SPLIT_MIN), 0o644)
    files["node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"] = (
        js_text("engine-a", 2 * SEGMENT) + stream("engine-b", SEGMENT // 2) + js_text("engine-c", 3 * SEGMENT + 777),
        0o755)
    files["node_modules/big/whole-segments.js"] = (js_text("whole", 4 * SEGMENT), 0o644)
    files["node_modules/big/random.bin"] = (stream("noise-big", SPLIT_MIN + 5), 0o644)
    files["node_modules/café/日本語.js"] = (js_text("unicode", 1234), 0o644)
    entries: list[Entry] = []
    for rel in sorted(files):
        data, mode = files[rel]
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(Entry(rel, mode, source=path, size=len(data)))
    entries.append(Entry("bootstrap", 0o755, data=b"#!/bin/sh\nexec node index.js\n" * 30))
    entries.append(Entry("index.js", 0o644, data=js_text("index", 3000)))
    return entries


@pytest.fixture(scope="module")
def fixture_entries(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    return build_fixture(tmp_path_factory.mktemp("pinned"))


def pinned(backend: str) -> tuple[str, str]:
    if backend not in PINNED:
        pytest.skip(f"no digest pinned for {backend} (pinned: {', '.join(PINNED)})")
    return PINNED[backend]


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_artifact_digest_is_pinned(tmp_path: Path, fixture_entries: list[Entry], workers: int) -> None:
    zip_sha, content = pinned(deflate.DEFLATE_BACKEND)
    result = write_zip(fixture_entries, tmp_path / "function.zip", epoch=EPOCH, workers=workers)
    assert hashlib.sha256((tmp_path / "function.zip").read_bytes()).hexdigest() == result.sha256
    assert (result.sha256, result.content_digest) == (zip_sha, content)


def test_artifact_digest_is_pinned_with_the_standard_zlib(tmp_path: Path, fixture_entries: list[Entry],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback backend (zlib without zlib-ng) is pinned too."""
    zip_sha, content = pinned(f"zlib {zlib.ZLIB_RUNTIME_VERSION}")
    monkeypatch.setattr(zipjobs, "_deflate", zlib)
    result = write_zip(fixture_entries, tmp_path / "function.zip", epoch=EPOCH, workers=2)
    assert (result.sha256, result.content_digest) == (zip_sha, content)


def test_pinned_artifact_unpacks_to_the_fixture(tmp_path: Path, fixture_entries: list[Entry]) -> None:
    result = write_zip(fixture_entries, tmp_path / "function.zip", epoch=EPOCH)
    with zipfile.ZipFile(tmp_path / "function.zip") as zf:
        assert zf.namelist() == [e.arc for e in fixture_entries]
        for entry, written in zip(fixture_entries, result.entries):
            data = entry.data if entry.data is not None else Path(str(entry.source)).read_bytes()
            assert zf.read(entry.arc) == data
            assert written.sha256 == hashlib.sha256(data).hexdigest()
            assert written.head == data[:HEAD_BYTES]


@pytest.mark.parametrize("workers", [1, 2])
def test_files_compressed_ahead_give_the_pinned_bytes(tmp_path: Path, fixture_entries: list[Entry],
                                                      workers: int) -> None:
    """Files compressed while the plan is made (bundler/prefetch.py) are taken by the write: same digest. A file
    whose size is not the one prefetched is compressed again by the write."""
    from bundler.prefetch import Prefetch

    zip_sha, content = pinned(deflate.DEFLATE_BACKEND)

    @dataclass(frozen=True)
    class Walked:
        rel: str
        fspath: str
        size: int

    walked = [Walked(e.arc, str(e.source), e.size or 0) for e in fixture_entries if e.source is not None]
    with Prefetch(walked, budget=1 << 40, workers=2) as prefetch:
        prefetch.join()
        small = [w for w in walked if 0 < w.size < SPLIT_MIN]
        assert prefetch.prefetched == len(small) > 2000
        assert prefetch.take(small[0].fspath, small[0].size + 1) is None  # another size: not this result
        result = write_zip(fixture_entries, tmp_path / "function.zip", epoch=EPOCH, workers=workers,
                           prefetched=prefetch)
        assert prefetch.prefetched == 0  # every one was taken
    assert (result.sha256, result.content_digest) == (zip_sha, content)
