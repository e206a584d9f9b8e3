"""`photon-bundle doctor`: read the deployment, run the checks, return the findings.

  placement    tree-sitter over each entry file and the local modules it loads (placement.py)
  connections  N × C per function and per shared database against max_connections (connections.py)
  timeouts     the URL's pool/connect/socket timeouts against the function's timeout (timeouts.py)
  server       the database's idle settings, live with --check-database (database.py, timeouts.py)
  cold-start   the last bundle's sizes, the handler's require time in a guarded node (coldstart.py)

`bundle_section` is the cheap subset the bundle pipeline adds to every summary and manifest (`doctor` key):
no database connection and no node process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.doctor import coldstart, connections, placement, timeouts
from bundler.doctor.data import DoctorData, MaxConnections
from bundler.doctor.data import load as load_data
from bundler.doctor.dburl import DbUrl
from bundler.doctor.deployment import Deployment, FunctionConfig, read_deployment
from bundler.doctor.findings import Finding, bundle_warnings, render_text, report_doc
from bundler.errors import BundleError, ConfigError, closest
from bundler.options import Options
from bundler.project import Project


@dataclass(frozen=True)
class DoctorOptions:
    max_connections: int | None = None
    db_instance: str | None = None
    aurora: bool = False
    db_service: str | None = None
    db_size: str | None = None
    check_database: bool = False
    memory: int | None = None
    concurrency: int | None = None
    time_require: bool = True
    out_dir: Path | None = None


@dataclass(frozen=True)
class DoctorResult:
    findings: tuple[Finding, ...]
    facts: Mapping[str, Any]
    secrets: tuple[str, ...] = field(default=())

    def doc(self) -> dict[str, Any]:
        return report_doc(self.findings, self.facts, self.secrets)

    def text(self) -> str:
        header = [f"photon-bundle doctor: {self.facts['platform']} — {len(self.facts['functions'])} function(s)"]
        for fn in self.facts["functions"]:
            header.append(f"  {fn['name'] or '(function)'}: entry {fn['entry'] or '?'}, memory {fn['memory_mb']} MB, "
                          f"concurrency {fn['concurrency']:,}, timeout {fn['timeout_s']} s, datasource "
                          f"{fn['datasource']}")
        return render_text(self.findings, self.secrets, header)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")


def diagnose(platform: str, project: Project, options: Options, env: Mapping[str, str],
             dopts: DoctorOptions) -> DoctorResult:
    data = load_data()
    deployment = read_deployment(platform, project, options, env, memory=dopts.memory,
                                 concurrency=dopts.concurrency)
    findings, pools, facts = _static(deployment, project, data)
    secrets = _secrets(pools)
    limits, in_use, live_findings = _limits(pools, project, dopts, data)
    findings += connections.pool_findings(platform, pools, limits, in_use, photon=_photon(project, findings),
                                          data=data)
    findings += timeouts.url_findings(pools, {f.name: f for f in deployment.functions}, data)
    findings += live_findings or [timeouts.zombie_note(_provider(pools, project))]
    findings += _cold_start(deployment, project, dopts)
    findings += [Finding("cold-start", "warning", "a client created per invocation pays the engine's start and a new "
                         "connection on every invocation, not only on a cold start", where=f.where, function=f.function,
                         fix="create the client outside the handler (see placement)")
                 for f in findings if f.check == "placement" and f.severity == "error"]
    facts["databases"] = [{"database": db, **({"max_connections": lim.value, "reserved": lim.reserved,
                                                "source": lim.source} if lim else {"max_connections": None})}
                          for db, lim in limits.items()]
    return DoctorResult(tuple(findings), facts, secrets)


def bundle_section(platform: str, project: Project, options: Options, env: Mapping[str, str],
                   doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The doctor's static findings for a bundle's manifest (`doctor` key) and summary warnings. Never fails
    the bundle: a config the doctor cannot read becomes a note."""
    try:
        data = load_data()
        deployment = read_deployment(platform, project, options, env)
        findings, pools, facts = _static(deployment, project, data)
        limits, in_use, _ = _limits(pools, project, DoctorOptions(), data)
        findings += connections.pool_findings(platform, pools, limits, in_use, photon=_photon(project, findings),
                                              data=data)
        findings += timeouts.url_findings(pools, {f.name: f for f in deployment.functions}, data)
        findings += coldstart.artifact_findings(doc, "this bundle", project.root)
        result = DoctorResult(tuple(findings), facts, _secrets(pools))
    except (BundleError, OSError, ValueError) as err:
        message = err.message if isinstance(err, BundleError) else str(err)
        note = f"doctor: not checked: {message}"
        return {"version": 1, "error": note}, [note]
    out = result.doc()
    out.pop("project", None)  # the manifest is the same on every machine
    out["command"] = f"photon-bundle doctor --platform {platform} (adds --check-database and the require timing)"
    return out, bundle_warnings(result.findings, result.secrets)


# --------------------------------------------------------------------------------------------- parts


def _static(deployment: Deployment, project: Project, data: DoctorData
            ) -> tuple[list[Finding], list[connections.Pool], dict[str, Any]]:
    findings: list[Finding] = []
    ds = connections.datasource(project)
    pools = []
    fn_facts = []
    for fn in deployment.functions:
        findings += [Finding("connections", "info", note, function=fn.name) for note in fn.notes]
        findings += placement_findings(project.root, fn)
        pool = connections.pool_for(deployment.platform, fn, ds, data)
        pools.append(pool)
        fn_facts.append({"name": fn.name, "entry": fn.entry, "memory_mb": fn.memory.value,
                         "memory_source": fn.memory.source, "concurrency": fn.concurrency.value,
                         "concurrency_source": fn.concurrency.source, "timeout_s": fn.timeout.value,
                         "timeout_source": fn.timeout.source, "pool": pool.size, "pool_source": pool.size_source,
                         "datasource": pool.url.masked if pool.url else None, "datasource_source": pool.url_source})
    if ds is None:
        findings.append(Finding("connections", "info", "no datasource url in schema.prisma: N × C not computed"))
    facts = {"platform": deployment.platform, "project": str(project.root), "functions": fn_facts}
    return findings, pools, facts


def placement_findings(root: Path, fn: FunctionConfig) -> list[Finding]:
    who = fn.name
    if fn.entry is None:
        return [Finding("placement", "info", "entry file not found: client placement not checked", function=who)]
    result = placement.analyse(root, fn.entry)
    findings = [Finding("placement", "info", problem, function=who) for problem in result.problems]
    for site in result.sites:
        where = f"{site.file}:{site.line}"
        cls = "Photon" if site.photon else "PrismaClient"
        via = f", {site.via}" if site.via else ""
        if site.kind in ("module", "lazy"):
            findings.append(Finding("placement", "ok", f"new {cls}() {site.detail}{via}: warm invocations reuse it",
                                    where=where, function=who))
        elif site.kind == "handler":
            findings.append(Finding("placement", "error", f"new {cls}() {site.detail}{via}: a new client and "
                                    "connection pool on every invocation", where=where, function=who,
                                    fix=f"create the client once at module scope (const prisma = new {cls}() next to "
                                        "the imports) or keep it in a module variable (prisma ??= new "
                                        f"{cls}()) so warm invocations reuse it"))
        elif site.kind == "function":
            findings.append(Finding("placement", "warning", f"new {cls}() {site.detail}{via}", where=where,
                                    function=who, fix="call it once at module scope, or keep the client in a module "
                                                      "variable (prisma ??= ...)"))
        else:
            findings.append(Finding("placement", "warning", site.detail + via, where=where, function=who,
                                    fix="remove the disconnect from the handler: the platform freezes the container "
                                        "with its open connections and the next invocation reuses them"))
    if not any(s.kind != "disconnect" for s in result.sites):
        findings.append(Finding("placement", "info", f"no new PrismaClient() / new Photon() in {fn.entry} or the "
                                f"{len(result.files) - 1} local module(s) it loads", where=fn.entry, function=who))
    return findings


def _photon(project: Project, findings: Sequence[Finding]) -> bool:
    return bool(project.schema and project.schema.is_photon) or any("new Photon()" in f.message for f in findings)


def _provider(pools: Sequence[connections.Pool], project: Project) -> str | None:
    for pool in pools:
        if pool.url is not None:
            return pool.url.provider
    provider = project.schema.datasource_provider if project.schema else None
    return {"postgres": "postgresql", "mariadb": "mysql"}.get(provider or "", provider)


def _secrets(pools: Sequence[connections.Pool]) -> tuple[str, ...]:
    return tuple(sorted({s for p in pools if p.url is not None for s in p.url.secrets}))


def _limits(pools: Sequence[connections.Pool], project: Project, dopts: DoctorOptions, data: DoctorData
            ) -> tuple[dict[str, MaxConnections | None], dict[str, int], list[Finding]]:
    limits: dict[str, MaxConnections | None] = {}
    in_use: dict[str, int] = {}
    live: list[Finding] = []
    urls: dict[str, DbUrl | None] = {}
    for pool in pools:
        urls.setdefault(pool.database, pool.url)
    for database, url in urls.items():
        engine = url.provider if url is not None else _provider(pools, project)
        if dopts.check_database and url is not None:
            from bundler.doctor.database import check

            facts = check(url)
            in_use[database] = facts.in_use
            live += timeouts.server_findings(facts.provider, facts.idle, f"live from {url.masked}",
                                             pooled=url.pgbouncer)
            live.append(Finding("server", "info", f"{facts.version}: max_connections {facts.max_connections}, "
                                f"{facts.reserved} reserved, {facts.in_use} in use now", where=url.masked,
                                numbers={"max_connections": facts.max_connections, "reserved": facts.reserved,
                                         "in_use": facts.in_use}))
            limits[database] = facts.limit(url.masked)
        if dopts.max_connections is not None:
            limits[database] = MaxConnections(dopts.max_connections, "--max-connections")
        elif database in limits:
            continue
        elif dopts.db_instance is not None:
            limits[database] = _instance_limit(engine, dopts, data)
        elif dopts.db_service is not None:
            limits[database] = _service_limit(dopts, data)
        elif engine in data.raw["server"]:
            limits[database] = data.server_default(engine or "")
        else:
            limits[database] = None
    return limits, in_use, live


def _instance_limit(engine: str | None, dopts: DoctorOptions, data: DoctorData) -> MaxConnections:
    instance = dopts.db_instance or ""
    if engine not in ("postgresql", "mysql"):
        raise ConfigError(f"--db-instance {instance}: the datasource is {engine or 'unknown'}; the RDS formulas are "
                          "for PostgreSQL and MySQL / MariaDB", hint="pass --max-connections instead")
    found = data.aurora(engine, instance) if dopts.aurora else data.rds(engine, instance)
    if found is None:
        known = data.instance_classes() if not dopts.aurora else sorted(data.raw["aurora"]["mysql"]["max_connections"])
        raise ConfigError(f"--db-instance {instance}: not in photon-bundle's table of "
                          f"{'Aurora' if dopts.aurora else 'RDS'} instance classes",
                          hint=f"{closest(instance, known)}; or pass --max-connections with your number")
    return found


def _service_limit(dopts: DoctorOptions, data: DoctorData) -> MaxConnections | None:
    service = dopts.db_service or ""
    if service not in data.services():
        raise ConfigError(f"--db-service {service}: unknown managed database",
                          hint=f"use one of: {', '.join(data.services())}")
    found, pooler, source = data.managed(service, dopts.db_size)
    if found is None:
        raise ConfigError(f"--db-service {service}: no max_connections for size {dopts.db_size!r} ({source})",
                          hint=f"pass --db-size with one of the sizes, or --max-connections; pooler: {pooler}")
    return MaxConnections(found.value, found.source, note=f"pooled: {pooler}")


def _cold_start(deployment: Deployment, project: Project, dopts: DoctorOptions) -> list[Finding]:
    findings: list[Finding] = []
    out_dir = dopts.out_dir or project.root / ".photon-bundle" / deployment.platform
    doc, source = coldstart.manifest_facts(out_dir)
    if doc is not None:
        findings += coldstart.artifact_findings(doc, source, project.root)
    else:
        findings.append(Finding("cold-start", "info", f"{source}: artifact sizes not reported",
                                fix=f"run photon-bundle {deployment.platform} first (or pass --out)"))
        findings += coldstart.project_findings(project.root)
    entries = {fn.entry: fn.name for fn in deployment.functions if fn.entry}
    if dopts.time_require and entries:
        findings += coldstart.require_findings(coldstart.require_times(project.root, list(entries)), entries)
    findings.append(coldstart.warmer_note())
    return findings
