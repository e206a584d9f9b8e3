"""`--trace` from the command line on small projects: its bad input (no entry point to trace from) is one message and
exit 2; the example app ships exactly what its handler reaches; a unit bundled with esbuild is not traced."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import run_cli
from tests.projects import make_project


def test_no_entry_point_to_trace_from_is_exit_2_and_writes_nothing(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app")
    (project / "handler.js").unlink()  # package.json's main names no file, and there is no handler.js / index.js
    out = tmp_path / "out"
    code, stdout, err = run_cli(["lambda", str(project), "--out", str(out), "--offline", "--trace"], capsys)
    assert code == 2, err
    assert stdout == ""
    assert "error: --trace: the function has no entry point to trace from" in err
    assert "--handler file.export" in err and "Traceback" not in err
    assert not (out / "function.zip").exists()
    assert (project / "package.json").is_file() and not (project / "handler.js").exists()  # project untouched


def test_the_example_app_traced_ships_exactly_what_its_handler_reaches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli_helpers import bundle_ok, zip_names
    from tests.esbuild_fixtures import EXAMPLE

    if not (EXAMPLE / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node").is_file():
        pytest.skip("run `make example-engines` first")
    doc = bundle_ok("lambda", EXAMPLE, tmp_path / "out", capsys, "--trace", "--runtime", "nodejs20.x")
    assert sorted(zip_names(tmp_path / "out" / "function.zip")) == [
        "node_modules/.prisma/client/index.js",
        "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node",
        "node_modules/.prisma/client/schema.prisma",
        "node_modules/@prisma/client/index.js", "node_modules/@prisma/client/package.json",
        "node_modules/debug/package.json", "node_modules/debug/src/index.js",
        "node_modules/ms/index.js", "node_modules/ms/package.json",
        "package.json", "src/format.js", "src/handler.js"]
    engine = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
    assert doc["load_check"]["engine"] == {"found": engine, "via": "the generated client's folder"}
    assert doc["pruned"]["by_reason"]["not reached from the entry points (--trace)"]["files"] > 0


def test_a_bundled_unit_is_not_traced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.cli_helpers import bundle_ok
    from tests.esbuild_fixtures import esbuild_missing, example_copy

    if esbuild_missing() is not None:
        pytest.skip(esbuild_missing() or "")
    project = example_copy(tmp_path / "app")
    digests = []
    for n, extra in enumerate(((), ("--trace",))):
        bundle_ok("lambda", project, tmp_path / f"out{n}", capsys, "--bundler", "esbuild", "--handler",
                  "src/handler.handler", *extra)
        digests.append((tmp_path / f"out{n}" / "function.zip").read_bytes())
    assert digests[0] == digests[1]
