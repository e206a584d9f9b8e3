"""`verify`: check an artifact (zip or directory) against a runtime, the way auditwheel checks a wheel.

Three layers, each separate:

* policies — what each runtime OS offers (bundler/policies.py over platforms/policies.toml);
* facts — ELF facts of every native file (bundler/elf.py, pure);
* verdicts — per file, independent checks (elf, arch, libc, libraries, symbols, exec-bit), each
  pass / warn / fail / skip, the file's verdict being the strictest; plus artifact checks (engine,
  size, paths). A finding names the file, the failing fact, what the runtime has, and the fix.

The package, along its seams: `report` (the model), `artifacts` (zip and folder readers: the only part that
touches the file system), `scan` (ELF facts and roles), `loader` (how the runtime's loader finds libraries),
`elfchecks` (the per-file checks), `fixes` (the fix texts), `checks` (the artifact checks), `run`
(`verify_artifact`), `format` (the human report). Callers import from `bundler.verify`.
"""

from __future__ import annotations

from bundler.verify.artifacts import MAX_NATIVE_BYTES, unzipped_size
from bundler.verify.format import format_report
from bundler.verify.report import (
    ARTIFACT_CHECKS,
    ENGINE_KINDS,
    FILE_CHECKS,
    REPORT_VERSION,
    FileReport,
    Finding,
    Report,
    Severity,
    Sizes,
    Verdict,
)
from bundler.verify.run import verify_artifact

__all__ = [
    "ARTIFACT_CHECKS",
    "ENGINE_KINDS",
    "FILE_CHECKS",
    "MAX_NATIVE_BYTES",
    "REPORT_VERSION",
    "FileReport",
    "Finding",
    "Report",
    "Severity",
    "Sizes",
    "Verdict",
    "format_report",
    "unzipped_size",
    "verify_artifact",
]
