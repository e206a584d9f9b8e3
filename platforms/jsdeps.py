"""Which files and modules a function loads: a regex scanner over its local JavaScript files.

Starting from the function's entry file it finds `require('x')`, `require.resolve('x')`, `import ... from
'x'`, `import('x')` and `export ... from 'x'` with a literal string; relative specifiers are resolved the
way Node resolves them (file, file + extension, folder/package.json main, folder/index) and followed;
bare specifiers are reduced to their package name (`@scope/name` or `name`) and returned with the folder
of the file that requires them, so the dependency closure resolves them from there. Node's built-in
modules are skipped. Requires with computed names cannot be seen: such files go in `included_files`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

SCANNED = (".js", ".mjs", ".cjs")
EXTENSIONS = (".js", ".json", ".mjs", ".cjs", ".node")
BUILTINS = frozenset({
    "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto", "dgram",
    "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2", "https", "inspector", "module",
    "net", "os", "path", "perf_hooks", "process", "punycode", "querystring", "readline", "repl", "stream",
    "string_decoder", "sys", "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm", "wasi",
    "worker_threads", "zlib", "test", "sqlite",
})

_SPECIFIER = re.compile(
    r"""(?:\brequire(?:\.resolve)?\s*\(\s*|\bimport\s*\(\s*|\bimport\s+(?:[\w$*{}\s,]+?\s+from\s+)?"""
    r"""|\bexport\s+(?:[\w$*{}\s,]+?\s+from\s+))(['"])([^'"\n]+)\1"""
)


@dataclass(frozen=True)
class Scan:
    files: frozenset[str]  # local files the entry loads, relative to the root, the entry included
    modules: tuple[tuple[str, str], ...]  # (folder of the requiring file, package name), sorted
    missing: tuple[str, ...]  # relative requires that resolve to no file (warnings)


def specifiers(source: str) -> list[str]:
    return [m.group(2) for m in _SPECIFIER.finditer(source)]


def package_name(specifier: str) -> str | None:
    """`@s/p/x` -> `@s/p`, `lodash/fp` -> `lodash`; None for built-ins and `node:` modules."""
    if specifier.startswith("node:"):
        return None
    parts = specifier.split("/")
    name = "/".join(parts[:2]) if specifier.startswith("@") and len(parts) > 1 else parts[0]
    return None if name in BUILTINS else name


def scan(root: Path, entries: Iterable[str]) -> Scan:
    """Follow the entry files' relative requires below root; collect the packages they need."""
    files: set[str] = set()
    modules: set[tuple[str, str]] = set()
    missing: list[str] = []
    queue = list(entries)
    while queue:
        rel = queue.pop()
        if rel in files:
            continue
        files.add(rel)
        if not rel.endswith(SCANNED):
            continue
        try:
            source = (root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        folder = posixpath.dirname(rel)
        for spec in specifiers(source):
            if spec.startswith(("./", "../")) or spec in (".", ".."):
                target = resolve_relative(root, folder, spec)
                if target is None:
                    missing.append(f"{rel}: cannot find {spec!r}")
                else:
                    queue.append(target)
            elif not spec.startswith("/"):
                name = package_name(spec)
                if name:
                    modules.add((folder, name))
    return Scan(files=frozenset(files), modules=tuple(sorted(modules)), missing=tuple(sorted(missing)))


def function_scan(root: Path, entries: Iterable[str]) -> Scan:
    """scan() for a function of its own, with the root package.json among its files when there is one:
    Node reads its "type" (module or commonjs) and the platforms read it too."""
    found = scan(root, entries)
    if (root / "package.json").is_file():
        return replace(found, files=found.files | {"package.json"})
    return found


def resolve_relative(root: Path, folder: str, spec: str) -> str | None:
    """Node's resolution of a relative specifier to a file below root, or None."""
    target = posixpath.normpath(posixpath.join(folder, spec))
    if target.startswith("..") or target == ".":
        return None
    for candidate in (target, *(target + ext for ext in EXTENSIONS)):
        if (root / candidate).is_file():
            return candidate
    if (root / target).is_dir():
        main = _package_main(root / target / "package.json")
        if main:
            found = resolve_relative(root, target, "./" + main)
            if found:
                return found
        for ext in EXTENSIONS:
            if (root / target / f"index{ext}").is_file():
                return f"{target}/index{ext}"
    return None


def _package_main(path: Path) -> str | None:
    from bundler.project import package_json_data

    try:
        data = package_json_data(path)  # as node reads it: a BOM or a Latin-1 byte does not hide `main`
    except (OSError, ValueError, RecursionError):
        return None
    main = data.get("main") if isinstance(data, dict) else None
    return main if isinstance(main, str) and main else None
