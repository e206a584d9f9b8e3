"""Zombie connections and timeouts: the URL's pool_timeout / connect_timeout / socket_timeout against the
function's timeout, and the database's idle settings (read live with --check-database) that close the
connections of containers the platform retired without closing them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bundler.doctor.connections import Pool
from bundler.doctor.data import DoctorData
from bundler.doctor.deployment import FunctionConfig
from bundler.doctor.findings import Finding

# Suggested server settings (seconds): short enough that a retired container's connections go soon,
# long enough for a warm container between invocations (Lambda keeps idle containers for minutes).
SUGGEST_IDLE_IN_TRANSACTION_S = 60
SUGGEST_IDLE_SESSION_S = 300
SUGGEST_WAIT_TIMEOUT_S = 300


def url_findings(pools: Sequence[Pool], functions: Mapping[str, FunctionConfig], data: DoctorData) -> list[Finding]:
    findings: list[Finding] = []
    for pool in pools:
        url = pool.url
        if url is None:
            continue
        fn = functions[pool.function]
        t = fn.timeout.value
        who = pool.function
        for bad in url.bad_params:
            findings.append(Finding("timeouts", "warning", f"{bad}={url.param(bad)!r} is not a whole number of "
                                    "seconds: Prisma rejects the URL", where=pool.url_source, function=who,
                                    fix=f"write {bad} as seconds, e.g. {bad}=5"))
        for name in ("pool_timeout", "connect_timeout"):
            value = url.int_param(name)
            default = data.prisma_default(name)
            effective = default if value is None else value
            said = f"{name}={value}" if value is not None else f"{name} unset (Prisma's default {default} s)"
            numbers = {name: effective, "function_timeout": t}
            if effective == 0:
                findings.append(Finding("timeouts", "warning", f"{said}: waits without limit, until the function "
                                        f"times out after {t} s ({fn.timeout.source})", where=pool.url_source,
                                        function=who, numbers=numbers, fix=f"set {name} below {t} s, e.g. "
                                        f"{name}={max(t // 2, 1)}"))
            elif effective >= t and name == "pool_timeout" and pool.size == 1:
                findings.append(Finding("timeouts", "info", f"{said} is not shorter than the function's timeout {t} s; "
                                        "with connection_limit=1 a query only waits for the pool when the handler runs "
                                        "queries in parallel", where=pool.url_source, function=who, numbers=numbers,
                                        fix=f"pool_timeout={max(t // 2, 1)} makes such a wait fail with Prisma's "
                                            "error (P2024) instead of the platform's timeout"))
            elif effective >= t:
                findings.append(Finding("timeouts", "warning", f"{said} is not shorter than the function's timeout "
                                        f"{t} s ({fn.timeout.source}): the platform kills the invocation first, with "
                                        "no error from Prisma", where=pool.url_source, function=who, numbers=numbers,
                                        fix=f"lower {name} below {t} s (e.g. {name}={max(t // 2, 1)}) or raise the "
                                            "function's timeout"))
        socket = url.int_param("socket_timeout")
        if socket is None and url.param("socket_timeout") is None:
            findings.append(Finding("timeouts", "info", "no socket_timeout: a query on a connection the database or "
                                    f"network dropped waits until the function times out ({t} s)",
                                    where=pool.url_source, function=who, numbers={"function_timeout": t},
                                    fix=f"add socket_timeout={max(t - 1, 1)} (seconds) to the URL"))
        elif socket is not None and socket >= t:
            findings.append(Finding("timeouts", "warning", f"socket_timeout={socket} is not shorter than the "
                                    f"function's timeout {t} s", where=pool.url_source, function=who,
                                    numbers={"socket_timeout": socket, "function_timeout": t},
                                    fix=f"lower socket_timeout below {t}"))
    return _dedupe(findings)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """The same URL finding for many functions once, naming them."""
    merged: dict[tuple[str, str, str], list[Finding]] = {}
    for f in findings:
        merged.setdefault((f.severity, f.message, f.where), []).append(f)
    out = []
    for group in merged.values():
        names = [f.function for f in group if f.function]
        first = group[0]
        out.append(Finding(first.check, first.severity, first.message, first.where, first.fix,
                           ", ".join(names) if len(names) > 1 else first.function, first.numbers))
    return out


def server_findings(provider: str, settings: Mapping[str, int | None], where: str, *, pooled: bool) -> list[Finding]:
    """The database's idle settings (seconds, 0 = off), read live, and what to lower."""
    findings: list[Finding] = []
    if provider == "postgresql":
        value = settings.get("idle_in_transaction_session_timeout")
        if value is not None:
            if value == 0 or value > SUGGEST_IDLE_IN_TRANSACTION_S * 10:
                findings.append(Finding("server", "warning", "idle_in_transaction_session_timeout is "
                                        + ("0 (off)" if value == 0 else f"{value} s")
                                        + ": a container retired in the middle of a transaction keeps its locks",
                                        where=where, numbers={"idle_in_transaction_session_timeout": value},
                                        fix=f"ALTER SYSTEM SET idle_in_transaction_session_timeout = "
                                            f"'{SUGGEST_IDLE_IN_TRANSACTION_S}s' (RDS: in the parameter group)"))
            else:
                findings.append(Finding("server", "ok", f"idle_in_transaction_session_timeout is {value} s",
                                        where=where, numbers={"idle_in_transaction_session_timeout": value}))
        value = settings.get("idle_session_timeout")
        if value is not None:
            if pooled:
                findings.append(Finding("server", "info", f"idle_session_timeout is {value} s; behind PgBouncer the "
                                        "pooler's server_idle_timeout is the one that closes idle connections",
                                        where=where, numbers={"idle_session_timeout": value}))
            elif value == 0 or value > SUGGEST_IDLE_SESSION_S * 6:
                findings.append(Finding("server", "warning", "idle_session_timeout is "
                                        + ("0 (off)" if value == 0 else f"{value} s")
                                        + ": connections of containers the platform retired (zombies) stay open and "
                                          "count against max_connections", where=where,
                                        numbers={"idle_session_timeout": value},
                                        fix=f"ALTER SYSTEM SET idle_session_timeout = '{SUGGEST_IDLE_SESSION_S}s' "
                                            "(PostgreSQL 14+; for the functions' role only: ALTER ROLE ... SET)"))
            else:
                findings.append(Finding("server", "ok", f"idle_session_timeout is {value} s: zombie connections "
                                        "close", where=where, numbers={"idle_session_timeout": value}))
    elif provider == "mysql":
        value = settings.get("wait_timeout")
        if value is not None:
            if value > SUGGEST_WAIT_TIMEOUT_S * 2:
                findings.append(Finding("server", "warning", f"wait_timeout is {value:,} s: connections of containers "
                                        "the platform retired (zombies) stay open that long and count against "
                                        "max_connections", where=where, numbers={"wait_timeout": value},
                                        fix=f"SET GLOBAL wait_timeout = {SUGGEST_WAIT_TIMEOUT_S} (RDS: the parameter "
                                            "group; or per user/session)"))
            else:
                findings.append(Finding("server", "ok", f"wait_timeout is {value} s: zombie connections close",
                                        where=where, numbers={"wait_timeout": value}))
    return findings


def zombie_note(provider: str | None) -> Finding:
    setting = "wait_timeout" if provider == "mysql" else "idle_session_timeout / idle_in_transaction_session_timeout"
    return Finding("server", "info", "containers the platform retires keep their connections open for an unknown time "
                   f"(zombie connections); the database's {setting} closes them",
                   fix=f"run with --check-database to read {setting}, and lower it (e.g. "
                       f"{SUGGEST_IDLE_SESSION_S if provider != 'mysql' else SUGGEST_WAIT_TIMEOUT_S} s)")
