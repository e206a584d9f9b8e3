"""What the platform tests share: the CLI run in-process, and looks into the zips it writes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.cli import cli
from bundler.cli.common import run_guarded


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `photon-bundle ARGV`, with the CLI's own error handling."""
    code = run_guarded(cli, argv)
    out, err = capsys.readouterr()
    return code, out, err


def zip_names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return zf.namelist()


def zip_modules(zip_path: Path) -> set[str]:
    """The installed packages a zip carries: node_modules/<name>, scoped (@s/name) or nested."""
    found = set()
    for name in zip_names(zip_path):
        parts = name.split("/")
        if "node_modules" in parts:
            i = len(parts) - 1 - parts[::-1].index("node_modules")
            found.add("/".join(parts[: i + (3 if parts[i + 1].startswith("@") else 2)]))
    return found


def bundle_ok(platform: str, project: Path, out: Path, capsys: pytest.CaptureFixture[str],
              *extra: str) -> dict[str, Any]:
    """`photon-bundle PLATFORM PROJECT --out OUT --json --offline EXTRA...`, which must succeed: its manifest."""
    code, stdout, err = run_cli([platform, str(project), "--out", str(out), "--json", "--offline", *extra], capsys)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(stdout)
    return doc


def zip_modes(zip_path: Path) -> dict[str, int]:
    """Archive path -> the Unix mode stored in its external attributes."""
    with zipfile.ZipFile(zip_path) as zf:
        return {i.filename: i.external_attr >> 16 for i in zf.infolist()}
