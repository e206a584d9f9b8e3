"""Connection arithmetic: each container opens a pool of N connections, C containers run at once, so a
function can hold N × C connections; functions that share a database add up; the database accepts M.

  N = `connection_limit` of the datasource URL, else Prisma's default 2 × CPUs + 1 (Lambda's CPUs follow
      the memory setting: platforms/databases.toml [lambda_cpu]);
  C = the function's reserved concurrency, else the platform's default (AWS: the account's 1,000);
  M = --max-connections, a live `SHOW max_connections` (--check-database), the RDS / Aurora formula for
      --db-instance, a managed service's table (--db-service/--db-size), else the server's default.

Pure: the inputs are read elsewhere (deployment.py, database.py); this module only computes and words it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bundler.doctor.data import DoctorData, MaxConnections
from bundler.doctor.dburl import DbUrl, parse
from bundler.doctor.deployment import FunctionConfig
from bundler.doctor.findings import Finding, Severity
from bundler.project import Project

_ENV_CALL = re.compile(r'^env\(\s*"([^"]+)"\s*\)$')
NO_CONCURRENCY_SETTING = ("netlify", "vercel", "now")
WARN_SHARE = 0.8  # over this share of the free connections is a warning


@dataclass(frozen=True)
class Datasource:
    variable: str | None  # the env var the schema reads (DATABASE_URL), None for a literal URL
    literal: str | None
    where: str  # "prisma/schema.prisma:3"
    provider: str | None


def datasource(project: Project) -> Datasource | None:
    schema = project.schema
    if schema is None or schema.datasource_url is None:
        return None
    value, line = schema.datasource_url
    where = f"{schema.path}:{line}"
    m = _ENV_CALL.match(value.strip())
    if m:
        return Datasource(m.group(1), None, where, schema.datasource_provider)
    literal = value.strip().strip('"')
    return Datasource(None, literal, where, schema.datasource_provider)


@dataclass(frozen=True)
class Pool:
    function: str
    url: DbUrl | None
    url_source: str
    size: int  # N
    size_source: str
    concurrency: int  # C
    concurrency_source: str
    concurrency_default: bool
    provisioned: int | None

    @property
    def total(self) -> int:
        return self.size * self.concurrency

    @property
    def database(self) -> str:
        return self.url.identity if self.url is not None else "(the datasource)"


def cpus_for(platform: str, fn: FunctionConfig, data: DoctorData) -> tuple[int, str]:
    fixed = data.platform(platform).cpus if platform in data.raw["platform"] else None
    if fixed is not None:
        return fixed, data.platform(platform).cpus_source
    vcpus = data.lambda_vcpus(fn.memory.value)
    return vcpus, f"{fn.memory.value} MB ({fn.memory.source}) -> {vcpus} vCPU ({data.lambda_cpu_source})"


def pool_for(platform: str, fn: FunctionConfig, ds: Datasource | None, data: DoctorData) -> Pool:
    url, url_source = None, "no datasource URL found"
    if ds is not None and ds.variable is not None:
        found = fn.env.get(ds.variable)
        if found is not None:
            url, url_source = parse(found.value), f"{ds.variable} from {found.source}"
        else:
            url_source = f"{ds.variable} ({ds.where}) is not set in the platform config, .env or the environment"
    elif ds is not None and ds.literal is not None:
        url, url_source = parse(ds.literal), f"the URL written in {ds.where}"
    limit = url.int_param("connection_limit") if url is not None else None
    if limit is not None:
        size, size_source = limit, f"connection_limit={limit} in {url_source}"
    else:
        cpus, why = cpus_for(platform, fn, data)
        size = data.default_pool(cpus)
        size_source = f"Prisma's default 2 × {cpus} CPU + 1 = {size} (no connection_limit; {why})"
    return Pool(function=fn.name, url=url, url_source=url_source, size=size, size_source=size_source,
                concurrency=fn.concurrency.value, concurrency_source=fn.concurrency.source,
                concurrency_default=fn.concurrency.default,
                provisioned=fn.provisioned.value if fn.provisioned is not None else None)


def limit_word(limit: MaxConnections) -> str:
    reserved = f" ({limit.reserved} reserved)" if limit.reserved else ""
    assumed = " assumed" if limit.assumed else ""
    return f"max_connections {limit.value:,}{reserved}{assumed}"


def pool_findings(platform: str, pools: Sequence[Pool], limits: Mapping[str, MaxConnections | None],
                  in_use: Mapping[str, int], *, photon: bool, data: DoctorData) -> list[Finding]:
    """One finding per function (N × C), one per database its functions share (the sum), with the fixes."""
    findings: list[Finding] = []
    notes: set[str] = set()
    groups: dict[str, list[Pool]] = {}
    for pool in pools:
        groups.setdefault(pool.database, []).append(pool)
    for database, members in groups.items():
        limit = limits.get(database)
        used = in_use.get(database, 0)
        total = sum(p.total for p in members)
        free = None if limit is None else limit.value - limit.reserved - used
        m_detail = "" if limit is None else f"; M: {limit.source}" + (f"; {used} in use now" if used else "")
        for pool in members:
            numbers: dict[str, object] = {"N": pool.size, "C": pool.concurrency, "N_x_C": pool.total,
                                          "database": database}
            message = f"N × C = {pool.size} × {pool.concurrency:,} = {pool.total:,} connections at most"
            detail = f"N: {pool.size_source}; C: {pool.concurrency_source}" + (
                " (nothing in the config caps it)" if pool.concurrency_default else "")
            if pool.provisioned:
                detail += (f"; provisionedConcurrency {pool.provisioned} keeps {pool.provisioned * pool.size:,} "
                           "connections open at all times")
            severity: Severity = "info"
            if len(members) == 1 and free is not None and limit is not None:
                numbers.update({"M": limit.value, "reserved": limit.reserved, "in_use": used,
                                "headroom": free - pool.total})
                severity, verdict = _verdict(pool.total, free, limit)
                message += f", against {verdict}"
                detail += m_detail
            elif len(members) == 1:
                message += " (the database's max_connections is unknown)"
            elif len(members) > 1:
                message += f" (its share of {database})"
            findings.append(Finding("connections", severity, message, where=pool.url_source,
                                    fix=_fixes(platform, [pool], free, photon=photon, data=data)
                                    if severity in ("error", "warning") else "", function=pool.function,
                                    numbers=numbers, detail=detail))
        if len(members) > 1:
            shared: dict[str, object] = {"sum_N_x_C": total, "functions": [p.function for p in members],
                                         "database": database}
            message = (f"{len(members)} functions share {database}: " + " + ".join(
                f"{p.size} × {p.concurrency:,}" for p in members) + f" = {total:,} connections at most")
            severity = "info"
            if free is not None and limit is not None:
                shared.update({"M": limit.value, "reserved": limit.reserved, "in_use": used,
                               "headroom": free - total})
                severity, verdict = _verdict(total, free, limit)
                message += f", against {verdict}"
            else:
                message += "; the database's max_connections is unknown"
            findings.append(Finding("connections", severity, message, where=members[0].url_source,
                                    fix=_fixes(platform, members, free, photon=photon, data=data)
                                    if severity in ("error", "warning") else "", numbers=shared,
                                    detail=", ".join(p.function for p in members) + m_detail))
        if limit is None:
            findings.append(Finding(
                "connections", "info", f"max_connections of {database} is unknown, so N × C cannot be compared",
                fix="pass --max-connections N, --db-instance CLASS (RDS), --db-service NAME --db-size SIZE, or "
                    "--check-database to ask the database"))
        elif limit.note and limit.note not in notes:
            notes.add(limit.note)
            findings.append(Finding("connections", "info", f"{database}: {limit_word(limit)}: {limit.note}",
                                    detail=limit.source))
    return findings


def _verdict(total: int, free: int, limit: MaxConnections) -> tuple[Severity, str]:
    word = f"{free:,} free of {limit_word(limit)}"
    if total > free:
        return ("warning" if limit.assumed else "error"), f"{word}: {total - free:,} over"
    if total > WARN_SHARE * free:
        return "warning", f"{word}: only {free - total:,} to spare"
    return "ok", f"{word}: {free - total:,} to spare"


def _fixes(platform: str, pools: Sequence[Pool], free: int | None, *, photon: bool, data: DoctorData) -> str:
    """The fixes in the guide's order: connection_limit=1, a concurrency cap, a pooler, (2019) Photon's note."""
    steps: list[str] = []
    big = [p for p in pools if p.size > 1]
    if big:
        steps.append("set connection_limit=1 in the datasource URL (" + ", ".join(
            f"{p.function or 'the function'}: N {p.size} -> 1" for p in big) + "); Prisma's advice for serverless")
    if free is not None and free > 0:
        share = max(free // max(len(pools), 1), 1)
        if platform in NO_CONCURRENCY_SETTING:
            steps.append(f"{platform} has no per-function concurrency setting: keep the sum under {free:,} with a "
                         "pooler")
        else:
            key = "reservedConcurrency" if platform == "serverless" else "reserved concurrency (aws lambda " \
                "put-function-concurrency --reserved-concurrent-executions)"
            steps.append(f"cap concurrency: {key} <= {share:,} per function at N = 1 (at least 100 executions must "
                         "stay unreserved in the account)")
    pooled = any(p.url is not None and p.url.pgbouncer for p in pools)
    provider = next((p.url.provider for p in pools if p.url is not None), None)
    if pooled:
        steps.append("the URL already goes through PgBouncer (pgbouncer=true): size the pooler's default_pool_size "
                     "below max_connections")
    elif provider == "mysql":
        steps.append("put a pooler in front: RDS Proxy, or Prisma Accelerate (prisma:// URL)")
    else:
        steps.append("put a pooler in front: RDS Proxy, PgBouncer in transaction mode with pgbouncer=true in the URL, "
                     "or Prisma Accelerate (prisma:// URL)")
    if photon:
        steps.append(data.photon_note)
    return "; ".join(f"{i}. {s}" for i, s in enumerate(steps, start=1))
