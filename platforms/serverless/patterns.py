"""Serverless' package patterns (micromatch globs, include/exclude) as gitignore lines, in order."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bundler.errors import ProjectError
from bundler.excludes import DEFAULT_EXCLUDES
from platforms.globs import expand_braces
from platforms.slsvars import Key, Resolver

# Serverless' defaultExcludes, applied before the user's patterns (which may put files back).
SLS_DEFAULT_EXCLUDES = (".git/**", ".gitignore", ".DS_Store", "npm-debug.log", "yarn-*.log", ".serverless/**",
                        ".serverless_plugins/**")


_EXTGLOB = re.compile(r"[!@+*?]\(")


@dataclass(frozen=True)
class Pattern:
    glob: str  # Serverless spelling: "!x" leaves out, "x" puts back
    where: str  # file:line, for errors


def package_patterns(r: Resolver, keys: Key) -> tuple[tuple[Pattern, ...], tuple[Pattern, ...]]:
    """(package.exclude as "!" patterns, package.include + package.patterns) at `keys` (service or function)."""
    out: dict[str, list[Pattern]] = {}
    for field in ("exclude", "include", "patterns"):
        fkeys = (*keys, "package", field)
        value = r.value(fkeys)
        out[field] = []
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise r.error(fkeys, "must be a list of glob patterns")
        for i, text in enumerate(value):
            if not text.strip() or text.strip() == "!":
                raise r.error((*fkeys, i), "empty pattern")
            glob = (text[1:] if text.startswith("!") else f"!{text}") if field == "exclude" else text
            out[field].append(Pattern(glob, r.where((*fkeys, i))))
    return tuple(out["exclude"]), (*out["include"], *out["patterns"])


def pattern_lines(patterns: Sequence[Pattern]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Serverless patterns, in order, as (Unit.excludes, Unit.includes) gitignore lines.

    Excludes: `!glob` -> `/glob`, `glob` -> `!/glob`, so the last matching pattern decides, as in Serverless.
    Includes (files forced in past "not used by this function"): the same order with the signs kept, then
    guards so that nothing below node_modules and none of the default secrets excludes is forced in. The
    pipeline puts --include after these lines, so the command line still wins over the file.
    """
    excludes: list[str] = []
    includes: list[str] = []
    for pattern in patterns:
        negated = pattern.glob.startswith("!")
        for line in gitignore_lines(pattern.glob[1:] if negated else pattern.glob, pattern.where):
            excludes.append(line if negated else f"!{line}")
            includes.append(f"!{line}" if negated else line)
    if not any(not p.glob.startswith("!") for p in patterns):
        return tuple(excludes), ()
    guards = ["!**/node_modules/**", *(f"!{d}" for d in DEFAULT_EXCLUDES)]
    return tuple(excludes), (*includes, *guards)


def gitignore_lines(glob: str, where: str) -> list[str]:
    """A micromatch glob (relative to the service folder) as anchored gitignore lines, braces expanded."""
    if _EXTGLOB.search(glob):
        raise ProjectError(f"{where}: pattern {glob!r}: extended globs like !(x) or @(a|b) are not supported",
                           hint="write one pattern per alternative")
    lines = []
    for one in expand_braces(glob, where):
        body = one.strip()
        while body.startswith("./"):
            body = body[2:]
        body = body.lstrip("/")
        if not body:
            raise ProjectError(f"{where}: empty pattern {glob!r}")
        lines.append("/" + body)
    return lines
