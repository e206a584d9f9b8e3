"""No-op rebuilds: reuse the previous artifacts when nothing they depend on has changed.

Two checks, the cheap one first; both end by checking every previous artifact against its recorded
sha256, so a damaged or replaced artifact is always rebuilt.

1. The tree state (`quick_reuse`, before anything is read or planned). A run that wrote artifacts also
   records, beside them, every folder it walked and every file that can change the artifacts
   (decisive_files), with the stat facts taken while walking (mode, size, mtime, ctime, inode), and a key
   over the tool and deflate versions, the platform, the project folder, the resolved options and the
   environment variables that steer a bundle. When the key is the same and one stat of each recorded
   path gives the same facts, nothing that matters was added, removed, renamed or written: adding,
   removing or renaming a file changes its folder's mtime and ctime, and writing or chmod-ing a file
   changes its ctime, which no tool can set back (npm sets mtimes, not ctimes). The artifacts' own stat
   facts, taken once they were in place and known intact, are part of the record, so the same stat
   tells that none of them was written or replaced since, without hashing them again. This costs one
   stat per path instead of a walk, a plan and a fingerprint.
2. The content check (`reusable`, after the walk and the plan). The inputs fingerprint is a hash over the
   settings (the key above without the project folder) and each artifact's content digest, the hash over
   its sorted (path, mode, content sha256) entries, which is what decides the zip's bytes. Each planned
   file's sha256 is taken from the previous run's record when its stat facts are unchanged and hashed
   anew otherwise, so a `touch`, a fresh checkout or a copy of the project with the same contents reuses
   the artifacts, and a changed file is always seen, even one written back with its old size and mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler import __version__, manifest
from bundler.deflate import DEFLATE_BACKEND
from bundler.hashing import sha256_file
from bundler.outdir import contained

if TYPE_CHECKING:
    from bundler.archive import ArchiveResult
    from bundler.options import Options
    from bundler.plan import ArtifactPlan
    from bundler.walk import FileEntry, FolderEntry

Facts = tuple[int, int, int, int, int]  # mode, size, mtime_ns, ctime_ns, inode

STATE_NAME = ".photon-bundle-state.json"
HASHES_NAME = ".photon-bundle-hashes.json"
STATE_VERSION = 1
# Options that do not change what is written (force: whether to reuse; offline/mirror: where an engine
# with a known sha256 comes from; cache: the shared cache artifacts may come from, keyed by this fingerprint;
# out: where they are put; the files it leaves out of the walk show in the content digests).
NEUTRAL_OPTIONS = frozenset({"force", "offline", "mirror", "cache", "out"})
ENV_PREFIXES = ("PRISMA_", "PHOTON_BUNDLE_")
ENV_NAMES = ("BINARY_DOWNLOAD_VERSION", "SOURCE_DATE_EPOCH")
# Variables that say where things are kept, not what is written: the local engine cache folder, the shared
# cache, and the neutral options' own variables (CI runners with different folders share artifacts).
ENV_NEUTRAL = frozenset({"PHOTON_BUNDLE_CACHE", "PHOTON_BUNDLE_SHARED_CACHE",
                         *(f"PHOTON_BUNDLE_{key.upper()}" for key in NEUTRAL_OPTIONS)})



def intact(out_dir: Path, previous: Mapping[str, Any]) -> bool:
    """Whether every artifact the manifest lists is still there with its recorded size and sha256."""
    for artifact in previous.get("artifacts", []):
        path = contained(out_dir, artifact["path"])  # never hash a file outside the output folder
        if path is None or not path.is_file() or path.stat().st_size != artifact["zipped_bytes"]:
            return False
        if sha256_file(path) != artifact["sha256"]:
            return False
    return True


# ------------------------------------------------------------------------------------ inputs fingerprint


def settings_key(platform: str, options: Options, env: Mapping[str, str]) -> str:
    """What decides the artifacts besides the files: versions, platform, options, the environment."""
    h = hashlib.sha256(f"{__version__}\n{DEFLATE_BACKEND}\n{platform}\n".encode())
    for key, value in sorted((k, v) for k, v in options.items() if k not in NEUTRAL_OPTIONS):
        h.update(f"{key}={value!r}\n".encode(errors="surrogateescape"))
    for name in sorted(env):
        if (name.startswith(ENV_PREFIXES) or name in ENV_NAMES) and name not in ENV_NEUTRAL:
            h.update(f"${name}={env[name]}\n".encode(errors="surrogateescape"))
    return h.hexdigest()


def inputs_fingerprint(settings: str, digests: Mapping[str, str]) -> str:
    """The settings and each artifact's (file name -> content digest)."""
    h = hashlib.sha256(f"{settings}\n".encode())
    for name in sorted(digests):
        h.update(f"{name}\0{digests[name]}\n".encode(errors="surrogateescape"))
    return h.hexdigest()


def written_fingerprint(settings: str, written: Iterable[tuple[str, ArchiveResult]]) -> str:
    return inputs_fingerprint(settings, {name: result.content_digest for name, result in written})


def _facts(path: str, walked: Mapping[str, FileEntry]) -> Facts:
    f = walked.get(path)
    if f is not None:
        return (f.mode, f.size, f.mtime_ns, f.ctime_ns, f.ino)
    st = os.stat(path)  # noqa: PTH116 - an engine from a cache, outside the walked tree
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _load_hashes(out_dir: Path) -> dict[str, list[Any]]:
    """The previous run's record; {} when it is missing, damaged or foreign (it is only a cache)."""
    data = _load_record(out_dir / HASHES_NAME)
    files = data.get("files") if data is not None else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(v, list) and v and isinstance(v[-1], str)}


def _load_record(path: Path) -> dict[str, Any] | None:
    """A JSON record of this version written beside the artifacts, or None for anything else."""
    try:
        data = json.loads(manifest.read_record(path).decode("utf-8"))  # no symlink, no FIFO, bounded
    except (OSError, ValueError, RecursionError):  # RecordError and UnicodeDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) and data.get("version") == STATE_VERSION else None


def planned_digests(artifacts: Iterable[ArtifactPlan], walked: Mapping[str, FileEntry],
                    known: Mapping[str, list[Any]]) -> tuple[dict[str, str], dict[str, list[Any]]]:
    """Each planned artifact's content digest, and the (facts, sha256) of every source file it reads.

    A file whose stat facts match the record keeps its recorded sha256; any other is hashed now."""
    from bundler.archive import content_digest

    hashes: dict[str, list[Any]] = {}
    digests: dict[str, str] = {}
    for artifact in artifacts:
        triples = []
        for e in artifact.entries:
            if e.source is None:
                sha = hashlib.sha256(e.data or b"").hexdigest()
            else:
                path = str(e.source)
                if path not in hashes:
                    facts = list(_facts(path, walked))
                    record = known.get(path)
                    sha = record[-1] if record is not None and record[:-1] == facts else sha256_file(Path(path))
                    hashes[path] = [*facts, sha]
                sha = hashes[path][-1]
            triples.append((e.arc, e.mode, sha))
        digests[artifact.filename] = content_digest(triples)
    return digests, hashes


def reusable(out_dir: Path, settings: str, artifacts: list[ArtifactPlan],
             walked: Mapping[str, FileEntry]) -> dict[str, Any] | None:
    """The previous manifest, marked reused, when the planned artifacts would have the same contents
    under the same settings and the previous artifacts are intact; None otherwise."""
    previous = manifest.read(out_dir / manifest.MANIFEST_NAME)
    if previous is None or "inputs_fingerprint" not in previous:
        return None
    if sorted(a["path"] for a in previous.get("artifacts", [])) != sorted(a.filename for a in artifacts):
        return None
    try:
        digests, hashes = planned_digests(artifacts, walked, _load_hashes(out_dir))
    except OSError:  # a planned file went away since the walk: the pipeline reports it when zipping
        return None
    if inputs_fingerprint(settings, digests) != previous["inputs_fingerprint"] or not intact(out_dir, previous):
        return None
    _save_hashes(out_dir, hashes)
    return {**previous, "reused": True}


def hashes_text(written: Iterable[tuple[ArtifactPlan, ArchiveResult]], walked: Mapping[str, FileEntry]) -> str:
    """The record of the sha256 of every source file the writer read, with its stat facts, for the next run."""
    hashes: dict[str, list[Any]] = {}
    for plan, result in written:
        sha_by_arc = {w.arc: w.sha256 for w in result.entries}
        for e in plan.entries:
            if e.source is not None and e.arc in sha_by_arc:
                try:
                    hashes[str(e.source)] = [*_facts(str(e.source), walked), sha_by_arc[e.arc]]
                except OSError:
                    continue
    return _hashes_json(hashes)


def _hashes_json(hashes: Mapping[str, list[Any]]) -> str:
    return json.dumps({"version": STATE_VERSION, "files": hashes}, separators=(",", ":"))


def _save_hashes(out_dir: Path, hashes: Mapping[str, list[Any]]) -> None:
    manifest.write_atomic(out_dir / HASHES_NAME, _hashes_json(hashes))


# ------------------------------------------------------------------------------------------ tree state


def state_key(platform: str, project_dir: Path, options: Options, env: Mapping[str, str], *,
              whole_env: bool = False) -> str:
    """The settings and the project folder: the tree state is about these very paths. With `whole_env`
    (a platform whose config reads any environment variable), every variable counts."""
    key = f"{settings_key(platform, options, env)}\n{project_dir.resolve()}\n"
    h = hashlib.sha256(key.encode(errors="surrogateescape"))
    if whole_env:
        h.update(json.dumps(sorted(env.items())).encode())
    return h.hexdigest()


def _file_line(path: str, mode: int, size: int, mtime: int, ctime: int, ino: int) -> str:
    return f"{path}\0{mode:o}\0{size}\0{mtime}\0{ctime}\0{ino}\n"


def _folder_line(path: str, mtime: int, ctime: int, ino: int) -> str:
    return f"{path}\0{mtime}\0{ctime}\0{ino}\n"


def _lines_digest(lines: list[str]) -> str:
    return hashlib.sha256("".join(lines).encode(errors="surrogateescape")).hexdigest()  # names kept as bytes


def _digest(file_lines: list[str], folder_lines: list[str]) -> str:
    """Over the first half of the files, the second half with the folders: the halves a quick check stats side by
    side (_current_digest)."""
    half = len(file_lines) // 2
    return _tree_digest(_lines_digest(file_lines[:half]), _lines_digest([*file_lines[half:], "--\n", *folder_lines]))


def _tree_digest(first: str, second: str) -> str:
    return hashlib.sha256(f"{first}\n{second}\n".encode()).hexdigest()


def decisive_files(files: list[FileEntry], artifacts: Iterable[ArtifactPlan]) -> list[FileEntry]:
    """The walked files whose contents can change the artifacts: every file that goes in, every file
    outside node_modules (config files, the schema, the app), and every package.json (the dependency
    closure is read from them). Other files below node_modules (dev dependencies, other targets' engines)
    can only matter by appearing or disappearing, which their folder's recorded mtime and ctime show."""
    planned = {str(e.source) for a in artifacts for e in a.entries if e.source is not None}
    return [f for f in files if f.fspath in planned or "/node_modules/" not in "/" + f.rel
            or f.rel.endswith("/package.json")]


def tree_text(key: str, files: list[FileEntry], folders: list[FolderEntry]) -> str:
    """The tree state without the artifacts' facts (state_text adds them once the artifacts are in place): the key,
    the digest of the files' and folders' stat facts, and their paths, as a JSON object."""
    file_paths = [f.fspath for f in files]
    digest = _digest([_file_line(p, f.mode, f.size, f.mtime_ns, f.ctime_ns, f.ino) for p, f in zip(file_paths, files)],
                     [_folder_line(d.path, d.mtime_ns, d.ctime_ns, d.ino) for d in folders])
    return json.dumps({"version": STATE_VERSION, "key": key, "tree": digest, "files": file_paths,
                       "folders": [d.path for d in folders]}, separators=(",", ":"))


def _artifact_facts(out_dir: Path, names: list[str]) -> list[list[Any]] | None:
    """[name, mode, size, mtime, ctime, inode] of each artifact (by its name in out_dir, never through a link out of
    it); None when one is missing."""
    facts: list[list[Any]] = []
    for name in names:
        path = contained(out_dir, name)
        try:
            st = os.lstat(path) if path is not None else None
        except OSError:
            return None
        if st is None:
            return None
        facts.append([name, st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino])
    return facts


def state_text(tree: str, out_dir: Path, artifacts: Iterable[str]) -> str | None:
    """The tree state with the stat facts of the artifacts now in out_dir (committed, or found intact); None when
    one is missing (nothing to vouch for: the next run takes the content check)."""
    facts = _artifact_facts(out_dir, sorted(artifacts))
    if facts is None or not tree.endswith("}"):
        return None
    return f"{tree[:-1]},\"artifacts\":{json.dumps(facts, separators=(',', ':'))}}}"


def save_records(out_dir: Path, hashes: str | None, tree: str | None, artifacts: Iterable[str]) -> None:
    """Write the records the next run's no-op checks read: the source files' hashes and the tree state."""
    if hashes is not None:
        manifest.write_atomic(out_dir / HASHES_NAME, hashes)
    state = state_text(tree, out_dir, artifacts) if tree is not None else None
    if state is not None:
        manifest.write_atomic(out_dir / STATE_NAME, state)


STAT_SPLIT_MIN = 4000  # paths: from here a quick check stats half of them in a forked child (bundler/offload.py)


def _current_digest(files: list[str], folders: list[str]) -> str | None:
    """The same digest from a fresh stat of each path; None when a path is gone. A large tree's second half is
    statted by a forked child meanwhile: a stat is a system call, and two processes make twice as many."""
    half = len(files) // 2

    def second() -> list[str]:
        return [_stat_digest(files[half:], folders) or ""]

    if len(files) + len(folders) < STAT_SPLIT_MIN:
        first, other = _stat_digest(files[:half]), second()[0]
    else:
        from bundler.offload import Offloaded

        with Offloaded(second) as job:
            first = _stat_digest(files[:half])
            other = job.result()[0]
    return _tree_digest(first, other) if first and other else None


def _stat_digest(files: list[str], folders: list[str] | None = None) -> str | None:
    """The digest of the files' lines (and, with `folders`, a separator and the folders' lines), from a fresh stat
    of each path; None when a path is gone."""
    stat = os.stat  # one call per path is the point: Path objects cost more than the stat
    try:  # the lines are _file_line's and _folder_line's, written out: a call per path costs more than the stat
        lines = [f"{p}\0{st.st_mode:o}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n"
                 for p in files for st in (stat(p),)]
        if folders is not None:
            lines.append("--\n")
            lines += [f"{p}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}\n" for p in folders for st in (stat(p),)]
    except OSError:
        return None
    return _lines_digest(lines)


def _strings(values: list[Any]) -> bool:
    return all(isinstance(v, str) and "\0" not in v for v in values)


def unchanged_tree(out_dir: Path, key: str) -> dict[str, Any] | None:
    """The previous manifest, marked reused, when the recorded tree and key are unchanged and the
    artifacts intact; None whenever anything differs or cannot be read (then the full pipeline runs)."""
    state = _load_record(out_dir / STATE_NAME)
    if state is None or state.get("key") != key:
        return None
    files, folders, artifacts = state.get("files"), state.get("folders"), state.get("artifacts")
    if not isinstance(files, list) or not isinstance(folders, list) or not _strings(files + folders):
        return None
    if not isinstance(artifacts, list) or not all(isinstance(a, list) and a and isinstance(a[0], str)
                                                  for a in artifacts):
        return None
    names = [a[0] for a in artifacts]
    if _artifact_facts(out_dir, names) != artifacts:  # the artifacts' own stat facts vouch for their bytes
        return None
    if _current_digest(files, folders) != state.get("tree"):
        return None
    previous = manifest.read(out_dir / manifest.MANIFEST_NAME)
    if previous is None or sorted(str(a.get("path")) for a in previous.get("artifacts", [])) != names:
        return None
    if not all(Path(o["path"]).is_file() for o in previous.get("outputs", [])):  # a stat, never a read
        return None  # a config copy or Netlify's manifest is gone: the pipeline writes it again
    return {**previous, "reused": True}


def quick_reuse(platform: str, project_dir: Path, out_dir: Path, options: Options,
                env: Mapping[str, str], *, whole_env: bool = False) -> dict[str, Any] | None:
    """The previous manifest when the tree state says nothing changed; None when a bundle must run.

    Never for --force, and never for --build docker (its tree is built anew each time)."""
    if options.force or options.build == "docker":
        return None
    return unchanged_tree(out_dir, state_key(platform, project_dir, options, env, whole_env=whole_env))
