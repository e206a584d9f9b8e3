"""The `photon-bundle` command line: parse, call, present. No bundling logic lives here.

Commands are registered explicitly in COMMANDS below, by the module that defines each; a command's module is
imported only when it runs or is listed (`--help`), and heavy libraries (boto3, docker, pyelftools) only inside
the commands that use them, so a no-op rebuild and `photon-bundle --help` start fast.
"""

from __future__ import annotations

import gc
import importlib
import logging
import signal
import sys

import click

from bundler import __version__
from bundler.cli.common import run_guarded

PLATFORMS = ("lambda", "gcf", "netlify", "now", "vercel", "up", "serverless")
# name -> (module, attribute): the command object, or for a platform the factory bundle_cmds.platform_command
COMMANDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(PLATFORMS, ("bundler.cli.bundle_cmds", "platform_command")),
    "targets": ("bundler.cli.targets_cmd", "targets"),
    "engines": ("bundler.cli.engines_cmd", "engines"),
    "detect": ("bundler.cli.detect_cmd", "detect"),
    "verify": ("bundler.cli.verify_cmd", "verify"),
    "doctor": ("bundler.cli.doctor_cmd", "doctor"),
    "publish": ("bundler.cli.publish_cmd", "publish"),
    "report": ("bundler.cli.report_cmd", "report"),
}


class LazyGroup(click.Group):
    """A group whose commands (COMMANDS) are imported when they are looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        found = getattr(importlib.import_module(module), attribute)
        command: click.Command = found(cmd_name) if cmd_name in PLATFORMS else found
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="photon-bundle")
def cli() -> None:
    """Package Node.js serverless functions that use Prisma's native query engine.

    \b
    Exit codes: 0 ok · 1 internal error · 2 usage/config error · 3 project error
    (malformed file, engine missing) · 4 size limit exceeded · 5 verification failed ·
    6 engine download/cache failure · 7 Docker failure · 8 AWS failure of publish · 9 output folder cannot be
    written · 10 doctor found errors (warnings with --strict) · 130 interrupted (SIGINT or SIGTERM).
    """


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # A bundle holds a record per file (tens of thousands, all alive until the end): the cyclic collector's default
    # of a pass per 700 new objects spent ~50 ms of a 2 s run (the benchmark's real app) re-examining them, for
    # no garbage; one pass per 50,000 spends ~12 ms. Nothing here is long-lived enough for this to cost memory.
    gc.set_threshold(50_000, 10, 10)
    interrupt_on_sigterm()
    sys.exit(run_guarded(cli))


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (what a CI cancel or `docker stop` sends) like SIGINT: KeyboardInterrupt unwinds the run,
    so temp files are removed and the exit code is 130 with the message."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
