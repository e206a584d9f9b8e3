"""Step 3: the libssl series: library folders, `ldconfig -p` (or the `/etc/ld.so.cache` it prints), the
generic folders, `openssl version -v`."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable

from bundler.detect.tree import FileTree, Probe, list_dir, resolve

LD_SO_CACHE = "/etc/ld.so.cache"


GENERIC_LIB_DIRS = ("/lib64", "/usr/lib64", "/lib")


DEFAULT_SSL = "1.1.x"


SUPPORTED_SSL = ("1.0.x", "1.1.x", "3.0.x")


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
