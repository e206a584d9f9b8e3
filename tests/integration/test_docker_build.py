"""The container build engine (bundler/engines/docker.py) against a real Docker daemon.

Images are made locally from the host's static busybox (tests/docker_images.py); the pull path uses a real
registry on 127.0.0.1. Nothing comes from the internet.
"""

from __future__ import annotations

import hashlib
import re
import stat
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from bundler import dockerio
from bundler.engines.docker import (
    DockerBuildOptions,
    built_tree,
    default_recipe,
    engine_from_container,
    skip_in_copy,
)
from bundler.errors import ConfigError, DockerError, EngineNotFoundError
from bundler.targets import resolve
from tests.docker_images import File, ImageFactory, aarch64_exit_elf
from tests.integration.docker_fixtures import (  # noqa: F401 - fixtures
    docker_client,
    images,
    photon_containers,
    registry,
)

pytestmark = pytest.mark.docker

PROFILE = resolve("lambda", "nodejs12.x", "x86_64")  # Amazon Linux 2: rhel-openssl-1.0.x
ENGINE = "node_modules/.prisma/client/query-engine-rhel-openssl-1.0.x"
ADDON = "node_modules/addon/build/Release/addon.node"

# What `npm ci && npx prisma generate` would leave behind, played by busybox: an engine (an ELF, 0755),
# a native addon, the generated client; plus proof of what was (not) copied in and of the environment.
RECIPE = """
set -e
echo "building in $(pwd)"
test ! -e node_modules/host-only || { echo "host node_modules leaked into the container"; exit 9; }
test ! -e .git && test ! -e .photon-bundle
mkdir -p node_modules/.prisma/client node_modules/addon/build/Release node_modules/.bin
cp /bin/busybox node_modules/.prisma/client/query-engine-rhel-openssl-1.0.x
chmod 0755 node_modules/.prisma/client/query-engine-rhel-openssl-1.0.x
cp /bin/busybox node_modules/addon/build/Release/addon.node
chmod 0750 node_modules/addon/build/Release/addon.node
echo "module.exports = {}" > node_modules/.prisma/client/index.js
chmod 0640 node_modules/.prisma/client/index.js
ln -s ../addon/build/Release/addon.node node_modules/.bin/addon
ln -s /etc/passwd node_modules/.bin/escape
echo "$PHOTON_TEST_VALUE" > built-with.txt
echo "done"
"""


def make_project(base: Path) -> Path:
    project = base / "app"
    (project / "src").mkdir(parents=True)
    (project / "prisma").mkdir()
    (project / "package.json").write_text('{"name": "app", "dependencies": {"@prisma/client": "2.0.0"}}\n')
    (project / "package-lock.json").write_text('{"lockfileVersion": 1}\n')
    (project / "src" / "handler.js").write_text("exports.handler = async () => 'ok'\n")
    (project / "prisma" / "schema.prisma").write_text('generator client {\n  provider = "prisma-client-js"\n}\n')
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o755)
    (project / "node_modules" / "host-only").mkdir(parents=True)
    (project / "node_modules" / "host-only" / "index.js").write_text("host\n")
    (project / ".git").mkdir()
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (project / ".photon-bundle").mkdir()
    (project / ".photon-bundle" / "old.zip").write_bytes(b"PK")
    (project / "link-to-handler").symlink_to("src/handler.js")
    return project


def tree_digest(root: Path) -> str:
    """Hash of every path, type, mode, link target and content under root."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest.update(f"{path.relative_to(root)}\0{st.st_mode:o}\0".encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def build_image(images: ImageFactory) -> str:  # noqa: F811
    return images.imported({}, name="build")


def test_recipe_outputs_land_in_the_built_tree_with_their_modes(
    docker_client: Any,  # noqa: F811
    build_image: str,
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    before = tree_digest(project)
    containers_before = photon_containers(docker_client)
    lines: list[str] = []
    options = DockerBuildOptions(image=build_image, command=RECIPE, env={"PHOTON_TEST_VALUE": "from-options"})

    with built_tree(project, PROFILE, options, lines.append) as tree:
        engine = tree / ENGINE
        addon = tree / ADDON
        assert engine.read_bytes()[:4] == b"\x7fELF"
        assert stat.S_IMODE(engine.stat().st_mode) == 0o755
        assert stat.S_IMODE(addon.stat().st_mode) == 0o750
        assert stat.S_IMODE((tree / "node_modules/.prisma/client/index.js").stat().st_mode) == 0o640
        assert stat.S_IMODE((tree / "run.sh").stat().st_mode) == 0o755
        assert (tree / "src/handler.js").read_text() == "exports.handler = async () => 'ok'\n"
        assert (tree / "link-to-handler").readlink() == Path("src/handler.js")
        assert (tree / "node_modules/.bin/addon").readlink() == Path("../addon/build/Release/addon.node")
        assert not (tree / "node_modules/.bin/escape").exists()  # a link out of the tree is not copied out
        assert (tree / "built-with.txt").read_text() == "from-options\n"
        assert not (tree / "node_modules/host-only").exists()
        assert not (tree / ".git").exists()
        assert not (tree / ".photon-bundle").exists()
        staging = tree.parent
        assert not str(tree).startswith(str(project))

    assert not staging.exists(), "the staging directory is removed on exit"
    assert tree_digest(project) == before, "the user's project must not change"
    assert photon_containers(docker_client) == containers_before
    assert "  [docker] done" in lines
    assert any(line.startswith("  [docker] building in /photon-bundle/project") for line in lines)
    assert any("not copied out" in line and "escape" in line for line in lines)


def test_a_failing_recipe_reports_exit_code_and_last_lines(
    docker_client: Any,  # noqa: F811
    build_image: str,
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    before = photon_containers(docker_client)
    recipe = (
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do "
        "echo line-$i; done; echo 'npm ERR! something broke' >&2; exit 3"
    )
    with (
        pytest.raises(DockerError) as caught,
        built_tree(project, PROFILE, DockerBuildOptions(image=build_image, command=recipe), lambda _line: None),
    ):
        pytest.fail("the build should have failed")
    message = str(caught.value)
    assert "exited with code 3" in message
    assert "npm ERR! something broke" in message
    assert "line-30" in message
    assert "line-1\n" not in message  # only the tail
    assert caught.value.exit_code == 7
    assert photon_containers(docker_client) == before, "no container may be left behind"


def test_a_build_past_its_timeout_is_killed_and_removed(
    docker_client: Any,  # noqa: F811
    build_image: str,
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    before = photon_containers(docker_client)
    started = time.monotonic()
    options = DockerBuildOptions(image=build_image, command="echo waiting-forever; sleep 300", timeout=2)
    with pytest.raises(DockerError) as caught, built_tree(project, PROFILE, options, lambda _line: None):
        pytest.fail("the build should have timed out")
    assert time.monotonic() - started < 60
    assert "did not finish within 2 s" in str(caught.value)
    assert "waiting-forever" in str(caught.value)
    assert photon_containers(docker_client) == before


def test_ctrl_c_during_the_build_removes_the_container(
    docker_client: Any,  # noqa: F811
    build_image: str,
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    before = photon_containers(docker_client)
    seen: list[str] = []

    def interrupt_on_start(line: str) -> None:
        seen.append(line)
        if line.endswith("started"):
            assert photon_containers(docker_client) - before, "the build container exists while it runs"
            raise KeyboardInterrupt

    options = DockerBuildOptions(image=build_image, command="echo started; sleep 300")
    with pytest.raises(KeyboardInterrupt), built_tree(project, PROFILE, options, interrupt_on_start):
        pytest.fail("interrupted before yielding")
    assert photon_containers(docker_client) == before
    assert seen


def test_engine_from_container_copies_the_engine_out(
    docker_client: Any,  # noqa: F811
    build_image: str,
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    dest = tmp_path / "engines"
    engine = engine_from_container(
        project, PROFILE, "binary", DockerBuildOptions(image=build_image, command=RECIPE), lambda _l: None, dest
    )
    assert engine == dest / "query-engine-rhel-openssl-1.0.x"
    assert stat.S_IMODE(engine.stat().st_mode) == 0o755
    assert engine.read_bytes() == Path("/bin/busybox").read_bytes()

    with pytest.raises(EngineNotFoundError, match=re.escape("libquery_engine-rhel-openssl-1.0.x.so.node")):
        engine_from_container(
            project, PROFILE, "library", DockerBuildOptions(image=build_image, command=RECIPE), lambda _l: None, dest
        )


def test_pull_from_a_registry_on_loopback(
    docker_client: Any,  # noqa: F811
    images: ImageFactory,  # noqa: F811
    registry: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    # a layer no other image on this daemon has (a nonce), so the pull downloads it: a layer already present
    # (left by an earlier or concurrent run) would be reported as "Already exists", not "Pull complete"
    local = images.imported({"/etc/marker": "pulled image\n", "/etc/nonce": f"{uuid.uuid4().hex}\n"}, name="to-push")
    remote = images.track(f"{registry}/photon-bundle-test/build:{local.rsplit(':', 1)[1]}")
    docker_client.images.get(local).tag(remote)
    for event in docker_client.api.push(remote, stream=True, decode=True):
        assert "error" not in event, event
    docker_client.images.remove(remote)
    docker_client.images.remove(local)
    with pytest.raises(DockerError, match="not on this Docker host"):
        dockerio.ensure_image(docker_client, remote, platform="linux/amd64", pull=False)

    lines: list[str] = []
    project = make_project(tmp_path)
    options = DockerBuildOptions(image=remote, command="cat /etc/marker > marker.txt")
    with built_tree(project, PROFILE, options, lines.append) as tree:
        assert (tree / "marker.txt").read_text() == "pulled image\n"
    assert any(line.startswith(f"pulling {remote}") for line in lines)
    # the pull's progress: each layer's state changes, then the daemon's summary
    assert any(line.strip().endswith(": Pull complete") for line in lines), lines
    assert any("Downloaded newer image" in line for line in lines), lines
    assert docker_client.images.get(remote)  # now here

    missing = f"{registry}/photon-bundle-test/missing:1"
    with pytest.raises(DockerError, match=f"cannot pull {missing}"):
        dockerio.ensure_image(docker_client, missing, platform="linux/amd64")


def test_an_arm64_build_without_emulation_says_so(
    docker_client: Any,  # noqa: F811
    images: ImageFactory,  # noqa: F811
    tmp_path: Path,
) -> None:
    if dockerio.daemon_machine(docker_client) != "x86_64":
        pytest.skip("needs an x86_64 Docker host")
    if Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists():
        pytest.skip("this host emulates arm64, so the build would run")
    arm_image = images.built(
        {"/bin/sh": File(aarch64_exit_elf(), 0o755)}, platform="linux/arm64", busybox=False, name="arm"
    )
    profile = resolve("lambda", "nodejs20.x", "arm64")
    before = photon_containers(docker_client)
    with (
        pytest.raises(DockerError) as caught,
        built_tree(
            make_project(tmp_path), profile, DockerBuildOptions(image=arm_image, command="true"), lambda _l: None
        ),
    ):
        pytest.fail("should not build")
    assert "cannot run linux/arm64 containers" in str(caught.value)
    assert "emulation" in str(caught.value)
    assert photon_containers(docker_client) == before


def test_an_image_for_another_arch_is_not_used_silently(
    docker_client: Any,  # noqa: F811
    images: ImageFactory,  # noqa: F811
) -> None:
    arm_image = images.built({"/etc/os-release": "ID=debian\n"}, platform="linux/arm64", name="arm-only")
    with pytest.raises(DockerError, match="is linux/arm64, not linux/amd64"):
        dockerio.ensure_image(docker_client, arm_image, platform="linux/amd64", pull=False)
    assert dockerio.ensure_image(docker_client, arm_image, platform="linux/arm64", pull=False).machine == "aarch64"


def test_unreachable_daemon_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    with pytest.raises(DockerError) as caught:
        dockerio.connect()
    message = str(caught.value)
    assert f"cannot reach the Docker daemon at unix://{tmp_path}/no-daemon.sock" in message
    assert "sudo systemctl start docker" in message
    assert "DOCKER_HOST" in message


def test_default_recipe_follows_the_lockfile(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "package.json").write_text('{"devDependencies": {"prisma2": "2.0.0-preview-12"}}')
    assert default_recipe(project) == "npm install && npx prisma2 generate"
    (project / "yarn.lock").write_text("")
    assert default_recipe(project).startswith("yarn install --frozen-lockfile && ")
    (project / "pnpm-lock.yaml").write_text("")
    assert default_recipe(project).startswith("pnpm install --frozen-lockfile && ")
    (project / "package.json").write_text('{"dependencies": {"left-pad": "1"}}')
    assert default_recipe(project) == "pnpm install --frozen-lockfile"
    (project / "prisma").mkdir()
    (project / "pnpm-lock.yaml").unlink()
    (project / "yarn.lock").unlink()
    (project / "package-lock.json").write_text("{}")
    assert default_recipe(project) == "npm ci && npx prisma generate"


def test_what_is_left_out_of_the_copy() -> None:
    from pathlib import PurePosixPath as P

    assert skip_in_copy(P("node_modules"), True)
    assert skip_in_copy(P("packages/a/node_modules"), True)
    assert skip_in_copy(P(".git"), True)
    assert skip_in_copy(P(".photon-bundle"), True)
    assert not skip_in_copy(P("src/.git"), True)
    assert skip_in_copy(P("node_modules"), False)  # a link named node_modules too
    assert not skip_in_copy(P("src/node_modules.js"), False)


def test_docker_source_plugs_into_acquire(
    build_image: str,
    tmp_path: Path,
) -> None:
    from bundler.engines.acquire import EngineOptions, acquire
    from bundler.engines.docker import docker_source_for

    project = make_project(tmp_path)
    source = docker_source_for(
        PROFILE, DockerBuildOptions(image=build_image, command=RECIPE), lambda _l: None, tmp_path / "engines"
    )
    got = acquire(
        "binary",
        "rhel-openssl-1.0.x",
        project_root=project,
        local=None,
        options=EngineOptions(source="docker"),
        docker=source,
    )
    assert got.source == "docker"
    assert got.path == tmp_path / "engines" / "query-engine-rhel-openssl-1.0.x"
    assert got.sha256 == hashlib.sha256(Path("/bin/busybox").read_bytes()).hexdigest()
    with pytest.raises(ConfigError, match=re.escape("makes rhel-openssl-1.0.x engines, not debian-openssl-3.0.x")):
        acquire(
            "binary",
            "debian-openssl-3.0.x",
            project_root=project,
            local=None,
            options=EngineOptions(source="docker"),
            docker=source,
        )
