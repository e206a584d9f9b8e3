"""Whole artifacts in the shared cache, by inputs fingerprint (bundler/reuse.py): a runner whose planned inputs
match an index downloads the artifacts instead of building them; a runner that built uploads them.

A hit is taken only when everything checks: the index's own sha256, its fingerprint, that it names exactly
this run's planned artifacts with this run's content digests; each zip's sha256 and size as the index records
them; and, reading each zip, that it holds exactly the planned files with the planned modes and sizes and that
their content digest is the one this run planned. So the artifacts are the ones this run would have written,
file for file. The pipeline then checks the zipped limits and verifies the native binaries again (both cheap);
the load check is not run again: it proved these very contents load under the same settings (load_check is
part of the fingerprint; a build whose load check could not run is not shared), as a local no-op reuse trusts
it, and it costs a node start per unit; the manifest keeps that run's load check record.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler import __version__, manifest
from bundler.archive import HEAD_BYTES, ArchiveResult, WrittenEntry
from bundler.outdir import Written, writing
from bundler.shared_cache.location import INDEX_VERSION
from bundler.shared_cache.store import RefusedError, SharedStore

if TYPE_CHECKING:
    from bundler.manifest import Manifest
    from bundler.plan import ArtifactPlan, BundlePlan
    from bundler.walk import FileEntry

Log = Callable[[str], None]
JsonObject = Mapping[str, object]
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Fetched:
    """A hit: each planned artifact in a verified temp file beside its final path, and each unit's load check
    record from the run that built and load-checked these contents."""

    written: list[Written]
    load_checks: Mapping[str, JsonObject]
    url: str  # the index they were listed in

    def of(self, plan: BundlePlan) -> list[Written]:
        """The unit's artifacts, in its plan's order (what the pipeline's steps take for written ones)."""
        return [w for a in plan.artifacts for w in self.written if w.plan is a]


@dataclass
class Sharing:
    """After the commit: what the manifest says of the shared cache, and the upload of what was built."""

    store: SharedStore | None
    fetched: Fetched | None
    load_checked: bool  # the settings ask for a load check (not --load-check off)
    log: Log

    @property
    def url(self) -> str | None:
        return self.fetched.url if self.fetched is not None else None

    def share(self, made: Manifest, written: list[Written]) -> None:
        """Upload a build (not what came from the cache). A bundle whose load check was asked for but could not
        run (no node on PATH) is not shared: a hit must have been load-checked whenever its settings ask."""
        if self.store is None or self.fetched is not None:
            return
        skipped = [u.name or "the bundle" for u in made.units if u.load_check.get("skipped")]
        if self.load_checked and skipped:
            self.log(f"shared cache: not uploading: the load check did not run for {', '.join(skipped)}")
            return
        upload(self.store, made.inputs_fingerprint, {u.name: u.load_check for u in made.units}, written, self.log)


class _UnavailableError(Exception):
    """The cache is down (already said): build."""


def fetch_planned(store: SharedStore, settings: str, units: Mapping[str, list[ArtifactPlan]],
                  walked: Mapping[str, FileEntry], out_dir: Path, stack: ExitStack, log: Log) -> Fetched | None:
    """`fetch` by this run's inputs fingerprint (bundler/reuse.py: the settings and each planned artifact's content
    digest, every planned file hashed)."""
    from bundler.reuse import inputs_fingerprint, planned_digests

    digests, _ = planned_digests([a for plans in units.values() for a in plans], walked, {})
    return fetch(store, inputs_fingerprint(settings, digests), digests, units, out_dir, stack, log)


def fetch(store: SharedStore, fingerprint: str, digests: Mapping[str, str], units: Mapping[str, list[ArtifactPlan]],
          out_dir: Path, stack: ExitStack, log: Log) -> Fetched | None:
    """The artifacts listed under `fingerprint`, downloaded and checked; None (build them) when there is no
    such index, the cache is down, or anything does not check (then a warning says what was refused)."""
    key = store.location.index_key(fingerprint)
    url = store.location.url_of(key)
    artifacts = [a for plans in units.values() for a in plans]
    try:
        index = store.read_json(key)
        if index is None:
            if store.down is None:
                log(f"shared cache: no artifacts for inputs fingerprint {fingerprint[:12]} yet ({url})")
            return None
        blobs, load_checks = _checked_index(store, key, index, fingerprint, digests, units)
        written = [_artifact(store, key, plan, blobs[plan.filename], digests[plan.filename], out_dir, stack)
                   for plan in artifacts]
    except RefusedError as err:
        store.refused.add(key)  # the index that led there is replaced by this run's upload too
        log(f"warning: shared cache: refused {err.url}: {err.reason}; building instead (the upload replaces it)")
        return None
    except _UnavailableError:
        return None
    total = sum(w.result.zipped_size for w in written)
    log(f"shared cache: {len(written)} artifact(s), {total:,} bytes, from {url}: sha256, sizes and contents match "
        "this run's plan; not rebuilt")
    return Fetched(written, load_checks, url)


def upload(store: SharedStore, fingerprint: str, load_checks: Mapping[str, JsonObject], written: Iterable[Written],
           log: Log) -> None:
    """Share what this run built: each zip under its sha256 (unless there), then the index, last."""
    if store.down is not None:
        return
    key = store.location.index_key(fingerprint)
    if key not in store.refused and store.exists(key):
        return  # another runner shared these inputs already
    blobs = []
    for w in written:
        sha, size = w.result.sha256, w.result.zipped_size
        blob = store.location.blob_key(sha)
        if not store.has(blob, sha, size) and not store.upload(blob, w.final, sha):
            return  # down: said once; no index without its blobs
        blobs.append({"path": w.plan.filename, "sha256": sha, "bytes": size,
                      "content_digest": w.result.content_digest})
    index = {"version": INDEX_VERSION, "tool": f"photon-bundle {__version__}", "fingerprint": fingerprint,
             "blobs": blobs, "load_check": {name: dict(record) for name, record in load_checks.items()}}
    if store.write_json(key, index):
        log(f"shared cache: uploaded {len(blobs)} artifact(s) to {store.location.url_of(key)}")


def _checked_index(store: SharedStore, key: str, index: Mapping[str, Any], fingerprint: str,
                   digests: Mapping[str, str], units: Mapping[str, list[ArtifactPlan]]
                   ) -> tuple[dict[str, tuple[str, int]], dict[str, JsonObject]]:
    """Each artifact's (sha256, bytes) and each unit's load check record, when the index is ours and lists
    exactly this run's planned artifacts and units with this run's content digests."""
    if index.get("version") != INDEX_VERSION or index.get("fingerprint") != fingerprint:
        raise store.refuse(key, "not an index of this fingerprint")
    blobs: dict[str, tuple[str, int]] = {}
    for b in index.get("blobs") or []:
        if not (isinstance(b, dict) and isinstance(b.get("path"), str) and isinstance(b.get("sha256"), str)
                and isinstance(b.get("bytes"), int) and b["bytes"] >= 0):
            raise store.refuse(key, "a malformed artifact entry")
        if b.get("content_digest") != digests.get(b["path"]):
            raise store.refuse(key, f"{b['path']}: not this run's planned contents")
        blobs[b["path"]] = (b["sha256"], b["bytes"])
    if sorted(blobs) != sorted(a.filename for plans in units.values() for a in plans):
        raise store.refuse(key, "it lists other artifacts than this run plans")
    checks = index.get("load_check")
    if not isinstance(checks, dict) or sorted(checks) != sorted(units) or not all(
            isinstance(c, dict) and isinstance(c.get("skipped"), bool) for c in checks.values()):
        raise store.refuse(key, "its load check records are not this run's units")
    return blobs, checks


def _artifact(store: SharedStore, index_key: str, plan: ArtifactPlan, blob: tuple[str, int], digest: str,
              out_dir: Path, stack: ExitStack) -> Written:
    """One zip downloaded to a temp file beside its final path, checked, read back as the writer's result."""
    sha, size = blob
    final = out_dir / plan.filename
    with writing(final):
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=manifest.temp_prefix(final), suffix=".tmp")
    tmp = Path(tmp_name)
    stack.callback(tmp.unlink, missing_ok=True)
    key = store.location.blob_key(sha)
    with os.fdopen(fd, "wb") as out:
        got = store.download(key, out, expected=sha, size=size, limit=size)
    if got is None:
        if store.down is not None:
            raise _UnavailableError
        raise store.refuse(index_key, f"{plan.filename}: its zip {store.location.url_of(key)} is missing")
    try:
        result = _read_back(tmp, plan, sha, size)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as err:
        raise store.refuse(key, f"{plan.filename} is not a readable zip ({err})") from None
    if result is None or result.content_digest != digest:
        raise store.refuse(key, f"{plan.filename} does not hold this run's planned files")
    return Written(plan, final, result)


def _read_back(path: Path, plan: ArtifactPlan, sha: str, size: int) -> ArchiveResult | None:
    """The zip's entries as the writer reports them, or None when its files, modes or sizes are not the plan's."""
    planned = {e.arc: e for e in plan.entries}
    entries = []
    with zipfile.ZipFile(path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) != len(planned) or {i.filename for i in infos} != set(planned):
            return None
        for info in infos:
            e = planned[info.filename]
            mode = (info.external_attr >> 16) & 0o7777
            if info.file_size != e.size or mode != e.mode:
                return None
            digest, head, count = hashlib.sha256(), b"", 0
            with zf.open(info) as f:
                for block in iter(lambda f=f: f.read(CHUNK), b""):  # type: ignore[misc]
                    count += len(block)
                    if count > e.size:
                        return None
                    head += block[:HEAD_BYTES - len(head)] if len(head) < HEAD_BYTES else b""
                    digest.update(block)
            entries.append(WrittenEntry(info.filename, mode, count, info.compress_size, digest.hexdigest(), head))
    return ArchiveResult(path=path, sha256=sha, zipped_size=size, unzipped_size=sum(e.size for e in entries),
                         entries=tuple(entries))
