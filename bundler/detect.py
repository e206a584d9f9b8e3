"""Which engine target a Linux system needs: Prisma's own detection (get-platform 6.x), on any file tree.

FACTS.md section 3, followed step by step:

1. distro family from `/etc/os-release` `ID` / `ID_LIKE` (`parse_distro`);
2. architecture from `uname -m` (the caller supplies it: the host's, an image's, or an ELF header's);
3. libssl, first hit wins: the distro's library folders (`libssl.so.*`, sorted, `libssl.so.0*` ignored),
   then `ldconfig -p` (sorted, so the oldest libssl wins), then /lib64, /usr/lib64, /lib, then
   `openssl version -v`;
4. combine with `bundler.targets.target_for`; nothing found -> 1.1.x (debian when the distro is unknown),
   with a warning.

The algorithm reads a `FileTree`, an abstract view of a root file system: a directory on disk (`DirTree`:
the host is `DirTree("/")`, `--root DIR` another one) or an image's files read through Docker
(`bundler.dockerio.ImageTree`). Symbolic links are resolved inside the tree, never on the host. Where
Prisma runs `ldconfig -p`, a tree that cannot run programs answers from its `/etc/ld.so.cache`, the file
`ldconfig -p` prints. The only code here that runs a program is `host_probes` (for the host itself).
"""

from __future__ import annotations

import os
import platform
import posixpath
import re
import stat
import struct
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from bundler.targets import target_for

NodeKind = Literal["file", "dir", "link", "other"]
Probe = Callable[[], "str | None"]

OS_RELEASE = "/etc/os-release"
LD_SO_CACHE = "/etc/ld.so.cache"
GENERIC_LIB_DIRS = ("/lib64", "/usr/lib64", "/lib")
DEFAULT_SSL = "1.1.x"
DEFAULT_DISTRO = "debian"
SUPPORTED_SSL = ("1.0.x", "1.1.x", "3.0.x")
_MAX_LINKS = 40


@dataclass(frozen=True)
class Node:
    """What `lstat` says about one path in a tree. `target` is the link text for a symbolic link."""

    kind: NodeKind
    target: str = ""


class FileTree(Protocol):
    """A read-only root file system. Paths are absolute and POSIX; the resolver in this module guarantees
    that no component before the last one is a symbolic link when these methods are called."""

    def lstat(self, path: str) -> Node | None: ...

    def listdir(self, path: str) -> list[str] | None: ...

    def read_bytes(self, path: str, limit: int) -> bytes | None: ...


class DirTree:
    """A root file system that is a directory on this machine (`/` for the host)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _host(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))  # noqa: PTH118 - plain string join on purpose

    def lstat(self, path: str) -> Node | None:
        try:
            st = os.lstat(self._host(path))
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            return Node("link", str(Path(self._host(path)).readlink()))
        if stat.S_ISDIR(st.st_mode):
            return Node("dir")
        return Node("file" if stat.S_ISREG(st.st_mode) else "other")

    def listdir(self, path: str) -> list[str] | None:
        try:
            return [entry.name for entry in Path(self._host(path)).iterdir()]
        except OSError:
            return None

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        try:
            with open(self._host(path), "rb") as fh:  # noqa: PTH123 - path is a str built above
                return fh.read(limit)
        except OSError:
            return None

    def __repr__(self) -> str:
        return f"DirTree({str(self.root)!r})"


def resolve(tree: FileTree, path: str) -> str | None:
    """The path with every symbolic link resolved inside `tree` (absolute targets are relative to its root),
    or None when it does not exist or the links loop."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        current = "/" + "/".join([*done, part])
        node = tree.lstat(current)
        if node is None:
            return None
        if node.kind == "link":
            hops += 1
            if hops > _MAX_LINKS:
                return None
            if node.target.startswith("/"):
                done = []
            pending = [p for p in node.target.split("/") if p not in ("", ".")] + pending
            continue
        if pending and node.kind != "dir":
            return None
        done.append(part)
    return "/" + "/".join(done)


def read_text(tree: FileTree, path: str, limit: int = 1 << 20) -> str | None:
    real = resolve(tree, path)
    if real is None or tree.lstat(real) != Node("file"):
        return None
    data = tree.read_bytes(real, limit)
    return None if data is None else data.decode("utf-8", "replace")


def list_dir(tree: FileTree, path: str) -> list[str] | None:
    real = resolve(tree, path)
    if real is None or tree.lstat(real) != Node("dir"):
        return None
    return tree.listdir(real)


# ---------------------------------------------------------------- step 1: distro


@dataclass(frozen=True)
class DistroInfo:
    target: str | None  # distro family used for the target: musl, arm, nixos, debian, rhel
    family: str | None  # distro family used for the library folders
    id: str  # os-release ID (lowercased), "" when absent
    id_like: str  # os-release ID_LIKE (lowercased), "" when absent


_ID = re.compile(r"""^ID=["']?([^"'\n]*)["']?$""", re.IGNORECASE | re.MULTILINE)
_ID_LIKE = re.compile(r"""^ID_LIKE=["']?([^"'\n]*)["']?$""", re.IGNORECASE | re.MULTILINE)


def parse_distro(os_release: str) -> DistroInfo:
    """Prisma's parseDistro: exact IDs first, then ID_LIKE substrings (debian/ubuntu, arch, centos/fedora/rhel/suse)."""
    m = _ID.search(os_release)
    id_ = m.group(1).strip().lower() if m else ""
    m = _ID_LIKE.search(os_release)
    like = m.group(1).strip().lower() if m else ""
    if id_ == "alpine":
        # Prisma reports family "alpine" here, which makes its musl folder list unreachable; FACTS.md (and
        # photon-bundle) give musl its folders: /lib, /usr/lib.
        return DistroInfo("musl", "musl", id_, like)
    if id_ == "raspbian":
        return DistroInfo("arm", "debian", id_, like)
    if id_ == "nixos":
        return DistroInfo("nixos", "nixos", id_, like)
    if id_ in ("debian", "ubuntu"):
        return DistroInfo("debian", "debian", id_, like)
    if id_ in ("rhel", "centos", "fedora"):
        return DistroInfo("rhel", "rhel", id_, like)
    if "debian" in like or "ubuntu" in like:
        return DistroInfo("debian", "debian", id_, like)
    if id_ == "arch" or "arch" in like:
        return DistroInfo("debian", "arch", id_, like)
    if any(word in like for word in ("centos", "fedora", "rhel", "suse")):
        return DistroInfo("rhel", "rhel", id_, like)
    return DistroInfo(None, None, id_, like)


# ---------------------------------------------------------------- step 2: architecture

_NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
_DOCKER_TO_UNAME = {
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm": "armv7l",
    "386": "i686",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}
_ELF_MACHINES = {
    0x3E: "x86_64",
    0xB7: "aarch64",
    0x28: "armv7l",
    0x03: "i686",
    0x15: "ppc64le",
    0x16: "s390x",
    0xF3: "riscv64",
}
_ARCH_PROBES = ("/bin/sh", "/usr/bin/env", "/bin/busybox", "/bin/ls", "/usr/bin/ls")


def node_arch(machine: str) -> str:
    """`uname -m` -> Node's process.arch (x64, arm64, arm, ...), which Prisma combines into the target."""
    machine = machine.lower()
    if machine in _NODE_ARCH:
        return _NODE_ARCH[machine]
    if machine.startswith("arm"):
        return "arm"
    return machine


def uname_from_docker_arch(arch: str, variant: str | None = None) -> str:
    """An image's `Architecture` (amd64, arm64, arm + variant) as `uname -m` would print it inside."""
    if arch == "arm" and variant in ("v6", "v5"):
        return f"arm{variant}l"
    return _DOCKER_TO_UNAME.get(arch, arch)


def elf_machine(header: bytes) -> str | None:
    """`uname -m` of the machine an ELF file is built for, from its header; None when not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    order = "<" if header[5] == 1 else ">"
    (machine,) = struct.unpack(order + "H", header[18:20])
    return _ELF_MACHINES.get(machine, f"elf-machine-{machine}")


def tree_machine(tree: FileTree) -> tuple[str, str] | None:
    """The architecture of a root file system, read from the ELF header of its shell (or a few others)."""
    for candidate in _ARCH_PROBES:
        real = resolve(tree, candidate)
        if real is None:
            continue
        header = tree.read_bytes(real, 64)
        machine = elf_machine(header or b"")
        if machine:
            return machine, f"ELF header of {candidate}" + (f" ({real})" if real != candidate else "")
    return None


# ---------------------------------------------------------------- step 3: libssl


def parse_libssl_version(text: str) -> str | None:
    """Prisma's parseLibSSLVersion: `libssl.so.3` -> 3.0.x, `libssl.so.1.1` -> 1.1.x, `libssl.so.10` -> 1.0.x."""
    m = re.search(r"libssl\.so\.(\d)(\.\d)?", text)
    if not m:
        return None
    return _sanitise_ssl(f"{m.group(1)}{m.group(2) or '.0'}.x")


def first_libssl_line(text: str) -> str:
    """The line Prisma's version regex matches first (what `parse_libssl_version` read), for the report."""
    for line in text.splitlines():
        if re.search(r"libssl\.so\.\d", line):
            return line
    return text.splitlines()[0] if text else ""


def parse_openssl_version(text: str) -> str | None:
    """Prisma's parseOpenSSLVersion: `OpenSSL 3.0.13 30 Jan 2024` -> 3.0.x."""
    m = re.match(r"^OpenSSL\s(\d+\.\d+)\.\d+", text)
    return _sanitise_ssl(f"{m.group(1)}.x") if m else None


def _sanitise_ssl(version: str) -> str | None:
    if not version.startswith("1."):
        parts = version.split(".")
        parts[1] = "0"
        version = ".".join(parts)
    return version if version in SUPPORTED_SSL else None


def specific_lib_dirs(family: str | None, machine: str) -> tuple[str, ...]:
    """The distro's own library folders, searched first."""
    if family == "musl":
        return ("/lib", "/usr/lib")
    if family == "debian":
        return (f"/usr/lib/{machine}-linux-gnu", f"/lib/{machine}-linux-gnu")
    if family == "rhel":
        return ("/lib64", "/usr/lib64")
    return ()


def find_libssl(tree: FileTree, directories: Iterable[str]) -> tuple[str, str] | None:
    """The first `libssl.so.*` (not `libssl.so.0*`) in sorted order in the first folder that has one."""
    for directory in directories:
        names = list_dir(tree, directory)
        if not names:
            continue
        for name in sorted(names):
            if name.startswith("libssl.so.") and not name.startswith("libssl.so.0"):
                return name, directory
    return None


def ldconfig_libssl(ldconfig_output: str) -> str:
    """Prisma's pipeline `ldconfig -p | sed 's/.*=>s*//' | sed 's|.*/||' | grep libssl | sort | grep -v libssl.so.0`."""
    names = []
    for line in ldconfig_output.splitlines():
        value = re.sub(r".*=>s*", "", line)
        names.append(re.sub(r".*/", "", value))
    kept = sorted(n for n in names if "libssl" in n)
    return "\n".join(n for n in kept if "libssl.so.0" not in n)


# ---------------------------------------------------------------- /etc/ld.so.cache (what `ldconfig -p` prints)

_OLD_MAGIC = b"ld.so-1.7.0"
_NEW_MAGIC = b"glibc-ld.so.cache1.1"


def parse_ld_so_cache(data: bytes) -> list[tuple[str, str]]:
    """(soname, path) pairs of a glibc `/etc/ld.so.cache` in the new format (glibc >= 2.32), the old one, or
    the old+new compat layout older glibc writes. Unknown or truncated data gives what could be read."""
    try:
        if data.startswith(_NEW_MAGIC):
            return _parse_new_cache(data, 0)
        if data.startswith(_OLD_MAGIC):
            (nlibs,) = struct.unpack_from("<I", data, 12)
            new_at = 16 + nlibs * 12
            new_at = (new_at + 7) & ~7
            if data[new_at : new_at + len(_NEW_MAGIC)] == _NEW_MAGIC:
                return _parse_new_cache(data, new_at)
            strings = 16 + nlibs * 12
            pairs = []
            for i in range(nlibs):
                _flags, key, value = struct.unpack_from("<iII", data, 16 + i * 12)
                pairs.append((_cstr(data, strings + key), _cstr(data, strings + value)))
            return pairs
    except struct.error:
        return []
    return []


def _parse_new_cache(data: bytes, base: int) -> list[tuple[str, str]]:
    order = ">" if data[base + 28] & 3 == 3 else "<"  # flags: 2 = little endian, 3 = big endian
    (nlibs,) = struct.unpack_from(order + "I", data, base + 20)
    pairs = []
    for i in range(nlibs):
        _flags, key, value = struct.unpack_from(order + "iII", data, base + 48 + i * 24)
        pairs.append((_cstr(data, base + key), _cstr(data, base + value)))
    return pairs


def _cstr(data: bytes, offset: int) -> str:
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode("utf-8", "replace")


def ld_so_cache_probe(tree: FileTree) -> Probe:
    """`ldconfig -p` for a tree that cannot run programs: the lines it would print, from /etc/ld.so.cache."""

    def probe() -> str | None:
        real = resolve(tree, LD_SO_CACHE)
        data = tree.read_bytes(real, 16 << 20) if real else None
        if not data:
            return None
        return "\n".join(f"\t{soname} => {path}" for soname, path in parse_ld_so_cache(data)) or None

    return probe


# ---------------------------------------------------------------- steps 1-4 together


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


# ---------------------------------------------------------------- the host itself


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
