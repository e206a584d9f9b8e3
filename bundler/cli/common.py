"""What every command shares: error handling with exit codes, and output for people (stderr) and machines (stdout)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

import click

from bundler.errors import BundleError


def debug_requested(argv: list[str] | None = None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return "--debug" in args or os.environ.get("PHOTON_BUNDLE_DEBUG", "") not in ("", "0")


def json_requested(argv: list[str] | None = None) -> bool:
    return "--json" in (sys.argv[1:] if argv is None else argv)


def json_error(code: int, message: str, fix: str | None) -> None:
    """With --json, a failure still prints one JSON object on stdout, so a CI step can read why; unless the
    command already printed its own (`verify --json` prints the failing report)."""
    if Console.data_printed:
        return
    click.echo(json.dumps({"error": {"code": code, "message": message, "fix": fix}}, indent=2, sort_keys=True))


def run_guarded(command: click.Command, argv: list[str] | None = None) -> int:
    """Run a click command; map errors to one clear message and a documented exit code (and, with --json,
    the same as a JSON object `{"error": {"code", "message", "fix"}}` on stdout)."""
    debug = debug_requested(argv)
    as_json = json_requested(argv)
    Console.data_printed = False
    try:
        result = command.main(args=argv, prog_name="photon-bundle", standalone_mode=False)
    except BundleError as err:
        if debug:
            traceback.print_exc()
        click.echo(f"error: {shorten_lines(str(err))}", err=True)
        if as_json:
            json_error(err.exit_code, err.message, err.hint)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        if as_json:
            json_error(130, "interrupted", None)
        return 130
    except click.ClickException as err:
        err.show()
        if as_json:
            json_error(2, err.format_message(), "see --help")
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted: nothing was written at the final paths", err=True)
        if as_json:
            json_error(130, "interrupted: nothing was written at the final paths", None)
        return 130
    except Exception as err:  # noqa: BLE001 - the one place that turns any crash into a message
        if debug:
            traceback.print_exc()
        click.echo(f"internal error: {type(err).__name__}: {err}", err=True)
        click.echo("  this is a bug in photon-bundle; run again with --debug for the traceback", err=True)
        if as_json:
            json_error(1, f"internal error: {type(err).__name__}: {err}",
                       "this is a bug in photon-bundle; run again with --debug for the traceback")
        return 1
    return result if isinstance(result, int) else 0


LINE_MAX = 2000  # characters of one message line: a value a user pasted by mistake is not echoed in full


def shorten_lines(message: str, limit: int = LINE_MAX) -> str:
    """The message with every line longer than `limit` cut in the middle."""
    return "\n".join(line if len(line) <= limit else
                     f"{line[: limit // 2]} … ({len(line) - limit:,} characters left out) … {line[-limit // 4:]}"
                     for line in message.split("\n"))


class Console:
    """Human output goes to stderr (silenced by --quiet or --json); data goes to stdout."""

    data_printed = False  # whether this process printed its JSON on stdout (then an error adds none)

    def __init__(self, *, quiet: bool = False, json_mode: bool = False) -> None:
        self.silent = quiet  # --quiet: only errors on stderr
        self.quiet = quiet or json_mode  # --json: no summary either, but warnings still go to stderr
        self.json_mode = json_mode

    @property
    def interactive(self) -> bool:
        in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
        return not self.quiet and sys.stderr.isatty() and not in_ci

    def info(self, message: str) -> None:
        if not self.quiet:
            click.echo(message, err=True)

    def warn(self, message: str) -> None:
        if not self.silent:
            click.echo(f"warning: {message}", err=True)

    def log(self, line: str) -> None:
        """A line of a step's progress (the pipeline's `log`): a "warning: " line as warn, any other as info."""
        if line.startswith("warning: "):
            self.warn(line[len("warning: "):])
        else:
            self.info(line)

    def data(self, payload: Any) -> None:
        Console.data_printed = True
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
