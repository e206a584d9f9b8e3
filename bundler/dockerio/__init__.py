"""The one seam to Docker: the only package that imports the `docker` SDK (lazily, inside functions, so
`photon-bundle --help` stays fast). Its modules: `daemon` (connect, failures), `images`, `containers`,
`tarcopy` (trees in and out), `imagetree` (an image's files for detection); callers import from
`bundler.dockerio`.

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

from bundler.dockerio.containers import TAIL_LINES, RunResult, container, run_logged
from bundler.dockerio.daemon import (
    LABEL,
    LABELS,
    START_HINT,
    Log,
    connect,
    daemon_address,
    daemon_machine,
    platform_for,
)
from bundler.dockerio.images import ImageInfo, ensure_image, pull_image, remove_image
from bundler.dockerio.imagetree import ImageTree, image_tree
from bundler.dockerio.tarcopy import FetchReport, fetch_directory, put_directory

__all__ = [
    "LABEL",
    "LABELS",
    "START_HINT",
    "TAIL_LINES",
    "FetchReport",
    "ImageInfo",
    "ImageTree",
    "Log",
    "RunResult",
    "connect",
    "container",
    "daemon_address",
    "daemon_machine",
    "ensure_image",
    "fetch_directory",
    "image_tree",
    "platform_for",
    "pull_image",
    "put_directory",
    "remove_image",
    "run_logged",
]
