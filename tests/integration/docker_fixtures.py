"""Fixtures for tests that need a real Docker daemon (import them into a test module).

- `docker_client`: a client for the daemon; when none answers, scripts/ensure-docker.sh is run once
  (it installs and starts dockerd where it can) and, if there is still no daemon, every test using the
  fixture is skipped with a loud reason.
- `images`: an ImageFactory (tests/docker_images.py) whose images are removed at the end of the session.
- `registry`: a real registry (Debian's `docker-registry`) on 127.0.0.1 with its storage in a temp dir,
  stopped at the end of the session; yields "127.0.0.1:PORT".
- `photon_containers(client)`: ids of every container carrying photon-bundle's label, to assert that none
  is left behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bundler import dockerio
from bundler.errors import DockerError
from tests.docker_images import ImageFactory

REPO = Path(__file__).resolve().parents[2]
ENSURE_DOCKER = REPO / "scripts" / "ensure-docker.sh"
REGISTRY_BINARY = Path("/usr/bin/docker-registry")


def _connect_or_bootstrap() -> tuple[Any | None, str]:
    try:
        return dockerio.connect(), ""
    except DockerError as err:
        first = str(err)
    if os.environ.get("PHOTON_BUNDLE_NO_DOCKER_BOOTSTRAP"):
        return None, first
    try:
        done = subprocess.run(["sh", str(ENSURE_DOCKER)], capture_output=True, text=True, timeout=600, check=False)
        note = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
    except (OSError, subprocess.TimeoutExpired) as err:
        note = [f"{ENSURE_DOCKER} did not finish: {err}"]
    try:
        return dockerio.connect(), ""
    except DockerError as err:
        return None, f"{err} [{note[0]}]"


@pytest.fixture(scope="session")
def docker_client() -> Any:
    client, reason = _connect_or_bootstrap()
    if client is None:
        pytest.skip(f"DOCKER DAEMON UNAVAILABLE - docker integration tests NOT RUN: {reason}")
    return client


@pytest.fixture(scope="session")
def images(docker_client: Any) -> Iterator[ImageFactory]:
    factory = ImageFactory(docker_client)
    try:
        yield factory
    finally:
        factory.cleanup()


def photon_containers(client: Any) -> set[str]:
    return {c.id for c in client.containers.list(all=True, filters={"label": f"{dockerio.LABEL}=1"})}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(docker_client: Any) -> Iterator[str]:
    if not REGISTRY_BINARY.is_file():
        pytest.skip(f"{REGISTRY_BINARY} missing (apt-get install docker-registry) - registry pull test NOT RUN")
    storage = Path(tempfile.mkdtemp(prefix="photon-bundle-registry-"))
    port = free_port()
    config = storage / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage / 'data'}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    log = (storage / "registry.log").open("w")
    process = subprocess.Popen([str(REGISTRY_BINARY), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as res:
                    if res.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"the test registry did not start: {(storage / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(storage, ignore_errors=True)
