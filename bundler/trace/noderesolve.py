"""Node's module resolution, over the tree the bundle will hold (FileEntry.rel: the npm-shaped tree).

Resolving in the bundle's own tree, not on disk, is the point: what the function finds at run time is what
matters, and the layout step (bundler/layout.py) already laid pnpm's store, workspace links and nested
versions out as the bundle holds them. Implemented from Node's documented algorithm (CommonJS
`require.resolve` and the ESM resolver's package rules):

* relative and absolute-in-tree specifiers: the file, then + .js / .json / .node, then the folder
  (package.json `main`, then index.js / .json / .node);
* bare specifiers: `node_modules/<name>` in the requiring file's folder and every parent; a package with
  `exports` is resolved through it only (subpaths, `*` patterns, nested conditions, arrays, null), with the
  conditions node, require|import, module-sync (Node 22+, so both outcomes ship) and default;
* `#name` specifiers through the nearest package.json's `imports`; a package loading itself by name.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bundler.project import package_json_data
from bundler.walk import FileEntry

FILE_EXTENSIONS = ("", ".js", ".json", ".node")
INDEX_FILES = ("index.js", "index.json", "index.node")
CONDITIONS = {"require": ("node", "require", "default"), "import": ("node", "import", "default")}
MODULE_SYNC = "module-sync"  # Node 20.19+ and 22.12+ also match this condition, for require and import alike
MODULE_SYNC_FROM = 20  # the runtimes' Node major from which it counts (both outcomes ship: the minor varies)
# Node's own modules (`require('module').builtinModules`, Node 20 and 22): `require('buffer')` never reads a
# package, even with one of that name installed; `require('buffer/')` does (a path, so not a builtin).
BUILTINS = frozenset({
    "_http_agent", "_http_client", "_http_common", "_http_incoming", "_http_outgoing", "_http_server",
    "_stream_duplex", "_stream_passthrough", "_stream_readable", "_stream_transform", "_stream_wrap",
    "_stream_writable", "_tls_common", "_tls_wrap", "assert", "assert/strict", "async_hooks", "buffer",
    "child_process", "cluster", "console", "constants", "crypto", "dgram", "diagnostics_channel", "dns",
    "dns/promises", "domain", "events", "fs", "fs/promises", "http", "http2", "https", "inspector",
    "inspector/promises", "module", "net", "os", "path", "path/posix", "path/win32", "perf_hooks", "process",
    "punycode", "querystring", "readline", "readline/promises", "repl", "stream", "stream/consumers",
    "stream/promises", "stream/web", "string_decoder", "sys", "timers", "timers/promises", "tls", "trace_events",
    "tty", "url", "util", "util/types", "v8", "vm", "wasi", "worker_threads", "zlib",
})


class Tree:
    """The bundle's files by path, their folders, and package.json contents read on demand."""

    def __init__(self, files: Iterable[FileEntry]) -> None:
        self.files: dict[str, FileEntry] = {f.rel: f for f in files}
        dirs: set[str] = {""}
        for rel in self.files:
            d = posixpath.dirname(rel)
            while d not in dirs:
                dirs.add(d)
                d = posixpath.dirname(d)
        self.dirs = frozenset(dirs)
        self._json: dict[str, dict[str, Any] | None] = {}

    def package_json(self, folder: str) -> dict[str, Any] | None:
        """The parsed package.json in `folder` ("" for the root), or None when there is none (or it is broken)."""
        rel = posixpath.join(folder, "package.json") if folder else "package.json"
        if rel not in self._json:
            entry = self.files.get(rel)
            data: object = None
            if entry is not None:
                try:
                    data = package_json_data(Path(entry.fspath))
                except (OSError, ValueError, RecursionError):
                    data = None
            self._json[rel] = data if isinstance(data, dict) else None
        return self._json[rel]

    def nearest_package_json(self, folder: str) -> str | None:
        """The folder of the package.json that governs files in `folder` (Node's package scope)."""
        d = folder
        while True:
            if (posixpath.join(d, "package.json") if d else "package.json") in self.files:
                return d
            if not d or posixpath.basename(d) == "node_modules":
                return None
            d = posixpath.dirname(d)


def split_bare(specifier: str) -> tuple[str, str]:
    """("@s/p", "./x") for "@s/p/x", ("lodash", ".") for "lodash"."""
    parts = specifier.split("/")
    n = 2 if specifier.startswith("@") and len(parts) > 1 else 1
    rest = "/".join(parts[n:])
    return "/".join(parts[:n]), ("./" + rest) if rest else "."


def is_builtin(specifier: str) -> bool:
    return specifier.startswith("node:") or specifier in BUILTINS


def resolve(tree: Tree, from_dir: str, specifier: str, kind: str, node_major: int) -> list[str]:
    """The files `specifier` loads from a file in `from_dir` on Node `node_major`: usually one; on Node 20+ two
    when a package's exports differ with module-sync (20.19+ and 22.12+ match it, earlier minors do not, and a
    runtime's minor moves under the function); none for Node's own modules and for what cannot be resolved."""
    if is_builtin(specifier):
        return []
    found: list[str] = []
    sets = [CONDITIONS[kind]] + ([(MODULE_SYNC, *CONDITIONS[kind])] if node_major >= MODULE_SYNC_FROM else [])
    for conditions in sets:
        hit = _resolve(tree, from_dir, specifier, conditions)
        if hit is not None and hit not in found:
            found.append(hit)
    return found


def _resolve(tree: Tree, from_dir: str, spec: str, conditions: tuple[str, ...]) -> str | None:
    spec = spec.split("?", 1)[0]
    if spec.startswith("file:") or spec.startswith("/"):
        return None  # absolute paths name files outside the bundle's tree
    if spec.startswith(("./", "../")) or spec in (".", ".."):
        target = posixpath.normpath(posixpath.join(from_dir, spec))
        return None if target.startswith("..") else _file_or_dir(tree, "" if target == "." else target)
    if spec.startswith("#"):
        return _imports(tree, from_dir, spec, conditions)
    name, subpath = split_bare(spec)
    scope = tree.nearest_package_json(from_dir)
    if scope is not None:  # a package loading itself by its own name, through its exports
        data = tree.package_json(scope) or {}
        if data.get("name") == name and "exports" in data:
            return _exports(tree, scope, data["exports"], subpath, conditions)
    d = from_dir
    while True:
        if posixpath.basename(d) != "node_modules":
            folder = posixpath.join(d, "node_modules", name) if d else f"node_modules/{name}"
            if folder in tree.dirs:
                data = tree.package_json(folder) or {}
                if "exports" in data and data["exports"] is not None:
                    return _exports(tree, folder, data["exports"], subpath, conditions)
                return _file_or_dir(tree, folder if subpath == "." else posixpath.join(folder, subpath[2:]))
        if not d:
            return None
        d = posixpath.dirname(d)


def _file_or_dir(tree: Tree, target: str) -> str | None:
    for ext in FILE_EXTENSIONS:
        if target + ext in tree.files:
            return target + ext
    if target not in tree.dirs:
        return None
    main = (tree.package_json(target) or {}).get("main")
    if isinstance(main, str) and main:
        path = posixpath.normpath(posixpath.join(target, main))
        for candidate in (path, *(path + e for e in FILE_EXTENSIONS[1:]), *(posixpath.join(path, i)
                                                                             for i in INDEX_FILES)):
            if candidate in tree.files:
                return candidate
    for index in INDEX_FILES:
        if posixpath.join(target, index) in tree.files:
            return posixpath.join(target, index) if target else index
    return None


def _imports(tree: Tree, from_dir: str, spec: str, conditions: tuple[str, ...]) -> str | None:
    scope = tree.nearest_package_json(from_dir)
    if scope is None:
        return None
    imports = (tree.package_json(scope) or {}).get("imports")
    if not isinstance(imports, dict):
        return None
    target = _match(imports, spec, conditions)
    if target is None:
        return None
    if target.startswith("./"):
        return _in_package(tree, scope, target)
    return _resolve(tree, scope, target, conditions)  # an imports target may name a package


def _exports(tree: Tree, folder: str, exports: object, subpath: str, conditions: tuple[str, ...]) -> str | None:
    if isinstance(exports, (str, list)) or (isinstance(exports, dict) and not any(
            isinstance(k, str) and k.startswith(".") for k in exports)):
        exports = {".": exports}
    if not isinstance(exports, dict):
        return None
    target = _match(exports, subpath, conditions)
    return None if target is None or not target.startswith("./") else _in_package(tree, folder, target)


def _in_package(tree: Tree, folder: str, target: str) -> str | None:
    path = posixpath.normpath(posixpath.join(folder, target))
    inside = path.startswith(folder + "/") if folder else not path.startswith("..")
    if not inside:
        return None
    return path if path in tree.files else None  # exports name files exactly: no extension or index search


def _match(table: Mapping[str, object], key: str, conditions: tuple[str, ...]) -> str | None:
    """Node's PACKAGE_IMPORTS_EXPORTS_RESOLVE: an exact key, else the `*` pattern with the longest prefix."""
    if key in table and "*" not in key:
        return _target(table[key], "", conditions)
    best: tuple[str, str] | None = None
    for pattern in table:
        star = pattern.find("*")
        if star < 0 or pattern.count("*") != 1:
            continue
        prefix, suffix = pattern[:star], pattern[star + 1:]
        if key.startswith(prefix) and key != prefix and key.endswith(suffix) and len(key) >= len(pattern) - 1 \
                and (best is None or len(prefix) > len(best[0].split("*", 1)[0])):
            best = (pattern, key[len(prefix): len(key) - len(suffix)])
    if best is None:
        return None
    return _target(table[best[0]], best[1], conditions)


def _target(target: object, star: str, conditions: tuple[str, ...]) -> str | None:
    if isinstance(target, str):
        return target.replace("*", star)
    if isinstance(target, list):
        for item in target:
            hit = _target(item, star, conditions)
            if hit is not None:
                return hit
        return None
    if isinstance(target, dict):
        for cond, value in target.items():
            if cond in conditions:
                hit = _target(value, star, conditions)
                if hit is not None:
                    return hit
    return None
