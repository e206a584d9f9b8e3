"""Guard rail for the unit tier: no test here can open a network socket or reach Docker by accident."""

from __future__ import annotations

import socket
from typing import Any

import pytest


class _NoNetwork(socket.socket):
    def connect(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unit tests must not open network connections; move this test to tests/integration")

    def bind(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unit tests must not start servers; move this test to tests/integration")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/unit-tests-must-not-use-docker.sock")
