"""The download progress bar as a person sees it: on a terminal (a real pseudo-terminal), bytes and rate;
nowhere when stderr is not one or under --quiet."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.mirror_server import MirrorServer, cli_env, compile_elf, engines_cli, publish_engine

pytestmark = pytest.mark.network

HASH = "605197351a3c8bdd595af2d2a9bc3025bca48ea2"
TARGET = "rhel-openssl-3.0.x"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MirrorServer]:
    with MirrorServer(tmp_path / "mirror", lifetime=60) as srv:
        engine = compile_elf(tmp_path / "engine")
        publish_engine(srv.root, HASH, TARGET, "binary", engine.read_bytes() + os.urandom(400_000))
        srv.throttle(0.02)  # slow enough for the bar to be drawn a few times
        yield srv


def run_on_a_terminal(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run argv with stdin/stdout/stderr on a pseudo-terminal; (exit code, everything it drew)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # the terminal closed: the process is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        code = proc.wait(timeout=10)
        os.close(leader)
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_a_terminal_shows_the_bar_with_bytes_and_rate(tmp_path: Path, server: MirrorServer) -> None:
    env = cli_env(tmp_path / "cache", tmp_path / "home", TERM="xterm", COLUMNS="100")
    env.pop("CI", None)
    argv = [*engines_cli(), "fetch", "--target", TARGET, "--kind", "binary", "--version", HASH,
            "--mirror", server.base_url]
    code, drawn = run_on_a_terminal(argv, env)
    assert code == 0, drawn
    assert TARGET in drawn
    assert re.search(r"\d+(\.\d+)?/\d+(\.\d+)? [kKM]B", drawn), drawn  # bytes done of the total
    assert re.search(r"\d+(\.\d+)? [kKM]?B/s", drawn), drawn  # and the rate


def test_no_bar_off_a_terminal_in_ci_or_quiet(tmp_path: Path, server: MirrorServer) -> None:
    argv = [*engines_cli(), "fetch", "--target", TARGET, "--kind", "binary", "--version", HASH,
            "--mirror", server.base_url]
    env = cli_env(tmp_path / "cache1", tmp_path / "home", TERM="xterm", CI="true")
    code, drawn = run_on_a_terminal(argv, env)
    assert code == 0 and "B/s" not in drawn, drawn
    env = cli_env(tmp_path / "cache2", tmp_path / "home", TERM="xterm")
    env.pop("CI", None)
    code, drawn = run_on_a_terminal([*argv, "--quiet"], env)
    assert code == 0 and drawn.strip() == "", drawn
    piped = subprocess.run(argv, env={**env, "PHOTON_BUNDLE_CACHE": str(tmp_path / "cache3")},
                           capture_output=True, text=True, timeout=60, check=False)
    assert piped.returncode == 0 and "B/s" not in piped.stderr
