"""Steps 1-4 together: a `Detection` for a file tree or the host, combined with `bundler.targets.target_for`.
The only code here that runs a program is `host_probes` (for the host itself)."""

from __future__ import annotations

import os
import platform
import posixpath
import subprocess
from dataclasses import dataclass, field

from bundler.detect.arch import node_arch, tree_machine
from bundler.detect.distro import DEFAULT_DISTRO, OS_RELEASE, parse_distro
from bundler.detect.libssl import (
    DEFAULT_SSL,
    GENERIC_LIB_DIRS,
    LD_SO_CACHE,
    find_libssl,
    first_libssl_line,
    ld_so_cache_probe,
    ldconfig_libssl,
    parse_libssl_version,
    parse_openssl_version,
    specific_lib_dirs,
)
from bundler.detect.tree import DirTree, FileTree, Probe, read_text, resolve
from bundler.targets import target_for


@dataclass(frozen=True)
class Detection:
    """The target and the facts it came from."""

    target: str
    distro: str | None  # distro family that names the target (None: unknown, debian used)
    family: str | None
    os_id: str
    os_id_like: str
    os_release: str | None  # where os-release was read (None: not found)
    machine: str  # uname -m
    machine_source: str
    arch: str  # Node's process.arch
    ssl: str | None  # 1.0.x | 1.1.x | 3.0.x, None: not found (1.1.x used)
    libssl: str | None  # file name (or command output line) the version came from
    libssl_where: str | None  # folder, "ldconfig -p", "/etc/ld.so.cache" or "openssl version -v"
    strategy: str | None  # libssl-specific-path | ldconfig | generic-path | openssl-binary
    searched: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "distro": self.distro,
            "family": self.family,
            "os_release": {"path": self.os_release, "id": self.os_id, "id_like": self.os_id_like},
            "arch": {"uname": self.machine, "node": self.arch, "source": self.machine_source},
            "libssl": {
                "version": self.ssl,
                "file": self.libssl,
                "where": self.libssl_where,
                "strategy": self.strategy,
                "searched": list(self.searched),
            },
            "warnings": list(self.warnings),
        }


def detect(
    tree: FileTree,
    machine: str,
    *,
    machine_source: str = "uname -m",
    ldconfig: Probe | None = None,
    ldconfig_label: str = "ldconfig -p",
    openssl: Probe | None = None,
) -> Detection:
    """Run Prisma's detection on `tree` for a machine whose `uname -m` is `machine`.

    `ldconfig` and `openssl` stand for the output of `ldconfig -p` and `openssl version -v`; None skips
    the step (`detect_tree` passes the /etc/ld.so.cache reader for trees that cannot run programs).
    """
    warnings: list[str] = []
    os_release_path = resolve(tree, OS_RELEASE)
    text = read_text(tree, OS_RELEASE)
    distro = parse_distro(text or "")
    arch = node_arch(machine)

    ssl: str | None = None
    libssl: str | None = None
    where: str | None = None
    strategy: str | None = None
    searched: list[str] = []

    specific = specific_lib_dirs(distro.family, machine)
    searched.extend(specific)
    hit = find_libssl(tree, specific)
    if hit:
        version = parse_libssl_version(hit[0])
        if version:
            ssl, (libssl, where), strategy = version, hit, "libssl-specific-path"
    if ssl is None:
        output = ldconfig() if ldconfig else None
        if ldconfig:
            searched.append(ldconfig_label)
        found = ldconfig_libssl(output) if output else ""
        if found:
            libssl, where, strategy = first_libssl_line(found), ldconfig_label, "ldconfig"
        else:
            searched.extend(GENERIC_LIB_DIRS)
            generic = find_libssl(tree, GENERIC_LIB_DIRS)
            if generic:
                libssl, where = generic
                found, strategy = generic[0], "generic-path"
        ssl = parse_libssl_version(found) if found else None
        if ssl is None:
            libssl = where = strategy = None
    if ssl is None and openssl is not None:
        searched.append("openssl version -v")
        line = (openssl() or "").strip()
        version = parse_openssl_version(line)
        if version:
            ssl, libssl, where, strategy = version, line, "openssl version -v", "openssl-binary"

    if arch not in ("x64", "arm64"):
        warnings.append(f"Prisma only officially supports Linux on x86_64 and arm64; this system is {machine!r}")
    if ssl is None:
        warnings.append(
            f"no libssl found (searched: {', '.join(searched)}); defaulting to openssl-{DEFAULT_SSL} as Prisma "
            "does. Install OpenSSL in that system (e.g. `apt-get install -y openssl`) or name the target yourself"
        )
    if distro.target is None:
        shown = f"ID={distro.id!r}" if distro.id else f"no {OS_RELEASE}" if text is None else "no ID in os-release"
        warnings.append(f"unknown Linux distribution ({shown}); using Prisma's fallback, {DEFAULT_DISTRO}")

    return Detection(
        target=combine(distro.target, arch, ssl),
        distro=distro.target,
        family=distro.family,
        os_id=distro.id,
        os_id_like=distro.id_like,
        os_release=os_release_path if text is not None else None,
        machine=machine,
        machine_source=machine_source,
        arch=arch,
        ssl=ssl,
        libssl=libssl,
        libssl_where=where,
        strategy=strategy,
        searched=tuple(searched),
        warnings=tuple(warnings),
    )


def combine(distro: str | None, arch: str, ssl: str | None) -> str:
    """Prisma's getBinaryTargetForCurrentPlatformInternal for Linux, on top of `target_for`.

    Differences from `target_for` handled here: nixos wins over arm64, a 32-bit ARM machine is always
    linux-arm-openssl-X, and an unknown distro falls back to debian.
    """
    if distro == "nixos":
        return "linux-nixos"
    if arch == "arm":
        return target_for("arm", "arm", ssl)
    return target_for(distro or DEFAULT_DISTRO, "arm64" if arch == "arm64" else "x86_64", ssl)


def detect_tree(tree: FileTree, machine: str | None = None, *, machine_source: str | None = None) -> Detection:
    """Detection for a root file system that cannot run programs: `ldconfig -p` is read from its
    /etc/ld.so.cache, `openssl version -v` is skipped; the architecture comes from its ELF files unless given."""
    if machine is None:
        found = tree_machine(tree)
        if found:
            machine, machine_source = found
        else:
            machine, machine_source = platform.machine(), "this host (no ELF file found in the tree to read it from)"
    return detect(
        tree,
        machine,
        machine_source=machine_source or "given",
        ldconfig=ld_so_cache_probe(tree),
        ldconfig_label=LD_SO_CACHE,
    )


def _command_output(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def host_probes() -> tuple[Probe, Probe]:
    """`ldconfig -p` and `openssl version -v` on this machine, as Prisma runs them."""
    ldconfig = "ldconfig" if _which("ldconfig") else "/sbin/ldconfig"
    return (lambda: _command_output([ldconfig, "-p"])), (lambda: _command_output(["openssl", "version", "-v"]))


def _which(name: str) -> bool:
    return any(os.access(posixpath.join(d, name), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep) if d)


def detect_host() -> Detection:
    """The target of the machine photon-bundle runs on (Linux only)."""
    ldconfig, openssl = host_probes()
    return detect(DirTree("/"), platform.machine(), ldconfig=ldconfig, openssl=openssl)
