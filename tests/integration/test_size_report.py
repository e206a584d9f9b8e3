"""The size report and the size diff on real bundles: --report, `photon-bundle report`, and the golden diff."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok, run_cli
from tests.projects import add_package, make_project, write_json

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "report"
REPO = Path(__file__).resolve().parent.parent.parent


def two_versions(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """The fixture project bundled twice with --report: then a dependency added (left-pad-lite, 3 KB), one
    removed (express-lite, with its own ms 3.0.0) and one grown (debug, +4 KB)."""
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    old, new = tmp_path / "old", tmp_path / "new"
    bundle_ok("lambda", project, old, capsys, "--report", "--no-verify", "--runtime", "nodejs20.x")
    pkg = json.loads((project / "package.json").read_text())
    del pkg["dependencies"]["express-lite"]
    pkg["dependencies"]["left-pad-lite"] = "1.0.0"
    write_json(project / "package.json", pkg)
    add_package(project, "node_modules/left-pad-lite", "left-pad-lite",
                files={"index.js": "module.exports = (s, n) => String(s).padStart(n);\n" * 60})
    debug = project / "node_modules/debug/index.js"
    debug.write_text(debug.read_text() + "// a bigger debug\n" * 240)
    bundle_ok("lambda", project, new, capsys, "--report", "--no-verify", "--runtime", "nodejs20.x")
    return old, new


def test_diff_of_real_bundles_names_what_changed(tmp_path: Path, elf_cache: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    old, new = two_versions(tmp_path, elf_cache, capsys)
    code, stdout, err = run_cli(["report", str(new), "--against", str(old), "--format", "json",
                                 "--threshold", "100"], capsys)
    assert code == 0, err
    d = json.loads(stdout)
    changes = {p["package"]: (p["change"], p["delta_bytes"]) for p in d["packages"]}
    assert changes["left-pad-lite"][0] == "added" and changes["left-pad-lite"][1] > 2900
    assert changes["express-lite"][0] == "removed"
    assert changes["debug"] == ("grown", len("// a bigger debug\n") * 240)
    assert "(engine)" not in changes and "@prisma/client" not in changes  # unchanged
    pads = [f for f in d["files"] if f["file"] == "node_modules/left-pad-lite/index.js"]
    assert pads and pads[0]["change"] == "added" and pads[0]["new_zipped"] > 0
    assert d["files"][0]["change"] == "added"  # added first, then removed, grown, shrunk
    added = next(p for p in d["packages"] if p["package"] == "left-pad-lite")
    assert added["brought_by"] == "package.json"
    assert d["artifacts"][0]["artifact"] == "function.zip" and d["artifacts"][0]["change"] == "grown"
    old_doc = json.loads((old / "manifest.json").read_text())
    new_doc = json.loads((new / "manifest.json").read_text())
    zipped = new_doc["artifacts"][0]["zipped_bytes"] - old_doc["artifacts"][0]["zipped_bytes"]
    assert d["totals"]["delta_zipped"] == zipped
    # the report page of the new bundle now shows the diff as well
    page = (new / "report.html").read_text()
    assert 'id="diff"' in page and "left-pad-lite" in page
    # text, for a terminal: one line per change
    code, stdout, _ = run_cli(["report", str(new), "--against", str(old), "--threshold", "100", "--no-html"], capsys)
    assert code == 0
    assert any(line.split()[:3] == ["added", "function.zip:", "left-pad-lite"] for line in stdout.splitlines())


def test_manifest_sizes_add_up_to_the_artifact(tmp_path: Path, elf_cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--no-verify", "--runtime", "nodejs20.x")
    art = doc["artifacts"][0]
    packages = doc["sizes"]["artifacts"]["function.zip"]
    assert sum(p["bytes"] for p in packages.values()) == art["unzipped_bytes"]
    assert sum(p["files"] for p in packages.values()) == art["files"]
    assert sum(p["zipped_bytes"] for p in packages.values()) < art["zipped_bytes"]  # + the zip's headers
    assert packages["(engine)"]["kind"] == "engine" and packages["(prisma client)"]["kind"] == "client"
    assert packages["(app)"]["kind"] == "app" and packages["debug"]["kind"] == "dependency"
    assert doc["sizes"]["brought_by"]["ms"] in ("debug", "express-lite")
    pruned = doc["sizes"]["pruned"][""]
    assert sum(s["bytes"] for r in pruned.values() for s in r.values()) == doc["pruned"]["bytes"]
    assert pruned["engines for other targets"]["(engine)"]["files"] >= 1
    # without --report no page and no per-file detail
    assert not (tmp_path / "out" / "report.html").exists() and not (tmp_path / "out" / "report-data.json").exists()


def test_report_flag_summary_rerender_and_removal(tmp_path: Path, elf_cache: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    out = tmp_path / "out"
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--no-verify", "--report"], capsys)
    assert code == 0, err
    assert f"report: {out}/report.html" in err
    page = (out / "report.html").read_bytes()
    data = json.loads((out / "report-data.json").read_text())
    assert any(f[0].endswith(".so.node") and f[3] == "(engine)" for f in data["artifacts"]["function.zip"])
    # re-rendered from the manifest and report-data.json: the same page, byte for byte
    (out / "report.html").unlink()
    code, stdout, err = run_cli(["report", str(out)], capsys)
    assert code == 0, err
    assert stdout == "" and (out / "report.html").read_bytes() == page
    # a reused bundle keeps (or re-creates) its report
    (out / "report.html").unlink()
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--no-verify", "--report"], capsys)
    assert code == 0 and "reusing" in err
    assert (out / "report.html").read_bytes() != b""
    # config key `report = true` works like the flag
    (project / "photon-bundle.toml").write_text("report = true\n")
    code, _, err = run_cli(["lambda", str(project), "--out", str(tmp_path / "out2"), "--offline", "--no-verify"],
                           capsys)
    assert code == 0, err
    assert (tmp_path / "out2" / "report.html").is_file()
    (project / "photon-bundle.toml").unlink()
    # a run without --report does not leave an earlier bundle's report beside its manifest
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--no-verify", "--force"], capsys)
    assert code == 0, err
    assert not (out / "report.html").exists() and not (out / "report-data.json").exists()
    assert "report:" not in err
    # a failed run withdraws the report with the bundle it describes
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--no-verify", "--report",
                            "--force"], capsys)
    assert code == 0 and (out / "report.html").is_file()
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--no-verify", "--report",
                            "--max-size", "1kb"], capsys)
    assert code == 4 and "report.html" in err
    assert not (out / "report.html").exists() and not (out / "report-data.json").exists()


def test_report_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert code == 2 and f"no manifest at {tmp_path}/manifest.json" in err and "fix:" in err
    (tmp_path / "manifest.json").write_text('{"name": "someone else"}\n')
    code, _, err = run_cli(["report", str(tmp_path)], capsys)
    assert code == 3 and "not a photon-bundle manifest: not written by photon-bundle" in err
    code, _, err = run_cli(["report", str(GOLDEN / "new"), "--against", str(GOLDEN / "old"), "--threshold", "lots"],
                           capsys)
    assert code == 2 and "--threshold: cannot read size 'lots'" in err
    assert "Traceback" not in err


def golden_run(fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(REPO)
    code, stdout, err = run_cli(["report", "tests/golden/report/new", "--against", "tests/golden/report/old",
                                 "--format", fmt, "--threshold", "100", "--no-html"], capsys)
    assert code == 0, err
    return stdout


@pytest.mark.parametrize(("fmt", "name"), [("markdown", "diff.md"), ("json", "diff.json"), ("text", "diff.txt")])
def test_golden_diff(fmt: str, name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two manifests of the fixture project (tests/golden/report/{old,new}, from two_versions): a dependency
    added, one removed, one grown. UPDATE_GOLDEN=1 rewrites the expected files."""
    got = golden_run(fmt, capsys, monkeypatch)
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(got)
    assert got == (GOLDEN / name).read_text()


def test_golden_inputs_are_current(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The golden manifests have the shape this photon-bundle writes (UPDATE_GOLDEN=1 rewrites them too)."""
    old, new = two_versions(tmp_path, elf_cache, capsys)
    for side, out in (("old", old), ("new", new)):
        doc: dict[str, Any] = json.loads((out / "manifest.json").read_text())
        if os.environ.get("UPDATE_GOLDEN"):
            (GOLDEN / side).mkdir(parents=True, exist_ok=True)
            doc["out_dir"] = f"/build/{side}"
            text = json.dumps(doc, indent=2, sort_keys=True).replace(str(tmp_path), "/build")
            (GOLDEN / side / "manifest.json").write_text(text + "\n")
            shutil.copy(out / "report-data.json", GOLDEN / side / "report-data.json")
        golden = json.loads((GOLDEN / side / "manifest.json").read_text())
        assert set(golden) == set(doc) and set(golden["sizes"]) == set(doc["sizes"])
        assert set(golden["sizes"]["artifacts"]["function.zip"]) == set(doc["sizes"]["artifacts"]["function.zip"])


@pytest.mark.usefixtures("own_engine_cache")
def test_one_section_per_function(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Netlify: a zip per function, so the report has a section per function with its own maps."""
    root = make_project(tmp_path / "app", targets=("rhel-openssl-1.0.x", "rhel-openssl-3.0.x"), elf_cache=elf_cache)
    functions = root / "netlify" / "functions"
    functions.mkdir(parents=True)
    (functions / "users.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                        "exports.handler = async () => ({ body: String(new PrismaClient()) });\n")
    (functions / "ping.js").write_text("exports.handler = async () => ({ statusCode: 204 });\n")
    out = tmp_path / "out"
    doc = bundle_ok("netlify", root, out, capsys, "--report", "--no-verify")
    assert {u["name"] for u in doc["units"]} == {"users", "ping"}
    assert set(doc["sizes"]["pruned"]) == {"users", "ping"}
    page = (out / "report.html").read_text()
    assert page.count('<section class="unit"') == 2
    assert 'data-unit="users"' in page and 'data-unit="ping"' in page
    for unit in doc["units"]:
        (artifact,) = unit["artifacts"]
        assert f'data-artifact="{artifact}"' in page
        packages = doc["sizes"]["artifacts"][artifact]
        assert ("(engine)" in packages) == (unit["name"] == "users")


def test_report_of_a_project_folder_and_hostile_paths(tmp_path: Path, elf_cache: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`photon-bundle report PROJECT` finds the project's one bundle; a file named like markup stays data."""
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    (project / "lib" / "<!--<script>alert(1)<b>.js").write_text("module.exports = 1;\n")
    bundle_ok("lambda", project, project / ".photon-bundle" / "lambda", capsys, "--report", "--no-verify")
    out = project / ".photon-bundle" / "lambda"
    page = (out / "report.html").read_text()
    (out / "report.html").unlink()
    code, _, err = run_cli(["report", str(project)], capsys)
    assert code == 0, err
    assert (out / "report.html").read_text() == page
    assert page.count("<script") == 2 and page.count("</script>") == 2  # the data and the page's script
    assert "\\u003c!--\\u003cscript>alert(1)\\u003cb>.js" in page
    bundle_ok("gcf", project, project / ".photon-bundle" / "gcf", capsys, "--no-verify")
    code, _, err = run_cli(["report", str(project)], capsys)
    assert code == 2 and "has several bundles" in err
