"""The daemon: its address, a client from the environment, its machine, and every Docker failure turned into
one DockerError a user can act on."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn

from bundler.errors import DockerError

Log = Callable[[str], None]


LABEL = "photon-bundle"


LABELS = {LABEL: "1"}


START_HINT = (
    "start the Docker daemon (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd), "
    "or point DOCKER_HOST at a running one (e.g. DOCKER_HOST=tcp://host:2376 with DOCKER_TLS_VERIFY=1 and "
    "DOCKER_CERT_PATH)"
)


def _nothing(_: str) -> None:
    return None


def daemon_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def platform_for(arch: str) -> str:
    """A RuntimeProfile arch (x86_64 | arm64) or a `uname -m` value -> Docker's `--platform` string."""
    known = {"x86_64": "linux/amd64", "amd64": "linux/amd64", "arm64": "linux/arm64", "aarch64": "linux/arm64"}
    return known.get(arch, f"linux/{arch}")


def _is_docker_failure(err: BaseException) -> bool:
    import docker.errors  # lazily: only bundler/dockerio/ imports the SDK
    import requests

    return isinstance(err, (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError))


def _fail(what: str, err: BaseException, hint: str | None = None) -> NoReturn:
    """Re-raise a Docker SDK or transport failure as one DockerError; anything else is a bug and passes."""
    if isinstance(err, DockerError):
        raise err
    if not _is_docker_failure(err):
        raise err
    explanation = getattr(err, "explanation", None) or str(err)
    text = str(explanation).strip() or type(err).__name__
    if hint is None and ("Connection aborted" in text or "Connection refused" in text or "No such file" in text):
        hint = START_HINT
    raise DockerError(f"{what}: {text}", hint=hint) from err


def connect() -> Any:
    """A `docker.DockerClient` for the daemon the environment names; DockerError when it does not answer."""
    try:
        import docker
    except ImportError as err:  # pragma: no cover - docker is a dependency
        raise DockerError("the `docker` Python package is not installed", hint="pip install docker") from err
    where = daemon_address()
    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:
        if not _is_docker_failure(err):
            raise
        reason = str(err)
        hint = START_HINT
        if "Permission denied" in reason:
            hint = "add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or " + (
                START_HINT[0].lower() + START_HINT[1:]
            )
        raise DockerError(f"cannot reach the Docker daemon at {where} ({_short(reason)})", hint=hint) from err
    return client


def _short(reason: str) -> str:
    for marker in ("FileNotFoundError", "ConnectionRefusedError", "PermissionError", "Connection refused"):
        if marker in reason:
            return {
                "FileNotFoundError": "no socket there",
                "ConnectionRefusedError": "connection refused",
                "Connection refused": "connection refused",
                "PermissionError": "permission denied",
            }[marker]
    return reason


def daemon_machine(client: Any) -> str:
    """The daemon host's architecture, as `uname -m` prints it (x86_64, aarch64)."""
    try:
        return str(client.info().get("Architecture") or "unknown")
    except Exception as err:  # noqa: BLE001
        _fail("cannot ask the Docker daemon about itself", err)
