"""The `photon-bundle` command line: parse, call, present. No bundling logic lives here.

Commands are registered explicitly in COMMANDS below. Heavy libraries (boto3, docker, pyelftools) are
imported inside the commands that use them, so `photon-bundle --help` starts fast.
"""

from __future__ import annotations

import logging
import signal
import sys

import click

from bundler import __version__
from bundler.cli.bundle_cmds import (
    gcf_command,
    lambda_command,
    netlify_command,
    now_command,
    serverless_command,
    up_command,
    vercel_command,
)
from bundler.cli.common import run_guarded
from bundler.cli.detect_cmd import detect
from bundler.cli.doctor_cmd import doctor
from bundler.cli.engines_cmd import engines
from bundler.cli.publish_cmd import publish
from bundler.cli.report_cmd import report
from bundler.cli.targets_cmd import targets
from bundler.cli.verify_cmd import verify


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="photon-bundle")
def cli() -> None:
    """Package Node.js serverless functions that use Prisma's native query engine.

    \b
    Exit codes: 0 ok · 1 internal error · 2 usage/config error · 3 project error
    (malformed file, engine missing) · 4 size limit exceeded · 5 verification failed ·
    6 engine download/cache failure · 7 Docker failure · 8 AWS failure of publish · 9 output folder cannot be
    written · 10 doctor found errors (warnings with --strict) · 130 interrupted (SIGINT or SIGTERM).
    """


COMMANDS: list[click.Command] = [
    lambda_command, gcf_command, netlify_command, now_command, vercel_command, up_command, serverless_command,
    targets, engines, detect, verify, doctor, publish, report,
]
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    interrupt_on_sigterm()
    sys.exit(run_guarded(cli))


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (what a CI cancel or `docker stop` sends) like SIGINT: KeyboardInterrupt unwinds the run,
    so temp files are removed and the exit code is 130 with the message."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
