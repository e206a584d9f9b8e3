"""Build small Docker images locally, without the internet: a root file system made of files the test
names (plus, by default, the host's static busybox as /bin/busybox with its applets linked in /bin),
imported with `docker import`, or built `FROM scratch` for another platform.

Every image made here is tagged `photon-bundle-test/...` and labelled `photon-bundle-test=1` (builds only;
`docker import` cannot label), and the `ImageFactory` removes what it made.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import struct
import subprocess
import tarfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

BUSYBOX = Path("/bin/busybox")
TEST_LABEL = "photon-bundle-test"


@dataclass(frozen=True)
class File:
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Link:
    target: str


@dataclass(frozen=True)
class Dir:
    mode: int = 0o755


Entry = Union[bytes, str, File, Link, Dir]


def busybox_applets() -> list[str]:
    """The applet names of the host's busybox (`busybox --list`)."""
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True).stdout
    return sorted({name for name in out.split() if name and "/" not in name and name != "busybox"})


def rootfs_tar(entries: Mapping[str, Entry], *, busybox: bool = True) -> bytes:
    """A tar of a root file system: `entries` maps absolute paths to contents (bytes/str -> mode 0644),
    `File` (content and mode) or `Link` (a symbolic link). Parent directories are added (0755)."""
    files: dict[str, Entry] = {}
    if busybox:
        if not BUSYBOX.is_file():
            raise FileNotFoundError(f"{BUSYBOX} is missing: install busybox-static")
        files["/bin/busybox"] = File(BUSYBOX.read_bytes(), 0o755)
        for applet in busybox_applets():
            files[f"/bin/{applet}"] = Link("busybox")
        files["/tmp"] = Dir(0o1777)
    files.update(entries)
    buf = io.BytesIO()
    dirs: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add_dir(path: str, mode: int = 0o755) -> None:
            if not path or path in dirs:
                return
            parent = path.rsplit("/", 1)[0] if "/" in path else ""
            add_dir(parent)
            info = tarfile.TarInfo(path)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
            dirs.add(path)

        for path in sorted(files):
            name = path.strip("/")
            entry = files[path]
            if isinstance(entry, Dir):
                add_dir(name, entry.mode)
                continue
            add_dir(name.rsplit("/", 1)[0] if "/" in name else "")
            info = tarfile.TarInfo(name)
            if isinstance(entry, Link):
                info.type, info.linkname = tarfile.SYMTYPE, entry.target
                tar.addfile(info)
                continue
            data = entry if isinstance(entry, File) else File(entry.encode() if isinstance(entry, str) else entry)
            info.size, info.mode = len(data.content), data.mode
            tar.addfile(info, io.BytesIO(data.content))
    return buf.getvalue()


def aarch64_exit_elf() -> bytes:
    """A tiny static aarch64 executable that exits 0: runs only where the host has arm64 emulation."""
    code = struct.pack("<III", 0xD2800000, 0xD2800BA8, 0xD4000001)  # mov x0,#0; mov x8,#93 (exit); svc #0
    entry = 0x400000 + 64 + 56
    header = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, entry, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    size = 64 + 56 + len(code)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x400000, 0x400000, size, size, 0x1000)
    return header + program + code


class ImageFactory:
    """Makes images for one test session and removes them all at the end (`cleanup`)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.made: list[str] = []

    def tag(self, name: str = "image") -> str:
        return f"{TEST_LABEL}/{name}:{uuid.uuid4().hex[:10]}"

    def imported(self, entries: Mapping[str, Entry], *, busybox: bool = True, name: str = "image") -> str:
        """`docker import` of a root file system; the image's platform is the daemon's own."""
        tag = self.tag(name)
        repository, version = tag.rsplit(":", 1)
        self.made.append(tag)
        self.client.api.import_image_from_data(
            rootfs_tar(entries, busybox=busybox), repository=repository, tag=version, changes=['CMD ["/bin/sh"]']
        )
        return tag

    def built(self, entries: Mapping[str, Entry], *, platform: str, busybox: bool = True, name: str = "image") -> str:
        """`FROM scratch` + the root file system, for any platform (the files are not checked against it)."""
        tag = self.tag(name)
        rootfs = rootfs_tar(entries, busybox=busybox)
        dockerfile = b'FROM scratch\nADD rootfs.tar /\nCMD ["/bin/sh"]\n'
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for member, data in (("Dockerfile", dockerfile), ("rootfs.tar", rootfs)):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        self.made.append(tag)
        self.client.images.build(
            fileobj=context, custom_context=True, tag=tag, platform=platform, rm=True, labels={TEST_LABEL: "1"}
        )
        return tag

    def track(self, tag: str) -> str:
        """Remove this image too at cleanup (e.g. one pulled from a test registry)."""
        self.made.append(tag)
        return tag

    def cleanup(self) -> None:
        import docker.errors

        for tag in reversed(self.made):
            with contextlib.suppress(docker.errors.ImageNotFound):
                self.client.images.remove(tag, force=True)
        self.made.clear()
        # dangling layers of what we built
        self.client.images.prune(filters={"label": f"{TEST_LABEL}=1", "dangling": True})


def host_node_entries() -> dict[str, Entry]:
    """The host's `node` with the shared libraries it loads and its npm, as image entries: an offline
    stand-in for a Node.js build image (run it only on the host's own architecture)."""
    node = Path(shutil.which("node") or "/usr/bin/node").resolve()
    npm_root = Path("/usr/lib/node_modules/npm")
    if not node.is_file() or not npm_root.is_dir():
        raise FileNotFoundError("needs the host's node and /usr/lib/node_modules/npm")
    entries: dict[str, Entry] = {
        "/usr/bin/node": File(node.read_bytes(), 0o755),
        "/usr/bin/npm": Link("../lib/node_modules/npm/bin/npm-cli.js"),
        "/usr/bin/npx": Link("../lib/node_modules/npm/bin/npx-cli.js"),
        "/usr/bin/env": Link("/bin/busybox"),
        "/root": Dir(0o700),
    }
    ldd = subprocess.run(["ldd", str(node)], capture_output=True, text=True, check=True).stdout
    for line in ldd.splitlines():
        parts = line.split()
        paths = [p for p in parts if p.startswith("/")]
        for lib in paths:
            real = Path(lib).resolve()
            entries[str(real)] = File(real.read_bytes(), 0o755)
            if str(real) != lib:
                entries[lib] = Link(str(real))
    for item in sorted(npm_root.rglob("*")):
        if item.is_symlink():
            entries[str(item)] = Link(str(item.readlink()))
        elif item.is_file():
            entries[str(item)] = File(item.read_bytes(), item.stat().st_mode & 0o777)
    return entries
