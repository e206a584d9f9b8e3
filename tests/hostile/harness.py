"""Run one photon-bundle command as a user would, in its own process, with hard caps on memory and time.

    result = run_case(["verify", str(zip_path), "--platform", "lambda"], cwd=tmp_path)
    assert_clean_failure(result, 5)        # one clear message, no traceback, no "internal error", exit 5

The child runs `python -m bundler ARGS` with this checkout first on PYTHONPATH, an address-space cap
(resource.RLIMIT_AS, default 1 GiB, so a memory bomb dies instead of taking the machine down) and a
wall-clock cap (default 60 s, then the process group is killed). `peak_rss` is the child's maximum
resident set size as the kernel counted it (getrusage of the reaped child, in bytes). `drop_dac=True`
removes the DAC-override capabilities from the child (prctl PR_CAPBSET_DROP), so that a root test run
still sees "permission denied" on a folder with mode 000.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
RSS_CAP = 1024 * 1024 * 1024  # address space of the child, bytes
TIME_CAP = 60.0  # seconds
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


@dataclass(frozen=True)
class CaseResult:
    args: tuple[str, ...]
    code: int | None  # None: killed at the time cap
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes

    @property
    def timed_out(self) -> bool:
        return self.code is None

    def describe(self) -> str:
        return (f"photon-bundle {' '.join(self.args)}\n  exit {self.code} after {self.seconds:.1f} s, peak RSS "
                f"{self.peak_rss / 2**20:.0f} MiB\n--- stderr ---\n{self.stderr[-4000:]}\n--- stdout ---\n"
                f"{self.stdout[-2000:]}")


def _limits(address_space: int, drop_dac: bool) -> None:  # runs in the child between fork and exec
    os.setsid()
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if drop_dac and os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ with this checkout first on PYTHONPATH and nothing that steers engine fetching."""
    drop = {"PRISMA_ENGINES_MIRROR", "PRISMA_BINARIES_MIRROR", "PHOTON_BUNDLE_DEBUG", "BINARY_DOWNLOAD_VERSION"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONPATH"] = os.pathsep.join([str(CHECKOUT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def run_case(args: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None,
             rss_cap: int = RSS_CAP, time_cap: float = TIME_CAP, drop_dac: bool = False) -> CaseResult:
    """`python -m bundler ARGS` in a capped child process; never raises for the child's failure."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bundler", *args], cwd=cwd, env=child_env(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
        preexec_fn=lambda: _limits(rss_cap, drop_dac),  # noqa: PLW1509 - setrlimit must run in the child
    )
    chunks: dict[str, list[str]] = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda s=stream, k=key: chunks[k].append(s.read()), daemon=True)
               for key, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    code: int | None = None
    usage = None
    while True:  # wait4, not wait: the rusage of this one child, for its peak RSS
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            break
        if time.monotonic() - started > time_cap:
            os.killpg(proc.pid, signal.SIGKILL)
            _, _, usage = os.wait4(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            break
        time.sleep(0.02)
    for reader in readers:
        reader.join(timeout=10)
    seconds = time.monotonic() - started
    out, err = "".join(chunks["out"]), "".join(chunks["err"])
    peak = usage.ru_maxrss * 1024 if usage is not None else 0
    return CaseResult(tuple(args), code, out, err, seconds, peak)


def assert_clean_failure(result: CaseResult, code: int, *, mentions: Sequence[str] = (),
                         max_seconds: float | None = None, one_error_line: bool = True) -> None:
    """Exit `code`, one clear message on stderr (one "error:" line, naming each of `mentions`), no traceback,
    no "internal error", within `max_seconds` when given. `one_error_line=False` for a report (verify), whose
    findings are in the output instead; `mentions` are then looked for in stdout too."""
    assert not result.timed_out, "hit the time cap\n" + result.describe()
    assert result.code == code, f"expected exit {code}\n" + result.describe()
    stderr = result.stderr
    assert "Traceback" not in stderr, result.describe()
    assert "internal error" not in stderr.lower(), result.describe()
    assert "MemoryError" not in stderr and "RecursionError" not in stderr, result.describe()
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    if one_error_line:
        assert len(errors) == 1, "expected exactly one error line\n" + result.describe()
    for text in mentions:
        assert text in (stderr if one_error_line else stderr + result.stdout), \
            f"expected {text!r} in the message\n" + result.describe()
    if max_seconds is not None:
        assert result.seconds <= max_seconds, f"took {result.seconds:.1f} s (> {max_seconds} s)\n" + result.describe()


def assert_success(result: CaseResult, *, max_seconds: float | None = None) -> None:
    assert not result.timed_out, "hit the time cap\n" + result.describe()
    assert result.code == 0, "expected success\n" + result.describe()
    assert "Traceback" not in result.stderr, result.describe()
    if max_seconds is not None:
        assert result.seconds <= max_seconds, f"took {result.seconds:.1f} s (> {max_seconds} s)\n" + result.describe()
