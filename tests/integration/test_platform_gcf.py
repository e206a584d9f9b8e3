"""`photon-bundle gcf`: a source zip with the app, package.json, lockfile and the vendored generated client."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.engines.cache import EngineCache
from bundler.hashing import sha256_file
from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_names as names
from tests.projects import add_package, compile_static_elf, make_photon_project, make_project, tree_digest

pytestmark = pytest.mark.usefixtures("own_engine_cache")


GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "gcf"
TARGETS = ("debian-openssl-1.1.x", "debian-openssl-3.0.x", "rhel-openssl-3.0.x")


def gcf(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return bundle_ok("gcf", project, out, capsys, *extra)


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)


@pytest.mark.parametrize(("runtime", "target"), [
    ("nodejs10", "debian-openssl-1.1.x"), ("nodejs16", "debian-openssl-1.1.x"),
    ("nodejs20", "debian-openssl-3.0.x"), ("nodejs24", "debian-openssl-3.0.x"),
])
def test_source_zip_holds_app_manifests_and_the_vendored_client_with_one_engine(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], runtime: str, target: str) -> None:
    doc = gcf(project, tmp_path / "out", capsys, "--runtime", runtime)
    assert (doc["platform"], doc["runtime"], doc["engine"]["target"]) == ("gcf", runtime, target)
    listed = names(tmp_path / "out" / "source.zip")
    vendor = "photon-bundle-vendor/node_modules/.prisma/client/"
    assert listed == ["handler.js", "lib/util.js", "package-lock.json", "package.json",
                      f"{vendor}index.js", f"{vendor}libquery_engine-{target}.so.node",
                      f"{vendor}query_engine_bg.postgresql.wasm", f"{vendor}schema.prisma",
                      "photon-bundle-vendor/restore.js", "prisma/schema.prisma"]
    assert not [n for n in listed if n.startswith("node_modules/")]
    with zipfile.ZipFile(tmp_path / "out" / "source.zip") as zf:
        assert zf.read("package-lock.json") == (project / "package-lock.json").read_bytes()
        assert zf.read("package.json").decode() == (GOLDEN / "package.json").read_text()
    reasons = doc["pruned"]["by_reason"]
    assert reasons["installed by the platform at deploy time"]["files"] > 0
    (unzipped,) = [lim for lim in doc["limits"] if lim["what"] == "unzipped"]
    assert unzipped["limit"] == 524288000 and "installed at deploy time" in unzipped["name"]
    assert unzipped["actual"] > doc["artifacts"][0]["unzipped_bytes"]  # the cloud-installed modules count
    (zipped,) = [lim for lim in doc["limits"] if lim["what"] == "zipped"]
    assert zipped["limit"] == 104857600


def test_runtime_from_engines_node(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=TARGETS, engines_node="16.x", elf_cache=elf_cache)
    doc = gcf(project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"]) == ("nodejs16", "debian-openssl-1.1.x")
    assert doc["os"] == "Ubuntu 18.04"


def test_restored_client_loads_after_a_simulated_cloud_install(project: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    gcf(project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    deployed = tmp_path / "deployed"
    with zipfile.ZipFile(tmp_path / "out" / "source.zip") as zf:
        zf.extractall(deployed)
    for info in zipfile.ZipFile(tmp_path / "out" / "source.zip").infolist():
        (deployed / info.filename).chmod(info.external_attr >> 16 & 0o777)
    # What `npm ci --production` leaves: the production packages, and @prisma/client's "generate first" stub.
    for pkg in ("@prisma/client", "debug", "ms", "express-lite"):
        shutil.copytree(project / "node_modules" / pkg, deployed / "node_modules" / pkg)
    stub = deployed / "node_modules" / ".prisma" / "client"
    stub.mkdir(parents=True)
    (stub / "index.js").write_text("throw new Error('@prisma/client did not initialize yet. Run prisma generate');\n")
    script = json.loads((deployed / "package.json").read_text())["scripts"]["postinstall"]
    subprocess.run(script, shell=True, cwd=deployed, check=True)
    engine = deployed / "node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node"
    assert engine.read_bytes() == (project / "node_modules/.prisma/client" / engine.name).read_bytes()
    printed = subprocess.run(
        ["node", "-e", "require('./handler').handler().then(r => console.log(JSON.parse(r.body).engine))"],
        cwd=deployed, check=True, capture_output=True, text=True).stdout.strip()
    assert printed == str(engine)


def test_users_postinstall_is_kept_and_chained(tmp_path: Path, elf_cache: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)
    pkg = json.loads((project / "package.json").read_text())
    pkg["scripts"] = {"postinstall": "prisma generate", "start": "functions-framework"}
    (project / "package.json").write_text(json.dumps(pkg, indent=4))  # 4 spaces, no final newline
    code, _, err = run(["gcf", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 0, err
    assert "postinstall runs `prisma generate`" in err
    with zipfile.ZipFile(tmp_path / "out" / "source.zip") as zf:
        text = zf.read("package.json").decode()
    assert json.loads(text)["scripts"] == {
        "postinstall": "prisma generate && node photon-bundle-vendor/restore.js", "start": "functions-framework"}
    assert text.startswith('{\n    "name"') and not text.endswith("\n")


def test_gcloudignore_with_include_directive(project: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (project / "test").mkdir()
    (project / "test" / "handler.test.js").write_text("test()\n")
    (project / "coverage").mkdir()
    (project / "coverage" / "lcov.info").write_text("TN:\n")
    (project / "README.md").write_text("# orders\n")
    (project / ".gitignore").write_text("coverage/\n")
    (project / ".gcloudignore").write_text("# deploy only what runs\n.gcloudignore\n.git\nnode_modules\n"
                                           "#!include:.gitignore\ntest/\n*.md\n")
    gcf(project, tmp_path / "out", capsys)
    listed = names(tmp_path / "out" / "source.zip")
    assert "handler.js" in listed and "package.json" in listed and "README.md" not in listed
    assert not [n for n in listed if n.startswith(("test/", "coverage/", ".gcloudignore"))]
    assert ".gitignore" in listed  # this .gcloudignore does not list it
    assert any(n.startswith("photon-bundle-vendor/node_modules/.prisma/client/") for n in listed)


def test_default_gcloudignore_when_absent(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".gitignore").write_text("node_modules\n")
    gcf(project, tmp_path / "out", capsys)
    assert ".gitignore" not in names(tmp_path / "out" / "source.zip")


def test_bad_include_directive_names_file_and_line(project: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".gcloudignore").write_text("node_modules\n#!include:.missingignore\n")
    code, _, err = run(["gcf", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / '.gcloudignore'}:2: #!include:.missingignore: no such file" in err
    assert not (tmp_path / "out" / "source.zip").exists()


def test_malformed_package_json_names_file_and_line(project: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (project / "package.json").write_text('{\n  "name": "x",\n  "dependencies": {,}\n}\n')
    code, _, err = run(["gcf", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3 and f"{project / 'package.json'}:3:" in err


def test_over_the_limit_prints_the_breakdown_and_writes_nothing(project: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "assets").mkdir()
    (project / "assets" / "big.bin").write_bytes(random.Random(0).randbytes(1 << 20))  # incompressible
    code, _, err = run(["gcf", str(project), "--out", str(tmp_path / "out"), "--offline", "--max-size", "100kb"],
                       capsys)
    assert code == 4
    assert "source.zip max-size (--max-size)" in err and "over the limit of 100.0 KiB" in err
    assert "largest files (unzipped):" in err and "assets/big.bin" in err
    assert not (tmp_path / "out" / "source.zip").exists()
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_byte_identical_second_run_and_project_untouched(project: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    first = gcf(project, tmp_path / "a", capsys)
    second = gcf(project, tmp_path / "b", capsys, "--force")
    assert (tmp_path / "a" / "source.zip").read_bytes() == (tmp_path / "b" / "source.zip").read_bytes()
    assert first["artifacts"] == second["artifacts"]
    assert tree_digest(project) == before
    again = gcf(project, tmp_path / "a", capsys)
    assert again["reused"] is True


def test_custom_generator_output_outside_node_modules_needs_no_restore(tmp_path: Path, elf_cache: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", targets=TARGETS, elf_cache=elf_cache)
    schema = project / "prisma" / "schema.prisma"
    provider = 'provider      = "prisma-client-js"'
    schema.write_text(schema.read_text().replace(provider, provider + '\n  output        = "../generated/client"'))
    shutil.move(str(project / "node_modules/.prisma/client"), str(project / "generated/client"))
    (project / "handler.js").write_text("const { PrismaClient } = require('./generated/client');\n"
                                        "exports.handler = async () => new PrismaClient().enginePath;\n")
    doc = gcf(project, tmp_path / "out", capsys, "--runtime", "nodejs20")
    listed = names(tmp_path / "out" / "source.zip")
    engine = "generated/client/libquery_engine-debian-openssl-3.0.x.so.node"
    assert not [n for n in listed if "photon-bundle-vendor" in n or "node_modules" in n]
    assert [n for n in listed if "query_engine-" in n] == [engine]
    with zipfile.ZipFile(tmp_path / "out" / "source.zip") as zf:
        assert zf.read("package.json") == (project / "package.json").read_bytes()
    assert doc["engine"]["file"] == engine


def test_photon_2019_project_gets_todays_engine_from_the_cache(tmp_path: Path, elf_cache: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """No 2019 Photon name is recorded for GCF's Ubuntu 18.04, so the engine is today's debian-openssl-1.1.x
    build, taken from photon-bundle's cache and placed beside the Photon client's own binaries."""
    project = make_photon_project(tmp_path / "photon", elf_cache=elf_cache)
    add_package(project, "node_modules/left-pad-lite", "left-pad-lite")  # extraneous: not bundled
    version = "a" * 40
    engine = compile_static_elf(tmp_path / "debian-engine", marker="debian-1.1")
    cache = EngineCache(tmp_path / "engine-cache")
    entry = cache.entry(version, "debian-openssl-1.1.x", "binary")
    with cache.locked(entry):
        cache.store_copy(entry, engine, sha256_file(engine))
    doc = gcf(project, tmp_path / "out", capsys, "--runtime", "nodejs10", "--engine-source", "cache",
              "--engine-version", version)
    listed = names(tmp_path / "out" / "source.zip")
    vendor = "photon-bundle-vendor/node_modules/@generated/photon/"
    assert f"{vendor}runtime/query-engine-debian-openssl-1.1.x" in listed
    assert not [n for n in listed if "prisma-linux" in n or "prisma-darwin" in n]
    assert "index.js" in listed and "package-lock.json" in listed
    assert not [n for n in listed if n.startswith("node_modules/")]
    assert (doc["engine"]["kind"], doc["engine"]["source"]) == ("binary", "cache")
    with zipfile.ZipFile(tmp_path / "out" / "source.zip") as zf:
        assert zf.getinfo(f"{vendor}runtime/query-engine-debian-openssl-1.1.x").external_attr >> 16 == 0o100755
        scripts = json.loads(zf.read("package.json"))["scripts"]
    assert scripts["postinstall"] == "prisma2 generate && node photon-bundle-vendor/restore.js"
