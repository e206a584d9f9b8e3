"""The benchmark's real app: npm packages as published, installed once from a committed lockfile.

benchmarks/realapp/ holds a Lambda handler on Prisma 5.22 and the dependency set of a typical API (aws-sdk v2,
express, @apollo/server, graphql, lodash, moment, rxjs, zod, date-fns; prisma and typescript as
devDependencies) with its package-lock.json. `ensure_real_app()` copies it to benchmarks/.work/realapp/,
runs `npm ci --ignore-scripts` there (the npm registry is used here and only here; tests never call this),
and generates the Prisma client with the real CLI, offline: the engine download cache of a private HOME is
seeded with stand-in engines of realistic size (a gcc-built ELF that links libssl followed by slices of this
machine's ELF files, as benchmarks/generate.py makes them), so `prisma generate` copies them into
node_modules/.prisma/client and nothing is downloaded. A marker file named after a hash of the committed files
makes a second call free; a changed lockfile installs again.

    python -m benchmarks.realapp [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.generate import (
    ENGINE_BYTES,
    MB,
    SEED,
    WORK,
    GeneratedProject,
    Log,
    elf_head,
    elf_sources,
    write_engine,
)

SOURCE = Path(__file__).resolve().parent / "realapp"
APP_VERSION = 1  # bump when the install steps change
ENGINES_COMMIT = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"  # Prisma 5.22.0's engines
LAMBDA_TARGET = "rhel-openssl-3.0.x"
UNREACHABLE = "http://127.0.0.1:9"  # the engine mirror prisma generate must not use
COMMITTED = ("package.json", "package-lock.json", "handler.js", "prisma/schema.prisma")


def app_key() -> str:
    h = hashlib.sha256(f"{APP_VERSION}\n".encode())
    for rel in COMMITTED:
        h.update(rel.encode() + b"\0" + (SOURCE / rel).read_bytes())
    return h.hexdigest()[:16]


def _env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "CHECKPOINT_DISABLE": "1",
            "PRISMA_HIDE_UPDATE_MESSAGE": "1", "PRISMA_ENGINES_MIRROR": UNREACHABLE,
            "npm_config_update_notifier": "false", "npm_config_fund": "false", "npm_config_audit": "false"}


def _seed_engines(home: Path, targets: list[str], log: Log) -> None:
    """Stand-in engines in Prisma's download cache, with the .sha256 files that make the CLI take them."""
    sources = elf_sources()
    rng = random.Random(f"{SEED}:realapp-engines")
    heads = WORK / "elf-heads"
    for target in targets:
        folder = home / ".cache" / "prisma" / "master" / ENGINES_COMMIT / target
        folder.mkdir(parents=True, exist_ok=True)
        for name, shared in (("libquery-engine", True), ("schema-engine", False)):
            dest = folder / name
            write_engine(dest, ENGINE_BYTES if shared else 2 * MB, elf_head(heads, shared=shared, marker=f"{target}"
                         if shared else f"schema-{target}"), sources, rng)
            digest = hashlib.sha256(dest.read_bytes()).hexdigest()
            (folder / f"{name}.sha256").write_text(digest)
        log(f"  stand-in engines for {target} in the Prisma cache")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], what: str) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{what} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _count(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath, filename)
            if not path.is_symlink() and path.is_file():
                files += 1
                size += path.stat().st_size
    return files, size


def ensure_real_app(*, work: Path = WORK, force: bool = False,
                    log: Log = lambda message: print(message, file=sys.stderr)) -> GeneratedProject:
    """The installed real app under work/realapp (installed now unless its marker matches)."""
    dest = work / "realapp"
    key = app_key()
    marker = work / f"realapp-{key}.json"
    if not force and dest.is_dir() and marker.is_file():
        stamp = json.loads(marker.read_text())
        return GeneratedProject(root=dest, scale=1.0, files=stamp["files"], bytes=stamp["bytes"],
                                node_modules_files=stamp["node_modules_files"],
                                node_modules_bytes=stamp["node_modules_bytes"], reused=True)
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("the real-app benchmark needs node and npm on PATH")
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("realapp-*.json"):
        old.unlink()
    shutil.rmtree(dest, ignore_errors=True)
    app = dest  # installed in place (the generated client records its folder); the marker comes last
    try:
        for rel in COMMITTED:
            (app / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SOURCE / rel, app / rel)
        home = work / "realapp-home"
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir()
        env = _env(home)
        log(f"real app: npm ci in {dest} (from the committed lockfile; the registry is needed once)")
        _run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], app, env, "npm ci")
        native = _run(["node", "-e", "require('@prisma/get-platform').getBinaryTargetForCurrentPlatform()"
                       ".then(t => console.log(t))"], app, env, "prisma get-platform").strip()
        _seed_engines(home, sorted({native, LAMBDA_TARGET}), log)
        log("real app: prisma generate (offline, stand-in engines)")
        _run(["node", "node_modules/prisma/build/index.js", "generate"], app, env, "prisma generate")
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    files, size = _count(dest)
    nm_files, nm_size = _count(dest / "node_modules")
    marker.write_text(json.dumps({"key": key, "files": files, "bytes": size, "node_modules_files": nm_files,
                                  "node_modules_bytes": nm_size}, indent=2) + "\n")
    log(f"real app installed: {files} files, {size / MB:.0f} MiB ({nm_files} files in node_modules)")
    return GeneratedProject(root=dest, scale=1.0, files=files, bytes=size, node_modules_files=nm_files,
                            node_modules_bytes=nm_size, reused=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.realapp", description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="install again even when the marker matches")
    args = parser.parse_args(argv)
    app = ensure_real_app(force=args.force)
    print(json.dumps({"root": str(app.root), "files": app.files, "bytes": app.bytes,
                      "node_modules_files": app.node_modules_files, "reused": app.reused}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
