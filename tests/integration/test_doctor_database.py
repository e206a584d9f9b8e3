"""`photon-bundle doctor --check-database` against a real PostgreSQL and a real MariaDB on 127.0.0.1: the live
max_connections and idle settings, and N × C connections opened in threads, refused past the limit exactly where
the doctor's arithmetic said. No credential appears in any output."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import run_cli
from tests.integration.db_servers import APP_PASSWORD, APP_USER, MAX_CONNECTIONS, Server

pytestmark = pytest.mark.network

HANDLER = """\
const { PrismaClient } = require('@prisma/client');
const prisma = new PrismaClient();
exports.handler = async () => prisma.order.count();
"""


def project(tmp_path: Path, url: str, provider: str) -> Path:
    root = tmp_path / "app"
    (root / "prisma").mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": "app", "version": "1.0.0", "main": "handler.js",
                                                   "dependencies": {"@prisma/client": "5.22.0"}}))
    (root / "handler.js").write_text(HANDLER)
    (root / "prisma" / "schema.prisma").write_text(
        f'datasource db {{\n  provider = "{provider}"\n  url      = env("DATABASE_URL")\n}}\n\n'
        'generator client {\n  provider = "prisma-client-js"\n}\n')
    (root / ".env").write_text(f'DATABASE_URL="{url}"\n')
    return root


def doctor_json(root: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["doctor", str(root), "--platform", "lambda", "--check-database", "--json",
                              "--no-require-timing", *extra], capsys)
    assert APP_PASSWORD not in out + err and APP_USER not in out + err
    return code, json.loads(out), err


def open_connections(server: Server, count: int) -> tuple[int, list[str]]:
    """Open `count` connections at once in threads, hold them until every attempt is done: (opened, refusals)."""
    import pg8000.native
    import pymysql

    barrier = threading.Barrier(count, timeout=60)
    opened: list[Any] = []
    refused: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        conn: Any = None
        try:
            if server.kind == "postgresql":
                conn = pg8000.native.Connection(user=APP_USER, password=APP_PASSWORD, host="127.0.0.1",
                                                port=server.port, database="orders", timeout=20)
            else:
                conn = pymysql.connect(host="127.0.0.1", port=server.port, user=APP_USER, password=APP_PASSWORD,
                                       database="orders", connect_timeout=20)
            with lock:
                opened.append(conn)
        except Exception as err:  # noqa: BLE001 - the refusal is what is counted
            with lock:
                refused.append(f"{type(err).__name__}: {err}")
        barrier.wait()
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=attempt) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    return len(opened), refused


@pytest.mark.parametrize(("kind", "n", "c"), [("postgresql", 2, 5), ("mariadb", 3, 4)])
def test_n_times_c_is_the_real_limit(kind: str, n: int, c: int, request: pytest.FixtureRequest, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    server: Server = request.getfixturevalue("postgres" if kind == "postgresql" else "mariadb")
    url = f"{server.url}?connection_limit={n}"
    root = project(tmp_path, url, "postgresql" if kind == "postgresql" else "mysql")
    code, doc, err = doctor_json(root, capsys, "--concurrency", str(c))
    assert code == 10, err  # N × C over the live limit is an error
    finding = next(f for f in doc["findings"] if f["check"] == "connections" and "N_x_C" in f["numbers"])
    numbers = finding["numbers"]
    assert (numbers["N"], numbers["C"], numbers["N_x_C"], numbers["M"]) == (n, c, n * c, MAX_CONNECTIONS)
    free = numbers["M"] - numbers["reserved"] - numbers["in_use"]
    assert numbers["headroom"] == free - n * c < 0
    assert finding["severity"] == "error" and "reserved concurrency" in finding["fix"] and "1. set connection_limit=1" \
        in finding["fix"]
    opened, refused = open_connections(server, n * c)
    assert opened == free, refused
    assert len(refused) == -numbers["headroom"]
    marker = "remaining connection slots" if kind == "postgresql" else "Too many connections"
    assert all(marker in r for r in refused), refused
    # with the advice applied (connection_limit=1, concurrency capped to the free connections) it fits exactly
    (root / ".env").write_text(f'DATABASE_URL="{server.url}?connection_limit=1"\n')
    code, doc, err = doctor_json(root, capsys, "--concurrency", str(free))
    finding = next(f for f in doc["findings"] if f["check"] == "connections" and "N_x_C" in f["numbers"])
    assert finding["numbers"]["headroom"] == 0 and finding["severity"] == "warning"  # fits, nothing to spare
    assert open_connections(server, free) == (free, [])


def test_postgresql_settings_read_live(postgres: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, f"{postgres.url}?connection_limit=1&socket_timeout=2&connect_timeout=2&pool_timeout=2",
                   "postgresql")
    code, doc, _ = doctor_json(root, capsys, "--concurrency", "5")
    server = {f["message"].split(" ")[0]: f for f in doc["findings"] if f["check"] == "server"}
    assert server["idle_in_transaction_session_timeout"]["severity"] == "ok"  # started with 30s
    assert server["idle_in_transaction_session_timeout"]["numbers"] == {"idle_in_transaction_session_timeout": 30}
    assert server["idle_session_timeout"]["severity"] == "warning"  # 0: zombie connections stay
    assert "idle_session_timeout = '300s'" in server["idle_session_timeout"]["fix"]
    live = next(f for f in doc["findings"] if f["check"] == "server" and "max_connections" in f["numbers"])
    assert live["numbers"]["max_connections"] == MAX_CONNECTIONS and live["numbers"]["reserved"] == 3
    assert doc["databases"][0]["max_connections"] == MAX_CONNECTIONS
    assert code == 0  # 1 × 5 fits in 7: warnings only (no --strict)
    code, _, _ = doctor_json(root, capsys, "--concurrency", "5", "--strict")
    assert code == 10


def test_mariadb_settings_read_live(mariadb: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, f"{mariadb.url}?connection_limit=1", "mysql")
    _, doc, _ = doctor_json(root, capsys, "--concurrency", "2")
    wait = next(f for f in doc["findings"] if f["check"] == "server" and "wait_timeout" in f["numbers"])
    assert wait["numbers"]["wait_timeout"] == 28800 and wait["severity"] == "warning"
    assert "SET GLOBAL wait_timeout = 300" in wait["fix"]
    live = next(f for f in doc["findings"] if f["check"] == "server" and "max_connections" in f["numbers"])
    assert "MariaDB" in live["message"] and live["numbers"]["max_connections"] == MAX_CONNECTIONS


def test_credentials_never_shown(postgres: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Text, JSON, a wrong password (the driver's error) and the bundle's manifest: no user, no password."""
    root = project(tmp_path, f"{postgres.url}?connection_limit=1", "postgresql")
    code, out, err = run_cli(["doctor", str(root), "--platform", "lambda", "--check-database",
                              "--no-require-timing"], capsys)
    assert "postgresql://***@127.0.0.1" in out
    assert APP_PASSWORD not in out + err and APP_USER not in out + err
    wrong = postgres.url.replace(APP_PASSWORD, "Wr0ng-Pw-77")
    (root / ".env").write_text(f'DATABASE_URL="{wrong}"\n')
    for extra in ([], ["--json"]):
        code, out, err = run_cli(["doctor", str(root), "--platform", "lambda", "--check-database",
                                  "--no-require-timing", *extra], capsys)
        assert code == 3 and "cannot connect to postgresql://***@127.0.0.1" in err
        for secret in ("Wr0ng-Pw-77", APP_USER, APP_PASSWORD):
            assert secret not in out + err
