"""Build realistic Node + Prisma fixture projects on disk for the tests.

The shape follows what users have: production dependencies with a nested version conflict, dev
dependencies (the prisma CLI with @prisma/engines and CLI engines), a generated client in
node_modules/.prisma/client with engines for several targets, secrets and junk. Engine files are small
real ELF programs compiled by gcc here (never committed), named as Prisma names them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ALL_TARGETS = ("debian-openssl-3.0.x", "rhel-openssl-1.0.x", "rhel-openssl-3.0.x", "linux-arm64-openssl-3.0.x")


def compile_elf(dest: Path, *, shared: bool = False, marker: str = "engine") -> Path:
    """A real x86_64 ELF: an executable, or a shared object; `marker` makes contents distinct."""
    src = dest.with_suffix(".c")
    if shared:
        src.write_text(f'const char *photon_marker(void) {{ return "{marker}"; }}\n')
        cmd = ["gcc", "-shared", "-fPIC", "-O1", "-o", str(dest), str(src)]
    else:
        src.write_text(f'#include <stdio.h>\nint main(void) {{ puts("{marker}"); return 0; }}\n')
        cmd = ["gcc", "-O1", "-o", str(dest), str(src)]
    subprocess.run(cmd, check=True)
    src.unlink()
    dest.chmod(0o755)
    return dest


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def add_package(root: Path, rel_dir: str, name: str, version: str = "1.0.0",
                dependencies: dict[str, str] | None = None, files: dict[str, str] | None = None,
                optional: dict[str, str] | None = None) -> Path:
    pkg = root / rel_dir
    data: dict[str, object] = {"name": name, "version": version, "main": "index.js"}
    if dependencies:
        data["dependencies"] = dependencies
    if optional:
        data["optionalDependencies"] = optional
    write_json(pkg / "package.json", data)
    for rel, text in (files or {"index.js": f"module.exports = {json.dumps(name)};\n"}).items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    return pkg


PRISMA_CLIENT_INDEX = """\
// Stand-in for @prisma/client: re-exports the generated client, as the real package does.
module.exports = require('.prisma/client');
"""

GENERATED_CLIENT = """\
// Stand-in for the generated client (node_modules/.prisma/client): it finds the engine the way Prisma
// does (env variable first, then its own folder) and refuses to start without one.
const fs = require('fs');
const path = require('path');
function findEngine() {
  const fromEnv = process.env.PRISMA_QUERY_ENGINE_LIBRARY || process.env.PRISMA_QUERY_ENGINE_BINARY;
  if (fromEnv) return fromEnv;
  const found = fs.readdirSync(__dirname).filter((f) => /^(lib)?query[-_]engine-/.test(f));
  if (found.length === 0) throw new Error('Query engine could not be found in ' + __dirname);
  return path.join(__dirname, found[0]);
}
class PrismaClient {
  constructor() {
    this.enginePath = findEngine();
    const mode = fs.statSync(this.enginePath).mode;
    if (this.enginePath.includes('query-engine') && (mode & 0o111) === 0) {
      throw new Error('EACCES: engine not executable');
    }
  }
}
module.exports = { PrismaClient };
"""

DEBUG_JS = """\
// Stand-in for debug: like the real package it exports a factory of loggers (require('debug')('ns')).
module.exports = function debug(namespace) { return function log() {}; };
"""

HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const debug = require('debug');
// Created once per container, outside the handler, as the Lambda advice says.
const prisma = new PrismaClient();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ engine: prisma.enginePath, debug }) });
"""


# serverless.yml of two functions packaged one by one, one of them on arm64 (publish and shared-cache tests)
TWO_FUNCTION_SERVERLESS = """\
service: shop
provider:
  name: aws
  runtime: nodejs20.x
package:
  individually: true
functions:
  api:
    handler: handler.handler
  worker:
    handler: handler.handler
    architecture: arm64
"""


def make_project(root: Path, *, engine_kind: str = "library", targets: tuple[str, ...] = ALL_TARGETS,
                 engines_node: str | None = None, secrets: bool = True, elf_cache: Path | None = None,
                 engines_version: str | None = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """A Prisma project as `npm ci && prisma generate` leaves it (stand-in packages, real ELF engines)."""
    root.mkdir(parents=True, exist_ok=True)
    pkg: dict[str, object] = {
        "name": "orders-api", "version": "1.2.0", "main": "handler.js",
        "dependencies": {"@prisma/client": "5.22.0", "debug": "^4.3.4", "express-lite": "1.0.0"},
        "optionalDependencies": {"fsevents-lite": "1.0.0"},
        "devDependencies": {"prisma": "5.22.0", "jest-lite": "29.0.0"},
    }
    if engines_node:
        pkg["engines"] = {"node": engines_node}
    write_json(root / "package.json", pkg)
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (root / "handler.js").write_text(HANDLER)
    (root / "lib").mkdir(exist_ok=True)
    (root / "lib" / "util.js").write_text("module.exports = () => 42;\n")
    (root / "prisma").mkdir(exist_ok=True)
    binary_targets = ", ".join(json.dumps(t) for t in ("native", *targets))
    engine_line = f'  engineType    = "{engine_kind}"\n' if engine_kind != "library" else ""
    (root / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url      = env("DATABASE_URL")\n}\n\n'
        f'generator client {{\n  provider      = "prisma-client-js"\n  binaryTargets = [{binary_targets}]\n'
        f"{engine_line}}}\n\nmodel Order {{\n  id Int @id\n}}\n"
    )
    nm = "node_modules"
    add_package(root, f"{nm}/@prisma/client", "@prisma/client", "5.22.0",
                files={"index.js": PRISMA_CLIENT_INDEX, "runtime/library.js": "// runtime\n" * 200})
    client = root / nm / ".prisma" / "client"
    client.mkdir(parents=True, exist_ok=True)
    (client / "index.js").write_text(GENERATED_CLIENT)
    (client / "schema.prisma").write_text((root / "prisma" / "schema.prisma").read_text())
    (client / "query_engine_bg.postgresql.wasm").write_bytes(b"\0asm" + b"p" * 1000)
    (client / "query_engine_bg.mysql.wasm").write_bytes(b"\0asm" + b"m" * 1000)
    for target in targets:
        name = f"query-engine-{target}" if engine_kind == "binary" else f"libquery_engine-{target}.so.node"
        _engine(client / name, shared=engine_kind != "binary", marker=target, cache=elf_cache)
    if engines_version:
        add_package(root, f"{nm}/@prisma/engines-version", "@prisma/engines-version", "5.22.0",
                    files={"index.js": "module.exports = {};\n"})
        meta = json.loads((root / nm / "@prisma/engines-version/package.json").read_text())
        meta["prisma"] = {"enginesVersion": engines_version}
        write_json(root / nm / "@prisma/engines-version/package.json", meta)
    add_package(root, f"{nm}/debug", "debug", "4.3.4", {"ms": "2.1.2"}, files={"index.js": DEBUG_JS})
    add_package(root, f"{nm}/ms", "ms", "2.1.2")
    add_package(root, f"{nm}/express-lite", "express-lite", "1.0.0", {"ms": "3.0.0"})
    add_package(root, f"{nm}/express-lite/node_modules/ms", "ms", "3.0.0")
    add_package(root, f"{nm}/fsevents-lite", "fsevents-lite", "1.0.0")
    # dev dependencies: the prisma CLI with its engines, a test runner with its own dependency
    add_package(root, f"{nm}/prisma", "prisma", "5.22.0", {"@prisma/engines": "5.22.0"},
                files={"build/index.js": "// the prisma CLI\n" * 500})
    engines_pkg = add_package(root, f"{nm}/@prisma/engines", "@prisma/engines", "5.22.0")
    _engine(engines_pkg / "schema-engine-debian-openssl-3.0.x", shared=False, marker="schema", cache=elf_cache)
    _engine(engines_pkg / "libquery_engine-debian-openssl-3.0.x.so.node", shared=True, marker="cli-qe",
            cache=elf_cache)
    add_package(root, f"{nm}/jest-lite", "jest-lite", "29.0.0", {"chalk-lite": "1.0.0"})
    add_package(root, f"{nm}/chalk-lite", "chalk-lite", "1.0.0")
    (root / nm / ".bin").mkdir(exist_ok=True)
    (root / nm / ".cache").mkdir(exist_ok=True)
    (root / nm / ".cache" / "junk.bin").write_bytes(b"x" * 5000)
    if secrets:
        (root / ".env").write_text("DATABASE_URL=postgresql://secret\n")
        (root / ".env.production").write_text("DATABASE_URL=postgresql://prod-secret\n")
        (root / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
        (root / ".npmrc").write_text("//registry.npmjs.org/:_authToken=secret\n")
        (root / ".git").mkdir(exist_ok=True)
        (root / ".git" / "config").write_text("[core]\n")
    return root


def _engine(dest: Path, *, shared: bool, marker: str, cache: Path | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if cache is None:
        compile_elf(dest, shared=shared, marker=marker)
        return
    cached = cache / f"{'so' if shared else 'exe'}-{marker}"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        compile_elf(cached, shared=shared, marker=marker)
    shutil.copy2(cached, dest)


def tree_digest(root: Path) -> dict[str, tuple[int, str]]:
    """Every file's mode and sha256 below root (symlinks as their targets): to prove nothing changed."""
    import hashlib

    out: dict[str, tuple[int, str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = (0, str(path.readlink()))
        elif path.is_file():
            out[path.relative_to(root).as_posix()] = (path.stat().st_mode,
                                                      hashlib.sha256(path.read_bytes()).hexdigest())
    return out


PHOTON_CLIENT = """\
// Stand-in for the 2019 Photon.js client (node_modules/@generated/photon): it spawns its query engine,
// `runtime/prisma-<platform>`, so it needs that file with its exec bit.
const fs = require('fs');
const path = require('path');
class Photon {
  constructor() {
    const dir = path.join(__dirname, 'runtime');
    const found = fs.readdirSync(dir).filter((f) => /^prisma-|^query-engine-/.test(f));
    if (found.length === 0) throw new Error('Photon binary could not be found in ' + dir);
    this.enginePath = path.join(dir, found[0]);
    if ((fs.statSync(this.enginePath).mode & 0o111) === 0) throw new Error('EACCES: ' + this.enginePath);
  }
}
module.exports = { Photon };
"""

PHOTON_HANDLER = """\
const { Photon } = require('@generated/photon');
const yoga = require('graphql-yoga-lite');
const photon = new Photon();
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ engine: photon.enginePath, yoga }) });
"""

PHOTON_PLATFORMS = ("native", "linux-glibc-libssl1.0.1", "linux-glibc-libssl1.0.2")


def make_photon_project(root: Path, *, platforms: tuple[str, ...] = PHOTON_PLATFORMS, elf_cache: Path | None = None,
                        engines_node: str | None = None) -> Path:
    """A 2019 Photon.js project as `npm install && prisma2 generate` left it: the generator's `platforms`
    field, the client generated into node_modules/@generated/photon (not a package.json dependency) with
    one `prisma-<platform>` binary per platform, and the prisma2 CLI as a dev dependency."""
    root.mkdir(parents=True, exist_ok=True)
    pkg: dict[str, object] = {
        "name": "photon-graphql", "version": "0.1.0", "main": "index.js",
        "dependencies": {"graphql-yoga-lite": "1.8.5"},
        "devDependencies": {"prisma2": "2.0.0-preview-12"},
        "scripts": {"postinstall": "prisma2 generate"},
    }
    if engines_node:
        pkg["engines"] = {"node": engines_node}
    write_json(root / "package.json", pkg)
    (root / "package-lock.json").write_text('{"lockfileVersion": 1}\n')
    (root / "index.js").write_text(PHOTON_HANDLER)
    (root / "prisma").mkdir(exist_ok=True)
    listed = ", ".join(json.dumps(p) for p in platforms)
    (root / "prisma" / "schema.prisma").write_text(
        'datasource db {\n  provider = "postgresql"\n  url      = env("POSTGRESQL_URL")\n}\n\n'
        f'generator photon {{\n  provider  = "photonjs"\n  platforms = [{listed}]\n}}\n\n'
        "model User {\n  id    String @default(cuid()) @id @unique\n  email String @unique\n}\n"
    )
    photon = root / "node_modules" / "@generated" / "photon"
    (photon / "runtime").mkdir(parents=True, exist_ok=True)
    (photon / "index.js").write_text(PHOTON_CLIENT)
    (photon / "index.d.ts").write_text("export declare class Photon {}\n")
    (photon / "runtime" / "index.js").write_text("// photon runtime\n" * 100)
    (photon / "schema.prisma").write_text((root / "prisma" / "schema.prisma").read_text())
    for platform in platforms:
        name = "darwin" if platform == "native" else platform
        _static_engine(photon / "runtime" / f"prisma-{name}", marker=f"photon-{name}", cache=elf_cache)
    add_package(root, "node_modules/graphql-yoga-lite", "graphql-yoga-lite", "1.8.5", {"graphql-lite": "14.0.0"})
    add_package(root, "node_modules/graphql-lite", "graphql-lite", "14.0.0")
    cli = add_package(root, "node_modules/prisma2", "prisma2", "2.0.0-preview-12",
                      files={"build/index.js": "// the prisma2 CLI\n" * 300})
    _static_engine(cli / "build" / "prisma-linux-glibc-libssl1.0.2", marker="prisma2-cli", cache=elf_cache)
    return root


def compile_static_elf(dest: Path, *, marker: str = "engine") -> Path:
    """A static x86_64 executable: no interpreter and no glibc symbol versions, so it passes the checks
    for every x86_64 runtime, the 2017 ones (glibc 2.17) included."""
    src = dest.with_suffix(".c")
    src.write_text(f'#include <stdio.h>\nint main(void) {{ puts("{marker}"); return 0; }}\n')
    subprocess.run(["gcc", "-static", "-O1", "-o", str(dest), str(src)], check=True)
    src.unlink()
    dest.chmod(0o755)
    return dest


def _static_engine(dest: Path, *, marker: str, cache: Path | None) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if cache is None:
        compile_static_elf(dest, marker=marker)
        return
    cached = cache / f"static-{marker}"
    if not cached.exists():
        cache.mkdir(parents=True, exist_ok=True)
        compile_static_elf(cached, marker=marker)
    shutil.copy2(cached, dest)
