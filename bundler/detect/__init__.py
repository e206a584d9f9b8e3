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

The package, one module per step: `tree.py` (FileTree, DirTree), `distro.py`, `arch.py`, `libssl.py`, `run.py`
(the steps together, the host's probes). Callers import from `bundler.detect`.
"""

from __future__ import annotations

from bundler.detect.arch import elf_machine, node_arch, tree_machine, uname_from_docker_arch
from bundler.detect.distro import DEFAULT_DISTRO, OS_RELEASE, DistroInfo, parse_distro
from bundler.detect.libssl import (
    DEFAULT_SSL,
    GENERIC_LIB_DIRS,
    LD_SO_CACHE,
    SUPPORTED_SSL,
    find_libssl,
    first_libssl_line,
    ld_so_cache_probe,
    ldconfig_libssl,
    parse_ld_so_cache,
    parse_libssl_version,
    parse_openssl_version,
    specific_lib_dirs,
)
from bundler.detect.run import Detection, combine, detect, detect_host, detect_tree, host_probes
from bundler.detect.tree import DirTree, FileTree, Node, NodeKind, Probe, list_dir, read_text, resolve

__all__ = [
    "DEFAULT_DISTRO",
    "DEFAULT_SSL",
    "GENERIC_LIB_DIRS",
    "LD_SO_CACHE",
    "OS_RELEASE",
    "SUPPORTED_SSL",
    "Detection",
    "DirTree",
    "DistroInfo",
    "FileTree",
    "Node",
    "NodeKind",
    "Probe",
    "combine",
    "detect",
    "detect_host",
    "detect_tree",
    "elf_machine",
    "find_libssl",
    "first_libssl_line",
    "host_probes",
    "ld_so_cache_probe",
    "ldconfig_libssl",
    "list_dir",
    "node_arch",
    "parse_distro",
    "parse_ld_so_cache",
    "parse_libssl_version",
    "parse_openssl_version",
    "read_text",
    "resolve",
    "specific_lib_dirs",
    "tree_machine",
    "uname_from_docker_arch",
]
