"""The one seam to Docker: the only module that imports the `docker` SDK (lazily, inside functions, so
`photon-bundle --help` stays fast).

What it offers, each turning any Docker failure into one `DockerError` a user can act on:

- `connect()`: a client from the environment (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH honoured);
- `ensure_image()`: the image for a platform, pulled with progress when absent;
- `container()`: a context manager that creates a labelled container and always removes it
  (success, failure, timeout, Ctrl-C);
- `put_directory()` / `fetch_directory()`: copy a tree into a container (a tar stream, never a bind
  mount) and out of it (extracted safely: no absolute paths, no `..`, no links leaving the tree);
- `run_logged()`: start a container, stream its log line by line, kill it at a deadline;
- `image_tree()`: an image's files as a `bundler.detect.FileTree`, read from a created (never started)
  container, so any image can be inspected, whatever its architecture.

Every container carries the label `photon-bundle=1` (`LABEL`), so leftovers are easy to find:
`docker ps -a --filter label=photon-bundle=1`.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import tarfile
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, NoReturn

from bundler.detect import Node, uname_from_docker_arch
from bundler.errors import DockerError

logger = logging.getLogger(__name__)

Log = Callable[[str], None]
LABEL = "photon-bundle"
LABELS = {LABEL: "1"}
TAIL_LINES = 25

START_HINT = (
    "start the Docker daemon (`sudo systemctl start docker`, or `sudo dockerd &` where there is no systemd), "
    "or point DOCKER_HOST at a running one (e.g. DOCKER_HOST=tcp://host:2376 with DOCKER_TLS_VERIFY=1 and "
    "DOCKER_CERT_PATH)"
)

# Go's os.FileMode type bits, as Docker reports them in a path stat.
_GO_DIR = 1 << 31
_GO_SYMLINK = 1 << 27
_GO_TYPE_BITS = _GO_DIR | _GO_SYMLINK | (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


def _nothing(_: str) -> None:
    return None


def daemon_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def platform_for(arch: str) -> str:
    """A RuntimeProfile arch (x86_64 | arm64) or a `uname -m` value -> Docker's `--platform` string."""
    known = {"x86_64": "linux/amd64", "amd64": "linux/amd64", "arm64": "linux/arm64", "aarch64": "linux/arm64"}
    return known.get(arch, f"linux/{arch}")


def _is_docker_failure(err: BaseException) -> bool:
    import docker.errors  # lazily: only this module imports the SDK
    import requests

    return isinstance(err, (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError))


def _fail(what: str, err: BaseException, hint: str | None = None) -> NoReturn:
    """Re-raise a Docker SDK or transport failure as one DockerError; anything else is a bug and passes."""
    if isinstance(err, DockerError):
        raise err
    if not _is_docker_failure(err):
        raise err
    explanation = getattr(err, "explanation", None) or str(err)
    text = str(explanation).strip() or type(err).__name__
    if hint is None and ("Connection aborted" in text or "Connection refused" in text or "No such file" in text):
        hint = START_HINT
    raise DockerError(f"{what}: {text}", hint=hint) from err


# ---------------------------------------------------------------- the daemon


def connect() -> Any:
    """A `docker.DockerClient` for the daemon the environment names; DockerError when it does not answer."""
    try:
        import docker
    except ImportError as err:  # pragma: no cover - docker is a dependency
        raise DockerError("the `docker` Python package is not installed", hint="pip install docker") from err
    where = daemon_address()
    try:
        client = docker.from_env()
        client.ping()
    except Exception as err:
        if not _is_docker_failure(err):
            raise
        reason = str(err)
        hint = START_HINT
        if "Permission denied" in reason:
            hint = "add your user to the `docker` group (`sudo usermod -aG docker $USER`, then log in again), or " + (
                START_HINT[0].lower() + START_HINT[1:]
            )
        raise DockerError(f"cannot reach the Docker daemon at {where} ({_short(reason)})", hint=hint) from err
    return client


def _short(reason: str) -> str:
    for marker in ("FileNotFoundError", "ConnectionRefusedError", "PermissionError", "Connection refused"):
        if marker in reason:
            return {
                "FileNotFoundError": "no socket there",
                "ConnectionRefusedError": "connection refused",
                "Connection refused": "connection refused",
                "PermissionError": "permission denied",
            }[marker]
    return reason


def daemon_machine(client: Any) -> str:
    """The daemon host's architecture, as `uname -m` prints it (x86_64, aarch64)."""
    try:
        return str(client.info().get("Architecture") or "unknown")
    except Exception as err:  # noqa: BLE001
        _fail("cannot ask the Docker daemon about itself", err)


# ---------------------------------------------------------------- images


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


# ---------------------------------------------------------------- containers


@contextmanager
def container(
    client: Any,
    image: str,
    *,
    command: list[str] | None = None,
    entrypoint: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    workdir: str | None = None,
    platform: str | None = None,
    role: str = "build",
    network: bool = True,
) -> Iterator[Any]:
    """A created (not started) container labelled `photon-bundle=1`, removed (killed first) when the block
    ends, however it ends: success, error, timeout or Ctrl-C."""
    labels = {**LABELS, f"{LABEL}.role": role}
    kwargs: dict[str, Any] = {
        "command": command,
        "entrypoint": entrypoint,
        "environment": dict(env or {}),
        "working_dir": workdir,
        "labels": labels,
        "detach": True,
        "network_disabled": not network,
    }
    if platform:
        kwargs["platform"] = platform
    try:
        box = client.containers.create(image, **{k: v for k, v in kwargs.items() if v is not None})
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot create a container from {image}", err)
    try:
        yield box
    finally:
        _remove_container(box)


def _remove_container(box: Any) -> None:
    import docker.errors

    for attempt in range(3):
        try:
            box.remove(force=True, v=True)
            return
        except docker.errors.NotFound:
            return
        except KeyboardInterrupt:
            continue  # a second Ctrl-C must not leave the container behind
        except Exception as err:  # noqa: BLE001
            if attempt == 2:
                logger.warning("could not remove container %s: %s", getattr(box, "short_id", box), err)
            time.sleep(0.5)


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    tail: tuple[str, ...]
    timed_out: bool
    seconds: float


def run_logged(box: Any, *, timeout: float, log: Log = _nothing, prefix: str = "  | ") -> RunResult:
    """Start a created container, pass each line of its output to `log` (with `prefix`), and wait for it.

    At `timeout` seconds the container is killed (the caller's `container()` block removes it). The last
    TAIL_LINES lines are kept for error messages.
    """
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            box.kill()
        except Exception as err:  # noqa: BLE001 - it may have just exited
            logger.debug("kill after timeout: %s", err)

    started = time.monotonic()
    timer = threading.Timer(timeout, kill)
    timer.daemon = True
    try:
        box.start()
    except Exception as err:  # noqa: BLE001
        _fail("the container could not start", err)
    try:
        timer.start()
        pending = b""
        for chunk in box.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").rstrip("\r")
                tail.append(line)
                log(prefix + line)
        if pending:
            line = pending.decode("utf-8", "replace")
            tail.append(line)
            log(prefix + line)
        status = box.wait(timeout=max(timeout - (time.monotonic() - started), 0) + 30)
    except Exception as err:  # noqa: BLE001 - Ctrl-C (KeyboardInterrupt) passes through untouched
        _fail("lost the container while it ran", err)
    finally:
        timer.cancel()
    return RunResult(
        exit_code=int(status.get("StatusCode", -1)),
        tail=tuple(tail),
        timed_out=timed_out.is_set(),
        seconds=time.monotonic() - started,
    )


# ---------------------------------------------------------------- copying in and out


def put_directory(
    box: Any,
    source: Path,
    destination: str,
    *,
    skip: Callable[[PurePosixPath, bool], bool] = lambda _path, _is_dir: False,
) -> int:
    """Copy the tree at `source` into the container at `destination` (created with its parents) as a tar
    stream. `skip(relative_path, is_dir)` leaves entries out. Files keep their modes; owners become root.
    Returns the number of entries copied."""
    dest = PurePosixPath(destination)
    if not dest.is_absolute():
        raise ValueError("destination must be absolute")
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        count = 0
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            parents = [PurePosixPath(*dest.parts[1 : i + 1]) for i in range(1, len(dest.parts))]
            for parent in parents:
                info = tarfile.TarInfo(str(parent))
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(_owned_by_root(info))
            for path, relative in _walk(source, skip):
                info = tar.gettarinfo(str(path), arcname=str(PurePosixPath(dest.relative_to("/"), relative)))
                if not (info.isfile() or info.isdir() or info.issym()):
                    continue
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(_owned_by_root(info), fh)
                else:
                    tar.addfile(_owned_by_root(info))
                count += 1
        spool.seek(0)
        try:
            box.put_archive("/", spool)
        except Exception as err:  # noqa: BLE001
            _fail(f"cannot copy {source} into the container", err)
    return count


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _walk(root: Path, skip: Callable[[PurePosixPath, bool], bool]) -> Iterator[tuple[Path, PurePosixPath]]:
    """(path, relative path) for `root` itself and everything under it, sorted, not following links."""
    yield root, PurePosixPath()
    for current, dirs, files in os.walk(root):
        base = PurePosixPath(Path(current).relative_to(root).as_posix())
        base = PurePosixPath() if str(base) == "." else base
        keep = []
        for name in sorted(dirs):
            rel = base / name
            full = Path(current) / name
            if skip(rel, not full.is_symlink()):
                continue
            if full.is_symlink():
                yield full, rel  # a link to a directory is copied as the link
            else:
                keep.append(name)
                yield full, rel
        dirs[:] = keep
        for name in sorted(files):
            rel = base / name
            if not skip(rel, False):
                yield Path(current) / name, rel


class _ChunkReader(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the SDK's archive stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _archive(box: Any, path: str) -> tuple[IO[bytes], dict[str, Any]]:
    try:
        chunks, stat_ = box.get_archive(path, chunk_size=1 << 20)
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot copy {path} out of the container", err)
    return io.BufferedReader(_ChunkReader(chunks), buffer_size=1 << 20), stat_


@dataclass(frozen=True)
class FetchReport:
    files: int
    directories: int
    links: int
    skipped: tuple[str, ...]


def fetch_directory(box: Any, path: str, destination: Path) -> FetchReport:
    """Copy the directory `path` out of the container into `destination` (created; must not exist or be
    empty). Entries that would land outside `destination` (absolute names, `..`, links pointing out) and
    special files are skipped and listed in the report."""
    destination.mkdir(parents=True, exist_ok=True)
    stream, _ = _archive(box, path)
    extractor = _Extractor(destination.resolve(), PurePosixPath(path).name)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                extractor.extract(tar, member)
    except tarfile.TarError as err:
        raise DockerError(f"the archive of {path} from the container is unreadable: {err}") from err
    except Exception as err:  # noqa: BLE001
        _fail(f"cannot copy {path} out of the container", err)
    return extractor.finish()


class _Extractor:
    """Safe extraction of a container directory's tar stream: files keep their permission bits (not owners,
    not setuid), directories stay writable by their owner, nothing lands outside the root."""

    def __init__(self, root: Path, top: str) -> None:
        self.root, self.top = root, top
        self.files = self.dirs = self.links = 0
        self.skipped: list[str] = []
        self.dir_modes: list[tuple[Path, int]] = []

    def extract(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = _relative_member(member.name, self.top)
        if rel is None:
            self.skipped.append(member.name)
            return
        if not rel.parts:
            return
        target = self.root.joinpath(*rel.parts)
        if not _inside(self.root, target.parent):
            self.skipped.append(member.name)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.isdir():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(exist_ok=True)
            self.dir_modes.append((target, (member.mode & 0o777) | 0o700))
            self.dirs += 1
        elif member.isfile():
            self._file(tar, member, target)
        elif member.issym():
            if PurePosixPath(member.linkname).is_absolute() or not _inside(self.root, target.parent / member.linkname):
                self.skipped.append(f"{member.name} -> {member.linkname}")
                return
            _replace(target)
            target.symlink_to(member.linkname)
            self.links += 1
        elif member.islnk():
            source_rel = _relative_member(member.linkname, self.top)
            source = self.root.joinpath(*source_rel.parts) if source_rel and source_rel.parts else None
            if source is None or not _inside(self.root, source) or not source.is_file():
                self.skipped.append(f"{member.name} (hard link to {member.linkname})")
                return
            _replace(target)
            os.link(source, target)
            self.files += 1
        else:
            self.skipped.append(member.name)

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
        source = tar.extractfile(member)
        if source is None:
            self.skipped.append(member.name)
            return
        _replace(target)
        with target.open("wb") as out:
            while block := source.read(1 << 20):
                out.write(block)
        target.chmod(member.mode & 0o777)
        os.utime(target, (member.mtime, member.mtime))
        self.files += 1

    def finish(self) -> FetchReport:
        for directory, mode in reversed(self.dir_modes):
            directory.chmod(mode)
        return FetchReport(files=self.files, directories=self.dirs, links=self.links, skipped=tuple(self.skipped))


def _relative_member(name: str, top: str) -> PurePosixPath | None:
    parts = PurePosixPath(name).parts
    if not parts or parts[0] in ("/", "..") or ".." in parts:
        return None
    if parts[0] != top:
        return None
    return PurePosixPath(*parts[1:])


def _inside(root: Path, path: Path) -> bool:
    try:
        Path(os.path.realpath(path)).relative_to(root)
    except ValueError:
        return False
    return True


def _replace(target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()


# ---------------------------------------------------------------- an image's files, for detection


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
