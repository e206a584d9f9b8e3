"""`photon-bundle detect --image` / `--root` against real images on a real Docker daemon.

Each image is a busybox root file system with an os-release and empty libssl files where the distro keeps
them; the same tree unpacked into a directory must give the same answer through `--root`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from bundler.cli.common import run_guarded
from bundler.cli.detect_cmd import detect
from tests.docker_images import Entry, File, ImageFactory, Link, rootfs_tar
from tests.integration.docker_fixtures import docker_client, images, photon_containers  # noqa: F401 - fixtures

pytestmark = pytest.mark.docker

DEBIAN12: dict[str, Entry] = {
    "/usr/lib/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
    "/etc/os-release": Link("../usr/lib/os-release"),
    "/lib": Link("usr/lib"),
    "/usr/lib/x86_64-linux-gnu/libssl.so.3": b"",
    "/usr/lib/x86_64-linux-gnu/libssl.so.1.1": b"",  # an old libssl next to the new one: the oldest wins
}
UBUNTU2204: dict[str, Entry] = {
    "/etc/os-release": 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="22.04"\n',
    "/lib/x86_64-linux-gnu/libssl.so.3": b"",
}
AL2: dict[str, Entry] = {
    "/etc/os-release": 'NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\n',
    "/lib64": Link("usr/lib64"),
    "/usr/lib64/libssl.so.10": b"",
    "/usr/lib64/libssl.so.1.0.2k": b"",
    "/usr/lib64/libssl3.so": b"",  # NSS, not OpenSSL
}
AL2023: dict[str, Entry] = {
    "/etc/os-release": 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n',
    "/usr/lib64/libssl.so.3": b"",
    "/usr/lib64/libssl.so.3.0.8": b"",
}
ALPINE319: dict[str, Entry] = {
    "/etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
    "/lib/libssl.so.3": b"",
}
ALPINE316: dict[str, Entry] = {
    "/etc/os-release": 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.16.9\n',
    "/lib/libssl.so.1.1": b"",
}

CASES: dict[str, tuple[Mapping[str, Entry], str, str]] = {
    "debian12": (DEBIAN12, "debian-openssl-1.1.x", "/usr/lib/x86_64-linux-gnu"),
    "ubuntu2204": (UBUNTU2204, "debian-openssl-3.0.x", "/lib/x86_64-linux-gnu"),
    "al2": (AL2, "rhel-openssl-1.0.x", "/lib64"),
    "al2023": (AL2023, "rhel-openssl-3.0.x", "/usr/lib64"),
    "alpine319": (ALPINE319, "linux-musl-openssl-3.0.x", "/lib"),
    "alpine316": (ALPINE316, "linux-musl", "/lib"),
}


def run_detect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run_guarded(detect, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def unpack(entries: Mapping[str, Entry], into: Path) -> Path:
    into.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(rootfs_tar(entries)), mode="r:") as tar:
        if hasattr(tarfile, "tar_filter"):
            tar.extractall(into, filter="tar")
        else:  # Python without extraction filters (before 3.9.17 / 3.11.4)
            tar.extractall(into)  # our own archive
    return into


@pytest.mark.parametrize("case", sorted(CASES))
def test_detect_image_and_root_agree(
    case: str,
    docker_client: Any,  # noqa: F811
    images: ImageFactory,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries, target, where = CASES[case]
    image = images.imported(entries, name=case)
    before = photon_containers(docker_client)

    code, out, err = run_detect(capsys, "--image", image, "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["target"] == target
    assert found["subject"] == f"image {image}"
    assert found["libssl"]["where"] == where
    assert found["arch"] == {"uname": "x86_64", "node": "x64", "source": "image metadata (linux/amd64)"}
    assert found["warnings"] == []
    assert photon_containers(docker_client) == before, "the inspection container is removed"

    root = unpack(entries, tmp_path / "rootfs")
    code, out, err = run_detect(capsys, "--root", str(root), "--arch", "x86_64", "--json")
    assert code == 0, err
    from_root = json.loads(out)
    for key in ("subject", "arch"):
        from_root.pop(key)
        found.pop(key)
    assert from_root == found


def test_detect_arm64_image_without_running_it(
    images: ImageFactory,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    entries: dict[str, Entry] = {
        "/etc/os-release": "ID=debian\n",
        "/usr/lib/aarch64-linux-gnu/libssl.so.3": b"",
        "/usr/lib/x86_64-linux-gnu/libssl.so.1.1": b"",  # wrong folder for arm64: not searched first
    }
    image = images.built(entries, platform="linux/arm64", name="arm64")
    code, out, err = run_detect(capsys, "--image", image, "--arch", "arm64", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["target"] == "linux-arm64-openssl-3.0.x"
    assert found["arch"]["uname"] == "aarch64"

    code, out, _ = run_detect(capsys, "--image", image, "--json")
    assert json.loads(out)["arch"]["source"] == "image metadata (linux/arm64)"


def test_bare_image_falls_back_with_warnings(
    images: ImageFactory,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = images.imported({"/data/readme.txt": "nothing here\n"}, busybox=False, name="bare")
    code, out, err = run_detect(capsys, "--image", image)
    assert code == 0
    assert out.splitlines()[0] == "target   debian-openssl-1.1.x"
    assert "libssl   not found" in out
    assert "warning: no libssl found" in err
    assert "warning: unknown Linux distribution (no /etc/os-release)" in err


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("ldconfig")), reason="needs gcc and ldconfig")
def test_ld_so_cache_inside_an_image(
    images: ImageFactory,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "r"
    (root / "etc").mkdir(parents=True)
    (root / "opt/ssl/lib").mkdir(parents=True)
    (root / "etc/ld.so.conf").write_text("/opt/ssl/lib\n")
    (tmp_path / "f.c").write_text("int f(void) { return 1; }\n")
    lib = root / "opt/ssl/lib/libssl.so.1.1"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libssl.so.1.1", "-o", str(lib), str(tmp_path / "f.c")], check=True
    )
    subprocess.run(["ldconfig", "-r", str(root)], check=True, capture_output=True)
    image = images.imported(
        {
            "/etc/os-release": "ID=gentoo\n",
            "/etc/ld.so.cache": (root / "etc/ld.so.cache").read_bytes(),
            "/opt/ssl/lib/libssl.so.1.1": File(lib.read_bytes(), 0o755),
        },
        name="ldcache",
    )
    code, out, _ = run_detect(capsys, "--image", image, "--json")
    assert code == 0
    found = json.loads(out)
    assert found["target"] == "debian-openssl-1.1.x"
    assert found["libssl"]["strategy"] == "ldconfig"
    assert found["libssl"]["where"] == "/etc/ld.so.cache"


def test_human_output(
    images: ImageFactory,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    image = images.imported(AL2, name="al2-human")
    code, out, _ = run_detect(capsys, "--image", image)
    assert code == 0
    assert out.splitlines() == [
        "target   rhel-openssl-1.0.x",
        f"subject  image {image}",
        "distro   rhel (ID=amzn, ID_LIKE=centos rhel fedora; /etc/os-release)",
        "arch     x86_64 (node: x64; from image metadata (linux/amd64))",
        "libssl   1.0.x: libssl.so.1.0.2k in /lib64 (libssl-specific-path)",
    ]


def test_missing_image_without_pull_is_a_docker_error(
    docker_client: Any,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run_detect(capsys, "--image", "photon-bundle-test/never-built:1", "--no-pull")
    assert code == 7
    assert err.startswith("error: image photon-bundle-test/never-built:1 is not on this Docker host")
    assert "Traceback" not in err


def test_root_and_image_together_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_detect(capsys, "--root", str(tmp_path), "--image", "x")
    assert code == 2
    assert "either --root or --image" in err


def test_detect_host(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_detect(capsys, "--json")
    assert code == 0
    found = json.loads(out)
    assert found["subject"] == "this host"
    assert found["arch"]["source"] == "uname -m"
    assert found["target"]
