"""`--trace`: ship only the files each entry point can reach, instead of the whole production closure.

bundler/trace/imports.py reads what a file loads (tree-sitter), noderesolve.py resolves it as Node does in the
bundle's own tree, tracer.py follows it from the entry points. The pipeline's one hook is `traced_files`: the
file set of a unit, which the plan (PlanOptions.traced) keeps besides the generated client and the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bundler.errors import ConfigError
from bundler.plan import package_dir_of
from bundler.trace.noderesolve import Tree
from bundler.trace.tracer import Expanded, Site, Trace, Tracer
from bundler.walk import FileEntry

__all__ = ["Expanded", "Site", "Trace", "Tracer", "new_tracer", "trace_warnings", "traced_files"]

SITES_SHOWN = 3  # computed requires listed per package in a warning


def new_tracer(files: Iterable[FileEntry]) -> Tracer:
    return Tracer(Tree(files))


def traced_files(tracer: Tracer, entries: Iterable[str], relocate: Iterable[tuple[str, str]], unit: str,
                 node_major: int, generated: Mapping[str, bytes] | None = None) -> tuple[frozenset[str], list[str]]:
    """The files a unit's entry points reach on its runtime's Node major (archive paths mapped back to the tree
    through `relocate`; `generated`: the files the platform adds, such as an entry stub), and the trace's warnings
    (for the unit's plan)."""
    moves = tuple(relocate)
    rels = [_unrelocated(path, moves) for path in entries]
    if not rels:
        raise ConfigError(f"--trace: {unit or 'the function'} has no entry point to trace from",
                          hint="name it (--handler file.export on lambda, the function's file on the other "
                               "platforms), or bundle without --trace")
    found = tracer.trace(rels, node_major, generated)
    return found.files, trace_warnings(found)


def _unrelocated(path: str, moves: tuple[tuple[str, str], ...]) -> str:
    for old, new in moves:
        if path.startswith(new):
            return old + path[len(new):]
    return path


def trace_warnings(trace: Trace) -> list[str]:
    """One line per computed require of the app, one per dependency with computed requires, one per missing
    relative file of the app."""
    lines: list[str] = []
    by_package: dict[str, list[Site]] = {}
    globs = {e.site: e for e in trace.expanded}
    for site in trace.computed:
        package = package_dir_of(site.file)
        glob = globs.get(site)
        if package is None and glob is not None:
            lines.append(f"--trace: {site.file}:{site.line}: {site.text} has a computed argument: shipped the "
                         f"{len(glob.files)} file(s) matching {glob.glob}; add any other file it loads with --include")
        elif package is None:
            lines.append(f"--trace: {site.file}:{site.line}: {site.text} has a computed argument, so what it loads "
                         "is not traced; add those files with --include (or the platform's included-files setting)")
        else:
            by_package.setdefault(package, []).append(site)
    for package, sites in sorted(by_package.items()):
        shown = ", ".join(f"{s.file[len(package) + 1:]}:{s.line} {s.text}" for s in sites[:SITES_SHOWN])
        more = f" and {len(sites) - SITES_SHOWN} more" if len(sites) > SITES_SHOWN else ""
        lines.append(f"--trace: {package} loads modules by computed names ({shown}{more}); those are not traced "
                     "and ship only if reached otherwise: add what the function needs with --include")
    lines += [f"--trace: {s.file}:{s.line}: {s.text!r} resolves to no file in the bundle" for s in trace.missing]
    lines += [f"--trace: {rel} could not be read, so what it loads is not traced" for rel in trace.unreadable]
    return lines
