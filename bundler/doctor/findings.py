"""A doctor finding and the report: one record per thing checked, as text for people and JSON for CI.

Each finding has a severity (error, warning, info, ok), the check it comes from, where it was found
(`file:line` or a config key), the numbers it computed and the fix. Text and JSON are built from the same
records, and both pass through `dburl.scrub`, so no credential is ever shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bundler.doctor.dburl import scrub

Severity = Literal["error", "warning", "info", "ok"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info", "ok")
REPORT_VERSION = 1
CHECKS = ("placement", "connections", "timeouts", "server", "cold-start")


@dataclass(frozen=True)
class Finding:
    check: str  # one of CHECKS
    severity: Severity
    message: str
    where: str = ""  # "src/handler.js:7" or "serverless.yml:12 functions.orders.reservedConcurrency"
    fix: str = ""
    function: str = ""  # the function it concerns ("" for the whole project)
    numbers: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""  # where the numbers come from

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "severity": self.severity, "function": self.function, "where": self.where,
                "message": self.message, "numbers": dict(self.numbers), "detail": self.detail, "fix": self.fix}


def counts(findings: Sequence[Finding]) -> dict[str, int]:
    return {sev: sum(1 for f in findings if f.severity == sev) for sev in SEVERITIES}


def report_doc(findings: Sequence[Finding], facts: Mapping[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    """The JSON report (`version` 1): facts about the deployment, the findings, and their counts."""
    doc = {"version": REPORT_VERSION, **facts, "findings": [f.as_dict() for f in findings],
           "counts": counts(findings)}
    scrubbed: dict[str, Any] = scrub_data(doc, secrets)
    return scrubbed


def scrub_data(data: Any, secrets: tuple[str, ...]) -> Any:
    """Every string in a JSON-like value scrubbed of URLs' credentials and known secrets."""
    if isinstance(data, str):
        return scrub(data, secrets)
    if isinstance(data, Mapping):
        return {k: scrub_data(v, secrets) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [scrub_data(v, secrets) for v in data]
    return data


LABEL = {"error": "ERROR", "warning": "warning", "info": "info", "ok": "ok"}


def render_text(findings: Sequence[Finding], secrets: tuple[str, ...], header: Sequence[str] = ()) -> str:
    """Findings grouped by check, errors first within a group; each with where, numbers and the fix."""
    lines = [*header]
    order = {sev: i for i, sev in enumerate(SEVERITIES)}
    for check in CHECKS:
        group = sorted((f for f in findings if f.check == check), key=lambda f: order[f.severity])
        if not group:
            continue
        lines.append(f"{check}:")
        for f in group:
            who = f"{f.function}: " if f.function else ""
            where = f" ({f.where})" if f.where else ""
            lines.append(f"  {LABEL[f.severity]:7} {who}{f.message}{where}")
            if f.detail:
                lines.append(f"          from: {f.detail}")
            if f.fix:
                lines.append(f"          fix: {f.fix}")
    c = counts(findings)
    lines.append(f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} note(s), {c['ok']} ok")
    return scrub("\n".join(lines), secrets)


def bundle_warnings(findings: Sequence[Finding], secrets: tuple[str, ...]) -> list[str]:
    """One line per error and warning, for the bundle summary and the manifest's warnings."""
    out = []
    for f in findings:
        if f.severity in ("error", "warning"):
            who = f"{f.function}: " if f.function else ""
            where = f" ({f.where})" if f.where else ""
            fix = f"; fix: {f.fix}" if f.fix else ""
            out.append(scrub(f"doctor [{f.severity}] {who}{f.message}{where}{fix}", secrets))
    return out
