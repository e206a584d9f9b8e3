"""The report's data and the diff from manifests alone (pure): older manifests, thresholds, the trees."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bundler.report.diff import diff, format_markdown
from bundler.report.html import render
from bundler.report.model import report_model

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "report"


def golden(side: str, name: str = "manifest.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / side / name).read_text())
    return data


def test_tree_sizes_add_up_and_folders_are_joined() -> None:
    doc, data = golden("new"), golden("new", "report-data.json")
    model = report_model(doc, data)
    (unit,) = model["units"]
    (art,) = unit["artifacts"]
    tree = art["tree"]
    assert tree["s"] == doc["artifacts"][0]["unzipped_bytes"]
    assert tree["c"][0]["n"] == "(engine)"  # largest first
    engine = tree["c"][0]
    assert engine["c"][0]["n"].startswith("libquery_engine-") and engine["c"][0]["k"] == "engine"
    debug = next(c for c in tree["c"] if c["n"] == "debug")
    assert debug["w"] == "debug: a production dependency in package.json"
    assert {c["n"] for c in debug["c"]} == {"index.js", "package.json"}  # node_modules/debug/ stripped
    ms = next(c for c in tree["c"] if c["n"] == "ms")
    assert ms["w"] == "ms: a dependency of debug"
    pruned = unit["pruned"]
    assert pruned["s"] == doc["pruned"]["bytes"]
    assert {c["n"] for c in pruned["c"]} == set(doc["pruned"]["by_reason"])


def test_a_manifest_without_sizes_still_renders_and_diffs() -> None:
    """Manifests written before the `sizes` key: one box per artifact and per reason; no package rows."""
    old, new = golden("old"), golden("new")
    del old["sizes"]
    page = render(report_model(old, None))
    assert '"n":"(artifact)"' in page and "per-file detail (report-data.json)" in page
    d = diff(old, new, 0)
    assert d["files"] is None and d["artifacts"][0]["change"] == "grown"
    assert {p["change"] for p in d["packages"]} == {"added"}  # everything in the new one is new
    assert "#### Files" not in format_markdown(d, "old", "new")


def test_threshold_filters_packages_and_files() -> None:
    old, new = golden("old"), golden("new")
    files = (golden("old", "report-data.json"), golden("new", "report-data.json"))
    everything = diff(old, new, 0, *files)
    big = diff(old, new, 4000, *files)
    assert {p["package"] for p in big["packages"]} == {"debug"}  # +4.2 KiB; left-pad-lite adds 3.0 KiB
    assert len(everything["files"]) > len(big["files"]) == 1
    assert all(abs(f["delta_bytes"]) >= 4000 for f in big["files"])
    same = diff(new, new, 0, files[1], files[1])
    assert same["packages"] == [] and same["files"] == [] and same["artifacts"][0]["change"] == "same"
