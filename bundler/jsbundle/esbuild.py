"""The one seam to esbuild: find the project's own binary, build its command line (pure), run it bounded in
time, and read its metafile. esbuild writes into a temp folder; nothing of the user's project changes."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, ProjectError

TIMEOUT = 300.0  # seconds one esbuild run may take
# What an ES module bundle needs so that bundled CommonJS code (Prisma's client reads `__dirname` and calls
# `require` for its engine) runs as it does in CommonJS. esbuild's documented way: a banner.
ESM_BANNER = ("import { createRequire as __pbCreateRequire } from 'module';"
              "import { fileURLToPath as __pbFileURLToPath } from 'url';"
              "import { dirname as __pbDirname } from 'path';"
              "const require = __pbCreateRequire(import.meta.url);"
              "const __filename = __pbFileURLToPath(import.meta.url);"
              "const __dirname = __pbDirname(__filename);")


@dataclass(frozen=True)
class BuildRequest:
    """One entry point to bundle into one output file."""

    entry: str  # relative to the project root
    outfile: Path  # absolute, in a temp folder
    node_major: int
    esm: bool
    external: tuple[str, ...]
    minify: bool
    sourcemap: bool


def find_esbuild(root: Path) -> Path:
    """The project's own esbuild (node_modules/.bin/esbuild, here or in a parent folder of a workspace)."""
    for folder in (root, *root.parents):
        candidate = folder / "node_modules" / ".bin" / "esbuild"
        if candidate.exists():
            return candidate
    raise ConfigError(f"--bundler esbuild: no esbuild in {root / 'node_modules' / '.bin'} (photon-bundle runs the "
                      "project's own esbuild, at the version the project pins)",
                      hint="npm i -D esbuild (then run photon-bundle again), or drop --bundler esbuild")


def command(esbuild: Path, req: BuildRequest) -> list[str]:
    """esbuild's arguments for one entry point: bundled for Node on the runtime's major version, CommonJS or
    ESM as the project is, the externals left as requires, a metafile beside the output."""
    args = [str(esbuild), req.entry, "--bundle", "--platform=node", f"--target=node{req.node_major}",
            f"--format={'esm' if req.esm else 'cjs'}", f"--outfile={req.outfile}",
            f"--metafile={req.outfile}.meta.json", "--log-level=error", "--charset=utf8", "--legal-comments=none"]
    if req.esm:
        args.append(f"--banner:js={ESM_BANNER}")
    args += [f"--external:{name}" for name in sorted(set(req.external))]
    if req.minify:
        args.append("--minify")
    if req.sourcemap:
        args.append("--sourcemap")
    return args


def run(root: Path, esbuild: Path, req: BuildRequest, env: Mapping[str, str]) -> dict[str, Any]:
    """Run esbuild in the project folder; its metafile. A failed build is a project error with esbuild's words."""
    req.outfile.parent.mkdir(parents=True, exist_ok=True)
    run_env = {k: v for k, v in env.items() if not k.startswith("npm_")}
    run_env.setdefault("PATH", os.defpath)
    try:
        done = subprocess.run(command(esbuild, req), cwd=root, env=run_env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise ProjectError(f"esbuild did not finish bundling {req.entry} in {TIMEOUT:.0f} s") from None
    except OSError as err:
        raise ConfigError(f"{esbuild} cannot be run: {err.strerror or err}",
                          hint="reinstall it: npm i -D esbuild") from None
    if done.returncode != 0:
        words = "\n".join(line for line in (done.stderr or done.stdout).splitlines() if line.strip())[-3000:]
        raise ProjectError(f"esbuild could not bundle {req.entry}:\n{words}",
                           hint="fix the error above, or keep the package it names out of the bundle "
                                "(netlify.toml external_node_modules, serverless.yml custom.esbuild.external)")
    meta: dict[str, Any] = json.loads(Path(f"{req.outfile}.meta.json").read_text(encoding="utf-8"))
    return meta
