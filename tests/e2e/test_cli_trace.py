"""`--trace` from the command line: its bad input (no entry point to trace from) is one message and exit 2."""

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
