"""--check-database: ask the database itself for max_connections, the connections in use and its idle
settings. PostgreSQL: `SHOW max_connections`, `superuser_reserved_connections`, `count(*) FROM
pg_stat_activity`, `idle_in_transaction_session_timeout`, `idle_session_timeout`. MySQL / MariaDB:
`@@max_connections`, `Threads_connected`, `@@wait_timeout`. Drivers only through dbdrivers.py."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bundler.doctor.data import MaxConnections
from bundler.doctor.dbdrivers import connection
from bundler.doctor.dburl import DbUrl

_UNITS = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class LiveFacts:
    provider: str
    max_connections: int
    reserved: int
    in_use: int  # client connections open besides the doctor's own
    idle: dict[str, int | None] = field(default_factory=dict)  # seconds; 0 = off
    version: str = ""

    def limit(self, where: str) -> MaxConnections:
        return MaxConnections(self.max_connections, f"live from {where} ({self.version})", self.reserved)


def seconds(value: object) -> int | None:
    """A PostgreSQL duration setting ("0", "5min", "300s", "60000ms") or a number, in whole seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    m = re.fullmatch(r"\s*(\d+)\s*([a-z]*)\s*", str(value))
    if not m:
        return None
    unit = m.group(2) or "ms"  # PostgreSQL reports the *_timeout settings in ms when no unit is shown
    return int(int(m.group(1)) * _UNITS.get(unit, 1))


def check(url: DbUrl, timeout: float = 5.0) -> LiveFacts:
    with connection(url, timeout=timeout) as conn:
        if url.provider == "postgresql":
            version = str(conn.scalar("SHOW server_version"))
            idle = {"idle_in_transaction_session_timeout": seconds(conn.scalar(
                        "SHOW idle_in_transaction_session_timeout"))}
            if conn.scalar("SELECT count(*) FROM pg_settings WHERE name = 'idle_session_timeout'"):
                idle["idle_session_timeout"] = seconds(conn.scalar("SHOW idle_session_timeout"))
            in_use = int(conn.scalar("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"))
            return LiveFacts("postgresql", int(conn.scalar("SHOW max_connections")),
                             int(conn.scalar("SHOW superuser_reserved_connections")), max(in_use - 1, 0), idle,
                             f"PostgreSQL {version}")
        version = str(conn.scalar("SELECT VERSION()"))
        in_use = conn.scalar("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                             "WHERE VARIABLE_NAME = 'THREADS_CONNECTED'")
        if in_use is None:  # MySQL 5.7+/8 keeps status in performance_schema
            in_use = conn.scalar("SELECT VARIABLE_VALUE FROM performance_schema.global_status "
                                 "WHERE VARIABLE_NAME = 'Threads_connected'")
        kind = "MariaDB" if "mariadb" in version.lower() else "MySQL"
        return LiveFacts("mysql", int(conn.scalar("SELECT @@max_connections")), 0, max(int(in_use or 0) - 1, 0),
                         {"wait_timeout": seconds(conn.scalar("SELECT @@wait_timeout"))}, f"{kind} {version}")
