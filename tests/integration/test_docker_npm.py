"""The default recipe (`npm ci && npx prisma generate`) for real, offline: the build image is the host's
own node and npm; the project's dependencies are local tarballs made with `npm pack`: a package whose
install script builds a "native addon", and a stand-in `prisma` CLI (a devDependency, as in real projects)
whose `generate` writes the generated client and a query engine."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bundler.engines.docker import DockerBuildOptions, built_tree, default_recipe
from bundler.targets import resolve
from tests.docker_images import ImageFactory, host_node_entries
from tests.integration.docker_fixtures import docker_client, images, photon_containers  # noqa: F401 - fixtures

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="needs the host's node and npm"),
]

ADDON_BUILD = """
const fs = require('fs');
fs.mkdirSync('build/Release', { recursive: true });
fs.writeFileSync('build/Release/addon.node', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]));
fs.chmodSync('build/Release/addon.node', 0o755);
"""

FAKE_PRISMA = """#!/usr/bin/env node
const fs = require('fs');
if (process.argv[2] !== 'generate') { console.error('usage: prisma generate'); process.exit(1); }
const out = 'node_modules/.prisma/client';
fs.mkdirSync(out, { recursive: true });
fs.copyFileSync(process.execPath, out + '/query-engine-rhel-openssl-1.0.x');
fs.chmodSync(out + '/query-engine-rhel-openssl-1.0.x', 0o755);
fs.writeFileSync(out + '/index.js', 'module.exports = { generated: true };\\n');
console.log('Generated Prisma Client (stand-in) to ./' + out);
"""


def npm(args: list[str], cwd: Path) -> None:
    subprocess.run(
        ["npm", *args, "--offline", "--no-audit", "--no-fund"], cwd=cwd, check=True, capture_output=True, timeout=120
    )


def make_npm_project(base: Path) -> Path:
    addon = base / "addon-src"
    addon.mkdir(parents=True)
    (addon / "package.json").write_text(
        json.dumps({"name": "addon", "version": "1.0.0", "scripts": {"install": "node build.js"}})
    )
    (addon / "build.js").write_text(ADDON_BUILD)
    prisma = base / "prisma-src"
    prisma.mkdir()
    (prisma / "package.json").write_text(json.dumps({"name": "prisma", "version": "0.0.0-test", "bin": "cli.js"}))
    (prisma / "cli.js").write_text(FAKE_PRISMA)
    (prisma / "cli.js").chmod(0o755)

    project = base / "app"
    (project / "vendor").mkdir(parents=True)
    (project / "prisma").mkdir()
    (project / "prisma" / "schema.prisma").write_text('generator client {\n  provider = "prisma-client-js"\n}\n')
    for source in (addon, prisma):
        subprocess.run(
            ["npm", "pack", "--pack-destination", str(project / "vendor")],
            cwd=source,
            check=True,
            capture_output=True,
            timeout=120,
        )
    (project / "package.json").write_text(
        json.dumps(
            {
                "name": "app",
                "version": "1.0.0",
                "dependencies": {"addon": "file:vendor/addon-1.0.0.tgz"},
                "devDependencies": {"prisma": "file:vendor/prisma-0.0.0-test.tgz"},
            }
        )
    )
    npm(["install", "--package-lock-only", "--ignore-scripts"], project)
    (project / "handler.js").write_text("exports.handler = async () => require('addon')\n")
    return project


def test_default_recipe_with_npm_offline(
    docker_client: Any,  # noqa: F811
    images: ImageFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    project = make_npm_project(tmp_path)
    assert default_recipe(project) == "npm ci && npx prisma generate"
    image = images.imported(host_node_entries(), name="node")
    before = photon_containers(docker_client)
    lines: list[str] = []
    options = DockerBuildOptions(image=image, env={"npm_config_offline": "true"}, timeout=300)
    with built_tree(project, resolve("lambda", "nodejs20.x"), options, lines.append) as tree:
        engine = tree / "node_modules/.prisma/client/query-engine-rhel-openssl-1.0.x"
        addon = tree / "node_modules/addon/build/Release/addon.node"
        assert stat.S_IMODE(engine.stat().st_mode) == 0o755
        assert engine.read_bytes()[:4] == b"\x7fELF"
        assert stat.S_IMODE(addon.stat().st_mode) == 0o755
        assert (tree / "node_modules/prisma/cli.js").is_file()  # dev dependencies stay; the planner drops them
        assert (tree / "node_modules/.bin/prisma").is_symlink()
        assert (tree / "node_modules/.bin/prisma").resolve().is_file()
    assert any("Generated Prisma Client (stand-in)" in line for line in lines), lines
    assert photon_containers(docker_client) == before
    assert not (project / "node_modules").exists(), "nothing is written into the user's project"
