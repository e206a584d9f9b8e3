"""Step 2: the architecture, as `uname -m` names it: from Node's, Docker's and ELF headers' names."""

from __future__ import annotations

import struct

from bundler.detect.tree import FileTree, resolve

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
