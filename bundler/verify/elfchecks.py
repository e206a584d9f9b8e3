"""The per-file checks (elf, arch, libc, libraries, symbols, exec-bit) of one native file against the runtime's
policy; pure."""

from __future__ import annotations

from collections.abc import Mapping

from bundler.elf import (
    ElfFacts,
    split_version,
    version_key,
)
from bundler.policies import Policy
from bundler.verify.artifacts import _Entry
from bundler.verify.loader import _SYSTEM, _Context, _resolve, _search_description
from bundler.verify.report import Finding


def _check_arch(path: str, facts: ElfFacts, ctx: _Context) -> list[Finding]:
    if facts.arch == ctx.profile.arch and facts.elf_class == 64 and facts.little_endian:
        return []
    return [
        Finding(
            path, "arch", "error", f"built for {facts.arch} ({facts.elf_class}-bit {facts.machine})",
            has=f"{ctx.profile.runtime.name} runs on {ctx.profile.arch}",
        )
    ]


def _check_libc(path: str, facts: ElfFacts, ctx: _Context) -> list[Finding]:
    libc = facts.libc
    if libc in ("none", "unknown"):
        return []
    if libc != ctx.policy.libc:
        via = f"interpreter {facts.interpreter}" if facts.interpreter else f"needs {', '.join(facts.needed)}"
        return [
            Finding(
                path, "libc", "error", f"needs {libc} ({via})",
                has=f"{ctx.os_name} has {ctx.policy.libc}, loader {ctx.interpreter}",
            )
        ]
    if facts.interpreter and facts.interpreter != ctx.interpreter:
        return [
            Finding(
                path, "libc", "error", f"asks for the loader {facts.interpreter}",
                has=f"{ctx.os_name}'s loader is {ctx.interpreter}",
            )
        ]
    return []


def _check_libraries(path: str, facts: ElfFacts, ctx: _Context) -> tuple[list[Finding], dict[str, str | None]]:
    found = {name: _resolve(path, facts, name, ctx) for name in facts.needed}
    missing = [name for name, where in found.items() if where is None]
    if not missing:
        return [], found
    ssl = [m for m in missing if m.startswith(("libssl.", "libcrypto."))]
    if ssl:
        has = f"{ctx.os_name} has OpenSSL {ctx.policy.openssl.version} ({', '.join(ctx.policy.openssl.sonames)})"
    else:
        has = "system libraries: " + ", ".join(sorted(ctx.system))
    finding = Finding(
        path, "libraries", "error",
        f"needs {', '.join(missing)}: not a system library of {ctx.os_name} and not shipped where the loader "
        f"looks ({_search_description(ctx)})",
        has=has,
    )
    return [finding], found


def _symbol_allowed(ns: str, number: str, policy: Policy) -> bool:
    if ns == "OPENSSL":
        return policy.openssl.allows(number)
    highest = policy.symbols.get(ns)
    return highest is not None and version_key(number) <= version_key(highest)


def _symbol_has(ns: str, policy: Policy, os_name: str) -> str:
    if ns == "OPENSSL":
        text = f"{os_name} has OpenSSL {policy.openssl.version} ({', '.join(policy.openssl.sonames)})"
        uncertain = policy.is_uncertain("openssl.version")
    elif ns in policy.symbols:
        text = f"{os_name} has {ns} up to {ns}_{policy.symbols[ns]}"
        uncertain = policy.is_uncertain(f"symbols.{ns}")
    else:
        text = f"{os_name} has no {ns} symbol versions ({policy.libc})"
        uncertain = False
    return text + (" (uncertain number: see platforms/policies.toml)" if uncertain else "")


def _check_symbols(path: str, facts: ElfFacts, found: Mapping[str, str | None], ctx: _Context) -> list[Finding]:
    findings: list[Finding] = []
    failing: dict[str, tuple[str, str]] = {}  # namespace -> (highest failing number, library)
    unknown: dict[str, str] = {}
    for library, version in facts.required_versions():
        where = found[library] if library in found else _resolve(path, facts, library, ctx)
        if where is None:
            continue  # reported by the libraries check
        if where != _SYSTEM:
            shipped = ctx.elves.get(where)
            if shipped is not None and shipped.version_defs and version not in shipped.version_defs:
                findings.append(
                    Finding(
                        path, "symbols", "error",
                        f"needs {version} from {library}, which the shipped {where} does not define",
                        has=f"{where} defines {', '.join(shipped.version_defs)}",
                    )
                )
            continue
        split = split_version(version)
        if split is None:
            if version in ctx.policy.openssl.tags:
                continue
            if version == "GLIBC_PRIVATE":
                findings.append(
                    Finding(
                        path, "symbols", "error", f"needs GLIBC_PRIVATE from {library}",
                        has="GLIBC_PRIVATE symbols belong to one glibc build and are never portable",
                    )
                )
            else:
                unknown.setdefault(version, library)
            continue
        ns, number = split
        if ns not in ctx.policy.symbols and ns not in ("OPENSSL", "GLIBC"):
            unknown.setdefault(version, library)
            continue
        if not _symbol_allowed(ns, number, ctx.policy) and (
            ns not in failing or version_key(number) > version_key(failing[ns][0])
        ):
            failing[ns] = (number, library)
    for ns, (number, library) in sorted(failing.items()):
        findings.append(
            Finding(
                path, "symbols", "error", f"needs {ns}_{number} (from {library})",
                has=_symbol_has(ns, ctx.policy, ctx.os_name),
            )
        )
    for version, library in sorted(unknown.items()):
        findings.append(
            Finding(
                path, "symbols", "warning",
                f"needs {version} from {library}; the {ctx.policy.key} policy does not cover it, so it is not checked",
                has=f"{ctx.os_name}: unknown",
                fix="check the file on the runtime itself (photon-bundle bundle --engine-source docker builds there)",
            )
        )
    return findings


def _file_findings(path: str, facts: ElfFacts, ctx: _Context) -> dict[str, list[Finding]]:
    """The independent ELF checks of one file against one runtime (no exec bit: that is the artifact's)."""
    libraries, found = _check_libraries(path, facts, ctx)
    return {
        "arch": _check_arch(path, facts, ctx),
        "libc": _check_libc(path, facts, ctx),
        "libraries": libraries,
        "symbols": _check_symbols(path, facts, found, ctx),
    }


def _passes(path: str, facts: ElfFacts, ctx: _Context) -> bool:
    return not any(f.severity == "error" for fs in _file_findings(path, facts, ctx).values() for f in fs)


def _check_exec(entry: _Entry, role: str) -> list[Finding]:
    if entry.mode is not None and entry.mode & 0o111:
        return []
    why = " (Prisma's chmod +x fails with EROFS/EACCES)" if role == "engine" else ""
    message = (
        "is not executable: the zip stores no Unix permissions for it"
        if entry.mode is None
        else f"is not executable (mode {entry.mode:04o})"
    )
    return [
        Finding(
            entry.path, "exec-bit", "error", message,
            has=f"the function's file system is read-only: it cannot be made executable there{why}",
            fix="chmod 755 it before zipping and write the zip with Unix permissions (photon-bundle bundle keeps them)",
        )
    ]
