"""The pipeline's verify step: every native binary of each temp artifact checked against the runtime
(bundler/verify/run.py), before anything is renamed into place. Sizes are not checked here: the pipeline already
held them against the platform and --max-size."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from bundler.errors import VerifyError
from bundler.manifest import Verdict, Verification
from bundler.verify.format import format_report
from bundler.verify.run import verify_artifact

if TYPE_CHECKING:
    from bundler.engines import EngineKind
    from bundler.outdir import Written
    from bundler.plan import BundlePlan
    from bundler.targets import RuntimeProfile


def verified(written: list[Written], profile: RuntimeProfile, kind: EngineKind, plan: BundlePlan,
             log: Callable[[str], None]) -> Verification:
    """Each artifact's verdict; VerifyError (nothing was written at the final paths) when one would not run."""
    results: dict[str, Verdict] = {}
    for w in written:
        expected = kind if w.plan.filename == plan.engine_artifact else None
        sources = {e.arc: e.source for e in w.plan.entries}  # the zip is not read again (bundler/verify/written.py)
        report = verify_artifact(w.result.path, profile, engine_kind=expected, limits=(None, None),
                                 written=(w.result.entries, sources))
        report = replace(report, artifact=w.plan.filename)  # its final name, not the temp file's
        for finding in report.warnings:
            log(f"warning: {w.plan.filename}: {finding.file + ': ' if finding.file else ''}{finding.message}")
        results[w.plan.filename] = Verdict(report.verdict, len(report.errors), len(report.warnings))
        if not report.ok:
            raise VerifyError(
                f"{w.plan.filename} would not run on {profile.platform.title} {profile.runtime.name} "
                f"({profile.arch}); nothing was written at the final path\n{format_report(report)}",
                hint="see the fix under each failing file; --no-verify skips this check (not recommended)",
            )
    return Verification(results)
