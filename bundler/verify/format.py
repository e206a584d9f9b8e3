"""The human report: one line per native file and check, then the findings with their fixes."""

from __future__ import annotations

from bundler.limits import format_size
from bundler.verify.report import FILE_CHECKS, Report

_CHECK_LABELS = {"elf": "elf", "arch": "arch", "libc": "libc", "libraries": "libs", "symbols": "symbols",
                 "exec-bit": "exec"}


_MARKS = {"pass": "ok", "warn": "warn", "fail": "FAIL", "skip": "-"}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def format_report(report: Report) -> str:
    """The report as a table and a list of findings, for people."""
    profile = report.profile
    os_ = profile.os
    libc = f"glibc {os_.glibc}" if os_.glibc else os_.libc
    lines = [
        f"verify {report.artifact}",
        f"  against {profile.platform.title} {profile.runtime.name} on {profile.arch}: {os_.name}, {libc}, "
        f"OpenSSL {os_.openssl}; engine target {profile.target} ({report.engine_kind or 'client'} engine)",
        "",
    ]
    if report.files:
        width = min(70, max(len("file"), *(len(f.path) for f in report.files)))
        header = ["file".ljust(width), "role".ljust(12), *(_CHECK_LABELS[c].ljust(7) for c in FILE_CHECKS), "verdict"]
        lines.append("  ".join(header))
        for f in report.files:
            cells = [_shorten(f.path, width).ljust(width), f.role.ljust(12)]
            cells += [_MARKS[f.checks.get(c, "skip")].ljust(7) for c in FILE_CHECKS]
            cells.append("skipped: " + f.skipped if f.skipped else _MARKS[f.verdict])
            lines.append("  ".join(cells).rstrip())
    else:
        lines.append("no native files found")
    s = report.sizes
    size_parts = []
    if s.zip_bytes is not None:
        size_parts.append(f"zip {format_size(s.zip_bytes)}" + (f" of {format_size(s.zip_max)}" if s.zip_max else ""))
    unz = f"unzipped {format_size(s.unzipped_bytes + s.extra_unzipped)}"
    if s.extra_unzipped:
        unz += f" (with {format_size(s.extra_unzipped)} of layers)"
    size_parts.append(unz + (f" of {format_size(s.unzipped_max)}" if s.unzipped_max else ""))
    lines += [
        "",
        f"artifact: engine {_MARKS[report.checks['engine']]} · size {_MARKS[report.checks['size']]} "
        f"({'; '.join(size_parts)})" + (f" · paths {_MARKS[report.checks['paths']]}" if "paths" in report.checks
                                         else ""),
    ]
    for title, group in (("errors", report.errors), ("warnings", report.warnings)):
        if not group:
            continue
        lines += ["", f"{title} ({len(group)}):"]
        for finding in group:
            lines.append(f"  {finding.file or '(artifact)'}  [{finding.check}]  {finding.message}")
            if finding.has:
                lines.append(f"      runtime: {finding.has}")
            if finding.fix:
                lines.append(f"      fix: {finding.fix}")
    verdict = "OK" if report.ok else "FAILED"
    counts = f"{_count(len(report.errors), 'error')}, {_count(len(report.warnings), 'warning')}"
    lines += ["", f"result: {verdict} ({counts})"]
    return "\n".join(lines)
