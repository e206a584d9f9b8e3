"""Whole artifacts in the shared cache, by inputs fingerprint (bundler/reuse.py): a runner whose planned inputs
match an index downloads the artifacts instead of building them; a runner that built uploads them.

A hit is taken only when everything checks: the index's own sha256, its fingerprint, that it names exactly
this run's planned artifacts with this run's content digests; each zip's sha256 and size as the index records
them; and, reading each zip, that it holds exactly the planned files with the planned modes and sizes and that
their content digest is the one this run planned. So the artifacts are the ones this run would have written,
file for file. The pipeline then checks the zipped limits and verifies the native binaries again (both cheap);
the load check is not run again: it proved these very contents load under the same settings (load_check is
part of the fingerprint), as a local no-op reuse trusts it, and it costs a node start per unit.
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
    from bundler.plan import ArtifactPlan
    from bundler.walk import FileEntry

Log = Callable[[str], None]
CHUNK = 1024 * 1024
# Manifest keys that describe this runner, not the artifacts: never shared, each runner writes its own.
LOCAL_KEYS = ("out_dir", "outputs", "reused", "shared_cache", "layout", "doctor", "sizes")
REQUIRED = {"tool": str, "engine": dict, "artifacts": list, "limits": list, "pruned": dict, "warnings": list,
            "verify": dict, "load_check": dict}


@dataclass(frozen=True)
class Fetched:
    doc: dict[str, Any]  # the manifest, without this runner's own keys
    written: list[Written]  # verified temp files beside their final paths, for the pipeline's commit
    url: str  # the index they were listed in


def fetch_planned(store: SharedStore, settings: str, artifacts: list[ArtifactPlan], walked: Mapping[str, FileEntry],
                  out_dir: Path, stack: ExitStack, log: Log) -> Fetched | None:
    """`fetch` by this run's inputs fingerprint (bundler/reuse.py: the settings and each planned artifact's content
    digest, every planned file hashed)."""
    from bundler.reuse import inputs_fingerprint, planned_digests

    digests, _ = planned_digests(artifacts, walked, {})
    return fetch(store, inputs_fingerprint(settings, digests), digests, artifacts, out_dir, stack, log)


class _UnavailableError(Exception):
    """The cache is down (already said): build."""


def fetch(store: SharedStore, fingerprint: str, digests: Mapping[str, str], artifacts: list[ArtifactPlan],
          out_dir: Path, stack: ExitStack, log: Log) -> Fetched | None:
    """The artifacts listed under `fingerprint`, downloaded and checked; None (build them) when there is no
    such index, the cache is down, or anything does not check (then a warning says what was refused)."""
    key = store.location.index_key(fingerprint)
    url = store.location.url_of(key)
    try:
        index = store.read_json(key)
        if index is None:
            if store.down is None:
                log(f"shared cache: no artifacts for inputs fingerprint {fingerprint[:12]} yet ({url})")
            return None
        doc, blobs = _checked_index(store, key, index, fingerprint, digests, artifacts)
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
    return Fetched({**doc, "reused": False, "shared_cache": url}, written, url)


def upload(store: SharedStore, doc: Mapping[str, Any], written: Iterable[Written], log: Log) -> None:
    """Share what this run built: each zip under its sha256 (unless there), then the index, last."""
    if store.down is not None:
        return
    key = store.location.index_key(str(doc["inputs_fingerprint"]))
    if key not in store.refused and store.exists(key):
        return  # another runner shared these inputs already
    blobs = []
    for w in written:
        sha, size = w.result.sha256, w.result.zipped_size
        blob = store.location.blob_key(sha)
        if not store.has(blob, sha, size) and not store.upload(blob, w.final, sha):
            return  # down: said once; no index without its blobs
        blobs.append({"path": w.plan.filename, "sha256": sha, "bytes": size})
    index = {"version": INDEX_VERSION, "tool": f"photon-bundle {__version__}",
             "fingerprint": doc["inputs_fingerprint"], "blobs": blobs,
             "manifest": {k: v for k, v in doc.items() if k not in LOCAL_KEYS}}
    if store.write_json(key, index):
        log(f"shared cache: uploaded {len(blobs)} artifact(s) to {store.location.url_of(key)}")


def _checked_index(store: SharedStore, key: str, index: Mapping[str, Any], fingerprint: str,
                   digests: Mapping[str, str], artifacts: list[ArtifactPlan]
                   ) -> tuple[dict[str, Any], dict[str, tuple[str, int]]]:
    """The manifest and each artifact's (sha256, bytes), when the index is ours and lists this run's plan."""
    doc = index.get("manifest")
    if index.get("version") != INDEX_VERSION or index.get("fingerprint") != fingerprint or not isinstance(doc, dict):
        raise store.refuse(key, "not an index of this fingerprint")
    version = doc.get("version")
    if any(not isinstance(doc.get(k), t) for k, t in REQUIRED.items()) or version != manifest.MANIFEST_VERSION:
        raise store.refuse(key, "its manifest is not a photon-bundle manifest of this version")
    blobs: dict[str, tuple[str, int]] = {}
    for b in index.get("blobs") or []:
        if isinstance(b, dict) and isinstance(b.get("path"), str) and isinstance(b.get("sha256"), str) \
                and isinstance(b.get("bytes"), int) and b["bytes"] >= 0:
            blobs[b["path"]] = (b["sha256"], b["bytes"])
    recorded = {a.get("path"): a for a in doc["artifacts"] if isinstance(a, dict)}
    if sorted(blobs) != sorted(a.filename for a in artifacts) or sorted(recorded, key=str) != sorted(blobs):
        raise store.refuse(key, "it lists other artifacts than this run plans")
    for name, (sha, size) in blobs.items():
        a = recorded[name]
        if (a.get("sha256"), a.get("zipped_bytes"), a.get("content_digest")) != (sha, size, digests[name]):
            raise store.refuse(key, f"{name}: its record is not this run's planned contents")
    return doc, blobs


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
