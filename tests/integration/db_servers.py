"""Real PostgreSQL and MariaDB servers for the doctor's tests (Debian's `postgresql` and `mariadb-server`,
installed by `make test`): each started on 127.0.0.1 with a free port and a data folder under a temp dir,
with max_connections = 10, a password-protected non-admin user, bounded in time and stopped by the fixture.

We run as root: PostgreSQL's initdb / pg_ctl run as the `postgres` user (runuser); mariadbd runs with
--user=root. A server that cannot start within START_TIMEOUT_S fails the test with its log.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 60
MAX_CONNECTIONS = 10
APP_USER = "app_user"
APP_PASSWORD = "S3cret-Pw-9z"  # the tests check that this never appears in any output
DATABASE = "orders"


@dataclass(frozen=True)
class Server:
    kind: str  # postgresql | mariadb
    port: int
    url: str  # the app user's datasource URL (with its password)
    folder: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@contextlib.contextmanager
def _temp_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)  # the postgres user must reach its data folder below it
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


@contextlib.contextmanager
def postgresql_server() -> Iterator[Server]:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None or shutil.which("runuser") is None:
        pytest.fail("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    with _temp_folder("photon-doctor-pg-") as folder:
        data, sock = folder / "data", folder / "sock"
        sock.mkdir()
        shutil.chown(folder, "postgres")
        shutil.chown(sock, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
        done = _run([*as_pg, initdb, "-D", str(data), "-U", "postgres", "--auth-local=trust",
                     "--auth-host=scram-sha-256", "--no-sync"])
        assert done.returncode == 0, done.stderr
        port = free_port()
        options = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections={MAX_CONNECTIONS} "
                   "-c idle_in_transaction_session_timeout=30s -c fsync=off")
        done = _run([*as_pg, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
                     "-t", str(START_TIMEOUT_S), "start"])
        log = folder / "log"
        assert done.returncode == 0, done.stderr + (log.read_text() if log.is_file() else "")
        try:
            psql = _pg_bin("psql") or "psql"
            sql = (f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{APP_PASSWORD}'; "
                   f"CREATE DATABASE {DATABASE} OWNER {APP_USER};")
            for statement in sql.split("; "):
                done = _run([*as_pg, psql, "-h", str(sock), "-p", str(port), "-U", "postgres", "-d", "postgres",
                             "-v", "ON_ERROR_STOP=1", "-c", statement.rstrip(";")])
                assert done.returncode == 0, done.stderr
            yield Server("postgresql", port, f"postgresql://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{port}/{DATABASE}",
                         folder)
        finally:
            _run([*as_pg, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "-t", "30", "stop"])


@contextlib.contextmanager
def mariadb_server() -> Iterator[Server]:
    install_db, mariadbd = shutil.which("mariadb-install-db"), shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if install_db is None or not Path(mariadbd).exists():
        pytest.fail("MariaDB is not installed: `make test` installs Debian's mariadb-server")
    import pymysql

    with _temp_folder("photon-doctor-maria-") as folder:
        data, sock = folder / "data", folder / "mysqld.sock"
        done = _run([install_db, "--no-defaults", f"--datadir={data}", "--user=root", "--auth-root-authentication-"
                     "method=socket", "--skip-test-db"])
        assert done.returncode == 0, done.stdout + done.stderr
        port = free_port()
        log = folder / "error.log"
        proc = subprocess.Popen([mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
                                 "--bind-address=127.0.0.1", "--user=root", f"--max-connections={MAX_CONNECTIONS}",
                                 f"--pid-file={folder / 'mariadbd.pid'}", f"--log-error={log}", "--skip-name-resolve",
                                 "--innodb-buffer-pool-size=16M"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                try:
                    admin = pymysql.connect(unix_socket=str(sock), user="root", connect_timeout=2)
                    break
                except pymysql.err.OperationalError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("mariadbd did not start: " + (log.read_text() if log.is_file() else ""))
                    time.sleep(0.2)
            with admin.cursor() as cur:
                cur.execute(f"CREATE DATABASE {DATABASE}")
                cur.execute(f"CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}'")
                cur.execute(f"GRANT ALL ON {DATABASE}.* TO '{APP_USER}'@'127.0.0.1'")
            admin.close()
            yield Server("mariadb", port, f"mysql://{APP_USER}:{APP_PASSWORD}@127.0.0.1:{port}/{DATABASE}", folder)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    with postgresql_server() as server:
        yield server


@pytest.fixture(scope="module")
def mariadb() -> Iterator[Server]:
    with mariadb_server() as server:
        yield server
