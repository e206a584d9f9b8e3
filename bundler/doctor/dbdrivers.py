"""The one seam to database drivers: pg8000 (PostgreSQL) and PyMySQL (MySQL / MariaDB), both pure Python and
optional (`pip install 'photon-bundle[doctor]'`). Nothing else in photon-bundle imports them.

`connect(url)` opens one connection (bounded by a timeout) and returns a small object with `scalar(sql)` and
`close()`. Errors become DatabaseError with the credentials scrubbed from the driver's message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bundler.doctor.dburl import DbUrl, scrub
from bundler.errors import BundleError

CONNECT_TIMEOUT_S = 5.0
INSTALL_HINT = "pip install 'photon-bundle[doctor]' (pg8000 for PostgreSQL, PyMySQL for MySQL / MariaDB)"


class DatabaseError(BundleError):
    """The database could not be reached or queried (--check-database)."""

    exit_code = 3


@dataclass
class Connection:
    raw: Any
    provider: str

    def scalar(self, sql: str) -> Any:
        if self.provider == "postgresql":
            rows = self.raw.run(sql)
            return rows[0][0] if rows else None
        with self.raw.cursor() as cur:
            cur.execute(sql)
            row = cur.fetchone()
            return row[0] if row else None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()


def connect(url: DbUrl, *, timeout: float = CONNECT_TIMEOUT_S) -> Connection:
    where = url.masked
    try:
        if url.provider == "postgresql":
            try:
                import pg8000.native
            except ImportError:
                raise DatabaseError(f"--check-database {where}: the PostgreSQL driver pg8000 is not installed",
                                    hint=INSTALL_HINT) from None
            raw = pg8000.native.Connection(user=url.user or "postgres", password=url.password or None,
                                           host=url.host or "127.0.0.1", port=url.port or 5432,
                                           database=url.database or None, timeout=timeout)
            return Connection(raw, "postgresql")
        if url.provider == "mysql":
            try:
                import pymysql
            except ImportError:
                raise DatabaseError(f"--check-database {where}: the MySQL driver PyMySQL is not installed",
                                    hint=INSTALL_HINT) from None
            raw = pymysql.connect(host=url.host or "127.0.0.1", port=url.port or 3306, user=url.user or "root",
                                  password=url.password or "", database=url.database or None,
                                  connect_timeout=timeout, read_timeout=timeout)
            return Connection(raw, "mysql")
    except DatabaseError:
        raise
    except Exception as err:  # noqa: BLE001 - every driver error becomes one scrubbed message
        raise DatabaseError(f"--check-database: cannot connect to {where}: "
                            f"{scrub(f'{type(err).__name__}: {err}', url.secrets)}",
                            hint="check that the database is reachable from here and the URL is right, or drop "
                                 "--check-database and pass --max-connections") from None
    raise DatabaseError(f"--check-database: {where}: {url.provider} databases cannot be checked live",
                        hint="pass --max-connections")


@contextlib.contextmanager
def connection(url: DbUrl, *, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Connection]:
    conn = connect(url, timeout=timeout)
    try:
        yield conn
    except DatabaseError:
        raise
    except Exception as err:  # noqa: BLE001
        raise DatabaseError(f"--check-database {url.masked}: query failed: "
                            f"{scrub(f'{type(err).__name__}: {err}', url.secrets)}") from None
    finally:
        conn.close()
