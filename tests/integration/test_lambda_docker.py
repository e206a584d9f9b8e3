"""`photon-bundle lambda --build docker` / `--engine-source docker` against a real Docker daemon.

A locally imported busybox image stands in for the Lambda build image; the build command plays
`npm ci && npx prisma generate`, leaving an engine and a native addon (both real static ELF files).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.cli import cli
from bundler.cli.common import run_guarded
from tests.docker_images import BUSYBOX, ImageFactory
from tests.integration.docker_fixtures import photon_containers
from tests.projects import tree_digest, write_json

pytestmark = pytest.mark.docker

RECIPE = (
    "set -e; mkdir -p node_modules/@prisma/client node_modules/.prisma/client node_modules/addon/build/Release; "
    "echo '{\"name\":\"@prisma/client\",\"version\":\"5.22.0\"}' > node_modules/@prisma/client/package.json; "
    "echo 'module.exports = require(\".prisma/client\")' > node_modules/@prisma/client/index.js; "
    "echo 'module.exports = {}' > node_modules/.prisma/client/index.js; "
    "cp /bin/busybox node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x; "
    "chmod 0755 node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x; "
    "echo '{\"name\":\"addon\",\"version\":\"1.0.0\"}' > node_modules/addon/package.json; "
    "cp /bin/busybox node_modules/addon/build/Release/addon.node; "
    "echo built in container"
)
ENGINE = "node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x"
ADDON = "node_modules/addon/build/Release/addon.node"


def project(root: Path) -> Path:
    write_json(root / "package.json", {"name": "api", "version": "1.0.0", "main": "handler.js",
                                       "dependencies": {"@prisma/client": "5.22.0", "addon": "1.0.0"}})
    (root / "handler.js").write_text("module.exports.handler = async () => require('addon');\n")
    (root / "prisma").mkdir()
    (root / "prisma" / "schema.prisma").write_text(
        'generator client {\n  provider = "prisma-client-js"\n  engineType = "binary"\n}\n')
    return root


def temp_leftovers() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("photon-bundle-*")}


def test_build_docker_bundles_what_the_container_built(tmp_path: Path, images: ImageFactory, docker_client: Any,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    image = images.imported({})
    app = project(tmp_path / "app")
    before, temps = tree_digest(app), temp_leftovers()
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(app), "--out", str(out), "--runtime", "nodejs20.x", "--build", "docker",
                             "--image", image, "--build-command", RECIPE])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "built in container" in captured.err  # the container's log, streamed with a prefix
    doc = json.loads((out / "manifest.json").read_text())
    assert doc["engine"]["target"] == "rhel-openssl-3.0.x"
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read(ENGINE) == BUSYBOX.read_bytes()
        assert zf.getinfo(ENGINE).external_attr >> 16 == 0o100755
        assert zf.read(ADDON) == BUSYBOX.read_bytes()
        assert zf.getinfo(ADDON).external_attr >> 16 == 0o100755  # the addon keeps the mode it was built with
        assert "handler.js" in zf.namelist()
    assert tree_digest(app) == before  # the user's project is byte-for-byte unchanged
    assert not (app / "node_modules").exists()
    assert photon_containers(docker_client) == set()
    assert temp_leftovers() == temps


def test_engine_source_docker_takes_only_the_engine(tmp_path: Path, images: ImageFactory, docker_client: Any,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    image = images.imported({})
    app = project(tmp_path / "app")
    # installed on the host for the host only: client and addon, but no Lambda engine
    write_json(app / "node_modules/@prisma/client/package.json", {"name": "@prisma/client", "version": "5.22.0"})
    (app / "node_modules/@prisma/client/index.js").write_text("module.exports = require('.prisma/client');\n")
    write_json(app / "node_modules/addon/package.json", {"name": "addon", "version": "1.0.0"})
    (app / "node_modules/.prisma/client").mkdir(parents=True)
    (app / "node_modules/.prisma/client/index.js").write_text("module.exports = {}\n")
    before = tree_digest(app)
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(app), "--out", str(out), "--runtime", "nodejs20.x", "--engine-source",
                             "docker", "--image", image, "--build-command", RECIPE, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["engine"]["source"] == "docker"
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read(ENGINE) == BUSYBOX.read_bytes()
        assert zf.getinfo(ENGINE).external_attr >> 16 == 0o100755
    assert tree_digest(app) == before
    assert photon_containers(docker_client) == set()


def test_failing_build_is_one_message_and_leaves_nothing(tmp_path: Path, images: ImageFactory, docker_client: Any,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    image = images.imported({})
    app = project(tmp_path / "app")
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(app), "--out", str(out), "--runtime", "nodejs20.x", "--build", "docker",
                             "--image", image, "--build-command", "echo npm ERR! missing script; exit 3"])
    err = capsys.readouterr().err
    assert code == 7
    assert "exit" in err and "3" in err and "npm ERR! missing script" in err
    assert "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []
    assert photon_containers(docker_client) == set()


def test_build_env_and_an_output_folder_inside_the_project(
        tmp_path: Path, images: ImageFactory, docker_client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """--build-env reaches the recipe; an --out inside the project is neither copied into the container nor
    bundled (a second run must not carry the first run's artifacts)."""
    image = images.imported({})
    app = project(tmp_path / "app")
    recipe = RECIPE + '; echo "module.exports = \\"$BUILD_STAGE\\";" > stage.js; ls dist > dist-seen.txt 2>&1 || true'
    argv = ["lambda", str(app), "--out", str(app / "dist"), "--runtime", "nodejs20.x", "--build", "docker",
            "--image", image, "--build-command", recipe, "--build-env", "BUILD_STAGE=prod", "--force"]
    for _ in range(2):  # the second run has the first run's dist/ in the project
        code = run_guarded(cli, argv)
        captured = capsys.readouterr()
        assert code == 0, captured.err
    with zipfile.ZipFile(app / "dist" / "function.zip") as zf:
        names = zf.namelist()
        assert not [n for n in names if n.startswith("dist/")]
        assert zf.read("stage.js") == b'module.exports = "prod";\n'
        assert b"No such file" in zf.read("dist-seen.txt")  # the container never saw the output folder
    assert photon_containers(docker_client) == set()
    code = run_guarded(cli, [*argv[:-3], "--build-env", "NOEQUALS"])
    err = capsys.readouterr().err
    assert code == 2 and "--build-env: bad value" in err and "'NOEQUALS' is not KEY=VALUE" in err


def test_docker_settings_from_the_config_file_and_an_explicit_docker_host(
        tmp_path: Path, images: ImageFactory, docker_client: Any, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """image, build, build_command, build_env and build_timeout from photon-bundle.toml; DOCKER_HOST naming
    the daemon's socket explicitly is honoured (the SDK reads it: no other route to a daemon)."""
    image = images.imported({})
    app = project(tmp_path / "app")
    recipe = RECIPE + '; echo "$STAGE" > stage.txt'
    (app / "photon-bundle.toml").write_text(
        f'[lambda]\nruntime = "nodejs20.x"\nbuild = "docker"\nimage = "{image}"\nbuild_command = """{recipe}"""\n'
        'build_timeout = 120\nbuild_env = { STAGE = "from-config" }\n')
    before = tree_digest(app)
    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    out = tmp_path / "out"
    code = run_guarded(cli, ["lambda", str(app), "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    with zipfile.ZipFile(out / "function.zip") as zf:
        assert zf.read("stage.txt") == b"from-config\n"
        assert zf.read(ENGINE) == BUSYBOX.read_bytes()
        assert "photon-bundle.toml" not in zf.namelist()
    assert tree_digest(app) == before
    assert photon_containers(docker_client) == set()
