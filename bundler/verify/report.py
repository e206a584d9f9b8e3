"""verify's report model: findings, per-file and per-artifact verdicts, sizes (the JSON shape of `verify --json`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bundler.elf import (
    ElfResult,
)
from bundler.policies import Policy
from bundler.targets import RuntimeProfile

REPORT_VERSION = 1


Severity = Literal["error", "warning"]


Verdict = Literal["pass", "warn", "fail", "skip"]


_RANK: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


FILE_CHECKS = ("elf", "arch", "libc", "libraries", "symbols", "exec-bit")


ARTIFACT_CHECKS = ("engine", "size", "paths")


ENGINE_KINDS = ("auto", "binary", "library", "client")


@dataclass(frozen=True)
class Finding:
    file: str  # path inside the artifact; "" for the artifact as a whole
    check: str
    severity: Severity
    message: str
    has: str = ""  # what the runtime has
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "has": self.has,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class FileReport:
    path: str
    role: str  # engine, engine-other, cli-engine, addon, library, executable, elf
    facts: ElfResult | None
    checks: Mapping[str, Verdict]
    size: int = 0
    skipped: str | None = None

    @property
    def verdict(self) -> Verdict:
        """The strictest of the file's checks."""
        if self.skipped is not None:
            return "skip"
        return max(self.checks.values(), key=_RANK.__getitem__, default="pass")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "role": self.role,
            "size": self.size,
            "verdict": self.verdict,
            "checks": dict(self.checks),
            "skipped": self.skipped,
            "facts": None if self.facts is None else self.facts.to_json(),
        }


@dataclass(frozen=True)
class Sizes:
    zip_bytes: int | None
    unzipped_bytes: int
    extra_unzipped: int
    zip_max: int | None
    unzipped_max: int | None

    def to_json(self) -> dict[str, int | None]:
        return {
            "zip": self.zip_bytes,
            "unzipped": self.unzipped_bytes,
            "extra_unzipped": self.extra_unzipped,
            "unzipped_total": self.unzipped_bytes + self.extra_unzipped,
            "zip_max": self.zip_max,
            "unzipped_max": self.unzipped_max,
        }


@dataclass(frozen=True)
class Report:
    artifact: str
    profile: RuntimeProfile
    policy: Policy
    engine_kind: str | None
    files: tuple[FileReport, ...]
    findings: tuple[Finding, ...]
    checks: Mapping[str, Verdict]
    sizes: Sizes

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def verdict(self) -> Verdict:
        verdicts = [*self.checks.values(), *(f.verdict for f in self.files)]
        return max(verdicts, key=_RANK.__getitem__, default="pass")

    @property
    def runtime_label(self) -> str:
        return _runtime_label(self.profile)

    def to_json(self) -> dict[str, Any]:
        profile = self.profile
        return {
            "version": REPORT_VERSION,
            "ok": self.ok,
            "verdict": self.verdict,
            "artifact": self.artifact,
            "platform": profile.platform.key,
            "runtime": profile.runtime.name,
            "arch": profile.arch,
            "os": {"key": profile.os.key, "name": profile.os.name, "libc": profile.os.libc, "glibc": profile.os.glibc},
            "target": profile.target,
            "accepted_targets": sorted(profile.accepted_targets),
            "engine": self.engine_kind or "client",
            "policy": {
                "os": self.policy.key,
                "symbols": dict(self.policy.symbols),
                "openssl": self.policy.openssl.version,
                "uncertain": list(self.policy.uncertain),
            },
            "summary": {"errors": len(self.errors), "warnings": len(self.warnings), "files": len(self.files)},
            "checks": dict(self.checks),
            "sizes": self.sizes.to_json(),
            "files": [f.to_json() for f in self.files],
            "findings": [f.to_json() for f in self.findings],
        }


def _runtime_label(profile: RuntimeProfile) -> str:
    return f"{profile.platform.title} {profile.runtime.name} ({profile.os.name}, {profile.arch})"


def _verdict(findings: Iterable[Finding]) -> Verdict:
    severities = {f.severity for f in findings}
    return "fail" if "error" in severities else "warn" if "warning" in severities else "pass"
