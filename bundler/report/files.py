"""report.html and report-data.json in the output folder (the thin I/O around model.py and html.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from bundler import manifest
from bundler.report.html import render
from bundler.report.model import report_model
from bundler.report.sizes import DATA_VERSION

REPORT_NAME = "report.html"
DATA_NAME = "report-data.json"
REPORT_FILES = (REPORT_NAME, DATA_NAME)  # withdrawn with the bundle they describe (bundler/outdir.py)


def read_data(out_dir: Path) -> dict[str, Any] | None:
    """The per-file detail a --report run wrote beside the manifest, or None (absent, damaged, other version)."""
    try:
        data = json.loads(manifest.read_record(out_dir / DATA_NAME).decode("utf-8"))
    except (OSError, ValueError, RecursionError):  # RecordError and UnicodeDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) and data.get("version") == DATA_VERSION else None


def write_report(out_dir: Path, doc: Mapping[str, Any], details: Mapping[str, Any] | None = None, *,
                 diff: Mapping[str, Any] | None = None, against: str | None = None) -> Path:
    """Write report.html (and report-data.json when `details` are given) beside the manifest; the page's path.
    With `diff` (bundler/report/diff.py) the page shows the changes since the manifest `against`."""
    if details is not None:
        manifest.write_atomic(out_dir / DATA_NAME, json.dumps(details, sort_keys=True, separators=(",", ":")) + "\n")
    data = details if details is not None else read_data(out_dir)
    path = out_dir / REPORT_NAME
    model = report_model(doc, data)
    if diff is not None:
        model["diff"] = {**diff, "against": against}
    manifest.write_atomic(path, render(model))
    return path


def remove_report(out_dir: Path) -> None:
    """A run without --report: a report of an earlier bundle must not sit beside this one's manifest."""
    for name in REPORT_FILES:
        (out_dir / name).unlink(missing_ok=True)


def after_commit(out_dir: Path, doc: Mapping[str, Any], wanted: bool, details: Any) -> None:
    """The bundle's hook once its manifest is written: with --report, report-data.json and report.html
    (`details()` gives the per-file detail); without, remove an earlier run's report."""
    from bundler.outdir import writing

    if not wanted:
        with suppress(OSError):  # e.g. a folder of that name: not ours, left alone
            remove_report(out_dir)
        return
    with writing(out_dir / REPORT_NAME):
        write_report(out_dir, doc, details())


def ensure_report(out_dir: Path, doc: Mapping[str, Any]) -> None:
    """A reused bundle with --report: its report, rendered from the manifest when it is missing."""
    from bundler.outdir import writing

    if not (out_dir / REPORT_NAME).is_file():
        with writing(out_dir / REPORT_NAME):
            write_report(out_dir, doc)
