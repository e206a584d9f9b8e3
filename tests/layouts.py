"""Projects installed by the real package managers (npm, yarn 1, yarn berry, pnpm), offline, from local tarballs.

`make test` installs pinned pnpm, yarn 1 and yarn berry into .tools/ (scripts/install-node-tools.sh); the
tests find them there. Every dependency is a tarball made here with `npm pack` (named by absolute `file:`
paths, transitive ones included) or a workspace package, and the registry is an unreachable 127.0.0.1 port,
so no test reaches a registry. `prisma generate` is emulated as Prisma does it: the generated client is
written to `.prisma/client` beside the REAL @prisma/client folder, found with node's own
`require.resolve` from the package that holds the schema (in pnpm's store for pnpm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.projects import GENERATED_CLIENT, compile_elf, write_json

REPO = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("PHOTON_BUNDLE_TOOLS", REPO / ".tools"))
OFFLINE_REGISTRY = "http://127.0.0.1:9/"  # nothing listens there: a registry request fails at once
ENGINE_TARGETS = ("rhel-openssl-3.0.x", "debian-openssl-3.0.x")
ENGINES_VERSION = "0123456789abcdef0123456789abcdef01234567"

CLIENT_INDEX = """\
// Stand-in for @prisma/client: like the real package, it loads the client `prisma generate` wrote beside it.
module.exports = require('.prisma/client/default');
"""

STANDIN = """\
const pkg = require('./package.json');
module.exports = { name: pkg.name, version: pkg.version, deps: [%s] };
"""

HANDLER = """\
const { PrismaClient } = require('%s');
const debug = require('debug');
const express = require('express-lite');
const prisma = new PrismaClient();
exports.handler = async () => ({ engine: prisma.enginePath, debug, express });
"""

DB_INDEX = """\
// The shared db package of a monorepo: the schema and the client live here.
const { PrismaClient } = require('@prisma/client');
module.exports = { PrismaClient };
"""

SCHEMA = ('datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n\n'
          'generator client {\n  provider      = "prisma-client-js"\n'
          '  binaryTargets = ["native", "rhel-openssl-3.0.x"]\n}\n\nmodel Order {\n  id Int @id\n}\n')


@dataclass(frozen=True)
class Tool:
    argv: tuple[str, ...]
    version: str


def tool(name: str) -> Tool | None:
    """pnpm, yarn1 or berry from .tools/, or None when it is not installed."""
    paths = {"pnpm": ("pnpm", "pnpm"), "yarn1": ("yarn1", "yarn"), "berry": ("berry", "@yarnpkg/cli-dist")}
    folder, package = paths[name]
    pkg_dir = TOOLS / folder / "node_modules" / package
    if not (pkg_dir / "package.json").is_file():
        return None
    version = json.loads((pkg_dir / "package.json").read_text())["version"]
    bins = {"pnpm": pkg_dir / "bin" / "pnpm.cjs", "yarn1": pkg_dir / "bin" / "yarn.js",
            "berry": pkg_dir / "bin" / "yarn.js"}
    return Tool(("node", str(bins[name])), version)


def offline_env(home: Path) -> dict[str, str]:
    """An environment in which no package manager can reach a registry (or a user config)."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ["PATH"], "HOME": str(home), "npm_config_registry": OFFLINE_REGISTRY,
        "npm_config_cache": str(home / "npm-cache"), "npm_config_audit": "false", "npm_config_fund": "false",
        "npm_config_update_notifier": "false", "YARN_CACHE_FOLDER": str(home / "yarn-cache"),
        "YARN_ENABLE_TELEMETRY": "0", "YARN_NPM_REGISTRY_SERVER": OFFLINE_REGISTRY.rstrip("/"),
        "YARN_ENABLE_GLOBAL_CACHE": "0", "YARN_ENABLE_IMMUTABLE_INSTALLS": "0", "COREPACK_ENABLE_STRICT": "0",
        "CI": "1",
    }


def _package(folder: Path, data: dict[str, object], files: dict[str, str]) -> None:
    write_json(folder / "package.json", data)
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)


def pack_standins(dest: Path, env: dict[str, str]) -> dict[str, str]:
    """npm-pack the stand-in packages into dest; name -> `file:` spec of its tarball.

    debug needs ms 2.1.2 and express-lite ms 3.0.0 (a real version conflict); the prisma CLI stand-in
    brings @prisma/engines-version, which says the engine commit."""
    src = dest / "src"
    tgz = dest / "tgz"
    tgz.mkdir(parents=True, exist_ok=True)
    spec = {
        "ms2": f"file:{tgz}/ms-2.1.2.tgz", "ms3": f"file:{tgz}/ms-3.0.0.tgz",
        "debug": f"file:{tgz}/debug-4.3.4.tgz", "express-lite": f"file:{tgz}/express-lite-1.0.0.tgz",
        "@prisma/client": f"file:{tgz}/prisma-client-5.22.0.tgz",
        "@prisma/engines-version": f"file:{tgz}/prisma-engines-version-5.22.0.tgz",
        "prisma": f"file:{tgz}/prisma-5.22.0.tgz",
    }
    packages: list[tuple[str, dict[str, object], dict[str, str]]] = [
        ("ms2", {"name": "ms", "version": "2.1.2", "main": "index.js"}, {"index.js": STANDIN % ""}),
        ("ms3", {"name": "ms", "version": "3.0.0", "main": "index.js"}, {"index.js": STANDIN % ""}),
        ("debug", {"name": "debug", "version": "4.3.4", "main": "index.js", "dependencies": {"ms": spec["ms2"]}},
         {"index.js": STANDIN % "require('ms')"}),
        ("express-lite", {"name": "express-lite", "version": "1.0.0", "main": "index.js",
                          "dependencies": {"ms": spec["ms3"]}}, {"index.js": STANDIN % "require('ms')"}),
        ("client", {"name": "@prisma/client", "version": "5.22.0", "main": "index.js",
                    "peerDependencies": {"prisma": "*"}, "peerDependenciesMeta": {"prisma": {"optional": True}}},
         {"index.js": CLIENT_INDEX, "default.js": CLIENT_INDEX, "runtime/library.js": "// runtime\n"}),
        ("engines-version", {"name": "@prisma/engines-version", "version": "5.22.0", "main": "index.js",
                             "prisma": {"enginesVersion": ENGINES_VERSION}}, {"index.js": "module.exports = {};\n"}),
        ("prisma", {"name": "prisma", "version": "5.22.0", "main": "build/index.js",
                    "dependencies": {"@prisma/engines-version": spec["@prisma/engines-version"]}},
         {"build/index.js": "// the prisma CLI\n"}),
    ]
    for folder, data, files in packages:
        _package(src / folder, data, files)
        subprocess.run(["npm", "pack", "--silent", "--pack-destination", str(tgz)], cwd=src / folder, env=env,
                       check=True, capture_output=True)
    return spec


@dataclass(frozen=True)
class Fixture:
    root: Path  # the repository root (where the package manager ran)
    project: Path  # the function's folder (what photon-bundle bundles)
    schema_owner: Path  # the package that holds the schema (where `prisma generate` runs)


def single_package(root: Path, spec: dict[str, str]) -> Fixture:
    """One package: the handler, its dependencies and the schema in one folder."""
    _package(root, {"name": "orders-api", "version": "1.0.0", "private": True, "main": "handler.js",
                    "dependencies": {"@prisma/client": spec["@prisma/client"], "debug": spec["debug"],
                                     "express-lite": spec["express-lite"]},
                    "devDependencies": {"prisma": spec["prisma"]}},
             {"handler.js": HANDLER % "@prisma/client", "prisma/schema.prisma": SCHEMA})
    return Fixture(root, root, root)


def monorepo(root: Path, spec: dict[str, str], *, db_range: str, workspace_file: bool = False) -> Fixture:
    """A workspaces monorepo: the function in packages/api uses the shared packages/db, which holds the schema
    and the client. `db_range` is how api names db ("*", "1.0.0", "workspace:*")."""
    root_pkg: dict[str, object] = {"name": "acme", "version": "1.0.0", "private": True}
    if workspace_file:
        (root / "pnpm-workspace.yaml").parent.mkdir(parents=True, exist_ok=True)
        (root / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n")
    else:
        root_pkg["workspaces"] = ["packages/*"]
    _package(root, root_pkg, {})
    _package(root / "packages" / "db", {"name": "@acme/db", "version": "1.0.0", "main": "index.js",
                                        "dependencies": {"@prisma/client": spec["@prisma/client"]},
                                        "devDependencies": {"prisma": spec["prisma"]}},
             {"index.js": DB_INDEX, "prisma/schema.prisma": SCHEMA})
    _package(root / "packages" / "api", {"name": "@acme/api", "version": "1.0.0", "main": "handler.js",
                                         "dependencies": {"@acme/db": db_range, "debug": spec["debug"],
                                                          "express-lite": spec["express-lite"]}},
             {"handler.js": HANDLER % "@acme/db"})
    return Fixture(root, root / "packages" / "api", root / "packages" / "db")


def install(manager: str, fixture: Fixture, env: dict[str, str]) -> None:
    """Install offline with the real package manager; raise with its output when it fails."""
    cwd = fixture.root
    if manager == "npm":
        argv: tuple[str, ...] = ("npm", "install", "--offline", "--no-audit", "--no-fund")
    elif manager == "pnpm":
        found = tool("pnpm")
        assert found is not None
        argv = (*found.argv, "install", "--offline", "--config.confirmModulesPurge=false")
    elif manager == "yarn1":
        found = tool("yarn1")
        assert found is not None
        argv = (*found.argv, "install", "--offline", "--non-interactive", "--no-progress")
    else:
        found = tool("berry")
        assert found is not None
        (cwd / "yarn.lock").touch()
        argv = (*found.argv, "install")
    ran = subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if ran.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed in {cwd}:\n{ran.stdout}\n{ran.stderr}")


def generate(fixture: Fixture, env: dict[str, str], elf_cache: Path) -> Path:
    """What `prisma generate` writes, where it writes it: `.prisma/client` beside the real @prisma/client that
    the schema's package resolves (node's own require.resolve, then realpath). Returns the client folder."""
    ran = subprocess.run(["node", "-p", "require('fs').realpathSync(require.resolve('@prisma/client/package.json'))"],
                         cwd=fixture.schema_owner, env=env, capture_output=True, text=True, check=True)
    client_pkg = Path(ran.stdout.strip()).parent  # <...>/node_modules/@prisma/client
    out = client_pkg.parent.parent / ".prisma" / "client"
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.js").write_text(GENERATED_CLIENT)
    (out / "default.js").write_text("module.exports = { ...require('./index.js') };\n")
    (out / "schema.prisma").write_text(SCHEMA)
    write_json(out / "package.json", {"name": ".prisma/client", "main": "index.js", "types": "index.d.ts"})
    for target in ENGINE_TARGETS:
        cached = elf_cache / f"so-{target}"
        if not cached.exists():
            elf_cache.mkdir(parents=True, exist_ok=True)
            compile_elf(cached, shared=True, marker=target)
        shutil.copy2(cached, out / f"libquery_engine-{target}.so.node")
    return out


def load_handler(unpacked: Path, handler: str = "handler.js") -> dict[str, object]:
    """Require the handler in a fresh node with nothing else on its module path; its JSON result."""
    script = (f"const h = require('./{handler}');"
              "Promise.resolve(h.handler({})).then((r) => process.stdout.write(JSON.stringify(r)));")
    env = {"PATH": os.environ["PATH"], "HOME": str(unpacked)}  # no NODE_PATH, no user folders
    ran = subprocess.run(["node", "-e", script], check=False, cwd=unpacked, env=env, capture_output=True, text=True,
                         timeout=60)
    if ran.returncode != 0:
        raise AssertionError(f"the bundle does not load:\n{ran.stderr}")
    result: dict[str, object] = json.loads(ran.stdout)
    return result
