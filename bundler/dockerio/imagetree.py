"""An image's files as a `bundler.detect.FileTree`, read from a created (never started) container, so any
image can be inspected, whatever its architecture."""

from __future__ import annotations

import base64
import json
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any

from bundler.detect import Node
from bundler.dockerio.containers import container
from bundler.dockerio.daemon import Log, _fail, _nothing, connect
from bundler.dockerio.images import ImageInfo, ensure_image
from bundler.dockerio.tarcopy import _archive
from bundler.errors import DockerError

# Go's os.FileMode type bits, as Docker reports them in a path stat.
_GO_DIR = 1 << 31


_GO_SYMLINK = 1 << 27


_GO_TYPE_BITS = _GO_DIR | _GO_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


class ImageTree:
    """`bundler.detect.FileTree` over a created container: `lstat` asks Docker for a path's stat (HEAD
    /containers/{id}/archive), `listdir` and `read_bytes` stream the path's tar and keep only names or
    the first bytes. Nothing runs inside the container."""

    def __init__(self, box: Any) -> None:
        self._box = box
        self._api = box.client.api
        self._stats: dict[str, Node | None] = {}
        self._dirs: dict[str, list[str] | None] = {}

    def lstat(self, path: str) -> Node | None:
        if path not in self._stats:
            self._stats[path] = self._lstat(path)
        return self._stats[path]

    def _lstat(self, path: str) -> Node | None:
        try:
            url = self._api._url("/containers/{0}/archive", self._box.id)  # the SDK has no public HEAD call
            res = self._api.head(url, params={"path": path})
            if res.status_code == 404:
                return None
            self._api._raise_for_status(res)
        except Exception as err:  # noqa: BLE001
            _fail(f"cannot read {path} in the image", err)
        header = res.headers.get("X-Docker-Container-Path-Stat")
        if not header:
            return None
        info = json.loads(base64.b64decode(header))
        mode = int(info.get("mode", 0))
        if mode & _GO_SYMLINK:
            return Node("link", str(info.get("linkTarget") or ""))
        if mode & _GO_DIR:
            return Node("dir")
        return Node("other" if mode & _GO_TYPE_BITS else "file")

    def listdir(self, path: str) -> list[str] | None:
        if path not in self._dirs:
            self._dirs[path] = self._listdir(path)
        return self._dirs[path]

    def _listdir(self, path: str) -> list[str] | None:
        if self.lstat(path) != Node("dir"):
            return None
        stream, _ = _archive(self._box, path)
        names: list[str] = []
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:  # the stream skips file data it is not asked for
                    parts = PurePosixPath(member.name).parts
                    if len(parts) == 2:
                        names.append(parts[1])
        except tarfile.TarError as err:
            raise DockerError(f"cannot list {path} in the image: {err}") from err
        except Exception as err:  # noqa: BLE001
            _fail(f"cannot list {path} in the image", err)
        return names

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        if self.lstat(path) != Node("file"):
            return None
        stream, _ = _archive(self._box, path)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    source = tar.extractfile(member) if member.isfile() else None
                    return source.read(limit) if source else None
        except tarfile.TarError as err:
            raise DockerError(f"cannot read {path} in the image: {err}") from err
        except Exception as err:  # noqa: BLE001
            _fail(f"cannot read {path} in the image", err)
        return None


@contextmanager
def image_tree(
    image: str, *, platform: str | None = None, pull: bool = True, log: Log = _nothing
) -> Iterator[tuple[ImageTree, ImageInfo]]:
    """The files of `image` (pulled when absent) as a FileTree, with the image's facts. The container that
    exposes them is created, never started, and removed when the block ends."""
    client = connect()
    info = ensure_image(client, image, platform=platform, pull=pull, log=log)
    with container(
        client,
        image,
        entrypoint=["/photon-bundle/never-started"],
        command=[],
        platform=platform,
        role="detect",
        network=False,
    ) as box:
        yield ImageTree(box), info
