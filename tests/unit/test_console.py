"""bundler/cli/common.py Console: when the progress bar may draw, and where people's and machines' output goes."""

from __future__ import annotations

import json
import sys

import pytest

from bundler.cli.common import Console


class _Stream:
    """A stand-in for sys.stderr: a real text sink whose isatty() answers what the test needs."""

    def __init__(self, *, tty: bool) -> None:
        self.tty = tty
        self.written: list[str] = []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        return None


def on_terminal(monkeypatch: pytest.MonkeyPatch, *, tty: bool = True) -> _Stream:
    """stderr is a terminal (or not) and CI is not set.

    Called in the test body, not from a fixture: pytest's output capture puts its own sys.stderr back
    between a fixture's set-up and the test call, which would undo the patch.
    """
    stream = _Stream(tty=tty)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.delenv("CI", raising=False)
    return stream


def test_interactive_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch)
    assert Console().interactive is True


def test_not_interactive_with_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch)
    assert Console(quiet=True).interactive is False


def test_not_interactive_with_json(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch)
    assert Console(json_mode=True).interactive is False


def test_not_interactive_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    on_terminal(monkeypatch, tty=False)  # e.g. stderr redirected to a log file
    assert Console().interactive is False


@pytest.mark.parametrize("value", ["true", "1"])
def test_not_interactive_in_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    on_terminal(monkeypatch)
    monkeypatch.setenv("CI", value)  # GitHub Actions, GitLab, CircleCI... set CI=true
    assert Console().interactive is False


def test_the_switch_reads_the_terminal_and_environment_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Console made before stderr or CI changed still answers for the present state."""
    terminal = on_terminal(monkeypatch)
    console = Console()
    assert console.interactive is True
    monkeypatch.setenv("CI", "true")
    assert console.interactive is False
    monkeypatch.delenv("CI")
    terminal.tty = False
    assert console.interactive is False


def test_info_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    Console().info("runtime nodejs20.x (newest supported runtime)")
    out, err = capsys.readouterr()
    assert (out, err) == ("", "runtime nodejs20.x (newest supported runtime)\n")


@pytest.mark.parametrize(("quiet", "json_mode"), [(True, False), (False, True), (True, True)])
def test_info_is_silent_with_quiet_or_json(capsys: pytest.CaptureFixture[str], quiet: bool, json_mode: bool) -> None:
    Console(quiet=quiet, json_mode=json_mode).info("wrote function.zip")
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(("quiet", "json_mode"), [(False, False), (True, False), (False, True)])
def test_data_is_sorted_json_on_stdout(capsys: pytest.CaptureFixture[str], quiet: bool, json_mode: bool) -> None:
    """The manifest reaches stdout whatever silences people's output (--json itself implies quiet)."""
    Console(quiet=quiet, json_mode=json_mode).data({"version": 1, "engine": {"target": "rhel-openssl-3.0.x",
                                                                             "kind": "library"}, "artifacts": []})
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        '{\n  "artifacts": [],\n  "engine": {\n    "kind": "library",\n    "target": "rhel-openssl-3.0.x"\n  },\n'
        '  "version": 1\n}\n'
    )
    assert json.loads(out) == {"version": 1, "engine": {"target": "rhel-openssl-3.0.x", "kind": "library"},
                               "artifacts": []}


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_a_ci_variable_that_says_no_is_not_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    on_terminal(monkeypatch)
    monkeypatch.setenv("CI", value)
    assert Console().interactive is True


def test_warnings_are_silenced_by_quiet_but_not_by_json(capsys: pytest.CaptureFixture[str]) -> None:
    """--quiet means only errors on stderr; --json keeps stdout for data and still warns on stderr."""
    Console(quiet=True).warn("engine cache is shared")
    assert capsys.readouterr().err == ""
    Console(json_mode=True).warn("engine cache is shared")
    assert capsys.readouterr().err == "warning: engine cache is shared\n"


def test_a_steps_warning_lines_reach_stderr_with_json_but_not_with_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    """The pipeline logs through Console.log: its "warning: " lines are warnings, the rest is progress."""
    Console(json_mode=True).log("warning: handler.js: no entry point to load-check")
    Console(json_mode=True).log("wrote function.zip")
    assert capsys.readouterr() == ("", "warning: handler.js: no entry point to load-check\n")
    Console(quiet=True).log("warning: handler.js: no entry point to load-check")
    assert capsys.readouterr() == ("", "")
    Console().log("wrote function.zip")
    assert capsys.readouterr() == ("", "wrote function.zip\n")
