"""doctor's pure parts: client placement (tree-sitter over CJS, ESM, TypeScript fixtures), datasource URLs and
masking, the connection arithmetic, the data file's invariants."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.doctor import connections, dburl, timeouts
from bundler.doctor.data import MaxConnections, check, load
from bundler.doctor.deployment import EnvValue, FunctionConfig, Setting
from bundler.doctor.placement import analyse

PLACEMENT = Path(__file__).resolve().parent.parent / "doctor_fixtures" / "placement"


@pytest.mark.parametrize(("entry", "expected"), [
    # CommonJS
    ("cjs_handler.js", [("handler", "cjs_handler.js", 5), ("disconnect", "cjs_handler.js", 9)]),
    ("cjs_module.js", [("module", "cjs_module.js", 4)]),
    ("cjs_lazy.js", [("lazy", "cjs_lazy.js", 8)]),
    ("cjs_imports.js", [("module", "lib/prisma.js", 3)]),
    ("cjs_factory.js", [("handler", "lib/factory.js", 3)]),
    ("photon_2019.js", [("module", "photon_2019.js", 4), ("disconnect", "photon_2019.js", 9)]),
    # ESM
    ("esm_handler.mjs", [("handler", "esm_handler.mjs", 5)]),
    ("esm_module.mjs", [("module", "esm_module.mjs", 4)]),
    ("esm_lazy.mjs", [("lazy", "esm_lazy.mjs", 7)]),
    ("esm_imports.mjs", [("disconnect", "esm_imports.mjs", 7), ("handler", "lib/db.mjs", 4)]),
    # TypeScript
    ("ts/handler.ts", [("handler", "ts/handler.ts", 7)]),
    ("ts/module.ts", [("module", "ts/lib/prisma.ts", 5)]),
    ("ts/lazy.ts", [("lazy", "ts/lazy.ts", 8)]),
    ("ts/helper.tsx", [("handler", "ts/helper.tsx", 5)]),
])
def test_client_placement(entry: str, expected: list[tuple[str, str, int]]) -> None:
    result = analyse(PLACEMENT, entry)
    assert result.problems == ()
    assert sorted((s.kind, s.file, s.line) for s in result.sites) == sorted(expected)


def test_placement_names_the_handler_and_the_call_site() -> None:
    site = analyse(PLACEMENT, "cjs_factory.js").sites[0]
    assert "makeClient()" in site.detail and "calls at line 5" in site.detail and site.via == "loaded by cjs_factory.js"
    assert analyse(PLACEMENT, "photon_2019.js").sites[0].photon


def test_placement_does_not_take_a_string_for_code(tmp_path: Path) -> None:
    """A regex would see these; the parser knows they are a comment and a string."""
    (tmp_path / "h.js").write_text("// exports.handler = () => new PrismaClient()\n"
                                   "const s = 'new PrismaClient()';\nexports.handler = async () => s;\n")
    assert analyse(tmp_path, "h.js").sites == ()


SECRET_URL = "postgresql://app_user:s3cr%40t-pw@db.example.com:5432/orders?connection_limit=3&password=alsosecret"


def test_url_parsing_and_masking() -> None:
    url = dburl.parse(SECRET_URL)
    assert url is not None
    assert (url.provider, url.host, url.port, url.database, url.user, url.password) == \
        ("postgresql", "db.example.com", 5432, "orders", "app_user", "s3cr@t-pw")
    assert url.int_param("connection_limit") == 3
    assert url.masked == "postgresql://***@db.example.com:5432/orders?connection_limit=3&password=***"
    for secret in ("app_user", "s3cr", "alsosecret"):
        assert secret not in url.masked
    text = dburl.scrub(f"error for user app_user at {SECRET_URL} (password s3cr@t-pw)", url.secrets)
    assert "app_user" not in text and "s3cr" not in text and "alsosecret" not in text
    assert "postgresql://***@db.example.com" in text
    # the user name "postgres" is not taken out of the scheme "postgresql"
    assert dburl.scrub("postgresql://x:y@h/d user postgres", ("postgres",)) == "postgresql://***@h/d user ***"


def _fn(url: str, *, memory: int = 1024, concurrency: int = 1000, default: bool = True, timeout: int = 6,
        name: str = "f") -> FunctionConfig:
    return FunctionConfig(name=name, entry=None, env={"DATABASE_URL": EnvValue(url, ".env:1")},
                          memory=Setting(memory, "memorySize"), concurrency=Setting(concurrency, "conc", default),
                          timeout=Setting(timeout, "timeout"))


DS = connections.Datasource("DATABASE_URL", None, "prisma/schema.prisma:3", "postgresql")


@pytest.mark.parametrize(("memory", "vcpus"), [(128, 1), (1769, 1), (1770, 2), (3538, 2), (5308, 4), (10240, 6)])
def test_lambda_vcpus_follow_memory(memory: int, vcpus: int) -> None:
    data = load()
    assert data.lambda_vcpus(memory) == vcpus
    pool = connections.pool_for("lambda", _fn("postgresql://u:p@h/d", memory=memory), DS, data)
    assert pool.size == 2 * vcpus + 1


def test_connection_limit_wins_and_n_times_c_against_m() -> None:
    data = load()
    a = connections.pool_for("serverless", _fn("postgresql://u:p@h/d?connection_limit=1", concurrency=50,
                                               default=False, name="a"), DS, data)
    b = connections.pool_for("serverless", _fn("postgresql://u:p@h/d", memory=3008, concurrency=20,
                                               default=False, name="b"), DS, data)
    assert (a.size, a.total, b.size, b.total) == (1, 50, 5, 100)
    limits = {a.database: MaxConnections(100, "--max-connections")}
    found = connections.pool_findings("serverless", [a, b], limits, {}, photon=False, data=data)
    shared = next(f for f in found if f.numbers.get("sum_N_x_C"))
    assert shared.severity == "error" and shared.numbers["headroom"] == -50
    assert "1. set connection_limit=1" in shared.fix and "reservedConcurrency <= 50" in shared.fix
    assert "pgbouncer=true" in shared.fix
    # the same with room to spare is ok; an assumed default M only warns
    ok = connections.pool_findings("serverless", [a], {a.database: MaxConnections(500, "x")}, {}, photon=False,
                                   data=data)
    assert ok[0].severity == "ok" and ok[0].numbers["headroom"] == 450
    assumed = connections.pool_findings("serverless", [b], {b.database: data.server_default("postgresql")}, {},
                                        photon=True, data=data)
    assert assumed[0].severity == "warning" and "Photon.js (2019)" in assumed[0].fix


def test_rds_formulas_and_managed_tables() -> None:
    data = load()
    rds = data.rds("postgresql", "db.t3.micro")
    assert rds is not None and rds.value == (1 << 30) // 9531392 == 112
    mysql = data.rds("mysql", "db.t3.medium")
    assert mysql is not None and mysql.value == (4 << 30) // 12582880
    aurora = data.aurora("mysql", "db.r5.large")
    assert aurora is not None and aurora.value == 1000
    neon, pooler, _ = data.managed("neon", "1")
    assert neon is not None and neon.value == 450 and "pgbouncer=true" in pooler
    check(data.raw)


def test_timeouts_against_the_function_timeout() -> None:
    data = load()
    fn = _fn("postgresql://u:p@h/d?connection_limit=2&connect_timeout=10&socket_timeout=x", timeout=6)
    pool = connections.pool_for("serverless", fn, DS, data)
    found = {(f.severity, f.message.split(" ")[0]) for f in timeouts.url_findings([pool], {"f": fn}, data)}
    assert ("warning", "connect_timeout=10") in found  # not shorter than the 6 s timeout
    assert ("warning", "pool_timeout") in found  # Prisma's 10 s default, N = 2
    assert ("warning", "socket_timeout='x'") in found  # not a number
    server = timeouts.server_findings("mysql", {"wait_timeout": 28800}, "live", pooled=False)
    assert server[0].severity == "warning" and "SET GLOBAL wait_timeout = 300" in server[0].fix
