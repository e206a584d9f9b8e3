"""`verify_artifact`: scan an artifact, run every check, return the report."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path

from bundler.elf import (
    ElfFacts,
)
from bundler.engines import parse_engine_filename
from bundler.errors import ConfigError
from bundler.policies import Policies, load_policies
from bundler.targets import RuntimeProfile
from bundler.verify.artifacts import _DirArtifact, _open_artifact, _ZipArtifact
from bundler.verify.checks import _check_scanned, _engine_checks, _path_findings, _size_checks
from bundler.verify.loader import _context
from bundler.verify.report import (
    ARTIFACT_CHECKS,
    ENGINE_KINDS,
    FILE_CHECKS,
    FileReport,
    Finding,
    Report,
    Verdict,
    _verdict,
)
from bundler.verify.scan import _scan
from bundler.verify.written import WrittenArtifact, WrittenFile


def verify_artifact(
    path: Path,
    profile: RuntimeProfile,
    *,
    engine_kind: str | None = "auto",
    extra_unzipped: int = 0,
    limits: tuple[int | None, int | None] | None = None,
    policies: Policies | None = None,
    heads: Mapping[str, bytes] | None = None,
    written: tuple[Sequence[WrittenFile], Mapping[str, str | Path | None]] | None = None,
) -> Report:
    """Check a deployment zip or an unpacked directory against one runtime.

    engine_kind: "auto" expects the target's binary or library engine, "binary" / "library" that kind,
    None or "client" no native engine (Prisma 7 / engineType client). extra_unzipped: bytes of other
    artifacts deployed with this one (layers) for the combined unzipped limit. limits: (zip_max,
    unzipped_max) overriding the platform's; None entries mean no limit. heads: see _scan. written: for a zip
    just written, the writer's entries and each entry's source (bundler/verify/written.py): the zip is then not
    read again, its native files are read from their sources when these still hash to what was zipped.
    """
    if engine_kind == "client":
        engine_kind = None
    if engine_kind is not None and engine_kind not in ENGINE_KINDS:
        raise ConfigError(f"unknown engine kind {engine_kind!r}", hint=f"use one of: {', '.join(ENGINE_KINDS)}")
    policies = policies or load_policies()
    artifact: _ZipArtifact | _DirArtifact | WrittenArtifact
    if written is not None:
        artifact = WrittenArtifact(path, *written)
        heads = artifact.heads
    else:
        artifact = _open_artifact(path)
    try:
        entries = artifact.entries()
        scanned, links = _scan(artifact, sorted(entries, key=lambda e: e.path), heads)
        zip_bytes = artifact.zip_bytes
    finally:
        artifact.close()
    index = frozenset(e.path for e in entries)
    elves = {s.entry.path: s.facts for s in scanned if isinstance(s.facts, ElfFacts)}
    ctx = _context(profile, policies, index, elves, links)

    findings: list[Finding] = []
    linked = {p: t for p, t in links.items() if parse_engine_filename(posixpath.basename(p)) is not None}
    engine_findings, loaded_engines = _engine_checks(scanned, profile, engine_kind, linked)
    findings += engine_findings
    path_findings = _path_findings(entries)
    findings += path_findings
    files: list[FileReport] = []
    for item in scanned:
        report, file_findings = _check_scanned(item, ctx, policies, loaded_engines)
        files.append(report)
        findings += file_findings
    size_findings, sizes = _size_checks(entries, zip_bytes, extra_unzipped, limits, profile)
    findings += size_findings
    checks: dict[str, Verdict] = {"engine": _verdict(engine_findings), "size": _verdict(size_findings),
                                  "paths": _verdict(path_findings)}
    order = {c: i for i, c in enumerate((*ARTIFACT_CHECKS, *FILE_CHECKS))}
    findings.sort(key=lambda f: (f.severity != "error", f.file, order.get(f.check, 99)))
    return Report(
        artifact=str(path),
        profile=profile,
        policy=ctx.policy,
        engine_kind=engine_kind,
        files=tuple(files),
        findings=tuple(findings),
        checks=checks,
        sizes=sizes,
    )
