"""The artifact checks: the engine (present, the target's, the only one), entry paths (zip slip), sizes
against the platform's limits, and each scanned file through the per-file checks."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

from bundler.elf import (
    BrokenElf,
    ElfFacts,
    NotElf,
)
from bundler.engines import engine_filename, parse_engine_filename
from bundler.limits import format_size
from bundler.policies import Policies
from bundler.targets import RuntimeProfile, profile_for
from bundler.verify.artifacts import _Entry
from bundler.verify.elfchecks import _check_exec, _file_findings
from bundler.verify.fixes import (
    _alternatives,
    _engine_fix,
    _foreign_prebuild,
    _preferred_runtimes,
    _rebuild_fix,
    _refetch_fix,
    _with_fix,
)
from bundler.verify.loader import _Context
from bundler.verify.report import FILE_CHECKS, FileReport, Finding, Severity, Sizes, Verdict, _runtime_label, _verdict
from bundler.verify.scan import _Scanned


def _path_findings(entries: Iterable[_Entry]) -> list[Finding]:
    """Entries that would land outside the folder the artifact is unpacked in: absolute or with '..'."""
    findings: list[Finding] = []
    for entry in entries:
        if ".." not in entry.path and not entry.path.startswith(("/", "\\")) and entry.path[1:2] != ":":
            continue  # the common case, decided without a regular expression
        parts = re.split(r"[/\\]", entry.path)
        absolute = entry.path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", entry.path))
        if absolute or ".." in parts:
            findings.append(Finding(
                entry.path, "paths", "error",
                f"{'is an absolute path' if absolute else 'climbs out with ..'}: unpacking the artifact would write "
                f"it outside the function's folder (zip slip), or the platform rejects the zip",
                fix="rebuild the zip with paths relative to the function's root (photon-bundle bundle writes only "
                    "those)"))
    return findings


def _engine_checks(
    scanned: list[_Scanned], profile: RuntimeProfile, engine_kind: str | None, linked: Mapping[str, str] | None = None
) -> tuple[list[Finding], set[str]]:
    """The target's engine is present and is the only query engine; returns findings and the loaded engines.
    linked: engines stored in a zip as symbolic links (path -> target)."""
    findings: list[Finding] = []
    engines = [s for s in scanned if s.engine is not None and s.role == "engine"]
    kinds = ("binary", "library") if engine_kind == "auto" else (engine_kind,)
    accepted = profile.accepted_targets
    loaded = [s for s in engines if engine_kind is not None and s.engine is not None and s.engine.target in accepted
              and s.engine.kind in kinds]
    as_links = [(path, target) for path, target in (linked or {}).items()
                if (parsed := parse_engine_filename(posixpath.basename(path))) is not None
                and parsed.target in accepted and parsed.kind in kinds]
    if engine_kind is not None and not loaded and as_links:
        path, target = as_links[0]
        findings.append(
            Finding(
                path, "engine", "error",
                f"the query engine for {profile.target} is a symbolic link in the zip (to {target}), not the file",
                has="the runtime loads the engine file; a link is unpacked as a link or not at all, and verify "
                    "cannot check what it points to",
                fix="store the engine file itself in the zip (zip without -y; photon-bundle bundle stores files)",
            )
        )
    elif engine_kind is not None and not loaded:
        expected = " or ".join(engine_filename(k, profile.target) for k in kinds)  # type: ignore[arg-type]
        found = ", ".join(s.entry.path for s in engines) or "no query engine"
        findings.append(
            Finding(
                "", "engine", "error",
                f"the query engine for {profile.target} is missing (expected {expected})",
                has=f"found: {found}",
                fix=_engine_fix(profile) + "; if the project uses engineType = \"client\", verify with --engine client",
            )
        )
    if len({s.engine.kind for s in loaded if s.engine}) > 1:
        findings.append(
            Finding(
                "", "engine", "error",
                f"both a binary and a library engine for {profile.target}: Prisma loads one of them",
                has=", ".join(s.entry.path for s in loaded),
                fix='keep the one matching the generator\'s engineType (or pass --engine binary / --engine library)',
            )
        )
    elif len(loaded) > 1:
        findings.extend(
            Finding(
                s.entry.path, "engine", "warning", f"another copy of the {profile.target} engine",
                has=f"{len(loaded)} copies in the artifact",
                fix="keep the copy next to the generated client; exclude the others",
            )
            for s in loaded[1:]
        )
    loaded_paths = {s.entry.path for s in loaded}
    for s in engines:
        if s.entry.path in loaded_paths or s.engine is None:
            continue
        if engine_kind is None:
            findings.append(
                Finding(
                    s.entry.path, "engine", "warning",
                    f"engineType client loads no native engine: this {s.engine.kind} engine is dead weight "
                    f"({format_size(s.entry.size)})",
                    fix="exclude it from the artifact",
                )
            )
            continue
        why = (
            f"a {s.engine.kind} engine, but the expected engine type is {engine_kind}"
            if s.engine.target in accepted
            else f"the query engine for {s.engine.target}, not for this runtime's {profile.target}: never loaded"
        )
        alternatives = [
            r.name
            for r in _preferred_runtimes(profile)
            if profile.arch in r.archs
            and s.engine.target in profile_for(r, profile.platform, profile.arch).accepted_targets
        ]
        alt = f"; or deploy on runtime {alternatives[0]}, which uses {s.engine.target}" if alternatives else ""
        findings.append(
            Finding(
                s.entry.path, "engine", "error", why,
                has=f"{_runtime_label(profile)} needs {profile.target}",
                fix=_engine_fix(profile) + f"; remove {posixpath.basename(s.entry.path)}" + alt,
            )
        )
    return findings, loaded_paths


def _check_scanned(
    item: _Scanned, ctx: _Context, policies: Policies, loaded_engines: set[str]
) -> tuple[FileReport, list[Finding]]:
    path, entry, facts = item.entry.path, item.entry, item.facts
    profile = ctx.profile
    role = item.role
    if item.engine is not None and role == "engine" and path not in loaded_engines:
        role = "engine-other"
    skipped: str | None = None
    if role == "engine-other":
        skipped = "query engine that this runtime never loads (see the engine check)"
    elif role == "cli-engine":
        skipped = "CLI-only engine, never run by the function"
    else:
        skipped = _foreign_prebuild(path, profile)
    if skipped is not None:
        findings: list[Finding] = []
        if role == "cli-engine":
            findings.append(
                Finding(
                    path, "engine", "warning", f"CLI-only engine, never used at run time ({format_size(entry.size)})",
                    fix="exclude it (photon-bundle bundle leaves CLI engines out)",
                )
            )
        return FileReport(path, role, facts, {}, entry.size, skipped=skipped), findings

    fix = _refetch_fix(profile) if role == "engine" else _rebuild_fix(path, profile)
    by_check: dict[str, list[Finding]] = {c: [] for c in FILE_CHECKS}
    if item.read_error is not None:
        by_check["elf"].append(Finding(path, "elf", "error", f"cannot be read: {item.read_error}",
                                       fix="write the artifact again"))
    elif isinstance(facts, NotElf):
        severity: Severity = "warning" if role in ("library", "elf") else "error"
        by_check["elf"].append(
            Finding(
                path, "elf", severity, f"is not an ELF file but {facts.format}",
                has=f"{profile.os.name} on {profile.arch} loads ELF files only",
                fix=fix if severity == "error" else "remove it if nothing loads it",
            )
        )
    elif isinstance(facts, BrokenElf):
        by_check["elf"].append(
            Finding(path, "elf", "error", f"is a broken ELF file: {facts.reason}",
                    fix="replace it with a complete copy (an interrupted download or copy?)")
        )
    elif isinstance(facts, ElfFacts):
        results = _file_findings(path, facts, ctx)
        alt = ""
        if any(f.severity == "error" for fs in results.values() for f in fs) and role != "engine":
            alt = _alternatives(path, facts, ctx, policies)
        for check, found in results.items():
            by_check[check] = [_with_fix(f, "; ".join(p for p in (fix, alt) if p)) for f in found]
    needs_exec = (item.engine is not None and item.engine.kind == "binary") or (
        isinstance(facts, ElfFacts) and facts.is_executable
    )
    if needs_exec and not entry.symlink:
        by_check["exec-bit"] = _check_exec(entry, role)
    checks: dict[str, Verdict] = {
        c: (_verdict(by_check[c]) if (c != "exec-bit" or needs_exec) else "skip") for c in FILE_CHECKS
    }
    if not isinstance(facts, ElfFacts):
        for c in ("arch", "libc", "libraries", "symbols"):
            checks[c] = "skip"
    return FileReport(path, role, facts, checks, entry.size), [f for fs in by_check.values() for f in fs]


def _size_checks(
    entries: list[_Entry],
    zip_bytes: int | None,
    extra_unzipped: int,
    limits: tuple[int | None, int | None] | None,
    profile: RuntimeProfile,
) -> tuple[list[Finding], Sizes]:
    platform = profile.platform
    if limits is None:
        zip_max = platform.zip_max
        unzipped_max = None if platform.unzipped_max is None else platform.unzipped_max - platform.reserve
    else:
        zip_max, unzipped_max = limits
    unzipped = sum(e.size for e in entries)
    sizes = Sizes(zip_bytes, unzipped, extra_unzipped, zip_max, unzipped_max)
    findings: list[Finding] = []
    if zip_bytes is not None and zip_max is not None and zip_bytes > zip_max:
        findings.append(
            Finding(
                "", "size", "error",
                f"the zip is {format_size(zip_bytes)} ({zip_bytes} bytes), "
                f"over the limit by {zip_bytes - zip_max} bytes",
                has=f"{platform.title} takes zips up to {format_size(zip_max)} ({zip_max} bytes)",
                fix="move node_modules into a layer, leave out dev dependencies and CLI engines, "
                "or upload through S3 where the platform allows it",
            )
        )
    elif zip_bytes is not None and limits is None and platform.default_max and zip_bytes > platform.default_max:
        findings.append(
            Finding(
                "", "size", "warning",
                f"the zip is {format_size(zip_bytes)}, over the default limit of {format_size(platform.default_max)}",
                has=f"{platform.title} allows up to {format_size(zip_max or platform.default_max)} when configured",
                fix='raise config.maxLambdaSize in now.json (e.g. "50mb")',
            )
        )
    total = unzipped + extra_unzipped
    if unzipped_max is not None and total > unzipped_max:
        layers = f" with {extra_unzipped} bytes of layers" if extra_unzipped else ""
        reserve = platform.reserve if limits is None else 0
        findings.append(
            Finding(
                "", "size", "error",
                f"unzipped size is {format_size(total)} ({total} bytes{layers}), over the limit by "
                f"{total - unzipped_max} bytes",
                has=f"{platform.title} allows {format_size(unzipped_max)} ({unzipped_max} bytes) unzipped"
                + (f" ({reserve} bytes of it reserved by the platform)" if reserve else ""),
                fix="leave out dev dependencies, CLI engines and engines of other targets; prune node_modules",
            )
        )
    return findings, sizes
