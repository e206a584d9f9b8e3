"""Follow what each entry point loads, file by file, through the bundle's tree.

From each entry file: parse it (bundler/trace/imports.py), resolve every literal specifier as Node would in
the bundle's tree (bundler/trace/noderesolve.py), and follow the files found. Besides the files reached, a
trace keeps the package.json Node reads for each of them (the package's own, which `exports`, `main` and
`type` come from, and the nearest one, which decides `type` for its folder), the generated client folders
no require names as a whole (implicit_modules.toml: `@prisma/client` -> `.prisma`), and the native addons of
packages that load them through a loader module (loaders.toml: `bindings`, `node-gyp-build`, ...).

What a trace cannot see, it reports: every require / import with a computed argument (file:line), and
relative specifiers of the app that resolve to no file. Files read with `fs` are invisible, as are modules
named only in configuration; `--include` and the platforms' included-files settings add them.
"""

from __future__ import annotations

import posixpath
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pathspec

from bundler.plan import package_dir_of
from bundler.resolve import Implicit, implicit_edges
from bundler.trace.imports import Imports, read_imports
from bundler.trace.noderesolve import Tree, is_builtin, resolve, split_bare

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LOADERS_FILE = Path(__file__).resolve().parent / "loaders.toml"
PARSED = (".js", ".cjs", ".mjs", ".jsx", ".ts", ".cts", ".mts", ".tsx")  # and files without an extension
MAX_EXPANDED = 200  # files a computed require's glob may add; a wider glob is only reported
RESOLVED_SUFFIXES = ("", ".js", ".json", ".node", "/index.js", "/index.json", "/index.node")


@dataclass(frozen=True)
class Site:
    """A place in a traced file: a computed require, an unresolved specifier."""

    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Expanded:
    """A computed require whose literal parts made a glob: the files it matched, shipped and followed."""

    site: Site
    glob: str  # relative to the tree
    files: tuple[str, ...]


@dataclass(frozen=True)
class Trace:
    files: frozenset[str]  # every file the entries reach, with the package.json files and generated folders
    computed: tuple[Site, ...]  # requires / imports with a computed argument (cannot be followed)
    expanded: tuple[Expanded, ...]  # those of them whose literal parts matched files (shipped and followed)
    missing: tuple[Site, ...]  # the app's relative specifiers that resolve to no file
    unreadable: tuple[str, ...]  # reached files that could not be read


def load_loaders(path: Path = LOADERS_FILE) -> dict[str, tuple[str, ...]]:
    """Loader module -> the file patterns, relative to the requiring package, it loads addons from."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return {str(item["module"]): tuple(str(f) for f in item["files"]) for item in data.get("loader", [])}


class Tracer:
    """Traces entry points through one tree; parsed files are remembered, so units share the work."""

    def __init__(self, tree: Tree, *, implicit: Implicit | None = None,
                 loaders: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.tree = tree
        self.implicit = implicit_edges() if implicit is None else implicit
        self.loaders = load_loaders() if loaders is None else loaders
        self._parsed: dict[str, Imports | None] = {}
        self._by_folder: dict[str, list[str]] | None = None

    def imports(self, rel: str) -> Imports | None:
        """The file's imports (None when it cannot be read)."""
        if rel not in self._parsed:
            entry = self.tree.files[rel]
            try:
                source = Path(entry.fspath).read_bytes()
            except OSError:
                self._parsed[rel] = None
            else:
                self._parsed[rel] = read_imports(source, rel)
        return self._parsed[rel]

    def trace(self, entries: Iterable[str], node_major: int, generated: Mapping[str, bytes] | None = None) -> Trace:
        """What the entry files reach on the runtime's Node major (it decides the exports conditions). `generated`:
        files the platform writes into the artifact (Netlify's entry stub that loads the function's own file)."""
        generated = generated or {}
        reached: set[str] = set()
        keep: set[str] = set()
        computed: list[Site] = []
        expanded: list[Expanded] = []
        missing: list[Site] = []
        unreadable: list[str] = []
        queue = [e for e in entries if e in self.tree.files or e in generated]
        while queue:
            rel = queue.pop()
            if rel in reached:
                continue
            reached.add(rel)
            self._package_files(rel, keep)
            if not rel.endswith(PARSED) and "." in posixpath.basename(rel):
                continue
            found = read_imports(generated[rel], rel) if rel in generated else self.imports(rel)
            if found is None:
                unreadable.append(rel)
                continue
            folder = posixpath.dirname(rel)
            for c in found.computed:
                site = Site(rel, c.line, c.call)
                computed.append(site)
                hit = self._expand(folder, c.pattern, site) if c.pattern else None
                if hit is not None:
                    expanded.append(hit)
                    queue += hit.files
            for asset in found.assets:
                queue += self._asset(folder, asset.pattern, node_major)
            for spec in found.specifiers:
                targets = resolve(self.tree, folder, spec.value, spec.kind, node_major)
                queue += targets
                if not targets and spec.value.startswith((".", "/")) and not _in_node_modules(rel):
                    missing.append(Site(rel, spec.line, spec.value))
                if not spec.value.startswith((".", "/", "#")) and not is_builtin(spec.value):
                    keep |= self._loaded_by(rel, split_bare(spec.value)[0])
        return Trace(files=frozenset(reached | keep), computed=tuple(sorted(set(computed), key=_site_key)),
                     expanded=tuple(sorted(set(expanded), key=lambda e: _site_key(e.site))),
                     missing=tuple(sorted(set(missing), key=_site_key)), unreadable=tuple(sorted(unreadable)))

    def _asset(self, folder: str, pattern: str, node_major: int) -> list[str]:
        """The files a `__dirname` path names: the file itself (or, as require would load it, with Node's
        extensions or a folder's index); with computed parts, the files its glob matches below a folder that is
        not the file's own or a parent. A folder named whole (`readdirSync`) is not expanded."""
        if "*" not in pattern:
            target = posixpath.normpath(posixpath.join(folder, pattern))
            if target in self.tree.files:
                return [target]
            return resolve(self.tree, folder, pattern, "require", node_major)
        hit = self._expand(folder, pattern, Site("", 0, ""), suffixes=("",))
        return list(hit.files) if hit is not None else []

    def _expand(self, folder: str, pattern: str, site: Site,
                suffixes: tuple[str, ...] = RESOLVED_SUFFIXES) -> Expanded | None:
        """The files a relative glob from a computed require matches (`*` within one path segment; the file as
        named, with Node's extensions, or a folder's index), unless its literal part is only the requiring file's
        folder or a parent (`./*`, `../*` would be everything there; `./format-*`, `../locales/*.json` are not).
        None when it matches nothing or more than MAX_EXPANDED files."""
        if not pattern.startswith(("./", "../")):
            return None
        glob = posixpath.normpath(posixpath.join(folder, pattern))
        literal = glob.split("*", 1)[0]
        base, stem = posixpath.split(literal)
        if glob.startswith("../") or not base or (not stem and (folder + "/").startswith(base + "/")):
            return None
        rx = re.compile("[^/]*".join(re.escape(part) for part in glob.split("*")))
        hits = sorted(f for f in self._files_below(base) if "/node_modules/" not in f[len(base):]
                      and any(f.endswith(suffix) and rx.fullmatch(f[: len(f) - len(suffix)] if suffix else f)
                              for suffix in suffixes))
        if not hits or len(hits) > MAX_EXPANDED:
            return None
        return Expanded(site, glob, tuple(hits))

    def _package_files(self, rel: str, keep: set[str]) -> None:
        """The package.json files Node reads for `rel`, and the generated folders its package loads."""
        folder = posixpath.dirname(rel)
        scope = self.tree.nearest_package_json(folder)
        if scope is not None:
            keep.add(posixpath.join(scope, "package.json") if scope else "package.json")
        package = package_dir_of(rel)
        if package is None:
            return
        if package + "/package.json" in self.tree.files:
            keep.add(package + "/package.json")
        name = package.rsplit("node_modules/", 1)[-1]
        for module in self.implicit.edges.get(name, ()):
            target = _lookup_folder(self.tree, package, module)
            if target is not None:
                keep.update(self._files_below(target))

    def _loaded_by(self, rel: str, module: str) -> set[str]:
        """The addon files a loader module (loaders.toml) may load for the package of `rel`."""
        patterns = self.loaders.get(module)
        if not patterns:
            return set()
        package = package_dir_of(rel) or ""
        spec = pathspec.GitIgnoreSpec.from_lines(list(patterns))
        prefix = package + "/" if package else ""
        return {f for f in self._files_below(package) if spec.match_file(f[len(prefix):])
                and package_dir_of(f) == (package or None)}

    def _files_below(self, folder: str) -> list[str]:
        if self._by_folder is None:
            by_folder: dict[str, list[str]] = {}
            for f in self.tree.files:
                d = posixpath.dirname(f)
                while True:
                    by_folder.setdefault(d, []).append(f)
                    if not d:
                        break
                    d = posixpath.dirname(d)
            self._by_folder = by_folder
        return self._by_folder.get(folder, [])


def _lookup_folder(tree: Tree, from_dir: str, module: str) -> str | None:
    """Node's node_modules lookup of a folder (no package.json needed: `.prisma`)."""
    d = from_dir
    while True:
        if posixpath.basename(d) != "node_modules":
            folder = posixpath.join(d, "node_modules", module) if d else f"node_modules/{module}"
            if folder in tree.dirs:
                return folder
        if not d:
            return None
        d = posixpath.dirname(d)


def _in_node_modules(rel: str) -> bool:
    return rel.startswith("node_modules/") or "/node_modules/" in rel


def _site_key(site: Site) -> tuple[str, int, str]:
    return site.file, site.line, site.text
