"""One exception hierarchy. Each error carries a message a user can act on; cli.py maps classes to exit codes.

Exit codes (documented in the README):
  0 success · 1 internal error · 2 usage or configuration error · 3 project error (malformed or
  missing files, engine not found) · 4 size limit exceeded · 5 verification failed ·
  6 engine download or cache failure · 7 Docker failure · 8 cloud (AWS) failure of `publish` ·
  9 the output folder cannot be written ·
  10 `doctor` found errors (or warnings, with --strict) · 130 interrupted
"""

from __future__ import annotations

ECHO_MAX = 80  # characters of a user's value echoed back in a message


def echo(value: object, limit: int = ECHO_MAX) -> str:
    """repr(value) for a message, cut to `limit` characters (a 100 KB value is not echoed in full)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


class BundleError(Exception):
    """Base class: `str(err)` is the message shown to the user; `hint` says how to fix it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"


class ConfigError(BundleError):
    """Bad flags, config file keys or values, unknown runtime or platform."""

    exit_code = 2


class ProjectError(BundleError):
    """The Node project is malformed, or something it needs is not on disk."""

    exit_code = 3


class EngineNotFoundError(ProjectError):
    """The engine for the target is not in the project and no source could supply it."""


class SizeLimitError(BundleError):
    """An artifact is over a platform limit or --max-size."""

    exit_code = 4


class VerifyError(BundleError):
    """A native binary or the artifact fails the runtime policy."""

    exit_code = 5


class LoadCheckError(VerifyError):
    """An artifact does not load: an entry point or the Prisma client fails to require, or the client's own
    engine lookup would not find the bundled engine (bundler/loadcheck/)."""


class EngineFetchError(BundleError):
    """Download, checksum or cache failure while acquiring an engine."""

    exit_code = 6


class DockerError(BundleError):
    """The Docker daemon is unreachable, an image is missing, or a container build failed."""

    exit_code = 7


class CloudError(BundleError):
    """An AWS call of `photon-bundle publish` failed: the message names the AWS error code and the fix."""

    exit_code = 8


class OutputError(BundleError):
    """The output folder cannot be written: not a folder, read-only, full (ENOSPC), file too large (EFBIG)."""

    exit_code = 9


class FindingsError(BundleError):
    """`photon-bundle doctor` found errors (with --strict: warnings too); the findings were printed first."""

    exit_code = 10


def closest(word: str, choices: list[str]) -> str:
    """A 'did you mean' sentence for an unknown name."""
    import difflib  # only when there is a message to write

    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.5)
    return f"did you mean {' or '.join(close)}?" if close else f"choose one of: {', '.join(choices)}"
