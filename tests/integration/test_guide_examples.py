"""The deployment guide's five example projects (tests/guide_examples.py) bundle with the platform's command and
no extra flags, carry exactly the right engine where the Photon runtime looks (exec bit kept), and load in a
fresh `node` from the unpacked artifact."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from bundler.engines.cache import EngineCache
from bundler.hashing import sha256_file
from tests.cli_helpers import bundle_ok, run_cli, zip_modes
from tests.guide_examples import (
    ENGINE_COMMIT,
    express_421,
    gcf_example,
    netlify_example,
    photon_stub,
    serverless_example,
    up_example,
    zeit_now_example,
)
from tests.projects import compile_static_elf, make_project, tree_digest, write_json

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


def unpack(zip_path: Path, dest: Path) -> Path:
    """Unzip keeping the Unix modes stored in the zip (as the platforms do)."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                (dest / info.filename).chmod(mode & 0o777)
    return dest


def node(cwd: Path, script: str, platform: str, **env: str) -> str:
    """Run `node -e SCRIPT` in a fresh process, cwd the unpacked artifact, NODE_PATH unset."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NODE_PATH", "PRISMA_QUERY_ENGINE_BINARY")}
    result = subprocess.run(["node", "-e", script], cwd=cwd, capture_output=True, text=True, timeout=60,
                            check=False, env={**clean, "PHOTON_TEST_PLATFORM": platform, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout


def engines(zip_path: Path) -> dict[str, int]:
    return {name: mode for name, mode in zip_modes(zip_path).items() if "query-engine-" in name}


@pytest.fixture(autouse=True)
def runtime_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in Photon runtime asks PHOTON_TEST_PLATFORM which target it runs on (the real one asks
    get-platform). photon-bundle's own load check runs the bundle on this machine, so the tests say the
    function's platform for it as they do for their own node runs."""
    monkeypatch.setenv("PHOTON_TEST_PLATFORM", "rhel-openssl-1.0.x")


def cached_engine(tmp_path: Path, target: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """photon-bundle's cache holds the target's engine for the examples' engine commit (as after
    `photon-bundle engines fetch`), so the run needs no network."""
    monkeypatch.setenv("PHOTON_BUNDLE_CACHE", str(tmp_path / "engine-cache"))
    engine = compile_static_elf(tmp_path / f"engine-{target}", marker=f"mirror-{target}")
    cache = EngineCache(tmp_path / "engine-cache")
    entry = cache.entry(ENGINE_COMMIT, target, "binary")
    with cache.locked(entry):
        cache.store_copy(entry, engine, sha256_file(engine))


def test_google_cloud_functions(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    project = gcf_example(tmp_path / "google-cloud-functions", elf_cache)
    cached_engine(tmp_path, "debian-openssl-1.1.x", monkeypatch)
    monkeypatch.setenv("PHOTON_TEST_PLATFORM", "debian-openssl-1.1.x")
    before = tree_digest(project)
    doc = bundle_ok("gcf", project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"]) == ("nodejs10", "debian-openssl-1.1.x")
    assert doc["runtime_source"] == "deploy.sh:2: gcloud functions deploy --runtime nodejs10"
    # the engine commit comes from node_modules/prisma2/package.json (prisma.version)
    assert (doc["engine"]["source"], doc["engine"]["version"]) == ("cache", ENGINE_COMMIT)
    source = tmp_path / "out" / "source.zip"
    vendor = "photon-bundle-vendor/node_modules/@prisma/photon/"
    assert engines(source) == {f"{vendor}runtime/query-engine-debian-openssl-1.1.x": 0o100755}
    listed = set(zip_modes(source))
    assert {f"{vendor}index.js", f"{vendor}schema.prisma", f"{vendor}runtime/index.js"} <= listed  # the client itself
    assert not [n for n in listed if "@generated" in n or n.startswith(("node_modules/", "photon-bundle-vendor/"
                                                                        "node_modules/prisma2"))]
    assert tree_digest(project) == before
    # What GCF does: npm installs the dependencies (the @prisma/photon stub among them), then the zip's
    # postinstall restores the vendored client; then the function loads and finds its engine.
    app = unpack(source, tmp_path / "deployed")
    assert json.loads((app / "package.json").read_text())["scripts"]["postinstall"] == \
        "node photon-bundle-vendor/restore.js"
    photon_stub(app)
    subprocess.run(["node", "photon-bundle-vendor/restore.js"], cwd=app, check=True, timeout=60)
    script = ("const f = require('./index.js'); let sent;"
              "f.photonExample({}, {status: () => ({send: (b) => { sent = b; }})}).then(() => console.log(sent))")
    out = node(app, script, "debian-openssl-1.1.x")
    engine = json.loads(out)[0]["engine"]
    assert engine.endswith("node_modules/@prisma/photon/runtime/query-engine-debian-openssl-1.1.x")


def test_netlify(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = netlify_example(tmp_path / "netlify", elf_cache)
    doc = bundle_ok("netlify", project, tmp_path / "out", capsys)
    (unit,) = doc["units"]
    assert (unit["name"], unit["runtime"], unit["engine"]["target"]) == ("index", "nodejs18.x", "rhel-openssl-1.0.x")
    assert unit["runtime_source"] == "the project holds rhel-openssl-1.0.x: nodejs18.x is the newest runtime it serves"
    assert unit["engine"]["source"] == "local"
    zip_path = tmp_path / "out" / "functions" / "index.zip"
    assert engines(zip_path) == {"functions/generated/photon/runtime/query-engine-rhel-openssl-1.0.x": 0o100755}
    app = unpack(zip_path, tmp_path / "deployed")
    out = node(app, "require('./index.js').handler({}).then((r) => console.log(r.body))", "rhel-openssl-1.0.x")
    assert json.loads(out)[0]["engine"].endswith("generated/photon/runtime/query-engine-rhel-openssl-1.0.x")


def test_netlify_advice_names_only_what_that_prisma_knows(tmp_path: Path, elf_cache: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Asked for nodejs20.x (Amazon Linux 2023, rhel-openssl-3.0.x), a 2.0-preview project cannot have that
    engine: the advice says so, names the targets that Prisma knows and the runtimes its engines serve."""
    project = netlify_example(tmp_path / "netlify", elf_cache)
    code, _, err = run_cli(["netlify", str(project), "--out", str(tmp_path / "out"), "--offline",
                            "--runtime", "nodejs20.x", "--engine-version", ENGINE_COMMIT], capsys)
    assert code == 3, err
    assert 'binaryTargets = ["native", "rhel-openssl-3.0.x"]' not in err
    assert "has no engine for rhel-openssl-3.0.x" in err and "rhel-openssl-1.0.x, rhel-openssl-1.1.x" in err
    assert "serve --runtime nodejs18.x or nodejs16.x" in err


def test_serverless(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = serverless_example(tmp_path / "serverless", elf_cache)
    doc = bundle_ok("serverless", project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"], doc["engine"]["source"]) == \
        ("nodejs10.x", "rhel-openssl-1.0.x", "local")
    zip_path = tmp_path / "out" / "service.zip"
    assert engines(zip_path) == {"node_modules/@prisma/photon/runtime/query-engine-rhel-openssl-1.0.x": 0o100755}
    app = unpack(zip_path, tmp_path / "deployed")
    out = node(app, "require('./server.js').handler({httpMethod: 'GET'}).then((r) => console.log(r.body))",
               "rhel-openssl-1.0.x")
    assert json.loads(out)[0]["engine"].endswith("@prisma/photon/runtime/query-engine-rhel-openssl-1.0.x")


def test_up(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = up_example(tmp_path / "up", elf_cache)
    doc = bundle_ok("up", project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"]) == ("nodejs10.x", "rhel-openssl-1.0.x")
    assert not [w for w in doc["warnings"] if "not installed" in w]
    zip_path = tmp_path / "out" / "function.zip"
    assert engines(zip_path) == {"node_modules/@prisma/photon/runtime/query-engine-rhel-openssl-1.0.x": 0o100755}
    listed = set(zip_modes(zip_path))
    assert {"node_modules/math-intrinsics/abs.js", "node_modules/dunder-proto/get.js"} <= listed
    app = unpack(zip_path, tmp_path / "deployed")
    out = node(app, "require('./app.js')", "rhel-openssl-1.0.x", PORT="0", EXIT_WHEN_LISTENING="1")
    assert out.startswith("Started server on ")


def test_zeit_now_zero_config(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    project = zeit_now_example(tmp_path / "zeit-now", elf_cache)
    cached_engine(tmp_path, "rhel-openssl-1.0.x", monkeypatch)
    now_json = (project / "now.json").read_text()
    doc = bundle_ok("now", project, tmp_path / "out", capsys, "--max-size", "25mb")
    (unit,) = doc["units"]
    assert (unit["name"], unit["runtime"], unit["engine"]["target"]) == ("api/index", "nodejs10.x",
                                                                       "rhel-openssl-1.0.x")
    assert unit["runtime_source"] == 'api/package.json engines.node "10.x"'
    assert (unit["engine"]["source"], unit["engine"]["version"]) == ("cache", ENGINE_COMMIT)  # from the header
    zip_path = tmp_path / "out" / "functions" / "api" / "index.zip"
    assert engines(zip_path) == {"node_modules/@prisma/photon/runtime/query-engine-rhel-openssl-1.0.x": 0o100755}
    listed = set(zip_modes(zip_path))
    assert {"api/index.js", "api/package.json", "node_modules/@prisma/photon/schema.prisma",
            "api/node_modules/math-intrinsics/abs.js"} <= listed
    assert not [n for n in listed if n.startswith("public/") or "prisma2" in n]
    # zero config stays zero config: public/ is still served
    assert (project / "now.json").read_text() == now_json
    assert json.loads((tmp_path / "out" / "now.json").read_text()) == json.loads(now_json)
    app = unpack(zip_path, tmp_path / "deployed")
    out = node(app, "const app = require('./api/index.js'); let body;"
                    "app({}, {end: (b) => { body = b; }, set() {}, status() {}});"
                    "setTimeout(() => console.log(body), 50)", "rhel-openssl-1.0.x")
    assert "query-engine-rhel-openssl-1.0.x" in out


def test_ungenerated_client_is_refused_with_the_generate_command(tmp_path: Path, elf_cache: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`npm install` without a schema (or with SKIP_GENERATE) leaves the stub @prisma/photon: refused, never
    bundled with the CLI package's engine."""
    project = serverless_example(tmp_path / "serverless", elf_cache)
    shutil.rmtree(project / "node_modules" / "@prisma" / "photon")
    photon_stub(project)
    code, _, err = run_cli(["serverless", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3, err
    assert "was never generated" in err and "npx prisma2 generate" in err
    assert not (tmp_path / "out").exists()


def test_express_421_app_with_main_false_packages_loads_from_the_bundle(tmp_path: Path, elf_cache: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Today's Prisma project with express 4.21's tree (get-intrinsic -> math-intrinsics/abs, dunder-proto/get,
    both `"main": false`): every package is bundled, no "not installed" warning, and the handler loads."""
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    express_421(project)
    pkg = json.loads((project / "package.json").read_text())
    pkg["dependencies"]["express"] = "^4.21.2"
    write_json(project / "package.json", pkg)
    (project / "handler.js").write_text((project / "handler.js").read_text().replace(
        "const debug = require('debug');", "const debug = require('debug');\nconst express = require('express');"))
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
    assert not [w for w in doc["warnings"] if "not installed" in w]
    app = unpack(tmp_path / "out" / "function.zip", tmp_path / "deployed")
    out = node(app, "require('./handler.js').handler().then((r) => console.log(r.body));"
                    "console.log(require('get-intrinsic')())", "-")
    assert out.splitlines()[0] == "true" and "libquery_engine-rhel-openssl-3.0.x.so.node" in out
