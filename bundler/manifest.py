"""The JSON manifest written beside the artifacts: versioned, no wall-clock time, stable key order."""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
RECORD_MAX = 64 << 20  # bytes: the largest manifest or reuse record read back (50,000 files need about 10 MB)


def dumps(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def temp_prefix(path: Path) -> str:
    """The name prefix of a temp file written beside `path`: `.<name>.<pid>.`; with the suffix `.tmp`, the
    next run tells a killed run's leftovers (dead pid) from a running one's (bundler/outdir.py)."""
    return f".{path.name}.{os.getpid()}."


def write_atomic(path: Path, text: str) -> None:
    """Write text so that path either keeps its old content or has all of the new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        Path(tmp).chmod(0o666 & ~umask)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RecordError(ValueError):
    """A record in the output folder that is not a regular file of a sane size."""


def read_record(path: Path, limit: int = RECORD_MAX) -> bytes:
    """The bytes of a record photon-bundle wrote in the output folder, read defensively: never through a
    symlink (it could lead out of the folder, or to /dev/zero), only a regular file (a FIFO would block),
    at most `limit` bytes. Raises OSError (FileNotFoundError when absent) or RecordError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise RecordError("it is a symbolic link") from None
        raise
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise RecordError("it is a folder")
        if not stat.S_ISREG(st.st_mode):
            raise RecordError("not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RecordError(f"larger than {limit >> 20} MiB")
    return data


def read(path: Path) -> dict[str, Any] | None:
    """A previous manifest, or None when there is none or it is not one of ours (see `load`)."""
    return load(path)[0]


def load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(manifest, None) for a manifest photon-bundle wrote; (None, None) when there is none; (None, why) when
    the file is there but is not one of ours: another tool's manifest.json, a damaged one, another version.

    A manifest is ours when it is a JSON object of this version whose `tool` is photon-bundle and whose
    artifacts and outputs are lists of objects with string paths (what the next run reads from it)."""
    try:
        raw = read_record(path)
    except FileNotFoundError:
        return None, None
    except RecordError as err:
        return None, str(err)
    except OSError as err:
        return None, f"cannot be read: {err.strerror or err}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None, "not valid JSON"
    why = _not_ours(data)
    return (None, why) if why else (data, None)


def _not_ours(data: Any) -> str | None:
    if not isinstance(data, dict) or not str(data.get("tool", "")).startswith("photon-bundle"):
        return "not written by photon-bundle"
    if data.get("version") != MANIFEST_VERSION:
        return f"manifest version {data.get('version')!r}, this photon-bundle writes {MANIFEST_VERSION}"
    artifacts, outputs = data.get("artifacts"), data.get("outputs", [])
    if not isinstance(artifacts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("path"), str) and isinstance(a.get("sha256"), str)
            and isinstance(a.get("zipped_bytes"), int) for a in artifacts):
        return "damaged: its artifacts are not a list of {path, sha256, zipped_bytes}"
    if not isinstance(outputs, list) or not all(isinstance(o, dict) and isinstance(o.get("path"), str)
                                                for o in outputs):
        return "damaged: its outputs are not a list of {path}"
    return None
