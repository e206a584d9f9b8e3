"""`photon-bundle detect`: the engine target of this host, a root file system, or a Docker image."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.cli.common import Console
from bundler.errors import ConfigError

ARCH_CHOICES = ("x86_64", "aarch64", "arm64", "amd64")


@click.command()
@click.option(
    "--root",
    "root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A directory holding a root file system (e.g. an unpacked image or a chroot).",
)
@click.option("--image", "image", metavar="IMAGE", help="A Docker image (pulled when absent); nothing is run in it.")
@click.option(
    "--arch",
    type=click.Choice(ARCH_CHOICES),
    help="Architecture to assume (default: read from the image or the root's ELF files; the host's for the host).",
)
@click.option("--no-pull", is_flag=True, help="With --image: fail instead of pulling an image that is not here.")
@click.option("--json", "json_mode", is_flag=True, help="Print the target and its facts as JSON on stdout.")
def detect(root: Path | None, image: str | None, arch: str | None, no_pull: bool, json_mode: bool) -> None:
    """Print the Prisma engine target of this host, a root file system (--root) or an image (--image).

    Uses Prisma's own rules: /etc/os-release ID and ID_LIKE give the distro family, the architecture comes
    from uname (the image's metadata, the root's ELF files), and the oldest libssl found in the distro's
    library folders, the ld.so cache, /lib64, /usr/lib64 or /lib gives the OpenSSL series.
    """
    from bundler import detect as detection

    if root is not None and image is not None:
        raise ConfigError("give either --root or --image, not both")
    console = Console(json_mode=json_mode)
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(arch or "", arch)
    if image is not None:
        from bundler import dockerio

        platform = dockerio.platform_for(machine) if machine else None
        with dockerio.image_tree(image, platform=platform, pull=not no_pull, log=console.log) as (tree, info):
            found = detection.detect_tree(
                tree,
                machine or info.machine,
                machine_source="given" if machine else f"image metadata ({info.platform})",
            )
        subject = f"image {image}"
    elif root is not None:
        found = detection.detect_tree(detection.DirTree(root.resolve()), machine, machine_source="given")
        subject = f"root file system {root}"
    else:
        if machine:
            found = detection.detect_tree(detection.DirTree("/"), machine, machine_source="given")
        else:
            found = detection.detect_host()
        subject = "this host"

    for warning in found.warnings:
        console.warn(warning)
    if json_mode:
        console.data({"subject": subject, **found.as_dict()})
        return
    click.echo(f"target   {found.target}")
    click.echo(f"subject  {subject}")
    release = found.os_release or "no /etc/os-release"
    if found.os_release and found.os_release != detection.OS_RELEASE:
        release = f"{detection.OS_RELEASE} -> {found.os_release}"
    ident = f"ID={found.os_id or '?'}" + (f", ID_LIKE={found.os_id_like}" if found.os_id_like else "")
    click.echo(f"distro   {found.distro or 'unknown (debian assumed)'} ({ident}; {release})")
    click.echo(f"arch     {found.machine} (node: {found.arch}; from {found.machine_source})")
    if found.ssl:
        click.echo(f"libssl   {found.ssl}: {found.libssl} in {found.libssl_where} ({found.strategy})")
    else:
        click.echo(f"libssl   not found (searched {', '.join(found.searched)}); 1.1.x assumed")
