"""Bounded reading of the user's text files (package.json, schema.prisma, serverless.yml, now.json,
vercel.json, netlify.toml, up.json, photon-bundle.toml): what a hostile or broken file can cost.

* size: a file over MAX_TEXT_BYTES is refused before it is read, and so is anything that is not a
  regular file (a FIFO would block the read forever, /dev/zero never ends);
* nesting: a parser's RecursionError (deeply nested JSON, YAML or TOML) becomes a ProjectError naming
  the file, and a parsed document deeper than MAX_NESTING levels is refused before anything walks it
  recursively;
* size once parsed: YAML aliases share one node between many places, so a few KB can stand for billions
  of values (an "alias bomb"); a document of more than MAX_VALUES values, counting every alias as the
  values it stands for, is refused. The count is memoised per shared node, so it costs the document's
  real size.

* brace expansion: a pattern like "{a,b}{a,b}{a,b}..." stands for 2**n globs; one pattern may expand
  to at most MAX_BRACE_EXPANSIONS (brace_overflow makes the error).

All errors are ProjectError (exit 3, a malformed project file) naming the file and the bound.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bundler.errors import ProjectError

MAX_TEXT_BYTES = 16 * 1024 * 1024  # one config or manifest file of the project
MAX_NESTING = 200  # levels of mappings and lists in one parsed file
MAX_VALUES = 1_000_000  # values in one parsed file, each alias counted as what it stands for
MAX_BRACE_EXPANSIONS = 1024  # globs one pattern with {a,b} groups may stand for ({a,b}{c,d}... doubles each time)


def read_bounded(path: Path, limit: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; ProjectError otherwise. OSError passes through."""
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ProjectError(f"{path}: not a regular file", hint="replace it with a regular file")
        if st.st_size > limit:
            raise ProjectError(f"{path}: {st.st_size} bytes, more than the {limit // (1024 * 1024)} MiB "
                               "photon-bundle reads of one such file", hint="is this the right file? shorten it")
        data = fh.read(limit + 1)
    if len(data) > limit:  # grew while being read
        raise ProjectError(f"{path}: more than the {limit // (1024 * 1024)} MiB photon-bundle reads of one such file")
    return data


@contextmanager
def parser_depth(where: Path | str) -> Iterator[None]:
    """Turn a parser's RecursionError (a deeply nested document) into a ProjectError naming the file."""
    try:
        yield
    except RecursionError:
        raise ProjectError(f"{where}: nested too deeply to read (more than {MAX_NESTING} levels of lists or "
                           "mappings)", hint="flatten the structure; no real config needs that depth") from None


def check_flow_nesting(text: str, where: Path | str, max_depth: int = MAX_NESTING) -> None:
    """Refuse YAML text whose [ ] / { } nest deeper than max_depth, before the parser sees it (ruamel's
    scanner slows down quadratically with flow nesting, long before its recursion limit). Brackets in
    quoted strings and comments do not count."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    quote = ""
    previous = "\n"
    comment = False
    for ch in text:
        if comment:
            comment = ch != "\n"
        elif quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and previous in " \t\n":
            comment = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise ProjectError(f"{where}: nested more than {max_depth} levels deep",
                                   hint="flatten the structure; no real config needs that depth")
        elif ch in "]}":
            depth = max(depth - 1, 0)
        previous = ch


def check_shape(data: Any, where: Path | str, *, max_depth: int = MAX_NESTING, max_values: int = MAX_VALUES) -> None:
    """Refuse a parsed document nested deeper than max_depth or with more than max_values values (aliases
    counted as often as they are used). Iterative, memoised per node: bounded by the document's real size."""
    sizes: dict[int, int] = {}  # id(container) -> values below it, aliases expanded
    depths: dict[int, int] = {}  # id(container) -> levels below it
    # post-order walk: (node, children pushed?) pairs
    stack: list[tuple[Any, bool]] = [(data, False)]
    on_path: list[int] = []
    while stack:
        node, expanded = stack.pop()
        if not isinstance(node, (Mapping, list, tuple)):
            continue
        key = id(node)
        if expanded:
            on_path.pop()
            children = [c for c in _children(node) if isinstance(c, (Mapping, list, tuple))]
            total = len(node) + sum(sizes.get(id(c), 0) for c in children)
            depth = 1 + max((depths.get(id(c), 0) for c in children), default=0)
            sizes[key], depths[key] = min(total, max_values + 1), depth
            if total > max_values:
                raise ProjectError(
                    f"{where}: more than {max_values:,} values once its aliases (*name) are expanded",
                    hint="use fewer nested aliases; photon-bundle refuses documents that expand this much "
                         "(a YAML 'billion laughs')")
            continue
        if key in sizes:
            continue
        if key in on_path:  # a recursive alias (&a [*a]): infinite once expanded
            raise ProjectError(f"{where}: an alias refers to itself (a recursive structure)",
                               hint="remove the self-reference")
        on_path.append(key)
        if len(on_path) > max_depth:
            raise ProjectError(f"{where}: nested more than {max_depth} levels deep",
                               hint="flatten the structure; no real config needs that depth")
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node))


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, Mapping):
        for k, v in node.items():
            yield k
            yield v
    else:
        yield from node


def brace_overflow(pattern: str, where: str = "") -> ProjectError:
    shown = pattern if len(pattern) <= 120 else pattern[:100] + f"... ({len(pattern)} characters)"
    return ProjectError(f"{where + ': ' if where else ''}pattern {shown!r} expands to more than "
                        f"{MAX_BRACE_EXPANSIONS} globs ({{a,b}} groups multiply)",
                        hint="write fewer brace groups in one pattern, or several patterns")
