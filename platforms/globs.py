"""minimatch / micromatch globs, in one place, for the platforms that name files by glob (now.json, vercel.json,
serverless.yml package patterns).

Brace expansion is bracex's (`a/{b,c{d,e}}.js`, `{1..3}` sequences; a group without a comma such as `{x}` is
literal, as in minimatch and micromatch), bounded by MAX_BRACE_EXPANSIONS; matching is wcmatch's with
globstar: `*` and `?` stay inside one path segment, `**` spans segments, `[...]` is a class (`[!...]` negated),
and a wildcard does not match a name starting with a dot unless the pattern spells the dot.
"""

from __future__ import annotations

import posixpath

import bracex
from wcmatch import glob as wcglob

from bundler.bounds import MAX_BRACE_EXPANSIONS, brace_overflow

# Braces are expanded first (bracex, bounded), so the matcher sees brace-free globs.
MATCH_FLAGS = wcglob.GLOBSTAR


def expand_braces(pattern: str, where: str = "") -> list[str]:
    """The brace-free globs a pattern stands for, in order; more than MAX_BRACE_EXPANSIONS of them is a
    ProjectError (`where` names the file)."""
    try:
        return list(bracex.expand(pattern, keep_escapes=True, limit=MAX_BRACE_EXPANSIONS))
    except bracex.ExpansionLimitException:
        raise brace_overflow(pattern, where) from None


def glob_match(pattern: str, path: str, where: str = "") -> bool:
    """Whether a project-relative path matches the glob (leading ./ and / of the glob ignored)."""
    return bool(_matcher(pattern, where).match(path))


def glob_files(pattern: str, files: list[str], where: str = "") -> list[str]:
    """The files the glob matches, in the order given."""
    matcher = _matcher(pattern, where)
    return [f for f in files if matcher.match(f)]


def _matcher(pattern: str, where: str) -> wcglob.WcMatcher[str]:
    return wcglob.compile([normalize(p) for p in expand_braces(pattern, where)], flags=MATCH_FLAGS)


def normalize(rel: str) -> str:
    """A config path as the platforms read it: relative to the project, no leading ./ or /."""
    rel = rel.strip()
    while rel.startswith(("./", "/")):
        rel = rel[2:] if rel.startswith("./") else rel[1:]
    return posixpath.normpath(rel) if rel else rel


def anchored_lines(pattern: str, where: str = "") -> tuple[str, ...]:
    """A platform glob (relative to the project) as anchored gitignore lines for Unit.includes/excludes."""
    return tuple("/" + normalize(p) for p in expand_braces(pattern, where) if normalize(p))


def brace_members(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern that is one brace group ("{a,b/**}" -> [a, b/**]), else [pattern]
    (what vercel.json's includeFiles is edited as: not an expansion, nested groups stay whole)."""
    if not (pattern.startswith("{") and pattern.endswith("}")):
        return [pattern]
    depth = 0
    members: list[str] = []
    current = ""
    for i, ch in enumerate(pattern):
        if ch == "{":
            depth += 1
            if depth == 1:
                continue
        elif ch == "}":
            depth -= 1
            if depth == 0:
                if i != len(pattern) - 1:
                    return [pattern]  # "{a,b}/{c,d}": not one group
                continue
        elif ch == "," and depth == 1:
            members.append(current)
            current = ""
            continue
        current += ch
    members.append(current)
    return members if len(members) > 1 else [pattern]


def join_members(members: list[str]) -> str:
    return members[0] if len(members) == 1 else "{" + ",".join(members) + "}"
