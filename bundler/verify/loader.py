"""Loader resolution: how the runtime's dynamic loader would find each needed library (the artifact's RPATH /
RUNPATH folders, then the runtime OS's own libraries)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from bundler.elf import (
    ElfFacts,
)
from bundler.policies import Policies, Policy
from bundler.targets import RuntimeProfile


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
