"""The output folder's guard: what `--out` may be, paths read from files in it, its write errors, the
temp files killed runs left in it, and the commit: artifacts renamed into place with the manifest last, the
adapter's files written, a failed run's predecessors withdrawn.

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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bundler import manifest
from bundler.errors import ConfigError, OutputError

if TYPE_CHECKING:
    from bundler.archive import ArchiveResult
    from bundler.plan import ArtifactPlan
    from platforms.base import OutputFile

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
                from bundler.excludes import DEFAULT_EXCLUDES, gitignore_spec  # only when there is a file to judge

                never_bundled = gitignore_spec(DEFAULT_EXCLUDES)
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


@dataclass(frozen=True)
class Written:
    """An artifact written to a temp file beside its final path, waiting for the commit."""

    plan: ArtifactPlan
    final: Path
    result: ArchiveResult


def prepare_out_dir(out_dir: Path) -> None:
    """Create the output folder and remove the temp files killed runs left in it."""
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    collect_stale_temps(out_dir)


def withdraw_previous(out_dir: Path) -> tuple[list[str], list[str]]:
    """Remove what the last run's manifest lists (artifacts, the files written beside them) and the manifest
    and reuse records themselves; returns the names removed and what could not be done. Only paths inside
    out_dir are touched (bundler/outdir.py `contained`): a manifest naming `../x` or `/tmp/x` is ignored
    with a warning, and the user's own files are never touched."""
    from bundler.reuse import HASHES_NAME, STATE_NAME

    previous = manifest.read(out_dir / manifest.MANIFEST_NAME)
    if previous is None:
        return [], []
    listed = [a["path"] for a in previous["artifacts"]]
    listed += [o["path"] for o in previous.get("outputs", []) if not o.get("in_place")]
    paths, problems = contained_all(out_dir, listed, f"{out_dir / manifest.MANIFEST_NAME}")
    from bundler.report.files import REPORT_FILES  # the report describes the bundle: withdrawn with it

    paths += [out_dir / name for name in (STATE_NAME, HASHES_NAME, manifest.MANIFEST_NAME, *REPORT_FILES)]
    removed = []
    root = Path(os.path.realpath(out_dir))
    for path in paths:
        if path.is_file():
            try:
                path.unlink()
            except OSError as err:
                problems.append(f"could not remove the previous run's {path}: {err.strerror or err}; "
                                "do not deploy it")
                continue
            real = Path(os.path.realpath(path.parent)) / path.name
            removed.append(real.relative_to(root).as_posix() if real.is_relative_to(root) else str(path))
    return removed, [f"warning: {p}" for p in problems]


def commit(written: list[Written], out_dir: Path, doc: Mapping[str, object],
           report: Callable[[], None] | None = None) -> None:
    """Rename every temp artifact into place, then write the manifest last (then `report`: bundler/report/)."""
    umask = os.umask(0)
    os.umask(umask)
    done: list[Path] = []
    try:
        for w in written:
            with writing(w.final):
                w.result.path.chmod(0o666 & ~umask)
                w.result.path.replace(w.final)
            done.append(w.final)
        with writing(out_dir / manifest.MANIFEST_NAME):
            manifest.write_atomic(out_dir / manifest.MANIFEST_NAME, manifest.dumps(doc))
    except BaseException:
        for path in done:  # no artifact without its manifest
            path.unlink(missing_ok=True)
        raise
    if report is not None:
        report()


def write_outputs(outputs: list[OutputFile], log: Callable[[str], None]) -> None:
    """Write the adapter's files (config copies, Netlify's manifest) atomically, each only if it changed.
    A file with a note is announced by the summary, which prints the note; the others are logged here."""
    for out in outputs:
        try:
            current = out.path.read_text(encoding="utf-8") if out.path.is_file() else None
        except (OSError, UnicodeDecodeError):
            current = None
        if current != out.text:
            with writing(out.path):
                out.path.parent.mkdir(parents=True, exist_ok=True)
                manifest.write_atomic(out.path, out.text)
            if not out.note:
                log(f"wrote {out.path}")
