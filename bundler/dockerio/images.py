"""Images: the image for a platform, found locally or pulled with progress, and its facts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bundler.detect import uname_from_docker_arch
from bundler.dockerio.daemon import Log, _fail, _nothing
from bundler.errors import DockerError


@dataclass(frozen=True)
class ImageInfo:
    name: str
    id: str
    os: str
    arch: str  # Docker's name: amd64, arm64, arm
    variant: str | None

    @property
    def platform(self) -> str:
        return f"{self.os}/{self.arch}" + (f"/{self.variant}" if self.variant else "")

    @property
    def machine(self) -> str:
        """`uname -m` inside a container of this image."""
        return uname_from_docker_arch(self.arch, self.variant)


def _image_info(name: str, image: Any) -> ImageInfo:
    attrs = image.attrs
    return ImageInfo(
        name=name,
        id=str(attrs.get("Id", "")),
        os=str(attrs.get("Os") or "linux"),
        arch=str(attrs.get("Architecture") or "unknown"),
        variant=attrs.get("Variant") or None,
    )


def _local_image(client: Any, name: str) -> Any | None:
    import docker.errors

    try:
        return client.images.get(name)
    except docker.errors.ImageNotFound:
        return None
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot look up image {name}", err)


def ensure_image(
    client: Any, name: str, *, platform: str | None = None, pull: bool = True, log: Log = _nothing
) -> ImageInfo:
    """The image `name` for `platform` (e.g. linux/arm64): the local copy when it matches, else pulled."""
    image = _local_image(client, name)
    wanted_arch = platform.split("/")[1] if platform else None
    if image is not None:
        info = _image_info(name, image)
        if wanted_arch is None or info.arch == wanted_arch:
            return info
        if not pull:
            raise DockerError(
                f"image {name} here is {info.platform}, not {platform}",
                hint=f"pull it for that platform (`docker pull --platform {platform} {name}`) or allow pulling",
            )
        log(f"image {name} here is {info.platform}; pulling it for {platform}")
    elif not pull:
        raise DockerError(
            f"image {name} is not on this Docker host and pulling is turned off",
            hint=f"`docker pull{' --platform ' + platform if platform else ''} {name}`, or allow pulling",
        )
    pull_image(client, name, platform=platform, log=log)
    image = _local_image(client, name)
    if image is None:
        raise DockerError(f"image {name} was pulled but cannot be found afterwards")
    info = _image_info(name, image)
    if wanted_arch is not None and info.arch != wanted_arch:
        raise DockerError(
            f"image {name} has no {platform} variant (the registry gave {info.platform})",
            hint="choose an image built for that architecture with --image",
        )
    return info


def pull_image(client: Any, name: str, *, platform: str | None = None, log: Log = _nothing) -> None:
    """`docker pull`, reporting progress through `log`: each layer's state changes and a byte count at most
    every few seconds."""
    from docker.utils import parse_repository_tag

    repository, tag = parse_repository_tag(name)
    log(f"pulling {name}" + (f" for {platform}" if platform else ""))
    states: dict[str, str] = {}
    progress: dict[str, tuple[int, int]] = {}
    last_report = time.monotonic()
    try:
        for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True, platform=platform):
            if "error" in event:
                raise DockerError(
                    f"cannot pull {name}: {event.get('error')}",
                    hint="check the image name and tag, `docker login` to a private registry, or DOCKER_HOST",
                )
            layer, status = event.get("id"), str(event.get("status", ""))
            detail = event.get("progressDetail") or {}
            if layer and detail.get("total"):
                progress[layer] = (int(detail.get("current", 0)), int(detail["total"]))
            if layer and states.get(layer) != status and status not in ("Downloading", "Extracting"):
                states[layer] = status
                log(f"  {layer}: {status}")
            elif not layer and status:
                log(f"  {status}")
            now = time.monotonic()
            if progress and now - last_report >= 3:
                last_report = now
                done = sum(c for c, _ in progress.values())
                total = sum(t for _, t in progress.values())
                log(f"  {done / 1e6:.1f} of {total / 1e6:.1f} MB")
    except DockerError:
        raise
    except Exception as err:  # noqa: BLE001
        _fail(
            f"cannot pull {name}" + (f" for {platform}" if platform else ""),
            err,
            hint="check the image name and tag, `docker login` to a private registry, and that this Docker host "
            "can reach the registry (or load the image by hand: `docker load` / `docker pull`)",
        )


def remove_image(client: Any, name: str) -> None:
    import docker.errors

    try:
        client.images.remove(name, force=True)
    except docker.errors.ImageNotFound:
        pass
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot remove image {name}", err)
