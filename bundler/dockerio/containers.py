"""Containers: created labelled and always removed (success, failure, timeout, Ctrl-C), run with their log
streamed line by line and killed at a deadline."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bundler.dockerio.daemon import LABEL, LABELS, Log, _fail, _nothing

logger = logging.getLogger("bundler.dockerio")


TAIL_LINES = 25


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
