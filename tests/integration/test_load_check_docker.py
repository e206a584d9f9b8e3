"""`--load-check docker`: the same check inside the runtime's image (here one built locally from the host's
node and the shared libraries it loads, on busybox), with the image's own node and no network."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.docker_images import ImageFactory, host_node_entries
from tests.projects import make_project

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("own_engine_cache"),
              pytest.mark.skipif(shutil.which("node") is None, reason="needs the host's node for the image")]

TARGET = "rhel-openssl-3.0.x"


@pytest.fixture(scope="module")
def node_image(images: ImageFactory) -> str:
    return images.imported(host_node_entries(), name="node-runtime")


def load_check_containers(client: Any) -> list[str]:
    return [c.id for c in client.containers.list(all=True, filters={"label": "photon-bundle.role=load-check"})]


@pytest.mark.parametrize(("fmt", "engine"), [
    ("zip", f"node_modules/.prisma/client/libquery_engine-{TARGET}.so.node"),
    ("both", f"/opt/photon-bundle/engines/libquery_engine-{TARGET}.so.node"),
])
def test_the_check_runs_inside_the_image_with_its_node(tmp_path: Path, elf_cache: Path, docker_client: Any,
                                                      node_image: str, capsys: pytest.CaptureFixture[str],
                                                      fmt: str, engine: str) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    before = load_check_containers(docker_client)
    doc = bundle_ok("lambda", project, tmp_path / "out", capsys, "--runtime", "nodejs20.x", "--format", fmt,
                    "--load-check", "docker", "--image", node_image)
    check = doc["load_check"]
    image_node = subprocess.run(["docker", "run", "--rm", node_image, "/usr/bin/node", "-v"], capture_output=True,
                                text=True, check=True).stdout.strip()
    assert (check["mode"], check["image"], check["task_root"]) == ("docker", node_image, "/var/task")
    assert check["node"] == image_node
    assert check["entries"] == [{"path": "handler.js", "ok": True}]
    assert check["engine"]["found"] == engine
    assert load_check_containers(docker_client) == before  # the container is removed


def test_a_broken_bundle_fails_inside_the_image_too(tmp_path: Path, elf_cache: Path, docker_client: Any,
                                                   node_image: str, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)
    code, _, err = run(["lambda", str(project), "--out", str(tmp_path / "out"), "--offline", "--runtime",
                        "nodejs20.x", "--load-check", "docker", "--image", node_image,
                        "--exclude", "node_modules/.prisma/**"], capsys)
    assert code == 5, err
    assert "Cannot find module '.prisma/client'" in err and "required by node_modules/@prisma/client/index.js" in err
    assert not (tmp_path / "out" / "function.zip").exists()
