"""Prisma's target detection (bundler/detect/) on fake root file systems built in tmp_path."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bundler.detect import (
    DirTree,
    Node,
    combine,
    detect,
    detect_tree,
    elf_machine,
    ldconfig_libssl,
    parse_distro,
    parse_ld_so_cache,
    parse_libssl_version,
    parse_openssl_version,
    resolve,
    uname_from_docker_arch,
)

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n'
AL2 = 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\n'
AL2023 = 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def make_elf(machine: int) -> bytes:
    """An ELF64 header (enough for the architecture check) for an e_machine value."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    return ident + struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0, 64, 0, 0, 64, 56, 0, 0, 0, 0)


def rootfs(base: Path, files: dict[str, str | bytes], links: dict[str, str] | None = None) -> Path:
    """A fake root file system: `files` maps absolute paths to contents, `links` paths to link texts."""
    base.mkdir(parents=True, exist_ok=True)
    for path, content in files.items():
        target = base / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content)
        else:
            target.write_bytes(content)
    for path, text in (links or {}).items():
        link = base / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(text)
    return base


# ---------------------------------------------------------------- pure parsers


@pytest.mark.parametrize(
    ("text", "target", "family"),
    [
        (ALPINE, "musl", "musl"),
        ("ID=raspbian\nID_LIKE=debian\n", "arm", "debian"),
        ("ID=nixos\n", "nixos", "nixos"),
        (DEBIAN, "debian", "debian"),
        (UBUNTU, "debian", "debian"),
        ('ID="rhel"\nID_LIKE="fedora"\n', "rhel", "rhel"),
        ("ID=centos\n", "rhel", "rhel"),
        ("ID=fedora\n", "rhel", "rhel"),
        (AL2, "rhel", "rhel"),
        (AL2023, "rhel", "rhel"),
        ('ID=linuxmint\nID_LIKE="ubuntu debian"\n', "debian", "debian"),
        ("ID=arch\n", "debian", "arch"),
        ("ID=manjaro\nID_LIKE=arch\n", "debian", "arch"),
        ('ID="opensuse-leap"\nID_LIKE="suse opensuse"\n', "rhel", "rhel"),
        ("ID='rocky'\nID_LIKE='rhel centos fedora'\n", "rhel", "rhel"),
        ("ID=Debian\n", "debian", "debian"),  # Prisma lowercases
        ("ID=gentoo\n", None, None),
        ("", None, None),
    ],
)
def test_parse_distro_follows_prisma(text: str, target: str | None, family: str | None) -> None:
    info = parse_distro(text)
    assert (info.target, info.family) == (target, family)


@pytest.mark.parametrize(
    ("name", "series"),
    [
        ("libssl.so.3", "3.0.x"),
        ("libssl.so.1.1", "1.1.x"),
        ("libssl.so.1.0.0", "1.0.x"),
        ("libssl.so.1.0.2k", "1.0.x"),
        ("libssl.so.10", "1.0.x"),  # RHEL / Amazon Linux name for 1.0.2k
        ("libssl.so.0.9.8", None),
        ("libssl.so.4", None),  # 4.0.x is not a series Prisma builds
        ("libssl.so", None),
        ("libssl3.so", None),  # NSS, not OpenSSL
    ],
)
def test_parse_libssl_version(name: str, series: str | None) -> None:
    assert parse_libssl_version(name) == series


@pytest.mark.parametrize(
    ("line", "series"),
    [
        ("OpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)", "3.0.x"),
        ("OpenSSL 3.2.2 4 Jun 2024", "3.0.x"),
        ("OpenSSL 1.1.1w  11 Sep 2023", "1.1.x"),
        ("OpenSSL 1.0.2k-fips  26 Jan 2017", "1.0.x"),
        ("LibreSSL 3.8.2", None),
    ],
)
def test_parse_openssl_version(line: str, series: str | None) -> None:
    assert parse_openssl_version(line) == series


def test_ldconfig_pipeline_sorts_and_drops_libssl0() -> None:
    output = (
        "\tlibssl3.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl3.so\n"
        "\tlibssl.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libssl.so.3\n"
        "\tlibssl.so.1.1 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libssl.so.1.1\n"
        "\tlibssl.so.0.9.8 (libc6,x86-64) => /usr/lib/libssl.so.0.9.8\n"
        "\tlibcrypto.so.3 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcrypto.so.3\n"
    )
    assert ldconfig_libssl(output).splitlines() == ["libssl.so.1.1", "libssl.so.3", "libssl3.so"]
    assert parse_libssl_version(ldconfig_libssl(output)) == "1.1.x"  # the oldest wins, on purpose


@pytest.mark.parametrize(
    ("distro", "arch", "ssl", "target"),
    [
        ("nixos", "arm64", "3.0.x", "linux-nixos"),
        (None, "x64", "3.0.x", "debian-openssl-3.0.x"),
        (None, "x64", None, "debian-openssl-1.1.x"),
        ("rhel", "x64", "1.0.x", "rhel-openssl-1.0.x"),
        ("rhel", "arm64", "3.0.x", "linux-arm64-openssl-3.0.x"),
        ("musl", "x64", "1.1.x", "linux-musl"),
        ("musl", "x64", "3.0.x", "linux-musl-openssl-3.0.x"),
        ("musl", "arm64", "3.0.x", "linux-musl-arm64-openssl-3.0.x"),
        ("debian", "arm", "1.1.x", "linux-arm-openssl-1.1.x"),
        ("arm", "arm", None, "linux-arm-openssl-1.1.x"),
    ],
)
def test_combine(distro: str | None, arch: str, ssl: str | None, target: str) -> None:
    assert combine(distro, arch, ssl) == target


def test_elf_machine_and_docker_arch_names() -> None:
    assert elf_machine(make_elf(0x3E)) == "x86_64"
    assert elf_machine(make_elf(0xB7)) == "aarch64"
    assert elf_machine(b"#!/bin/sh\n" + bytes(20)) is None
    assert uname_from_docker_arch("amd64") == "x86_64"
    assert uname_from_docker_arch("arm64") == "aarch64"
    assert uname_from_docker_arch("arm", "v7") == "armv7l"


# ---------------------------------------------------------------- symlinks stay inside the tree


def test_absolute_links_resolve_inside_the_tree_not_on_the_host(tmp_path: Path) -> None:
    root = rootfs(
        tmp_path / "root",
        {"/usr/lib/os-release": ALPINE, "/usr/lib/libssl.so.3": ""},
        {"/etc/os-release": "/usr/lib/os-release", "/lib": "/usr/lib"},
    )
    tree = DirTree(root)
    assert resolve(tree, "/etc/os-release") == "/usr/lib/os-release"
    assert resolve(tree, "/lib/libssl.so.3") == "/usr/lib/libssl.so.3"
    # `..` after a link climbs from where the link points, as the kernel does: /lib/.. is /usr
    assert resolve(tree, "/lib/../lib/os-release") == "/usr/lib/os-release"
    assert resolve(tree, "/lib/../etc/os-release") is None
    found = detect_tree(tree, "x86_64")
    assert found.target == "linux-musl-openssl-3.0.x"
    assert found.os_id == "alpine"


def test_link_loops_and_missing_paths_resolve_to_none(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "root", {"/etc/file": "x"}, {"/a": "/b", "/b": "a", "/etc/dangling": "/nowhere"})
    tree = DirTree(root)
    assert resolve(tree, "/a/x") is None
    assert resolve(tree, "/etc/dangling") is None
    assert resolve(tree, "/etc/file/below") is None
    assert tree.lstat("/etc") == Node("dir")
    assert tree.lstat("/a") == Node("link", "/b")


def test_a_link_escaping_with_dotdot_is_clamped_at_the_root(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "root", {"/etc/os-release": DEBIAN}, {"/x/os": "../../../../etc/os-release"})
    assert resolve(DirTree(root), "/x/os") == "/etc/os-release"


# ---------------------------------------------------------------- whole detection on fake root file systems


def test_debian_prefers_the_oldest_libssl_in_its_multiarch_folder(tmp_path: Path) -> None:
    root = rootfs(
        tmp_path / "deb",
        {
            "/usr/lib/os-release": DEBIAN,
            "/usr/lib/x86_64-linux-gnu/libssl.so.3": "",
            "/usr/lib/x86_64-linux-gnu/libssl.so.1.1": "",
            "/usr/lib/x86_64-linux-gnu/libssl.so.0.9.8": "",
            "/bin/sh": make_elf(0x3E),
        },
        {"/etc/os-release": "../usr/lib/os-release", "/lib": "usr/lib"},
    )
    found = detect_tree(DirTree(root))
    assert found.target == "debian-openssl-1.1.x"
    assert (found.libssl, found.libssl_where, found.strategy) == (
        "libssl.so.1.1",
        "/usr/lib/x86_64-linux-gnu",
        "libssl-specific-path",
    )
    assert found.machine == "x86_64"
    assert found.machine_source == "ELF header of /bin/sh"
    assert found.os_release == "/usr/lib/os-release"
    assert found.warnings == ()


@pytest.mark.parametrize(
    ("os_release", "lib", "target"),
    [
        (AL2, "/usr/lib64/libssl.so.10", "rhel-openssl-1.0.x"),
        (AL2023, "/usr/lib64/libssl.so.3", "rhel-openssl-3.0.x"),
        (
            'NAME="Amazon Linux AMI"\nID="amzn"\nID_LIKE="rhel fedora"\n',
            "/lib64/libssl.so.1.0.2k",
            "rhel-openssl-1.0.x",
        ),
        (UBUNTU, "/lib/x86_64-linux-gnu/libssl.so.3", "debian-openssl-3.0.x"),
        ("ID=ubuntu\nVERSION_ID=18.04\n", "/usr/lib/x86_64-linux-gnu/libssl.so.1.1", "debian-openssl-1.1.x"),
        (ALPINE, "/lib/libssl.so.3", "linux-musl-openssl-3.0.x"),
        ("ID=alpine\nVERSION_ID=3.16.0\n", "/lib/libssl.so.1.1", "linux-musl"),
        (ALPINE, "/usr/lib/libssl.so.3", "linux-musl-openssl-3.0.x"),
    ],
)
def test_runtime_like_systems(tmp_path: Path, os_release: str, lib: str, target: str) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": os_release, lib: ""})
    assert detect_tree(DirTree(root), "x86_64").target == target


def test_arm64_from_the_elf_header_of_the_shell(tmp_path: Path) -> None:
    root = rootfs(
        tmp_path / "arm",
        {"/etc/os-release": DEBIAN, "/usr/lib/aarch64-linux-gnu/libssl.so.3": "", "/usr/bin/dash": make_elf(0xB7)},
        {"/bin/sh": "/usr/bin/dash"},
    )
    found = detect_tree(DirTree(root))
    assert found.target == "linux-arm64-openssl-3.0.x"
    assert (found.machine, found.arch) == ("aarch64", "arm64")
    assert found.machine_source == "ELF header of /bin/sh (/usr/bin/dash)"


def test_musl_on_arm64(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": ALPINE, "/lib/libssl.so.3": ""})
    assert detect_tree(DirTree(root), "aarch64").target == "linux-musl-arm64-openssl-3.0.x"


def test_the_x86_64_folder_is_not_searched_on_arm64(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": DEBIAN, "/usr/lib/x86_64-linux-gnu/libssl.so.3": ""})
    found = detect_tree(DirTree(root), "aarch64")
    assert found.ssl is None
    assert found.target == "linux-arm64-openssl-1.1.x"
    assert any("no libssl found" in w for w in found.warnings)


def test_unknown_distro_uses_generic_folders_and_debian(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": "ID=gentoo\n", "/usr/lib64/libssl.so.3": ""})
    found = detect_tree(DirTree(root), "x86_64")
    assert found.target == "debian-openssl-3.0.x"
    assert (found.strategy, found.libssl_where) == ("generic-path", "/usr/lib64")
    assert found.warnings == ("unknown Linux distribution (ID='gentoo'); using Prisma's fallback, debian",)


def test_nothing_found_falls_back_to_debian_1_1_with_warnings(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "empty", {"/lib/libssl.so.0.9.8": "", "/bin/true": "not elf"})
    found = detect_tree(DirTree(root), "x86_64")
    assert found.target == "debian-openssl-1.1.x"
    assert found.ssl is None
    assert found.os_release is None
    assert len(found.warnings) == 2
    assert "no libssl found" in found.warnings[0]
    assert "/lib64, /usr/lib64, /lib" in found.warnings[0]
    assert "no /etc/os-release" in found.warnings[1]


def test_arch_falls_back_to_the_host_when_the_tree_has_no_elf(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": DEBIAN})
    assert "this host" in detect_tree(DirTree(root)).machine_source


def test_unsupported_architecture_warns(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": DEBIAN, "/usr/lib/s390x-linux-gnu/libssl.so.3": ""})
    found = detect_tree(DirTree(root), "s390x")
    assert found.target == "debian-openssl-3.0.x"
    assert any("officially supports" in w for w in found.warnings)


def test_order_specific_folder_then_ldconfig_then_generic_then_openssl(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": "ID=gentoo\n", "/lib/libssl.so.3": ""})
    tree = DirTree(root)

    with_ldconfig = detect(tree, "x86_64", ldconfig=lambda: "\tlibssl.so.1.1 (libc6) => /opt/ssl/libssl.so.1.1\n")
    assert (with_ldconfig.ssl, with_ldconfig.strategy, with_ldconfig.libssl) == ("1.1.x", "ldconfig", "libssl.so.1.1")

    empty_ldconfig = detect(tree, "x86_64", ldconfig=lambda: "", openssl=lambda: "OpenSSL 1.0.2k-fips 26 Jan 2017")
    assert (empty_ldconfig.ssl, empty_ldconfig.strategy, empty_ldconfig.libssl_where) == (
        "3.0.x",
        "generic-path",
        "/lib",
    )

    # ldconfig printed a libssl line Prisma cannot parse: it goes straight to `openssl version -v`.
    nss_only = detect(
        tree,
        "x86_64",
        ldconfig=lambda: "\tlibssl3.so => /usr/lib/libssl3.so\n",
        openssl=lambda: "OpenSSL 1.0.2k-fips  26 Jan 2017\n",
    )
    assert (nss_only.ssl, nss_only.strategy, nss_only.libssl) == (
        "1.0.x",
        "openssl-binary",
        "OpenSSL 1.0.2k-fips  26 Jan 2017",
    )

    bare = rootfs(tmp_path / "bare", {"/etc/os-release": DEBIAN})
    openssl_only = detect(DirTree(bare), "x86_64", ldconfig=lambda: None, openssl=lambda: "OpenSSL 3.0.13 30 Jan 2024")
    assert (openssl_only.target, openssl_only.strategy) == ("debian-openssl-3.0.x", "openssl-binary")


def test_an_unparseable_name_in_the_specific_folder_moves_on(tmp_path: Path) -> None:
    root = rootfs(tmp_path / "r", {"/etc/os-release": AL2023, "/lib64/libssl.so.4": "", "/usr/lib64/libssl.so.3": ""})
    found = detect_tree(DirTree(root), "x86_64")
    # Prisma takes the first folder with any libssl.so.* (/lib64), fails to parse it, and goes on to ldconfig,
    # then the generic folders, whose first hit is the same unparseable file: no version at all.
    assert found.ssl is None
    assert found.target == "rhel-openssl-1.1.x"


# ---------------------------------------------------------------- /etc/ld.so.cache stands in for `ldconfig -p`

needs_toolchain = pytest.mark.skipif(
    not (shutil.which("gcc") and shutil.which("ldconfig")), reason="needs gcc and ldconfig to make a real cache"
)


def _cache_root(tmp_path: Path, fmt: str) -> Path:
    root = rootfs(tmp_path / f"cache-{fmt}", {"/etc/os-release": "ID=gentoo\n", "/etc/ld.so.conf": "/opt/ssl/lib\n"})
    source = tmp_path / "f.c"
    source.write_text("int f(void) { return 1; }\n")
    (root / "opt/ssl/lib").mkdir(parents=True)
    subprocess.run(
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-Wl,-soname,libssl.so.1.1",
            "-o",
            str(root / "opt/ssl/lib/libssl.so.1.1"),
            str(source),
        ],
        check=True,
    )
    subprocess.run(["ldconfig", "-r", str(root), "-c", fmt], check=True, capture_output=True)
    return root


@needs_toolchain
@pytest.mark.parametrize("fmt", ["new", "compat"])
def test_ld_so_cache_of_a_tree_answers_the_ldconfig_step(tmp_path: Path, fmt: str) -> None:
    root = _cache_root(tmp_path, fmt)
    pairs = parse_ld_so_cache((root / "etc/ld.so.cache").read_bytes())
    assert ("libssl.so.1.1", "/opt/ssl/lib/libssl.so.1.1") in pairs
    found = detect_tree(DirTree(root), "x86_64")
    assert (found.target, found.strategy, found.libssl_where) == (
        "debian-openssl-1.1.x",
        "ldconfig",
        "/etc/ld.so.cache",
    )


@needs_toolchain
def test_ld_so_cache_parser_agrees_with_ldconfig_p_on_this_host() -> None:
    cache = Path("/etc/ld.so.cache")
    if not cache.is_file():
        pytest.skip("this host has no /etc/ld.so.cache")
    printed = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    expected = {line.split(" => ")[1].strip() for line in printed.splitlines() if " => " in line}
    assert {path for _, path in parse_ld_so_cache(cache.read_bytes())} == expected


def test_garbage_ld_so_cache_reads_as_empty() -> None:
    assert parse_ld_so_cache(b"") == []
    assert parse_ld_so_cache(b"glibc-ld.so.cache1.1" + b"\xff" * 10) == []
    assert parse_ld_so_cache(b"something else entirely") == []
