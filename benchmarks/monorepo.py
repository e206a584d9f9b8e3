"""A generated pnpm monorepo of N files, and how walk + plan of one of its functions grows with N.

    python -m benchmarks.monorepo [--files 100000] [--runs 3]

The repository has the shape pnpm gives a workspace (`pnpm-workspace.yaml`, `pnpm-lock.yaml`,
`node_modules/.modules.yaml`): every package once in the store, `node_modules/.pnpm/<name>@<version>/
node_modules/<name>`, its dependencies as relative symlinks beside it, and each workspace package's
`node_modules/<dep>` a symlink into the store (a workspace dependency a symlink to its folder). Eight
workspaces: `packages/api` (the function that is bundled: Prisma and about half of the store through its
dependencies), `packages/shared` (a workspace library api uses) and six others (workers, a web app, tools)
with their own dependencies, which overlap api's only in part. The generated Prisma client sits beside
@prisma/client in its store folder, with a gcc-built engine for rhel-openssl-3.0.x.

Everything is seeded: the same N gives the same tree. File contents are small valid JavaScript (the scale
measured here is the number of files). `Monorepo.closure` is the set of real folders the function can load
(for tests/integration/test_monorepo.py, which checks that bundling api reads nothing outside them).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.generate import WORK, elf_head
from tests.real_prisma import SCHEMA_HEAD

SEED = "photon-bundle-monorepo-1"
FILES_PER_PACKAGE = 40  # on average; a lognormal spread around it
WORKSPACES = ("api", "shared", "worker-email", "worker-billing", "web", "admin", "cli", "scripts")
FUNCTION = "api"
GENERATOR_VERSION = 2


@dataclass
class Monorepo:
    root: Path
    files: int  # regular files written (links not counted)
    closure: set[str] = field(default_factory=set)  # real folders the function can load (absolute paths)

    @property
    def function_dir(self) -> Path:
        return self.root / "packages" / FUNCTION


@dataclass
class _Pkg:
    name: str
    version: str
    files: int
    deps: list[str] = field(default_factory=list)

    @property
    def store(self) -> str:
        return f"{self.name.replace('/', '+')}@{self.version}"


def _js(rng: random.Random, n: int) -> bytes:
    lines = [f"'use strict';\n// {n}\n"]
    for i in range(rng.randint(3, 40)):
        lines.append(f"exports.f{i} = function f{i}(a, b) {{ return a + b * {i}; }};\n")
    return "".join(lines).encode()


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(target, link.parent))


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _plan_packages(rng: random.Random, total_files: int) -> list[_Pkg]:
    count = max(20, total_files // FILES_PER_PACKAGE)
    pkgs: list[_Pkg] = []
    for i in range(count):
        name = f"@lib{i % 17}/pkg-{i}" if i % 5 == 0 else f"pkg-{i}"
        files = max(2, min(400, int(rng.lognormvariate(3.2, 0.8))))
        pkgs.append(_Pkg(name, f"{1 + i % 4}.{i % 10}.{i % 3}", files))
    # each package depends on a few later ones: a DAG, with shared deep dependencies
    for i, pkg in enumerate(pkgs):
        later = range(i + 1, count)
        if later:
            pkg.deps = sorted({pkgs[rng.choice(later)].name for _ in range(rng.choice((0, 1, 1, 2, 3)))})
    return pkgs


def generate(dest: Path, total_files: int, heads: Path = WORK / "elf-heads") -> Monorepo:  # noqa: PLR0915
    """Write the monorepo into dest (created; must not exist); `heads` caches the gcc-built engine."""
    rng = random.Random(f"{SEED}:{total_files}")
    store = dest / "node_modules" / ".pnpm"
    pkgs = _plan_packages(rng, total_files - 2000)
    by_name = {p.name: p for p in pkgs}
    written = 0

    def store_dir(p: _Pkg) -> Path:
        return store / p.store / "node_modules" / p.name

    for p in pkgs:
        real = store_dir(p)
        meta = {"name": p.name, "version": p.version, "main": "index.js",
                "dependencies": {d: by_name[d].version for d in p.deps}}
        _write(real / "package.json", json.dumps(meta).encode())
        _write(real / "index.js", _js(rng, 0))
        for n in range(p.files - 2):
            sub = ("lib", "dist", "lib/util", "dist/esm")[n % 4]
            _write(real / sub / f"m{n}.js", _js(rng, n))
        written += p.files
        for d in p.deps:
            _link(store / p.store / "node_modules" / d, store_dir(by_name[d]))
    # Prisma: @prisma/client in the store, the generated client and its engine beside it
    client_store = store / "@prisma+client@5.22.0" / "node_modules"
    client = client_store / "@prisma" / "client"
    _write(client / "package.json", json.dumps({"name": "@prisma/client", "version": "5.22.0",
                                                "main": "index.js"}).encode())
    _write(client / "index.js", b"module.exports = require('.prisma/client');\n")
    generated = client_store / ".prisma" / "client"
    _write(generated / "package.json", json.dumps({"name": ".prisma/client", "main": "index.js"}).encode())
    _write(generated / "index.js", b"exports.PrismaClient = class PrismaClient {};\n")
    _write(generated / "schema.prisma", SCHEMA_HEAD.encode())
    engine = elf_head(heads, shared=True, marker="rhel-openssl-3.0.x")
    _write(generated / "libquery_engine-rhel-openssl-3.0.x.so.node", engine)
    (generated / "libquery_engine-rhel-openssl-3.0.x.so.node").chmod(0o755)
    written += 6
    # workspaces: api uses Prisma, shared and the first half of the store's top packages; the others overlap
    tops = [p for i, p in enumerate(pkgs) if i % 3 == 0]
    half = len(tops) // 2
    choice = {
        "api": tops[:half:2], "shared": tops[1:half:4],
        **{ws: rng.sample(tops, max(1, len(tops) // 6)) for ws in WORKSPACES[2:]},
    }
    per_workspace = max(20, (total_files - written - 20) // len(WORKSPACES))
    for ws in WORKSPACES:
        folder = dest / "packages" / ws
        deps = {p.name: p.version for p in choice[ws]}
        if ws == "api":
            deps["@prisma/client"] = "5.22.0"
            deps["@mono/shared"] = "workspace:*"
            _write(folder / "prisma" / "schema.prisma", SCHEMA_HEAD.encode())
            _write(folder / "handler.js", HANDLER.encode())
            written += 2
        _write(folder / "package.json", json.dumps({"name": f"@mono/{ws}", "version": "1.0.0", "private": True,
                                                    "main": "handler.js" if ws == "api" else "index.js",
                                                    "dependencies": deps}).encode())
        written += 1
        for n in range(per_workspace - 3):
            _write(folder / "src" / f"part{n % 25}" / f"s{n}.js", _js(rng, n))
        written += per_workspace - 3
        for name in deps:
            if name == "@prisma/client":
                _link(folder / "node_modules" / name, client)
            elif name == "@mono/shared":
                _link(folder / "node_modules" / name, dest / "packages" / "shared")
            else:
                _link(folder / "node_modules" / name, store_dir(by_name[name]))
    _write(dest / "package.json", json.dumps({"name": "mono", "private": True}).encode())
    _write(dest / "pnpm-workspace.yaml", b"packages:\n  - 'packages/*'\n")
    _write(dest / "pnpm-lock.yaml", b"lockfileVersion: '9.0'\n")
    _write(dest / "node_modules" / ".modules.yaml", b"layoutVersion: 5\nnodeLinker: isolated\n")
    written += 4
    repo = Monorepo(dest, written)
    repo.closure = _closure(dest, choice["api"] + choice["shared"], by_name, store_dir, client, generated)
    return repo


def _closure(dest: Path, direct: list[_Pkg], by_name: dict[str, _Pkg], store_dir: Any, client: Path,
             generated: Path) -> set[str]:
    seen: dict[str, _Pkg] = {}
    todo = list(direct)
    while todo:
        p = todo.pop()
        if p.name not in seen:
            seen[p.name] = p
            todo += [by_name[d] for d in p.deps]
    folders = {str(store_dir(p).resolve()) for p in seen.values()}
    return folders | {str((dest / "packages" / FUNCTION).resolve()), str((dest / "packages" / "shared").resolve()),
                      str(client.resolve()), str(generated.parent.resolve())}  # .prisma: a module of the client



HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const shared = require('@mono/shared');
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ shared: typeof shared }) });
"""


def ensure(total_files: int, work: Path = WORK) -> Monorepo:
    """The monorepo of this size under work/, generated once (a stamp file records it)."""
    dest = work / f"monorepo-{total_files}"
    stamp = work / f"monorepo-{total_files}.json"
    if dest.is_dir() and stamp.is_file():
        data = json.loads(stamp.read_text())
        if data.get("generator") == GENERATOR_VERSION:
            return Monorepo(dest, data["files"], set(data["closure"]))
    stamp.unlink(missing_ok=True)
    shutil.rmtree(dest, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    repo = generate(dest, total_files)
    stamp.write_text(json.dumps({"generator": GENERATOR_VERSION, "files": repo.files,
                                 "closure": sorted(repo.closure)}) + "\n")
    return repo


def scaling(sizes: list[int], *, runs: int = 3, log: Any = print) -> list[dict[str, Any]]:
    """For each size: the monorepo's files, the function's walked files, and walk + plan (median of runs, each
    in a fresh process through benchmarks/phases.py)."""
    rows: list[dict[str, Any]] = []
    repo_dir = Path(__file__).resolve().parent.parent
    for n in sizes:
        log(f"monorepo of {n:,} files: generating (once) and timing walk + plan of packages/{FUNCTION}")
        repo = ensure(n)
        samples = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-m", "benchmarks.phases", str(repo.function_dir)],
                                  cwd=repo_dir, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise SystemExit(f"phases failed on {repo.function_dir}:\n{done.stderr[-3000:]}")
            samples.append(json.loads(done.stdout))
        rows.append({"files": repo.files, "walked_files": samples[0]["walk_files"],
                     "planned_files": samples[0]["planned_files"],
                     "walk_plan_s": statistics.median(s["walk_plan_s"] for s in samples),
                     "walk_plan_cpu_s": statistics.median(s["walk_plan_cpu_s"] for s in samples),
                     "scan_s": statistics.median(s["scan_s"] for s in samples),
                     "plan_s": statistics.median(s["plan_s"] for s in samples),
                     "load1": [round(s["load_avg"], 2) for s in samples]})
    return rows


def scaling_table(rows: list[dict[str, Any]], target_s: float) -> str:
    lines = ["| monorepo files | function's tree (walked) | bundled | walk + plan | its CPU time | scan | plan | "
             "CPU per 1,000 walked | load |", "|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['files']:,} | {r['walked_files']:,} | {r['planned_files']:,} | {r['walk_plan_s']:.3f} s | "
                     f"{r['walk_plan_cpu_s']:.3f} s | {r['scan_s']:.3f} s | {r['plan_s']:.3f} s | "
                     f"{1e6 * r['walk_plan_cpu_s'] / max(1, r['walked_files']):.1f} ms | "
                     f"{min(r['load1']):.1f}-{max(r['load1']):.1f} |")
    biggest = max(rows, key=lambda r: r["files"])
    met = "met" if biggest["walk_plan_s"] < target_s else "**missed**"
    lines.append(f"\nwalk + plan at {biggest['files']:,} files: {biggest['walk_plan_s']:.2f} s, "
                 f"{biggest['walk_plan_cpu_s']:.2f} s of CPU (target < {target_s} s: {met})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.monorepo", description=__doc__.split("\n")[0])
    parser.add_argument("--files", default="10000,25000,50000,100000", help="sizes, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=WORK / "scaling.json", help="where to write the rows as JSON")
    args = parser.parse_args(argv)
    rows = scaling([int(n) for n in args.files.split(",")], runs=args.runs,
                   log=lambda m: print(m, file=sys.stderr))
    args.output.write_text(json.dumps(rows, indent=2) + "\n")
    print(scaling_table(rows, 1.5))
    return 0


if __name__ == "__main__":
    sys.exit(main())
