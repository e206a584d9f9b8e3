"""The fix texts: which runtime a failing file would run on, how to fetch the right engine, how to rebuild an
addon, a prebuild for another platform."""

from __future__ import annotations

import posixpath
import re

from bundler.elf import (
    ElfFacts,
)
from bundler.policies import Policies
from bundler.targets import ARCHES, Arch, Runtime, RuntimeProfile, load_matrix, profile_for
from bundler.verify.elfchecks import _passes
from bundler.verify.loader import _Context, _context
from bundler.verify.report import Finding

_NODE_ARCH = {"x86_64": "x64", "arm64": "arm64"}


_PREBUILD = re.compile(r"(?:^|/)prebuilds/(?P<platform>[a-z0-9]+)-(?P<arch>[a-z0-9]+)(?:[-+][^/]*)?/")


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
