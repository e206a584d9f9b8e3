"""The output folder's guard: what `--out` may be, paths read from files in it, its write errors, and the
temp files killed runs left in it.

Everything a run reads from the output folder (manifest.json, the reuse records) may be another tool's or
an attacker's file, so every path taken from such a file goes through `contained`, which accepts only
paths that resolve inside the output folder, symlinks included. Nothing outside `--out` is ever read for
an artifact's hash or removed on the strength of what a file there says.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from bundler import manifest
from bundler.errors import ConfigError, OutputError

# `.function.zip.<pid>.<random>.tmp`: manifest.temp_prefix and mkstemp's random part and suffix.
_TEMP = re.compile(r"^\..+\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp$")
STALE_AFTER = 24 * 3600  # a temp file this old is a leftover whatever its pid says (pids are reused)
_SHOWN = 5


def contained(out_dir: Path, value: object) -> Path | None:
    """The real path of `value` (relative to out_dir, or absolute) when it is a path string that resolves
    inside out_dir, symlinks included; None for anything else (`../x`, `/tmp/x`, a link out, a non-string)."""
    if not isinstance(value, str) or not value or "\0" in value:
        return None
    root = os.path.realpath(out_dir)
    target = os.path.realpath(out_dir / value)
    if target == root or os.path.commonpath([root, target]) != root:
        return None
    return Path(target)


def contained_all(out_dir: Path, values: Iterable[object], source: str) -> tuple[list[Path], list[str]]:
    """The paths of `values` that stay inside out_dir, and a warning for each one ignored."""
    paths: list[Path] = []
    warnings: list[str] = []
    for value in values:
        path = contained(out_dir, value)
        if path is None:
            from bundler.errors import echo

            warnings.append(f"ignored the path {echo(value)} named by {source}: it is outside the output folder "
                            f"{out_dir}, and photon-bundle never touches anything there")
        else:
            paths.append(path)
    return paths, warnings


def check_out_dir(project_dir: Path, out_dir: Path, platform: str) -> None:
    """Refuse an output folder that would lose or overwrite the user's files: a file, the project folder
    itself, a folder inside the project holding files the bundle would otherwise carry, or a folder with a
    manifest.json photon-bundle did not write. An empty folder, one photon-bundle owns (its manifest and
    what that lists) or one outside the project is fine."""
    hint = f"pick another folder with --out, e.g. the default .photon-bundle/{platform}"
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"the output folder {out_dir} is a file, not a folder", hint=hint)
    root, out = os.path.realpath(project_dir), os.path.realpath(out_dir)
    if out == root:
        raise ConfigError(f"the output folder {out_dir} is the project folder itself: the next run would bundle "
                          "this run's artifacts, and the project's files would be left out", hint=hint)
    if not out_dir.is_dir():
        return
    previous, why = manifest.load(out_dir / manifest.MANIFEST_NAME)
    if why is not None:
        raise ConfigError(f"{out_dir / manifest.MANIFEST_NAME} is not a manifest photon-bundle wrote ({why}); "
                          "the output folder belongs to something else and the run would overwrite it",
                          hint=f"{hint}; or remove that manifest.json if it is a damaged one of photon-bundle's")
    if os.path.commonpath([root, out]) != root:
        return
    foreign = _foreign_files(out_dir, os.path.relpath(out, root), previous)
    if foreign:
        shown = ", ".join(foreign[:_SHOWN]) + (" ..." if len(foreign) > _SHOWN else "")
        raise ConfigError(f"the output folder {out_dir} is inside the project and holds files photon-bundle did not "
                          f"write ({shown}): they would be left out of the bundle", hint=hint)


def _foreign_files(out_dir: Path, out_rel: str, previous: dict[str, object] | None) -> list[str]:
    """Up to _SHOWN + 1 files in out_dir (as project-relative paths) that the previous run did not write and
    that the default excludes would not leave out anyway. The default output folder (.photon-bundle/...)
    is never bundled, so a no-op run pays nothing here."""
    from bundler.reuse import HASHES_NAME, STATE_NAME

    if out_rel.replace(os.sep, "/").split("/", 1)[0] == ".photon-bundle":
        return []
    owned = {os.path.realpath(out_dir / name) for name in (manifest.MANIFEST_NAME, STATE_NAME, HASHES_NAME)}
    if previous is not None:
        listed = [a["path"] for a in previous.get("artifacts", [])]  # type: ignore[attr-defined]
        listed += [o["path"] for o in previous.get("outputs", [])]  # type: ignore[attr-defined]
        owned |= {str(p) for p in contained_all(out_dir, listed, "manifest.json")[0]}
    never_bundled = None
    found: list[str] = []
    for folder, dirs, names in os.walk(out_dir, onerror=lambda err: None):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder, name)
            if _TEMP.match(name) or os.path.realpath(path) in owned:
                continue
            if never_bundled is None:
                from bundler.plan import DEFAULT_EXCLUDES, _spec  # only when there is a file to judge

                never_bundled = _spec(DEFAULT_EXCLUDES)
            rel = os.path.normpath(Path(out_rel, os.path.relpath(path, out_dir))).replace(os.sep, "/")
            if not never_bundled.match_file(rel):
                found.append(rel)
                if len(found) > _SHOWN:
                    return found
    return found


def output_error(path: Path, err: OSError) -> OutputError:
    """An OSError while writing the output, as one message naming the path, the OS's reason and a fix."""
    reason = err.strerror or str(err)
    code = err.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        hint = "free space on that file system, or pick another --out"
    elif code == errno.EFBIG:
        hint = "the file is larger than the file system or the file size limit (ulimit -f) allows; raise the " \
               "limit or pick another --out"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        hint = "a file stands where a folder is expected: remove it or pick another --out"
    elif code in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "make the folder writable, or pick another --out"
    else:
        hint = "pick another --out"
    where = err.filename if isinstance(err.filename, str) and err.filename else str(path)
    return OutputError(f"cannot write {where}: {reason}", hint=hint)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` (or a file in it) into an OutputError."""
    try:
        yield
    except OSError as err:
        raise output_error(path, err) from None


def collect_stale_temps(out_dir: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temp files a killed run left in out_dir and its subfolders (`.function.zip.<pid>.*.tmp`,
    `.manifest.json.<pid>.*.tmp`): those of a pid that no longer runs, and any older than a day.
    Returns what was removed; a file that cannot be removed is left alone."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    folders = [out_dir]
    with contextlib.suppress(OSError):
        folders += [Path(e.path) for e in os.scandir(out_dir) if e.is_dir(follow_symlinks=False)]
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            m = _TEMP.match(entry.name)
            if not m or not entry.is_file(follow_symlinks=False):
                continue
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER
            except OSError:
                continue
            pid = int(m.group("pid"))
            if old or (pid != os.getpid() and not _alive(pid)):
                with contextlib.suppress(OSError):
                    Path(entry.path).unlink()
                    removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a pid beyond the range): assume it runs
    return True
