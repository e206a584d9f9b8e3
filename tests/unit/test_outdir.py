"""The output folder's guard (bundler/outdir.py): containment of paths read from files in --out, which --out
is acceptable, and the OSError -> OutputError mapping."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from bundler.errors import ConfigError, OutputError
from bundler.outdir import check_out_dir, contained, contained_all, output_error


@pytest.fixture
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    (folder / "functions").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (folder / "escape").symlink_to(tmp_path / "outside")
    (folder / "zip-link").symlink_to(tmp_path / "outside" / "x.zip")
    (folder / "inner-link").symlink_to(folder / "functions")
    return folder


@pytest.mark.parametrize("value", ["function.zip", "functions/api.zip", "./function.zip", "functions/../a.zip",
                                   "inner-link/api.zip"])
def test_paths_inside_are_kept(out: Path, value: str) -> None:
    path = contained(out, value)
    assert path is not None and path.is_relative_to(out.resolve())


@pytest.mark.parametrize("value", ["../victim.txt", "/tmp/x", "/etc/passwd", "functions/../../v", "escape/a.zip",
                                   "zip-link", "", ".", "functions/..", "a\0b", 5, None, ["x"], {"p": 1}])
def test_paths_outside_or_not_paths_are_refused(out: Path, value: object) -> None:
    assert contained(out, value) is None


def test_absolute_path_inside_is_kept(out: Path) -> None:
    assert contained(out, str(out / "manifest.json")) == out.resolve() / "manifest.json"


def test_ignored_paths_come_with_a_warning(out: Path) -> None:
    paths, warnings = contained_all(out, ["function.zip", "../victim.txt", "x" * 10_000], "manifest.json")
    assert len(paths) == 2 and len(warnings) == 1
    assert "'../victim.txt' named by manifest.json" in warnings[0] and "outside the output folder" in warnings[0]


def test_out_checks(tmp_path: Path) -> None:
    project = tmp_path / "app"
    (project / "src").mkdir(parents=True)
    (project / "src" / "handler.js").write_text("//\n")
    (project / "empty").mkdir()
    (project / "secrets").mkdir()
    (project / "secrets" / ".env").write_text("X=1\n")  # never bundled anyway
    check_out_dir(project, project / "empty", "lambda")
    check_out_dir(project, project / "new" / "folder", "lambda")
    check_out_dir(project, project / "secrets", "lambda")
    check_out_dir(project, tmp_path / "elsewhere", "lambda")
    with pytest.raises(ConfigError, match="is the project folder itself"):
        check_out_dir(project, project / "src" / "..", "lambda")
    with pytest.raises(ConfigError, match=r"holds files photon-bundle did not write \(src/handler.js\)"):
        check_out_dir(project, project / "src", "lambda")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_out_dir(project, tmp_path / "file", "lambda")


def test_out_holding_our_manifest_and_what_it_lists_is_ours(tmp_path: Path) -> None:
    project = tmp_path / "app"
    out = project / "bundle"
    (out / "functions").mkdir(parents=True)
    for name in ("functions/api.zip", "serverless.yml", ".photon-bundle-state.json"):
        (out / name).write_text("x")
    doc = {"version": 1, "tool": "photon-bundle 0.1.0", "outputs": [{"path": str(out / "serverless.yml")}],
           "artifacts": [{"path": "functions/api.zip", "sha256": "0" * 64, "zipped_bytes": 1}]}
    (out / "manifest.json").write_text(json.dumps(doc))
    check_out_dir(project, out, "serverless")
    (out / "functions" / "extra.js").write_text("//\n")
    with pytest.raises(ConfigError, match=r"bundle/functions/extra\.js"):
        check_out_dir(project, out, "serverless")


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOSPC, "free space"), (errno.EFBIG, "ulimit -f"),
                                            (errno.EROFS, "writable"), (errno.ENOTDIR, "a file stands")])
def test_output_errors_name_the_path_and_the_reason(code: int, hint: str) -> None:
    err = output_error(Path("/out/function.zip"), OSError(code, "reason"))
    assert err.exit_code == 9 and err.message == "cannot write /out/function.zip: reason" and hint in (err.hint or "")
