"""The JSON manifest written beside the artifacts: versioned, no wall-clock time, stable key order; built per
unit (build_manifest) and merged over the units (merge_unit_docs)."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler import __version__
from bundler.deflate import DEFLATE_BACKEND
from bundler.resources import data_file, layer_options

if TYPE_CHECKING:
    from bundler.limits import Limit
    from bundler.outdir import Written
    from bundler.plan import BundlePlan
    from bundler.targets import RuntimeProfile
    from platforms.base import PlatformAdapter, Unit

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# The JSON Schema of what build_manifest / merge_unit_docs and the pipeline write (README "Manifest"), shipped
# as package data; the tests validate every manifest they produce against it.
SCHEMA_FILE = data_file("bundler", "manifest.schema.json")
RECORD_MAX = 64 << 20  # bytes: the largest manifest or reuse record read back (50,000 files need about 10 MB)


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def temp_prefix(path: Path) -> str:
    """The name prefix of a temp file written beside `path`: `.<name>.<pid>.`; with the suffix `.tmp`, the
    next run tells a killed run's leftovers (dead pid) from a running one's (bundler/outdir.py)."""
    return f".{path.name}.{os.getpid()}."


def write_atomic(path: Path, text: str) -> None:
    """Write text so that path either keeps its old content or has all of the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        Path(tmp).chmod(0o666 & ~umask)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordError(ValueError):
    """A record in the output folder that is not a regular file of a sane size."""


def read_record(path: Path, limit: int = RECORD_MAX) -> bytes:
    """The bytes of a record photon-bundle wrote in the output folder, read defensively: never through a
    symlink (it could lead out of the folder, or to /dev/zero), only a regular file (a FIFO would block),
    at most `limit` bytes. Raises OSError (FileNotFoundError when absent) or RecordError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise RecordError("it is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise RecordError("it is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise RecordError("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RecordError(f"larger than {limit >> 20} MiB")
    return data


def read(path: Path) -> dict[str, Any] | None:
    """A previous manifest, or None when there is none or it is not one of ours (see `load`)."""
    return load(path)[0]


def load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) for a manifest photon-bundle wrote; (None, None) when there is none; (None, why) when
    the file is there but is not one of ours: another tool's manifest.json, a damaged one, another version.

    A manifest is ours when it is a JSON object of this version whose `tool` is photon-bundle and whose
    artifacts and outputs are lists of objects with string paths (what the next run reads from it)."""
    try:
        raw = read_record(path)
    except FileNotFoundError:
        return None, None
    except RecordError as err:
        return None, str(err)
    except OSError as err:
        return None, f"cannot be read: {err.strerror or err}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None, "not valid JSON"
    why = _not_ours(data)
    return (None, why) if why else (data, None)


def _not_ours(data: Any) -> str | None:
    if not isinstance(data, dict) or not str(data.get("tool", "")).startswith("photon-bundle"):
        return "not written by photon-bundle"
    if data.get("version") != MANIFEST_VERSION:
        return f"manifest version {data.get('version')!r}, this photon-bundle writes {MANIFEST_VERSION}"
    artifacts, outputs = data.get("artifacts"), data.get("outputs", [])
    if not isinstance(artifacts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str)
            and isinstance(a.get("zipped_bytes"), int) for a in artifacts):
        return "damaged: its artifacts are not a list of {path, sha256, zipped_bytes}"
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("path"), str)
                                                for o in outputs):
        return "damaged: its outputs are not a list of {path}"
    return None


def build_manifest(adapter: PlatformAdapter, profile: RuntimeProfile, runtime_why: str, plan: BundlePlan,
                   written: list[Written], limits: list[Limit], engine_info: dict[str, Any]) -> dict[str, Any]:
    if plan.engine is not None:
        engine_info = {**engine_info, "file": plan.engine.arc, "artifact": plan.engine_artifact}
        if any(w.plan.kind == "layer" for w in written):
            engine_info["runtime_path"] = "/opt/" + plan.engine.arc
            engine_info["exec_wrapper"] = "/opt/" + layer_options()[0]["wrapper"]
    reasons: dict[str, dict[str, int]] = {}
    for p in plan.pruned:
        slot = reasons.setdefault(p.reason, {"files": 0, "bytes": 0})
        slot["files"] += 1
        slot["bytes"] += p.size
    return {
        "version": MANIFEST_VERSION,
        "tool": f"photon-bundle {__version__}",
        "compressor": DEFLATE_BACKEND,
        "platform": adapter.key,
        "runtime": profile.runtime.name,
        "runtime_source": runtime_why,
        "arch": profile.arch,
        "os": profile.os.name,
        "engine": engine_info,
        "artifacts": [
            {"kind": w.plan.kind, "path": w.plan.filename, "sha256": w.result.sha256,
             "zipped_bytes": w.result.zipped_size, "unzipped_bytes": w.result.unzipped_size,
             "files": w.result.file_count, "content_digest": w.result.content_digest}
            for w in written
        ],
        "limits": [{"name": lim.name, "what": lim.what, "limit": lim.limit, "actual": lim.actual,
                    "headroom": lim.headroom} for lim in limits],
        "pruned": {"files": len(plan.pruned), "bytes": sum(p.size for p in plan.pruned), "by_reason": reasons},
        "warnings": list(plan.warnings),
        "inputs_fingerprint": "",  # set over all units once every artifact is written (bundler/reuse.py)
        "reused": False,
    }


def merge_unit_docs(units: list[Unit], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One manifest for several units: every artifact, limit and warning, and a `units` list.

    The top-level runtime, arch, os and engine are the first unit's (the first that carries an engine),
    so readers of single-unit manifests keep working. The single unnamed unit of a platform without
    functions keeps its manifest as it is, with the adapter's warnings and facts added."""
    if len(units) == 1 and not units[0].name:
        doc = {**docs[0], "warnings": [*units[0].warnings, *docs[0]["warnings"]]}
        return {**doc, "meta": dict(units[0].meta)} if units[0].meta else doc
    docs = [d if d["engine"].get("file") or not d["engine"].get("target") else
            {**d, "engine": {"kind": d["engine"]["kind"], "target": None,
                             "note": "the function does not load the Prisma client: no engine bundled"}}
            for d in docs]
    doc = dict(docs[0])
    doc["engine"] = next((d["engine"] for d in docs if d["engine"].get("file")), docs[0]["engine"])
    doc["artifacts"] = [{**a, "unit": u.name} for u, d in zip(units, docs) for a in d["artifacts"]]
    doc["limits"] = [lim for d in docs for lim in d["limits"]]
    reasons: dict[str, dict[str, int]] = {}
    for d in docs:
        for reason, slot in d["pruned"]["by_reason"].items():
            total = reasons.setdefault(reason, {"files": 0, "bytes": 0})
            total["files"] += slot["files"]
            total["bytes"] += slot["bytes"]
    doc["pruned"] = {"files": sum(d["pruned"]["files"] for d in docs),
                     "bytes": sum(d["pruned"]["bytes"] for d in docs), "by_reason": reasons}
    doc["warnings"] = [f"{u.name}: {w}" for u, d in zip(units, docs) for w in [*u.warnings, *d["warnings"]]]
    doc["verify"] = {"skipped": all(d["verify"].get("skipped") for d in docs),
                     "units": {u.name: d["verify"] for u, d in zip(units, docs)}}
    doc["load_check"] = {"skipped": all(d["load_check"].get("skipped") for d in docs),
                         "units": {u.name: d["load_check"] for u, d in zip(units, docs)}}
    doc["units"] = [
        {"name": u.name, "runtime": d["runtime"], "runtime_source": d["runtime_source"], "arch": d["arch"],
         "os": d["os"], "engine": d["engine"], "artifacts": [a["path"] for a in d["artifacts"]],
         "limits": d["limits"], **({"meta": dict(u.meta)} if u.meta else {})}
        for u, d in zip(units, docs)
    ]
    return doc
