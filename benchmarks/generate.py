"""Generate the benchmark's Prisma project: deterministic, offline, shaped like a real `npm ci` tree.

At scale 1.0 the node_modules holds about 15k files and 350 MB:

* JS-like text of varied sizes (lognormal, as in real trees: many small files, a long tail), split
  into production packages (about half the bytes: what the bundle keeps) and devDependencies;
* a few large packages: a cloud SDK with a thousand files, a PDF library with multi-MB files (prod);
  a TypeScript-like compiler and the Prisma CLI with 5-10 MB single files (dev);
* nested node_modules where versions conflict, scoped packages, .bin links, a .cache folder;
* the generated client in node_modules/.prisma/client with four query engines of ~20 MB (one per
  binaryTarget, so the bundle keeps one) and two CLI engines in @prisma/engines.

Engine bytes come from real ELF files of this machine (/usr/lib/x86_64-linux-gnu, /usr/bin ...) so
they compress like real engines: each engine is a small valid ELF compiled here with gcc (linking
libssl, as Prisma's engines do), followed by slices of system ELF files chosen by a seeded shuffle of
the sorted file list. Text comes from a seeded random.Random, so the same machine always produces the
same project; the project is reused while GENERATOR_VERSION and the scale are unchanged.

    python -m benchmarks.generate [--scale 0.1] [--force]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 2
WORK = Path(__file__).resolve().parent / ".work"
SEED = "photon-bundle-bench-1"
MB = 1 << 20

# Budgets at scale 1.0 (text bytes and text files; engines come on top).
PROD_TEXT_BYTES = 140 * MB
DEV_TEXT_BYTES = 94 * MB
PROD_FILES = 7300
DEV_FILES = 7000
ENGINE_BYTES = 20 * MB
CLI_ENGINE_BYTES = (21 * MB, 18 * MB)  # the CLI's query engine library, schema-engine
BUNDLED_TARGET = "rhel-openssl-3.0.x"  # what the newest Lambda runtime (Amazon Linux 2023) needs
OTHER_TARGETS = ("debian-openssl-3.0.x", "rhel-openssl-1.0.x", "linux-arm64-openssl-3.0.x")
ELF_DIRS = ("/usr/lib/x86_64-linux-gnu", "/usr/bin", "/usr/sbin", "/usr/libexec")
Log = Callable[[str], None]


@dataclass(frozen=True)
class GeneratedProject:
    root: Path
    scale: float
    files: int
    bytes: int
    node_modules_files: int
    node_modules_bytes: int
    reused: bool


# ---------------------------------------------------------------- text that compresses like JS

_SYLLABLES = (  # noqa: SIM905 - a word list reads better as one string
    "ka lo mi ren tor vex qua zi po ser lin dar fu gen hal jon mor nix pel rus sta tek ul vor wen xan yel zor "
    "bra cle dro fli gra ple tri spo chi sha tho whe ab ex in on up re de co pro con per ment tion able ize"
).split(" ")
_WORDS = (  # noqa: SIM905
    "the a of to and in is it you that for on are with as be this was have or by not from but what all when "
    "can if will one each which do there use how an their more other some time these may then into has "
    "value return object function default options request response error callback promise buffer stream "
    "module export import require instance property method argument parameter string number boolean array "
    "null undefined type interface class config handler client server query result data file path event "
    "listener node version package dependency install build test deprecated warning note see example"
).split(" ")
_KEYWORDS = ("const", "let", "var", "return", "function", "if", "else", "for", "while", "new", "typeof",
             "this", "null", "true", "false", "await", "async", "throw", "try", "catch")


class TextFactory:
    """Pools of lines per file kind; a file is a seeded draw of lines from a window of its pool."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        ids: list[str] = []
        seen: set[str] = set()
        while len(ids) < 6000:
            parts = [rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))]
            name = parts[0] + "".join(p.capitalize() for p in parts[1:])
            if name not in seen and name not in _KEYWORDS:
                seen.add(name)
                ids.append(name)
        self.ids = ids
        self.pools: dict[str, list[str]] = {
            "js": [self._js_line() for _ in range(60000)],
            "dts": [self._dts_line() for _ in range(20000)],
            "md": [self._md_line() for _ in range(12000)],
        }
        self.min_tokens = [self._min_token() for _ in range(20000)]
        alphabet = "ACDEGIKMOQSUWYacegikmoqsuwy+/0123456789"
        weights = [1.0 / (n + 1) for n in range(len(alphabet))]
        self.map_segments = [",".join("".join(rng.choices(alphabet, weights=weights, k=rng.randint(4, 9)))
                                      for _ in range(6)) for _ in range(1500)]
        self.avg = {kind: sum(map(len, pool)) / len(pool) + 1 for kind, pool in self.pools.items()}

    def _id(self) -> str:
        # skewed: a few names are everywhere (as `exports`, `options`, `e` are in real code)
        return self.ids[int(len(self.ids) * self.rng.random() ** 3)]

    def _words(self, n: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(n))

    def _js_line(self) -> str:
        r, i = self.rng, self._id
        indent = "  " * r.choice((0, 1, 1, 2, 2, 2, 3, 3, 4))
        k = r.randrange(18)
        if k == 0:
            return f"{indent}const {i()} = require('{i().lower()}');"
        if k == 1:
            return f"{indent}function {i()}({i()}, {i()}) {{"
        if k == 2:
            return f"{indent}if ({i()} === {i()}) return {i()};"
        if k == 3:
            return f"{indent}{i()}.{i()} = function ({i()}) {{ return {i()}({i()}, {r.randrange(100)}); }};"
        if k == 4:
            return f"{indent}// {self._words(r.randint(3, 12))}"
        if k == 5:
            return f"{indent}{i()}[{r.randrange(64)}] = '{self._words(r.randint(1, 4))}';"
        if k == 6:
            return f"{indent}}}"
        if k == 7:
            return f"{indent}return {i()}.{i()}({i()}, {{ {i()}: {i()}, {i()}: {r.choice(_KEYWORDS[-8:])} }});"
        if k == 8:
            return f"{indent}var {i()} = typeof {i()} === 'undefined' ? {r.randrange(1000)} : {i()}.{i()};"
        if k == 9:
            return f"{indent}throw new {i().capitalize()}Error(\"{self._words(r.randint(2, 8))}\");"
        if k == 10:
            return f"{indent}for (let {i()} = 0; {i()} < {i()}.length; {i()}++) {{"
        if k == 11:
            return f"{indent} * @param {{{r.choice(('string', 'number', 'Object', 'Function'))}}} {i()} " \
                   f"{self._words(r.randint(2, 9))}"
        if k == 12:
            return f"{indent}exports.{i()} = {i()};"
        if k == 13:
            return f"{indent}}} catch ({i()}) {{"
        if k == 14:
            return f"{indent}await {i()}.{i()}();"
        if k == 15:
            return f"{indent}{i()} += {i()}.{i()} * {r.randrange(1 << 16):#x};"
        if k == 16:
            return f"{indent}case '{i()}':"
        return f"{indent}{i()}.{i()}.push({i()});"

    def _dts_line(self) -> str:
        r, i = self.rng, self._id
        t = r.choice(("string", "number", "boolean", "unknown", "Promise<void>", f"{i().capitalize()}[]",
                      f"{i().capitalize()}<{i().capitalize()}>", "Record<string, unknown>"))
        k = r.randrange(8)
        if k == 0:
            return f"export declare function {i()}({i()}: {t}, {i()}?: {t}): {t};"
        if k == 1:
            return f"export interface {i().capitalize()}<T = {t}> {{"
        if k == 2:
            return f"    readonly {i()}: {t};"
        if k == 3:
            return f"    {i()}?: {t} | undefined;"
        if k == 4:
            return f"    /** {self._words(r.randint(3, 14))} */"
        if k == 5:
            return "}"
        if k == 6:
            return f"export type {i().capitalize()} = {t} | {t};"
        return f"    {i()}({i()}: {t}): {t};"

    def _md_line(self) -> str:
        r = self.rng
        k = r.randrange(10)
        if k == 0:
            return "#" * r.randint(1, 3) + " " + self._words(r.randint(1, 5)).capitalize()
        if k == 1:
            return ""
        if k == 2:
            return f"- `{self._id()}` {self._words(r.randint(3, 12))}"
        if k == 3:
            return f"    {self._js_line().strip()}"
        return self._words(r.randint(6, 18)).capitalize() + "."

    def _min_token(self) -> str:
        r = self.rng
        short = "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(1, 2)))
        return r.choice((
            f"function({short},{short}){{", f"return {short}.{self._id()}", f"var {short}={short}||{{}};",
            f"{short}.{self._id()}=", f"\"{self._id()}\"", f"}},{short}=", f"if(!{short})",
            f"{short}[{r.randrange(100)}]", ";", "}", f"{self._id()}:{short},", f"new {self._id().capitalize()}(",
        ))

    def text(self, kind: str, size: int) -> bytes:
        """`size` bytes of the kind: js, dts, md, min (minified JS) or map (a source map)."""
        r = self.rng
        if kind == "min":
            start = r.randrange(len(self.min_tokens) - 3000)
            window = self.min_tokens[start:start + r.choice((300, 1000, 3000))]
            body = "".join(r.choices(window, k=size // 9 + 16))
        elif kind == "map":
            body = '{"version":3,"sources":["../src/index.ts"],"names":[],"mappings":"' + \
                ";".join(r.choices(self.map_segments, k=size // 40 + 4))
        else:
            pool = self.pools[kind]
            lines = int(size / self.avg[kind]) + 4
            # real files repeat themselves (names, calls, idioms), small ones too: the window of distinct
            # lines grows with the file, up to a few hundred for the large ones
            width = min(r.choice((200, 500, 1200)), max(16, lines // 2))
            start = r.randrange(len(pool) - width)
            body = "\n".join(r.choices(pool[start:start + width], k=lines))
        data = body.encode()
        while len(data) < size:  # rare: a short draw
            data += data[: size - len(data)] or b"\n"
        return data[:size]


# ---------------------------------------------------------------- the package tree


@dataclass
class Package:
    rel: str  # node_modules/<name>, or nested below another package
    name: str
    version: str
    prod: bool
    deps: dict[str, str] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)  # path inside the package -> size (text)
    bins: dict[str, str] = field(default_factory=dict)  # command -> path inside the package
    extra: dict[str, object] = field(default_factory=dict)  # more package.json fields


def _lognormal_sizes(rng: random.Random, count: int, total: int, sigma: float = 1.35) -> list[int]:
    """`count` sizes with a lognormal shape whose sum is about `total`."""
    if count <= 0:
        return []
    draws = [rng.lognormvariate(0.0, sigma) for _ in range(count)]
    factor = total / sum(draws)
    return [max(24, int(d * factor)) for d in draws]


def _kind_for(rng: random.Random) -> tuple[str, str]:
    """(kind, extension) of one file of a package, in real proportions."""
    x = rng.random()
    if x < 0.60:
        return "js", ".js"
    if x < 0.80:
        return "dts", ".d.ts"
    if x < 0.88:
        return "md", ".md"
    if x < 0.95:
        return "map", ".js.map"
    return "min", ".min.js"


class TreeBuilder:
    def __init__(self, rng: random.Random, scale: float) -> None:
        self.rng = rng
        self.scale = scale
        self.names: set[str] = set()
        self.packages: list[Package] = []

    def n(self, count: float) -> int:
        return max(1, round(count * self.scale))

    def b(self, size: float) -> int:
        return max(256, int(size * self.scale))

    def name(self) -> str:
        r = self.rng
        while True:
            words = ("".join(r.choice(_SYLLABLES) for _ in range(r.randint(1, 3))) for _ in range(r.randint(1, 2)))
            base = "-".join(words)
            name = f"@{r.choice(('acme', 'types', 'smithy', 'babel', 'opentelemetry', 'aws', 'tanstack'))}/{base}" \
                if r.random() < 0.15 else base
            if name not in self.names:
                self.names.add(name)
                return name

    def version(self) -> str:
        r = self.rng
        return f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}"

    def layout(self, pkg: Package, count: int, total: int) -> None:
        """`count` text files of about `total` bytes, in a package-like folder layout."""
        r = self.rng
        folders = ["", "lib/", "dist/", "dist/cjs/", "dist/esm/", "types/", "src/", "lib/internal/", "docs/"]
        sizes = _lognormal_sizes(r, count, total)
        pkg.files.setdefault("README.md", max(200, sizes.pop() if sizes else 200))
        if sizes:
            pkg.files.setdefault("LICENSE", 1080)
            sizes.pop()
        for size in sizes:
            kind, ext = _kind_for(r)
            folder = r.choice(folders)
            if kind == "md":
                folder = "docs/" if r.random() < 0.5 else ""
            for _ in range(8):
                path = f"{folder}{r.choice(self.ids_for_files)}{ext}"
                if path not in pkg.files:
                    pkg.files[path] = size
                    break

    @property
    def ids_for_files(self) -> list[str]:
        return _FILE_STEMS

    def add(self, name: str, *, prod: bool, files: int, total: int, rel: str | None = None,
            big: dict[str, int] | None = None) -> Package:
        pkg = Package(rel=rel or f"node_modules/{name}", name=name, version=self.version(), prod=prod)
        self.names.add(name)
        for path, size in (big or {}).items():
            pkg.files[path] = size
        self.layout(pkg, files, total)
        self.packages.append(pkg)
        return pkg

    def side(self, *, prod: bool, fixed: list[Package], files: int, total: int, top: int) -> list[Package]:
        """Generic packages that fill the side's budget; returns the side's top-level packages."""
        r = self.rng
        used_files = sum(len(p.files) for p in fixed)
        used_bytes = sum(sum(p.files.values()) for p in fixed)
        left_files, left_bytes = max(0, files - used_files), max(0, total - used_bytes)
        counts: list[int] = []
        while sum(counts) < left_files:
            counts.append(min(300, max(3, int(r.lognormvariate(math.log(16), 0.9)))))
        byte_shares = _lognormal_sizes(r, len(counts), left_bytes, sigma=0.8)
        generic = [self.add(self.name(), prod=prod, files=c, total=s) for c, s in zip(counts, byte_shares)]
        members = fixed + generic
        tops = members[: len(fixed) + self.n(top)]
        for index, pkg in enumerate(members):
            if pkg in tops:
                continue
            parent = members[r.randrange(index)] if index else members[0]
            parent.deps[pkg.name] = "^" + pkg.version
            for _ in range(r.choice((0, 0, 1, 2))):  # a few extra edges (shared dependencies)
                other = members[r.randrange(index)]
                if other is not pkg:
                    other.deps[pkg.name] = "^" + pkg.version
        nested = [p for p in generic if p not in tops and p.deps and r.random() < 0.06]
        for pkg in nested:  # version conflicts: an older copy nested below the package that wants it
            dep = r.choice(sorted(pkg.deps))
            older = Package(rel=f"{pkg.rel}/node_modules/{dep}", name=dep, version="0.9.1", prod=prod)
            self.layout(older, r.randint(3, 12), r.randint(4, 60) * 1024)
            pkg.deps[dep] = "0.9.1"
            self.packages.append(older)
        return tops


_FILE_STEMS = [
    "index", "utils", "helpers", "parser", "client", "server", "stream", "buffer", "errors", "types", "constants",
    "config", "request", "response", "middleware", "router", "compile", "transform", "visitor", "scope", "cache",
    "queue", "retry", "signer", "credentials", "endpoint", "serializer", "deserializer", "schema", "validate",
    "format", "encode", "decode", "hash", "random", "events", "emitter", "logger", "debug", "color", "path",
    "fs", "promise", "async", "iterator", "polyfill", "browser", "node", "esm", "cjs", "runtime", "core", "api",
    "model", "query", "result", "connection", "pool", "transaction", "driver", "adapter", "plugin", "loader",
] + [f"chunk-{n:03d}" for n in range(400)] + [f"{a}-{b}" for a in ("create", "get", "put", "list", "delete")
                                              for b in ("bucket", "object", "table", "item", "queue", "topic",
                                                        "function", "role", "policy", "stack", "key", "secret")]


# ---------------------------------------------------------------- engines from real ELF bytes


def elf_sources() -> list[Path]:
    """Regular ELF files of this machine of 32 KiB or more, sorted by path (the shuffle is seeded)."""
    found: list[Path] = []
    for top in ELF_DIRS:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for filename in filenames:
                path = Path(dirpath, filename)
                try:
                    if path.is_symlink() or not path.is_file() or path.stat().st_size < 32768:
                        continue
                    with path.open("rb") as fh:
                        if fh.read(4) != b"\x7fELF":
                            continue
                except OSError:
                    continue
                found.append(path)
    return sorted(set(found))


def elf_head(work: Path, *, shared: bool, marker: str) -> bytes:
    """A small valid ELF (gcc, linking libssl like Prisma's engines), or a system one when gcc fails."""
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"{'lib' if shared else 'exe'}-{marker}"
    if not out.exists():
        src = work / f"{marker}.c"
        src.write_text(
            "#include <stdio.h>\n#include <openssl/ssl.h>\n"
            f'const char *photon_bench_marker(void) {{ return "{marker}"; }}\n'
            f"int photon_bench_tls(void) {{ return OPENSSL_init_ssl(0, NULL); }}\n"
            + ("" if shared else 'int main(void) { puts(photon_bench_marker()); return photon_bench_tls() ? 0 : 1; }\n')
        )
        cmd = ["gcc", "-O2", "-o", str(out), str(src), "-lssl", "-lcrypto"]
        if shared:
            cmd[1:1] = ["-shared", "-fPIC"]
        try:
            subprocess.run(cmd, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return b""
    return out.read_bytes()


def write_engine(dest: Path, size: int, head: bytes, sources: list[Path], rng: random.Random) -> None:
    """`size` bytes: the head, then slices of system ELF files in a seeded order."""
    order = list(sources)
    rng.shuffle(order)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("wb") as out:
        out.write(head)
        left = size - len(head)
        for src in order:
            if left <= 0:
                break
            with src.open("rb") as fh:
                data = fh.read(min(left, 4 * MB))
            out.write(data)
            left -= len(data)
        if left > 0:  # a machine with few ELF files: repeat what we have
            raise RuntimeError(f"not enough ELF bytes on this machine for {dest.name} (searched {ELF_DIRS})")
    dest.chmod(0o755)


# ---------------------------------------------------------------- the project


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mode != 0o644:
        path.chmod(mode)


def _json(data: object) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode()


SCHEMA = """\
generator client {
  provider      = "prisma-client-js"
  binaryTargets = ["native", "rhel-openssl-3.0.x", "rhel-openssl-1.0.x", "linux-arm64-openssl-3.0.x"]
}

datasource db {
  provider = "postgresql"
  url      = env("DATABASE_URL")
}
"""

HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const prisma = new PrismaClient();
exports.handler = async (event) => {
  const orders = await prisma.order.findMany({ take: 10 });
  return { statusCode: 200, body: JSON.stringify(orders) };
};
"""


def build_tree(rng: random.Random, scale: float) -> tuple[TreeBuilder, list[Package], list[Package]]:
    t = TreeBuilder(rng, scale)
    prod_fixed = [
        t.add("@prisma/client", prod=True, files=t.n(40), total=t.b(2 * MB), big={
            "runtime/library.js": t.b(2.4 * MB), "runtime/edge.js": t.b(1.2 * MB), "runtime/wasm.js": t.b(0.9 * MB),
            "runtime/library.d.ts": t.b(0.6 * MB), "runtime/index-browser.js": t.b(0.2 * MB)}),
        t.add("@acme/cloud-sdk", prod=True, files=t.n(1200), total=t.b(26 * MB)),
        t.add("pdf-engine", prod=True, files=t.n(30), total=t.b(1 * MB), big={
            f"build/pdf-engine.{n}.js": t.b(2.6 * MB) for n in range(4)}),
        t.add("@acme/telemetry", prod=True, files=t.n(600), total=t.b(9 * MB)),
    ]
    dev_fixed = [
        t.add("typescript", prod=False, files=t.n(90), total=t.b(4 * MB), big={
            "lib/typescript.js": t.b(8.8 * MB), "lib/tsserver.js": t.b(8.6 * MB), "lib/tsc.js": t.b(5.9 * MB),
            "lib/typingsInstaller.js": t.b(2.1 * MB), "bin/tsc": 120}),
        t.add("prisma", prod=False, files=t.n(25), total=t.b(1.5 * MB), big={
            "build/index.js": t.b(13.5 * MB), "build/child.js": t.b(1.1 * MB)}),
        t.add("@prisma/engines", prod=False, files=3, total=t.b(20 * 1024)),
        t.add("@prisma/engines-version", prod=False, files=2, total=4096),
        t.add("@babel/core", prod=False, files=t.n(900), total=t.b(8 * MB)),
        t.add("jest-runtime", prod=False, files=t.n(400), total=t.b(5 * MB)),
        t.add("eslint", prod=False, files=t.n(700), total=t.b(7 * MB)),
    ]
    dev_fixed[3].extra["prisma"] = {"enginesVersion": "605197351a3c8bdd595af2d2a9bc3025bca48ea2"}
    dev_fixed[0].bins["tsc"] = "bin/tsc"
    dev_fixed[1].bins["prisma"] = "build/index.js"
    dev_fixed[1].deps["@prisma/engines"] = "5.22.0"
    dev_fixed[2].deps["@prisma/engines-version"] = "5.22.0-44.605197351a3c8bdd595af2d2a9bc3025bca48ea2"
    prod_tops = t.side(prod=True, fixed=prod_fixed, files=t.n(PROD_FILES), total=t.b(PROD_TEXT_BYTES), top=22)
    dev_tops = t.side(prod=False, fixed=dev_fixed, files=t.n(DEV_FILES), total=t.b(DEV_TEXT_BYTES), top=18)
    prod_names = {p.name for p in t.packages if p.prod}
    for pkg in t.packages:  # dev tooling also uses some production packages (shared, so bundled)
        if not pkg.prod and rng.random() < 0.08:
            shared = rng.choice(sorted(prod_names))
            pkg.deps.setdefault(shared, "*")
    for pkg in t.packages:
        generic = pkg not in prod_fixed and pkg not in dev_fixed
        if generic and rng.random() < 0.02 and pkg.rel.count("node_modules") == 1:
            pkg.bins[pkg.name.split("/")[-1]] = "bin/cli.js"
            pkg.files["bin/cli.js"] = 400
    return t, prod_tops, dev_tops


def generate(dest: Path, scale: float, log: Log) -> None:
    """Write the whole project into dest (an empty folder)."""
    rng = random.Random(f"{SEED}:{scale}")
    log(f"building text pools and the package tree (scale {scale:g}) ...")
    text = TextFactory(random.Random(f"{SEED}:text"))
    t, prod_tops, dev_tops = build_tree(rng, scale)
    nm = dest / "node_modules"
    pkg_json: dict[str, object] = {
        "name": "orders-api", "version": "3.4.0", "private": True, "main": "handler.js",
        "engines": {"node": ">=20"},
        "scripts": {"build": "tsc", "postinstall": "prisma generate", "test": "jest"},
        "dependencies": {p.name: "^" + p.version for p in sorted(prod_tops, key=lambda p: p.name)},
        "devDependencies": {p.name: "^" + p.version for p in sorted(dev_tops, key=lambda p: p.name)},
    }
    _write(dest / "package.json", _json(pkg_json))
    lock = {"name": "orders-api", "lockfileVersion": 3, "requires": True,
            "packages": {p.rel: {"version": p.version, "dev": not p.prod or None,
                                 "integrity": f"sha512-{rng.getrandbits(256):064x}", "dependencies": p.deps or None}
                         for p in t.packages}}
    _write(dest / "package-lock.json", json.dumps(lock, indent=2).encode())
    _write(dest / "handler.js", HANDLER.encode())
    _write(dest / "prisma" / "schema.prisma", SCHEMA.encode())
    for n in range(max(4, round(40 * scale))):
        _write(dest / "src" / f"{_FILE_STEMS[n % 60]}-{n}.js", text.text("js", rng.randint(800, 16000)))
    for n in range(max(2, round(20 * scale))):
        _write(dest / "test" / f"{_FILE_STEMS[n % 60]}-{n}.test.js", text.text("js", rng.randint(800, 8000)))
    _write(dest / "README.md", text.text("md", 6000))
    _write(dest / ".env", b"DATABASE_URL=postgresql://user:secret@db.internal:5432/orders\n")
    _write(dest / ".git" / "HEAD", b"ref: refs/heads/main\n")
    _write(dest / ".git" / "config", b"[core]\n\trepositoryformatversion = 0\n")

    log(f"writing {len(t.packages)} packages ...")
    write_packages(nm, t, text, lock)
    log("writing the generated client and engines from this machine's ELF files ...")
    write_client_and_engines(nm, t, text)


def write_packages(nm: Path, t: TreeBuilder, text: TextFactory, lock: dict[str, object]) -> None:
    for pkg in t.packages:
        root = nm.parent / pkg.rel
        meta: dict[str, object] = {"name": pkg.name, "version": pkg.version, "main": "index.js",
                                   "license": "MIT", **pkg.extra}
        if pkg.deps:
            meta["dependencies"] = dict(sorted(pkg.deps.items()))
        if pkg.bins:
            meta["bin"] = pkg.bins
        _write(root / "package.json", _json(meta))
        bin_paths = set(pkg.bins.values())
        for path, size in sorted(pkg.files.items()):
            if path in bin_paths:
                _write(root / path, b"#!/usr/bin/env node\nrequire('../lib/index.js');\n" + b"\n" * max(0, size - 48),
                       0o755)
                continue
            kind = {".md": "md", ".ts": "dts", ".map": "map"}.get(Path(path).suffix, "js")
            if path.endswith(".min.js"):
                kind = "min"
            _write(root / path, text.text(kind, size))
    bins = nm / ".bin"
    bins.mkdir(parents=True, exist_ok=True)
    for pkg in t.packages:
        if pkg.rel.count("node_modules") == 1:
            for command, target in pkg.bins.items():
                (bins / command).symlink_to(f"../{pkg.name}/{target}")
    _write(nm / ".cache" / "babel-loader" / "cache.json", text.text("js", t.b(2 * MB)))
    _write(nm / ".package-lock.json", json.dumps(lock).encode())


def write_client_and_engines(nm: Path, t: TreeBuilder, text: TextFactory) -> None:
    client = nm / ".prisma" / "client"
    _write(client / "package.json", _json({"name": ".prisma/client", "main": "index.js", "types": "index.d.ts"}))
    _write(client / "index.js", text.text("js", t.b(180 * 1024)))
    _write(client / "index.d.ts", text.text("dts", t.b(1.6 * MB)))
    _write(client / "edge.js", text.text("js", t.b(170 * 1024)))
    _write(client / "schema.prisma", SCHEMA.encode())
    sources = elf_sources()
    heads = WORK / "elf-heads"
    erng = random.Random(f"{SEED}:engines")
    engine_size = max(MB, int(ENGINE_BYTES * t.scale))
    for target in (BUNDLED_TARGET, *OTHER_TARGETS):
        write_engine(client / f"libquery_engine-{target}.so.node", engine_size,
                     elf_head(heads, shared=True, marker=target), sources, erng)
    engines = nm / "@prisma" / "engines"
    write_engine(engines / "libquery_engine-debian-openssl-3.0.x.so.node", max(MB, int(CLI_ENGINE_BYTES[0] * t.scale)),
                 elf_head(heads, shared=True, marker="cli-query-engine"), sources, erng)
    write_engine(engines / "schema-engine-debian-openssl-3.0.x", max(MB, int(CLI_ENGINE_BYTES[1] * t.scale)),
                 elf_head(heads, shared=False, marker="schema-engine"), sources, erng)


def _count(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath, filename)
            if path.is_file() and not path.is_symlink():
                files += 1
                size += path.stat().st_size
    return files, size


def project_dir(scale: float, work: Path = WORK) -> Path:
    return work / f"project-{scale:g}"


def ensure_project(scale: float = 1.0, *, work: Path = WORK, force: bool = False,
                   log: Log = lambda message: print(message, file=sys.stderr)) -> GeneratedProject:
    """The benchmark project at this scale: reused when the stamp matches, else (re)generated."""
    dest = project_dir(scale, work)
    stamp_path = work / f"project-{scale:g}.json"
    expected = {"generator": GENERATOR_VERSION, "scale": scale}
    if not force and dest.is_dir() and stamp_path.is_file():
        stamp = json.loads(stamp_path.read_text())
        if {k: stamp.get(k) for k in expected} == expected:
            return GeneratedProject(root=dest, scale=scale, files=stamp["files"], bytes=stamp["bytes"],
                                    node_modules_files=stamp["node_modules_files"],
                                    node_modules_bytes=stamp["node_modules_bytes"], reused=True)
    work.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    if dest.exists():
        shutil.rmtree(dest)
    tmp = Path(tempfile.mkdtemp(dir=work, prefix=f".project-{scale:g}."))
    try:
        generate(tmp, scale, log)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    files, size = _count(dest)
    nm_files, nm_size = _count(dest / "node_modules")
    stamp_path.write_text(json.dumps({**expected, "files": files, "bytes": size, "node_modules_files": nm_files,
                                      "node_modules_bytes": nm_size}, indent=2) + "\n")
    log(f"generated {dest}: {files} files, {size / MB:.0f} MiB ({nm_files} files, {nm_size / MB:.0f} MiB "
        "in node_modules)")
    return GeneratedProject(root=dest, scale=scale, files=files, bytes=size, node_modules_files=nm_files,
                            node_modules_bytes=nm_size, reused=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full-size project [1.0]")
    parser.add_argument("--force", action="store_true", help="regenerate even when a matching project exists")
    args = parser.parse_args(argv)
    project = ensure_project(args.scale, force=args.force)
    print(json.dumps({"root": str(project.root), "files": project.files, "bytes": project.bytes,
                      "node_modules_files": project.node_modules_files,
                      "node_modules_bytes": project.node_modules_bytes, "reused": project.reused}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
