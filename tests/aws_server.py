"""moto's real server on 127.0.0.1 as the AWS endpoint, reached through AWS_ENDPOINT_URL as a user's boto3 would,
with its request log (werkzeug's access log) to count write calls. Shared by the publish and shared-cache tests."""

from __future__ import annotations

import logging
import os
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
WRITES = ("POST", "PUT", "DELETE", "PATCH")


class RequestLog(logging.Handler):
    """The moto server's access log (werkzeug logs one line per request)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(re.sub(r"\x1b\[[0-9;]*m", "", record.getMessage()))  # werkzeug colours some lines

    def writes(self) -> list[str]:
        return [line for line in self.lines if any(f'"{m} ' in line for m in WRITES) and "/moto-api/" not in line]


@pytest.fixture(scope="module")
def moto_server() -> Iterator[tuple[str, RequestLog]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    log = RequestLog()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.addHandler(log)
    old_level = werkzeug.level
    werkzeug.setLevel(logging.INFO)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}", log
    finally:
        server.stop()
        werkzeug.removeHandler(log)
        werkzeug.setLevel(old_level)


@pytest.fixture
def aws(moto_server: tuple[str, RequestLog], monkeypatch: pytest.MonkeyPatch) -> Iterator[RequestLog]:
    """Fake credentials and the endpoint in the environment, as a CI job sets them; a fresh moto state."""
    url, log = moto_server
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    log.lines.clear()
    yield log


def client(service: str) -> Any:
    return boto3.session.Session(region_name=REGION).client(service)
