"""`verify`: check an artifact (zip or directory) against a runtime, the way auditwheel checks a wheel.

Three layers, each separate:

* policies — what each runtime OS offers (bundler/policies.py over platforms/policies.toml);
* facts — ELF facts of every native file (bundler/elf.py, pure);
* verdicts — per file, independent checks (elf, arch, libc, libraries, symbols, exec-bit), each
  pass / warn / fail / skip, the file's verdict being the strictest; plus artifact checks (engine,
  size). A finding names the file, the failing fact, what the runtime has, and the fix.

Only `_ZipArtifact` / `_DirArtifact` touch the file system; everything after the scan is pure.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, Protocol

from bundler.elf import (
    BrokenElf,
    ElfFacts,
    ElfResult,
    NotElf,
    guess_format,
    is_elf,
    read_elf,
    split_version,
    version_key,
)
from bundler.engines import EngineName, engine_filename, is_cli_engine, parse_engine_filename
from bundler.errors import ConfigError, ProjectError
from bundler.limits import format_size
from bundler.policies import Policies, Policy, load_policies
from bundler.targets import ARCHES, Arch, Runtime, RuntimeProfile, load_matrix, profile_for

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - exercised on Python < 3.11 only
    pass

REPORT_VERSION = 1

Severity = Literal["error", "warning"]
Verdict = Literal["pass", "warn", "fail", "skip"]
_RANK: dict[str, int] = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
FILE_CHECKS = ("elf", "arch", "libc", "libraries", "symbols", "exec-bit")
ARTIFACT_CHECKS = ("engine", "size", "paths")
ENGINE_KINDS = ("auto", "binary", "library", "client")

_NODE_ARCH = {"x86_64": "x64", "arm64": "arm64"}
_SHARED_LIB = re.compile(r"\.so(?:\.\d+)*$")
# The largest native file verify reads (an engine is 15-60 MB; the biggest native files deployed on
# these platforms are a few hundred MB). A bigger entry is an error "too large to inspect", never read.
MAX_NATIVE_BYTES = 512 * 1024 * 1024
MAX_LINK_BYTES = 4096  # a symbolic link's target stored in a zip
_COPY_CHUNK = 1024 * 1024
_PREBUILD = re.compile(r"(?:^|/)prebuilds/(?P<platform>[a-z0-9]+)-(?P<arch>[a-z0-9]+)(?:[-+][^/]*)?/")


# ---------------------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Finding:
    file: str  # path inside the artifact; "" for the artifact as a whole
    check: str
    severity: Severity
    message: str
    has: str = ""  # what the runtime has
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "check": self.check,
            "severity": self.severity,
            "message": self.message,
            "has": self.has,
            "fix": self.fix,
        }


@dataclass(frozen=True)
class FileReport:
    path: str
    role: str  # engine, engine-other, cli-engine, addon, library, executable, elf
    facts: ElfResult | None
    checks: Mapping[str, Verdict]
    size: int = 0
    skipped: str | None = None

    @property
    def verdict(self) -> Verdict:
        """The strictest of the file's checks."""
        if self.skipped is not None:
            return "skip"
        return max(self.checks.values(), key=_RANK.__getitem__, default="pass")

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "role": self.role,
            "size": self.size,
            "verdict": self.verdict,
            "checks": dict(self.checks),
            "skipped": self.skipped,
            "facts": None if self.facts is None else self.facts.to_json(),
        }


@dataclass(frozen=True)
class Sizes:
    zip_bytes: int | None
    unzipped_bytes: int
    extra_unzipped: int
    zip_max: int | None
    unzipped_max: int | None

    def to_json(self) -> dict[str, int | None]:
        return {
            "zip": self.zip_bytes,
            "unzipped": self.unzipped_bytes,
            "extra_unzipped": self.extra_unzipped,
            "unzipped_total": self.unzipped_bytes + self.extra_unzipped,
            "zip_max": self.zip_max,
            "unzipped_max": self.unzipped_max,
        }


@dataclass(frozen=True)
class Report:
    artifact: str
    profile: RuntimeProfile
    policy: Policy
    engine_kind: str | None
    files: tuple[FileReport, ...]
    findings: tuple[Finding, ...]
    checks: Mapping[str, Verdict]
    sizes: Sizes

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def verdict(self) -> Verdict:
        verdicts = [*self.checks.values(), *(f.verdict for f in self.files)]
        return max(verdicts, key=_RANK.__getitem__, default="pass")

    @property
    def runtime_label(self) -> str:
        return _runtime_label(self.profile)

    def to_json(self) -> dict[str, Any]:
        profile = self.profile
        return {
            "version": REPORT_VERSION,
            "ok": self.ok,
            "verdict": self.verdict,
            "artifact": self.artifact,
            "platform": profile.platform.key,
            "runtime": profile.runtime.name,
            "arch": profile.arch,
            "os": {"key": profile.os.key, "name": profile.os.name, "libc": profile.os.libc, "glibc": profile.os.glibc},
            "target": profile.target,
            "accepted_targets": sorted(profile.accepted_targets),
            "engine": self.engine_kind or "client",
            "policy": {
                "os": self.policy.key,
                "symbols": dict(self.policy.symbols),
                "openssl": self.policy.openssl.version,
                "uncertain": list(self.policy.uncertain),
            },
            "summary": {"errors": len(self.errors), "warnings": len(self.warnings), "files": len(self.files)},
            "checks": dict(self.checks),
            "sizes": self.sizes.to_json(),
            "files": [f.to_json() for f in self.files],
            "findings": [f.to_json() for f in self.findings],
        }


def _runtime_label(profile: RuntimeProfile) -> str:
    return f"{profile.platform.title} {profile.runtime.name} ({profile.os.name}, {profile.arch})"


# ---------------------------------------------------------------------------------------------- artifacts


@dataclass(frozen=True)
class _Entry:
    path: str
    size: int
    mode: int | None  # permission bits; None when the zip stores no Unix mode
    symlink: bool = False


class _Artifact(Protocol):
    zip_bytes: int | None

    def entries(self) -> list[_Entry]: ...

    def read(self, entry: _Entry, limit: int | None = None) -> bytes: ...

    def native(self, entry: _Entry) -> IO[bytes]: ...


class _ZipArtifact:
    def __init__(self, path: Path) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise ProjectError(
                f"cannot read {path} as a zip file: {err}",
                hint="give a deployment zip or an unpacked directory",
            ) from None
        self.zip_bytes: int | None = path.stat().st_size

    def close(self) -> None:
        self._zip.close()

    def entries(self) -> list[_Entry]:
        out: list[_Entry] = []
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            unix = info.external_attr >> 16
            mode = stat.S_IMODE(unix) if (unix or info.create_system == 3) else None
            out.append(_Entry(info.filename, info.file_size, mode, symlink=stat.S_ISLNK(unix)))
        return out

    def read(self, entry: _Entry, limit: int | None = None) -> bytes:
        with self._zip.open(entry.path) as fh:
            return fh.read() if limit is None else fh.read(limit)

    def native(self, entry: _Entry) -> IO[bytes]:
        """The entry unpacked into an anonymous temp file (pyelftools seeks back and forth; a deflated zip
        entry can only be read forwards), at most MAX_NATIVE_BYTES of it, never the whole entry in memory."""
        spill = tempfile.TemporaryFile()  # noqa: SIM115 - returned to the caller, who closes it
        try:
            with self._zip.open(entry.path) as fh:
                copied = 0
                while chunk := fh.read(_COPY_CHUNK):
                    copied += len(chunk)
                    if copied > MAX_NATIVE_BYTES:
                        raise ValueError(f"unpacks to more than {format_size(MAX_NATIVE_BYTES)}, "
                                         "more than verify reads of one native file")
                    spill.write(chunk)
            spill.seek(0)
        except BaseException:
            spill.close()
            raise
        return spill


class _DirArtifact:
    def __init__(self, path: Path) -> None:
        self.root = path
        self.zip_bytes: int | None = None

    def close(self) -> None:
        pass

    def entries(self) -> list[_Entry]:
        out: list[_Entry] = []
        pending = [""]  # folders still to list, relative to the root (iterative: any depth)
        while pending:
            prefix = pending.pop()
            folder = self.root / prefix if prefix else self.root
            try:
                with os.scandir(folder) as listing:
                    items = sorted(listing, key=lambda e: e.name)
            except OSError as err:
                raise ProjectError(f"cannot read folder {folder}: {err.strerror}",
                                   hint="make it readable, or verify the zip instead") from None
            for item in items:
                rel = prefix + item.name
                if item.is_dir(follow_symlinks=False):
                    pending.append(rel + "/")
                    continue
                try:
                    st = item.stat()
                except OSError:  # dangling symlink
                    out.append(_Entry(rel, 0, None, symlink=True))
                    continue
                if stat.S_ISREG(st.st_mode):  # a symbolic link to a file counts as that file
                    out.append(_Entry(rel, st.st_size, stat.S_IMODE(st.st_mode)))
        return out

    def read(self, entry: _Entry, limit: int | None = None) -> bytes:
        with (self.root / entry.path).open("rb") as fh:
            return fh.read() if limit is None else fh.read(limit)

    def native(self, entry: _Entry) -> IO[bytes]:
        return (self.root / entry.path).open("rb")  # a regular file (entries() keeps no others): seekable


def _open_artifact(path: Path) -> _ZipArtifact | _DirArtifact:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ProjectError(f"{path} does not exist", hint="give a deployment zip or an unpacked directory") from None
    except OSError as err:
        raise ProjectError(f"cannot read {path}: {err.strerror}",
                           hint="give a deployment zip or an unpacked directory") from None
    if stat.S_ISDIR(st.st_mode):
        return _DirArtifact(path)
    if not stat.S_ISREG(st.st_mode):
        raise ProjectError(f"{path} is not a regular file but {_file_kind(st.st_mode)}",
                           hint="give a deployment zip or an unpacked directory")
    return _ZipArtifact(path)


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def unzipped_size(path: Path) -> int:
    """Bytes a zip or directory takes once extracted (e.g. a layer deployed with a function)."""
    artifact = _open_artifact(path)
    try:
        return sum(e.size for e in artifact.entries())
    finally:
        artifact.close()


_READ_ERRORS = (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError)


# ---------------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class _Context:
    """Everything a file check needs: the runtime, its policy, and the artifact's other files."""

    profile: RuntimeProfile
    policy: Policy
    interpreter: str
    system: frozenset[str]
    index: frozenset[str]
    elves: Mapping[str, ElfFacts]
    links: Mapping[str, str] = field(default_factory=dict)

    @property
    def os_name(self) -> str:
        return self.profile.os.name


def _context(
    profile: RuntimeProfile, policies: Policies, index: frozenset[str], elves: Mapping[str, ElfFacts],
    links: Mapping[str, str],
) -> _Context:
    policy = policies.for_os(profile.os.key)
    interpreter = policies.interpreter(policy.libc, profile.arch)
    return _Context(
        profile=profile,
        policy=policy,
        interpreter=interpreter,
        system=policy.system_libraries(profile.arch, interpreter),
        index=index,
        elves=elves,
        links=links,
    )


_SYSTEM = "@system"


def _artifact_dir(entry: str, origin: str) -> str | None:
    """A search-path entry as a directory inside the artifact, or None when it points outside."""
    expanded = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
    if expanded.startswith("/") or "$" in expanded:
        return None
    normal = posixpath.normpath(expanded) if expanded else "."
    if normal == ".." or normal.startswith("../"):
        return None
    return "" if normal == "." else normal


def _resolve(path: str, facts: ElfFacts, name: str, ctx: _Context) -> str | None:
    """Where the loader finds DT_NEEDED `name`: _SYSTEM, a path inside the artifact, or None."""
    if "/" in name:
        return None
    origin = posixpath.dirname(path)
    steps: list[str | None] = []
    if facts.rpath and not facts.runpath:
        steps += [_artifact_dir(d, origin) for d in facts.rpath]
    steps += [_SYSTEM if d == _SYSTEM else _artifact_dir(d, "") for d in ctx.policy.search_path]
    steps += [_artifact_dir(d, origin) for d in facts.runpath]
    steps.append(_SYSTEM)
    for step in steps:
        if step is None:
            continue
        if step == _SYSTEM:
            if name in ctx.system:
                return _SYSTEM
            continue
        candidate = posixpath.join(step, name) if step else name
        if candidate in ctx.index:
            return ctx.links.get(candidate, candidate)
    return None


def _search_description(ctx: _Context) -> str:
    parts = ["system" if d == _SYSTEM else (f"{d}/" if d else "the artifact root") for d in ctx.policy.search_path]
    return ", ".join(parts) + ", RPATH/RUNPATH"


def _check_arch(path: str, facts: ElfFacts, ctx: _Context) -> list[Finding]:
    if facts.arch == ctx.profile.arch and facts.elf_class == 64 and facts.little_endian:
        return []
    return [
        Finding(
            path, "arch", "error", f"built for {facts.arch} ({facts.elf_class}-bit {facts.machine})",
            has=f"{ctx.profile.runtime.name} runs on {ctx.profile.arch}",
        )
    ]


def _check_libc(path: str, facts: ElfFacts, ctx: _Context) -> list[Finding]:
    libc = facts.libc
    if libc in ("none", "unknown"):
        return []
    if libc != ctx.policy.libc:
        via = f"interpreter {facts.interpreter}" if facts.interpreter else f"needs {', '.join(facts.needed)}"
        return [
            Finding(
                path, "libc", "error", f"needs {libc} ({via})",
                has=f"{ctx.os_name} has {ctx.policy.libc}, loader {ctx.interpreter}",
            )
        ]
    if facts.interpreter and facts.interpreter != ctx.interpreter:
        return [
            Finding(
                path, "libc", "error", f"asks for the loader {facts.interpreter}",
                has=f"{ctx.os_name}'s loader is {ctx.interpreter}",
            )
        ]
    return []


def _check_libraries(path: str, facts: ElfFacts, ctx: _Context) -> tuple[list[Finding], dict[str, str | None]]:
    found = {name: _resolve(path, facts, name, ctx) for name in facts.needed}
    missing = [name for name, where in found.items() if where is None]
    if not missing:
        return [], found
    ssl = [m for m in missing if m.startswith(("libssl.", "libcrypto."))]
    if ssl:
        has = f"{ctx.os_name} has OpenSSL {ctx.policy.openssl.version} ({', '.join(ctx.policy.openssl.sonames)})"
    else:
        has = "system libraries: " + ", ".join(sorted(ctx.system))
    finding = Finding(
        path, "libraries", "error",
        f"needs {', '.join(missing)}: not a system library of {ctx.os_name} and not shipped where the loader "
        f"looks ({_search_description(ctx)})",
        has=has,
    )
    return [finding], found


def _symbol_allowed(ns: str, number: str, policy: Policy) -> bool:
    if ns == "OPENSSL":
        return policy.openssl.allows(number)
    highest = policy.symbols.get(ns)
    return highest is not None and version_key(number) <= version_key(highest)


def _symbol_has(ns: str, policy: Policy, os_name: str) -> str:
    if ns == "OPENSSL":
        text = f"{os_name} has OpenSSL {policy.openssl.version} ({', '.join(policy.openssl.sonames)})"
        uncertain = policy.is_uncertain("openssl.version")
    elif ns in policy.symbols:
        text = f"{os_name} has {ns} up to {ns}_{policy.symbols[ns]}"
        uncertain = policy.is_uncertain(f"symbols.{ns}")
    else:
        text = f"{os_name} has no {ns} symbol versions ({policy.libc})"
        uncertain = False
    return text + (" (uncertain number: see platforms/policies.toml)" if uncertain else "")


def _check_symbols(path: str, facts: ElfFacts, found: Mapping[str, str | None], ctx: _Context) -> list[Finding]:
    findings: list[Finding] = []
    failing: dict[str, tuple[str, str]] = {}  # namespace -> (highest failing number, library)
    unknown: dict[str, str] = {}
    for library, version in facts.required_versions():
        where = found[library] if library in found else _resolve(path, facts, library, ctx)
        if where is None:
            continue  # reported by the libraries check
        if where != _SYSTEM:
            shipped = ctx.elves.get(where)
            if shipped is not None and shipped.version_defs and version not in shipped.version_defs:
                findings.append(
                    Finding(
                        path, "symbols", "error",
                        f"needs {version} from {library}, which the shipped {where} does not define",
                        has=f"{where} defines {', '.join(shipped.version_defs)}",
                    )
                )
            continue
        split = split_version(version)
        if split is None:
            if version in ctx.policy.openssl.tags:
                continue
            if version == "GLIBC_PRIVATE":
                findings.append(
                    Finding(
                        path, "symbols", "error", f"needs GLIBC_PRIVATE from {library}",
                        has="GLIBC_PRIVATE symbols belong to one glibc build and are never portable",
                    )
                )
            else:
                unknown.setdefault(version, library)
            continue
        ns, number = split
        if ns not in ctx.policy.symbols and ns not in ("OPENSSL", "GLIBC"):
            unknown.setdefault(version, library)
            continue
        if not _symbol_allowed(ns, number, ctx.policy) and (
            ns not in failing or version_key(number) > version_key(failing[ns][0])
        ):
            failing[ns] = (number, library)
    for ns, (number, library) in sorted(failing.items()):
        findings.append(
            Finding(
                path, "symbols", "error", f"needs {ns}_{number} (from {library})",
                has=_symbol_has(ns, ctx.policy, ctx.os_name),
            )
        )
    for version, library in sorted(unknown.items()):
        findings.append(
            Finding(
                path, "symbols", "warning",
                f"needs {version} from {library}; the {ctx.policy.key} policy does not cover it, so it is not checked",
                has=f"{ctx.os_name}: unknown",
                fix="check the file on the runtime itself (photon-bundle bundle --engine-source docker builds there)",
            )
        )
    return findings


def _file_findings(path: str, facts: ElfFacts, ctx: _Context) -> dict[str, list[Finding]]:
    """The independent ELF checks of one file against one runtime (no exec bit: that is the artifact's)."""
    libraries, found = _check_libraries(path, facts, ctx)
    return {
        "arch": _check_arch(path, facts, ctx),
        "libc": _check_libc(path, facts, ctx),
        "libraries": libraries,
        "symbols": _check_symbols(path, facts, found, ctx),
    }


def _passes(path: str, facts: ElfFacts, ctx: _Context) -> bool:
    return not any(f.severity == "error" for fs in _file_findings(path, facts, ctx).values() for f in fs)


def _alternatives(path: str, facts: ElfFacts, ctx: _Context, policies: Policies) -> str:
    """'or use runtime X' for the oldest other runtime of the platform where this file passes."""
    profile = ctx.profile
    runtimes = _preferred_runtimes(profile)
    candidates: list[tuple[Runtime, Arch]] = [(r, profile.arch) for r in runtimes if r != profile.runtime]
    if facts.arch != profile.arch and facts.arch in ARCHES:
        candidates += [(r, facts.arch) for r in runtimes]
    for runtime, arch in candidates:
        if arch not in runtime.archs:
            continue
        other = profile_for(runtime, profile.platform, arch)
        if _passes(path, facts, _context(other, policies, ctx.index, ctx.elves, ctx.links)):
            flag = "" if arch == profile.arch else f" --arch {arch}"
            return f"or deploy on runtime {runtime.name}{flag} ({runtime.os.name})"
    return ""


def _preferred_runtimes(profile: RuntimeProfile) -> list[Runtime]:
    """The platform's runtimes, supported ones first, each group oldest first."""
    matrix = load_matrix()
    if profile.platform.key not in matrix.platforms:  # a profile built by hand (e.g. a Docker base image)
        return []
    return sorted(matrix.runtimes_for(profile.platform.key), key=lambda r: r.deprecated)


def _engine_fix(profile: RuntimeProfile) -> str:
    image = profile.image
    docker = f" or bundle with --engine-source docker (takes the engine from {image})" if image else ""
    return (
        f'set binaryTargets = ["native", "{profile.target}"] in the generator block of schema.prisma and run '
        f"prisma generate,{docker}"
    ).rstrip(",")


def _refetch_fix(profile: RuntimeProfile) -> str:
    """For an engine named for the right target whose content is not built for it (renamed, or corrupted)."""
    docker = f", or --engine-source docker to take it from {profile.image}" if profile.image else ""
    return (
        f"the file is named for {profile.target} but is not a working {profile.target} engine: bundle again with "
        f"--engine-source mirror{docker}"
    )


def _rebuild_fix(path: str, profile: RuntimeProfile) -> str:
    where = f"inside {profile.image}" if profile.image else f"on {profile.os.name}"
    return f"rebuild {posixpath.basename(path)} for {profile.os.name} on {profile.arch} (npm rebuild {where})"


def _with_fix(finding: Finding, fix: str) -> Finding:
    if finding.fix:
        return finding
    return Finding(finding.file, finding.check, finding.severity, finding.message, finding.has, fix)


def _foreign_prebuild(path: str, profile: RuntimeProfile) -> str | None:
    """Why a file in a prebuilds/<platform>-<arch>/ folder is never loaded on this runtime, if it is not."""
    m = _PREBUILD.search(path)
    if not m:
        return None
    wanted = _NODE_ARCH[profile.arch]
    if m.group("platform") != "linux" or m.group("arch") != wanted:
        return f"prebuild for {m.group('platform')}-{m.group('arch')}; node-gyp-build loads linux-{wanted} only"
    name = posixpath.basename(path)
    if ".musl." in name and profile.os.libc != "musl":
        return f"musl prebuild; {profile.os.name} uses {profile.os.libc}"
    if ".glibc." in name and profile.os.libc != "glibc":
        return f"glibc prebuild; {profile.os.name} uses {profile.os.libc}"
    return None


def _role(name: str, engine: EngineName | None, facts: ElfResult | None) -> str:
    if is_cli_engine(name):
        return "cli-engine"
    if engine is not None:
        return "engine"
    if name.endswith(".node"):
        return "addon"
    if isinstance(facts, ElfFacts):
        return "executable" if facts.is_executable else "library"
    if _SHARED_LIB.search(name):
        return "library"
    return "elf"


# ---------------------------------------------------------------------------------------------- verify


@dataclass
class _Scanned:
    entry: _Entry
    engine: EngineName | None
    facts: ElfResult | None
    role: str
    read_error: str | None = None


def _scan(artifact: _Artifact, entries: list[_Entry],
          heads: Mapping[str, bytes] | None = None) -> tuple[list[_Scanned], dict[str, str]]:
    """Read the facts of every ELF file (and every file named like a native one).

    heads: the first bytes of each entry as the zip writer saw them, so that a zip just written need not
    be read entry by entry to tell ELF files apart; entries missing from it are read."""
    scanned: list[_Scanned] = []
    links: dict[str, str] = {}
    for entry in entries:
        name = posixpath.basename(entry.path)
        # in a directory, a symbolic link to a file reads like the file itself; in a zip it holds the target
        if entry.symlink and isinstance(artifact, _ZipArtifact):
            try:
                target = artifact.read(entry, MAX_LINK_BYTES).decode("utf-8", "replace")
            except _READ_ERRORS:
                continue
            links[entry.path] = posixpath.normpath(posixpath.join(posixpath.dirname(entry.path), target))
            continue
        engine = parse_engine_filename(name)
        candidate_by_name = engine is not None or name.endswith(".node") or bool(_SHARED_LIB.search(name))
        try:
            known = heads.get(entry.path) if heads is not None else None
            head = known if known is not None else artifact.read(entry, 16) if entry.size else b""
            if not is_elf(head) and not candidate_by_name and not is_cli_engine(name):
                continue
            facts: ElfResult = _read_native(artifact, entry) if is_elf(head) else NotElf(
                entry.path, guess_format(head)
            )
        except _READ_ERRORS as err:
            scanned.append(_Scanned(entry, engine, None, _role(name, engine, None), read_error=str(err)))
            continue
        scanned.append(_Scanned(entry, engine, facts, _role(name, engine, facts)))
    return scanned, links


def _read_native(artifact: _Artifact, entry: _Entry) -> ElfResult:
    """The ELF facts of one entry, read through a seekable file; never more than MAX_NATIVE_BYTES of it."""
    if entry.size > MAX_NATIVE_BYTES:
        raise ValueError(f"it is {format_size(entry.size)}, more than the {format_size(MAX_NATIVE_BYTES)} verify "
                         "reads of one native file (not inspected)")
    with artifact.native(entry) as fh:
        return read_elf(fh, entry.path)


def _path_findings(entries: Iterable[_Entry]) -> list[Finding]:
    """Entries that would land outside the folder the artifact is unpacked in: absolute or with '..'."""
    findings: list[Finding] = []
    for entry in entries:
        parts = re.split(r"[/\\]", entry.path)
        absolute = entry.path.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", entry.path))
        if absolute or ".." in parts:
            findings.append(Finding(
                entry.path, "paths", "error",
                f"{'is an absolute path' if absolute else 'climbs out with ..'}: unpacking the artifact would write "
                f"it outside the function's folder (zip slip), or the platform rejects the zip",
                fix="rebuild the zip with paths relative to the function's root (photon-bundle bundle writes only "
                    "those)"))
    return findings


def verify_artifact(
    path: Path,
    profile: RuntimeProfile,
    *,
    engine_kind: str | None = "auto",
    extra_unzipped: int = 0,
    limits: tuple[int | None, int | None] | None = None,
    policies: Policies | None = None,
    heads: Mapping[str, bytes] | None = None,
) -> Report:
    """Check a deployment zip or an unpacked directory against one runtime.

    engine_kind: "auto" expects the target's binary or library engine, "binary" / "library" that kind,
    None or "client" no native engine (Prisma 7 / engineType client). extra_unzipped: bytes of other
    artifacts deployed with this one (layers) for the combined unzipped limit. limits: (zip_max,
    unzipped_max) overriding the platform's; None entries mean no limit. heads: see _scan.
    """
    if engine_kind == "client":
        engine_kind = None
    if engine_kind is not None and engine_kind not in ENGINE_KINDS:
        raise ConfigError(f"unknown engine kind {engine_kind!r}", hint=f"use one of: {', '.join(ENGINE_KINDS)}")
    policies = policies or load_policies()
    artifact = _open_artifact(path)
    try:
        entries = artifact.entries()
        scanned, links = _scan(artifact, sorted(entries, key=lambda e: e.path), heads)
        zip_bytes = artifact.zip_bytes
    finally:
        artifact.close()
    index = frozenset(e.path for e in entries)
    elves = {s.entry.path: s.facts for s in scanned if isinstance(s.facts, ElfFacts)}
    ctx = _context(profile, policies, index, elves, links)

    findings: list[Finding] = []
    linked = {p: t for p, t in links.items() if parse_engine_filename(posixpath.basename(p)) is not None}
    engine_findings, loaded_engines = _engine_checks(scanned, profile, engine_kind, linked)
    findings += engine_findings
    path_findings = _path_findings(entries)
    findings += path_findings
    files: list[FileReport] = []
    for item in scanned:
        report, file_findings = _check_scanned(item, ctx, policies, loaded_engines)
        files.append(report)
        findings += file_findings
    size_findings, sizes = _size_checks(entries, zip_bytes, extra_unzipped, limits, profile)
    findings += size_findings
    checks: dict[str, Verdict] = {"engine": _verdict(engine_findings), "size": _verdict(size_findings),
                                  "paths": _verdict(path_findings)}
    order = {c: i for i, c in enumerate((*ARTIFACT_CHECKS, *FILE_CHECKS))}
    findings.sort(key=lambda f: (f.severity != "error", f.file, order.get(f.check, 99)))
    return Report(
        artifact=str(path),
        profile=profile,
        policy=ctx.policy,
        engine_kind=engine_kind,
        files=tuple(files),
        findings=tuple(findings),
        checks=checks,
        sizes=sizes,
    )


def _verdict(findings: Iterable[Finding]) -> Verdict:
    severities = {f.severity for f in findings}
    return "fail" if "error" in severities else "warn" if "warning" in severities else "pass"


def _engine_checks(
    scanned: list[_Scanned], profile: RuntimeProfile, engine_kind: str | None, linked: Mapping[str, str] | None = None
) -> tuple[list[Finding], set[str]]:
    """The target's engine is present and is the only query engine; returns findings and the loaded engines.
    linked: engines stored in a zip as symbolic links (path -> target)."""
    findings: list[Finding] = []
    engines = [s for s in scanned if s.engine is not None and s.role == "engine"]
    kinds = ("binary", "library") if engine_kind == "auto" else (engine_kind,)
    accepted = profile.accepted_targets
    loaded = [s for s in engines if engine_kind is not None and s.engine is not None and s.engine.target in accepted
              and s.engine.kind in kinds]
    as_links = [(path, target) for path, target in (linked or {}).items()
                if (parsed := parse_engine_filename(posixpath.basename(path))) is not None
                and parsed.target in accepted and parsed.kind in kinds]
    if engine_kind is not None and not loaded and as_links:
        path, target = as_links[0]
        findings.append(
            Finding(
                path, "engine", "error",
                f"the query engine for {profile.target} is a symbolic link in the zip (to {target}), not the file",
                has="the runtime loads the engine file; a link is unpacked as a link or not at all, and verify "
                    "cannot check what it points to",
                fix="store the engine file itself in the zip (zip without -y; photon-bundle bundle stores files)",
            )
        )
    elif engine_kind is not None and not loaded:
        expected = " or ".join(engine_filename(k, profile.target) for k in kinds)  # type: ignore[arg-type]
        found = ", ".join(s.entry.path for s in engines) or "no query engine"
        findings.append(
            Finding(
                "", "engine", "error",
                f"the query engine for {profile.target} is missing (expected {expected})",
                has=f"found: {found}",
                fix=_engine_fix(profile) + "; if the project uses engineType = \"client\", verify with --engine client",
            )
        )
    if len({s.engine.kind for s in loaded if s.engine}) > 1:
        findings.append(
            Finding(
                "", "engine", "error",
                f"both a binary and a library engine for {profile.target}: Prisma loads one of them",
                has=", ".join(s.entry.path for s in loaded),
                fix='keep the one matching the generator\'s engineType (or pass --engine binary / --engine library)',
            )
        )
    elif len(loaded) > 1:
        findings.extend(
            Finding(
                s.entry.path, "engine", "warning", f"another copy of the {profile.target} engine",
                has=f"{len(loaded)} copies in the artifact",
                fix="keep the copy next to the generated client; exclude the others",
            )
            for s in loaded[1:]
        )
    loaded_paths = {s.entry.path for s in loaded}
    for s in engines:
        if s.entry.path in loaded_paths or s.engine is None:
            continue
        if engine_kind is None:
            findings.append(
                Finding(
                    s.entry.path, "engine", "warning",
                    f"engineType client loads no native engine: this {s.engine.kind} engine is dead weight "
                    f"({format_size(s.entry.size)})",
                    fix="exclude it from the artifact",
                )
            )
            continue
        why = (
            f"a {s.engine.kind} engine, but the expected engine type is {engine_kind}"
            if s.engine.target in accepted
            else f"the query engine for {s.engine.target}, not for this runtime's {profile.target}: never loaded"
        )
        alternatives = [
            r.name
            for r in _preferred_runtimes(profile)
            if profile.arch in r.archs
            and s.engine.target in profile_for(r, profile.platform, profile.arch).accepted_targets
        ]
        alt = f"; or deploy on runtime {alternatives[0]}, which uses {s.engine.target}" if alternatives else ""
        findings.append(
            Finding(
                s.entry.path, "engine", "error", why,
                has=f"{_runtime_label(profile)} needs {profile.target}",
                fix=_engine_fix(profile) + f"; remove {posixpath.basename(s.entry.path)}" + alt,
            )
        )
    return findings, loaded_paths


def _check_scanned(
    item: _Scanned, ctx: _Context, policies: Policies, loaded_engines: set[str]
) -> tuple[FileReport, list[Finding]]:
    path, entry, facts = item.entry.path, item.entry, item.facts
    profile = ctx.profile
    role = item.role
    if item.engine is not None and role == "engine" and path not in loaded_engines:
        role = "engine-other"
    skipped: str | None = None
    if role == "engine-other":
        skipped = "query engine that this runtime never loads (see the engine check)"
    elif role == "cli-engine":
        skipped = "CLI-only engine, never run by the function"
    else:
        skipped = _foreign_prebuild(path, profile)
    if skipped is not None:
        findings: list[Finding] = []
        if role == "cli-engine":
            findings.append(
                Finding(
                    path, "engine", "warning", f"CLI-only engine, never used at run time ({format_size(entry.size)})",
                    fix="exclude it (photon-bundle bundle leaves CLI engines out)",
                )
            )
        return FileReport(path, role, facts, {}, entry.size, skipped=skipped), findings

    fix = _refetch_fix(profile) if role == "engine" else _rebuild_fix(path, profile)
    by_check: dict[str, list[Finding]] = {c: [] for c in FILE_CHECKS}
    if item.read_error is not None:
        by_check["elf"].append(Finding(path, "elf", "error", f"cannot be read: {item.read_error}",
                                       fix="write the artifact again"))
    elif isinstance(facts, NotElf):
        severity: Severity = "warning" if role in ("library", "elf") else "error"
        by_check["elf"].append(
            Finding(
                path, "elf", severity, f"is not an ELF file but {facts.format}",
                has=f"{profile.os.name} on {profile.arch} loads ELF files only",
                fix=fix if severity == "error" else "remove it if nothing loads it",
            )
        )
    elif isinstance(facts, BrokenElf):
        by_check["elf"].append(
            Finding(path, "elf", "error", f"is a broken ELF file: {facts.reason}",
                    fix="replace it with a complete copy (an interrupted download or copy?)")
        )
    elif isinstance(facts, ElfFacts):
        results = _file_findings(path, facts, ctx)
        alt = ""
        if any(f.severity == "error" for fs in results.values() for f in fs) and role != "engine":
            alt = _alternatives(path, facts, ctx, policies)
        for check, found in results.items():
            by_check[check] = [_with_fix(f, "; ".join(p for p in (fix, alt) if p)) for f in found]
    needs_exec = (item.engine is not None and item.engine.kind == "binary") or (
        isinstance(facts, ElfFacts) and facts.is_executable
    )
    if needs_exec and not entry.symlink:
        by_check["exec-bit"] = _check_exec(entry, role)
    checks: dict[str, Verdict] = {
        c: (_verdict(by_check[c]) if (c != "exec-bit" or needs_exec) else "skip") for c in FILE_CHECKS
    }
    if not isinstance(facts, ElfFacts):
        for c in ("arch", "libc", "libraries", "symbols"):
            checks[c] = "skip"
    return FileReport(path, role, facts, checks, entry.size), [f for fs in by_check.values() for f in fs]


def _check_exec(entry: _Entry, role: str) -> list[Finding]:
    if entry.mode is not None and entry.mode & 0o111:
        return []
    why = " (Prisma's chmod +x fails with EROFS/EACCES)" if role == "engine" else ""
    message = (
        "is not executable: the zip stores no Unix permissions for it"
        if entry.mode is None
        else f"is not executable (mode {entry.mode:04o})"
    )
    return [
        Finding(
            entry.path, "exec-bit", "error", message,
            has=f"the function's file system is read-only: it cannot be made executable there{why}",
            fix="chmod 755 it before zipping and write the zip with Unix permissions (photon-bundle bundle keeps them)",
        )
    ]


def _size_checks(
    entries: list[_Entry],
    zip_bytes: int | None,
    extra_unzipped: int,
    limits: tuple[int | None, int | None] | None,
    profile: RuntimeProfile,
) -> tuple[list[Finding], Sizes]:
    platform = profile.platform
    if limits is None:
        zip_max = platform.zip_max
        unzipped_max = None if platform.unzipped_max is None else platform.unzipped_max - platform.reserve
    else:
        zip_max, unzipped_max = limits
    unzipped = sum(e.size for e in entries)
    sizes = Sizes(zip_bytes, unzipped, extra_unzipped, zip_max, unzipped_max)
    findings: list[Finding] = []
    if zip_bytes is not None and zip_max is not None and zip_bytes > zip_max:
        findings.append(
            Finding(
                "", "size", "error",
                f"the zip is {format_size(zip_bytes)} ({zip_bytes} bytes), "
                f"over the limit by {zip_bytes - zip_max} bytes",
                has=f"{platform.title} takes zips up to {format_size(zip_max)} ({zip_max} bytes)",
                fix="move node_modules into a layer, leave out dev dependencies and CLI engines, "
                "or upload through S3 where the platform allows it",
            )
        )
    elif zip_bytes is not None and limits is None and platform.default_max and zip_bytes > platform.default_max:
        findings.append(
            Finding(
                "", "size", "warning",
                f"the zip is {format_size(zip_bytes)}, over the default limit of {format_size(platform.default_max)}",
                has=f"{platform.title} allows up to {format_size(zip_max or platform.default_max)} when configured",
                fix='raise config.maxLambdaSize in now.json (e.g. "50mb")',
            )
        )
    total = unzipped + extra_unzipped
    if unzipped_max is not None and total > unzipped_max:
        layers = f" with {extra_unzipped} bytes of layers" if extra_unzipped else ""
        reserve = platform.reserve if limits is None else 0
        findings.append(
            Finding(
                "", "size", "error",
                f"unzipped size is {format_size(total)} ({total} bytes{layers}), over the limit by "
                f"{total - unzipped_max} bytes",
                has=f"{platform.title} allows {format_size(unzipped_max)} ({unzipped_max} bytes) unzipped"
                + (f" ({reserve} bytes of it reserved by the platform)" if reserve else ""),
                fix="leave out dev dependencies, CLI engines and engines of other targets; prune node_modules",
            )
        )
    return findings, sizes


# ---------------------------------------------------------------------------------------------- human output


_CHECK_LABELS = {"elf": "elf", "arch": "arch", "libc": "libc", "libraries": "libs", "symbols": "symbols",
                 "exec-bit": "exec"}
_MARKS = {"pass": "ok", "warn": "warn", "fail": "FAIL", "skip": "-"}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def format_report(report: Report) -> str:
    """The report as a table and a list of findings, for people."""
    profile = report.profile
    os_ = profile.os
    libc = f"glibc {os_.glibc}" if os_.glibc else os_.libc
    lines = [
        f"verify {report.artifact}",
        f"  against {profile.platform.title} {profile.runtime.name} on {profile.arch}: {os_.name}, {libc}, "
        f"OpenSSL {os_.openssl}; engine target {profile.target} ({report.engine_kind or 'client'} engine)",
        "",
    ]
    if report.files:
        width = min(70, max(len("file"), *(len(f.path) for f in report.files)))
        header = ["file".ljust(width), "role".ljust(12), *(_CHECK_LABELS[c].ljust(7) for c in FILE_CHECKS), "verdict"]
        lines.append("  ".join(header))
        for f in report.files:
            cells = [_shorten(f.path, width).ljust(width), f.role.ljust(12)]
            cells += [_MARKS[f.checks.get(c, "skip")].ljust(7) for c in FILE_CHECKS]
            cells.append("skipped: " + f.skipped if f.skipped else _MARKS[f.verdict])
            lines.append("  ".join(cells).rstrip())
    else:
        lines.append("no native files found")
    s = report.sizes
    size_parts = []
    if s.zip_bytes is not None:
        size_parts.append(f"zip {format_size(s.zip_bytes)}" + (f" of {format_size(s.zip_max)}" if s.zip_max else ""))
    unz = f"unzipped {format_size(s.unzipped_bytes + s.extra_unzipped)}"
    if s.extra_unzipped:
        unz += f" (with {format_size(s.extra_unzipped)} of layers)"
    size_parts.append(unz + (f" of {format_size(s.unzipped_max)}" if s.unzipped_max else ""))
    lines += [
        "",
        f"artifact: engine {_MARKS[report.checks['engine']]} · size {_MARKS[report.checks['size']]} "
        f"({'; '.join(size_parts)})" + (f" · paths {_MARKS[report.checks['paths']]}" if "paths" in report.checks
                                         else ""),
    ]
    for title, group in (("errors", report.errors), ("warnings", report.warnings)):
        if not group:
            continue
        lines += ["", f"{title} ({len(group)}):"]
        for finding in group:
            lines.append(f"  {finding.file or '(artifact)'}  [{finding.check}]  {finding.message}")
            if finding.has:
                lines.append(f"      runtime: {finding.has}")
            if finding.fix:
                lines.append(f"      fix: {finding.fix}")
    verdict = "OK" if report.ok else "FAILED"
    counts = f"{_count(len(report.errors), 'error')}, {_count(len(report.warnings), 'warning')}"
    lines += ["", f"result: {verdict} ({counts})"]
    return "\n".join(lines)


__all__ = [
    "FILE_CHECKS",
    "FileReport",
    "Finding",
    "Report",
    "Sizes",
    "format_report",
    "unzipped_size",
    "verify_artifact",
]
