"""Step 1: the distro family from `/etc/os-release` `ID` / `ID_LIKE`."""

from __future__ import annotations

import re
from dataclasses import dataclass

OS_RELEASE = "/etc/os-release"


DEFAULT_DISTRO = "debian"


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
