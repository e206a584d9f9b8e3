"""The JSON manifest written beside the artifacts: versioned, no wall-clock time, stable key order.

The pipeline builds it typed (a `UnitRecord` per unit, `unit_record`; one `Manifest` over them) and
`Manifest.to_json` is the one place it becomes JSON, as `manifest.schema.json` describes it. Reading it back
(`load`) checks only what the next run relies on; the readers (summary, report, publish) take the JSON.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
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
    from platforms.base import Unit

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
# The JSON Schema of what Manifest.to_json writes (README "Manifest"), shipped
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


# A JSON object whose shape another module owns (the layout, the sizes, the doctor's section, a load check
# record); the schema describes it.
JsonObject = Mapping[str, object]


@dataclass(frozen=True)
class Acquired:
    """Where the unit's engine came from (bundler/engines/acquire.py)."""

    sha256: str
    source: str  # local | cache | prisma-cache | s3 | mirror | docker
    version: str | None


@dataclass(frozen=True)
class EngineRecord:
    """The manifest's `engine`: what was bundled, from where, and where it sits."""

    kind: str  # binary | library | client
    target: str | None  # None: no native engine bundled
    acquired: Acquired | None = None
    file: str | None = None  # its path in the artifact
    artifact: str | None = None  # the artifact that holds it
    runtime_path: str | None = None  # in a Lambda layer: where the runtime finds it
    exec_wrapper: str | None = None  # in a Lambda layer: the AWS_LAMBDA_EXEC_WRAPPER to set
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "target": self.target}
        if self.acquired is not None:
            out.update(sha256=self.acquired.sha256, source=self.acquired.source, version=self.acquired.version)
        placed = {"file": self.file, "artifact": self.artifact, "runtime_path": self.runtime_path,
                  "exec_wrapper": self.exec_wrapper, "note": self.note}
        out.update((key, value) for key, value in placed.items() if value is not None)
        return out


@dataclass(frozen=True)
class ArtifactRecord:
    kind: str  # function | layer
    path: str  # relative to the output folder
    sha256: str
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    content_digest: str

    def to_json(self, unit: str | None = None) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind, "path": self.path, "sha256": self.sha256, "zipped_bytes": self.zipped_bytes,
            "unzipped_bytes": self.unzipped_bytes, "files": self.files, "content_digest": self.content_digest}
        return out if unit is None else {**out, "unit": unit}


@dataclass(frozen=True)
class Pruned:
    """What was left out: files and bytes per reason, in the order the reasons first came up."""

    by_reason: Mapping[str, tuple[int, int]]  # reason -> (files, bytes)

    @classmethod
    def of(cls, sizes: Iterable[tuple[str, int, int]]) -> Pruned:
        """From (reason, files, bytes) items, summed per reason."""
        totals: dict[str, tuple[int, int]] = {}
        for reason, files, size in sizes:
            had_files, had_bytes = totals.get(reason, (0, 0))
            totals[reason] = (had_files + files, had_bytes + size)
        return cls(totals)

    def to_json(self) -> dict[str, object]:
        totals = self.by_reason.values()
        return {"files": sum(f for f, _ in totals), "bytes": sum(b for _, b in totals),
                "by_reason": {reason: {"files": f, "bytes": b} for reason, (f, b) in self.by_reason.items()}}


@dataclass(frozen=True)
class Verdict:
    """One artifact's verification (bundler/verify/)."""

    verdict: str  # pass | warn | fail | skip
    errors: int
    warnings: int


@dataclass(frozen=True)
class Verification:
    """A unit's verify step: skipped (--no-verify), or each artifact's verdict."""

    artifacts: Mapping[str, Verdict] | None  # None: skipped

    def to_json(self) -> dict[str, object]:
        if self.artifacts is None:
            return {"skipped": True}
        return {"skipped": False, "artifacts": {name: {"verdict": v.verdict, "errors": v.errors,
                                                       "warnings": v.warnings} for name, v in self.artifacts.items()}}


@dataclass(frozen=True)
class UnitRecord:
    """One unit's part of the manifest: its runtime, engine, artifacts, limits, what was left out, its checks."""

    name: str  # "" for the single unit of a platform without functions
    runtime: str
    runtime_source: str  # why this runtime
    arch: str
    os: str
    engine: EngineRecord
    artifacts: tuple[ArtifactRecord, ...]
    limits: tuple[Limit, ...]
    pruned: Pruned
    warnings: tuple[str, ...]  # the adapter's, then the plan's
    verify: Verification
    load_check: JsonObject  # bundler/loadcheck/verdict.py
    meta: JsonObject  # the adapter's facts (handler, entry)

    def without_unused_engine(self) -> UnitRecord:
        """Among several functions, one that does not load the client says so instead of naming a target."""
        if self.engine.file or not self.engine.target:
            return self
        return replace(self, engine=EngineRecord(
            self.engine.kind, None, note="the function does not load the Prisma client: no engine bundled"))


@dataclass(frozen=True)
class OutputRecord:
    """A file the adapter wrote besides the artifacts (platforms/base.py OutputFile)."""

    path: str
    in_place: bool
    note: str


@dataclass(frozen=True)
class Manifest:
    """What manifest.json says about one run; `to_json` is the one place it becomes JSON."""

    platform: str
    units: tuple[UnitRecord, ...]
    layout: JsonObject  # bundler/pkgmanager.py
    out_dir: str
    sizes: JsonObject  # bundler/report/sizes.py
    inputs_fingerprint: str = ""  # over all units once every artifact is written (bundler/reuse.py)
    doctor: JsonObject | None = None  # bundler/doctor/run.py
    outputs: tuple[OutputRecord, ...] | None = None
    reused: bool = False
    shared_cache: str | None = None  # the S3 index the artifacts came from (bundler/shared_cache/), when they did

    @property
    def single(self) -> bool:
        """One unnamed unit (Lambda, Up, GCF): the manifest is that unit's, without a `units` list."""
        return len(self.units) == 1 and not self.units[0].name

    def to_json(self) -> dict[str, object]:
        """The manifest as written. The top-level runtime, arch, os and engine are the first unit's (the engine
        of the first unit that carries one), so readers of single-unit manifests keep working."""
        units = self.units if self.single else tuple(u.without_unused_engine() for u in self.units)
        first = units[0]
        engine = next((u.engine for u in units if u.engine.file), first.engine)
        doc: dict[str, object] = {
            "version": MANIFEST_VERSION,
            "tool": f"photon-bundle {__version__}",
            "compressor": DEFLATE_BACKEND,
            "platform": self.platform,
            "runtime": first.runtime,
            "runtime_source": first.runtime_source,
            "arch": first.arch,
            "os": first.os,
            "engine": engine.to_json(),
            "limits": [_limit_json(lim) for u in units for lim in u.limits],
            "pruned": Pruned.of((reason, f, b) for u in units for reason, (f, b) in u.pruned.by_reason.items()
                                ).to_json(),
            "inputs_fingerprint": self.inputs_fingerprint,
            "reused": self.reused,
        }
        if self.single:
            doc["artifacts"] = [a.to_json() for a in first.artifacts]
            doc["warnings"] = list(first.warnings)
            doc["verify"] = first.verify.to_json()
            doc["load_check"] = dict(first.load_check)
            if first.meta:
                doc["meta"] = dict(first.meta)
        else:
            doc["artifacts"] = [a.to_json(u.name) for u in units for a in u.artifacts]
            doc["warnings"] = [f"{u.name}: {w}" for u in units for w in u.warnings]
            doc["verify"] = {"skipped": all(u.verify.artifacts is None for u in units),
                             "units": {u.name: u.verify.to_json() for u in units}}
            doc["load_check"] = {"skipped": all(bool(u.load_check.get("skipped")) for u in units),
                                 "units": {u.name: dict(u.load_check) for u in units}}
            doc["units"] = [
                {"name": u.name, "runtime": u.runtime, "runtime_source": u.runtime_source, "arch": u.arch,
                 "os": u.os, "engine": u.engine.to_json(), "artifacts": [a.path for a in u.artifacts],
                 "limits": [_limit_json(lim) for lim in u.limits], **({"meta": dict(u.meta)} if u.meta else {})}
                for u in units]
        doc.update(layout=dict(self.layout), out_dir=self.out_dir, sizes=dict(self.sizes))
        if self.doctor is not None:
            doc["doctor"] = dict(self.doctor)
        if self.outputs:
            doc["outputs"] = [{"path": o.path, "in_place": o.in_place, "note": o.note} for o in self.outputs]
        if self.shared_cache:
            doc["shared_cache"] = self.shared_cache
        return doc


def _limit_json(lim: Limit) -> dict[str, object]:
    return {"name": lim.name, "what": lim.what, "limit": lim.limit, "actual": lim.actual, "headroom": lim.headroom}


def unit_record(unit: Unit, profile: RuntimeProfile, runtime_why: str, plan: BundlePlan, written: list[Written],
                limits: list[Limit], engine: EngineRecord, verify: Verification, load_check: JsonObject) -> UnitRecord:
    """One unit's record from its plan and its written artifacts."""
    if plan.engine is not None:
        engine = replace(engine, file=plan.engine.arc, artifact=plan.engine_artifact)
        if any(w.plan.kind == "layer" for w in written):
            engine = replace(engine, runtime_path="/opt/" + plan.engine.arc,
                             exec_wrapper="/opt/" + layer_options()[0]["wrapper"])
    return UnitRecord(
        name=unit.name, runtime=profile.runtime.name, runtime_source=runtime_why, arch=profile.arch,
        os=profile.os.name, engine=engine,
        artifacts=tuple(ArtifactRecord(w.plan.kind, w.plan.filename, w.result.sha256, w.result.zipped_size,
                                       w.result.unzipped_size, w.result.file_count, w.result.content_digest)
                        for w in written),
        limits=tuple(limits), pruned=Pruned.of((p.reason, 1, p.size) for p in plan.pruned),
        warnings=(*unit.warnings, *plan.warnings), verify=verify, load_check=load_check, meta=unit.meta)
