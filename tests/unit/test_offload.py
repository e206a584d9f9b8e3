"""bundler/offload.py: strings computed in a forked child come back whole; any failure falls back to this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from bundler.offload import Offloaded, _decode, _encode

REPO = Path(__file__).resolve().parents[2]


def run_script(body: str) -> dict[str, object]:
    """Run `body` in a fresh, single-threaded interpreter (what the CLI is); it prints one JSON object."""
    script = "import json, os, sys, time, threading\nfrom bundler.offload import Offloaded\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_child_computes_and_hands_back_large_and_odd_strings() -> None:
    out = run_script("""
        parent = os.getpid()
        big = "x" * (5 << 20)  # far more than a pipe holds: the child blocks until the parent reads
        job = Offloaded(lambda: [str(os.getpid()), big, "caf\\u00e9 \\udcff", ""])
        time.sleep(0.2)  # the parent goes on meanwhile
        pid, got_big, odd, empty = job.result()
        print(json.dumps({"forked": pid != str(parent), "big": got_big == big, "odd": odd == "caf\\u00e9 \\udcff",
                          "empty": empty == "", "children": len(os.listdir(f"/proc/{parent}/task"))}))
    """)
    assert out == {"forked": True, "big": True, "odd": True, "empty": True, "children": 1}


def test_a_child_that_fails_or_is_killed_leaves_the_work_to_the_parent() -> None:
    out = run_script("""
        parent = os.getpid()
        def fails():
            if os.getpid() != parent:
                raise RuntimeError("only in the child")
            return ["computed here"]
        first = Offloaded(fails).result()
        def killed():
            if os.getpid() != parent:
                os.kill(os.getpid(), 9)
            return ["computed here too"]
        second = Offloaded(killed).result()
        print(json.dumps({"first": first, "second": second}))
    """)
    assert out == {"first": ["computed here"], "second": ["computed here too"]}


def test_cancel_stops_a_child_at_once_and_leaves_no_process() -> None:
    out = run_script("""
        parent = os.getpid()
        def forever():
            while os.getpid() != parent:
                time.sleep(1)
            return []
        job = Offloaded(forever)
        pid = job._pid
        start = time.monotonic()
        job.cancel()
        took = time.monotonic() - start
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        print(json.dumps({"forked": pid > 0, "took_under_1s": took < 1, "alive": alive}))
    """)
    assert out == {"forked": True, "took_under_1s": True, "alive": False}


def test_with_threads_running_nothing_is_forked() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        job = Offloaded(lambda: [str(os.getpid())])
        assert job._pid == 0
        assert job.result() == [str(os.getpid())]
    finally:
        stop.set()
        thread.join()


def test_the_wire_format_round_trips_and_refuses_a_cut_message() -> None:
    texts = ["", "a", "\u00e9" * 1000, "\udcfe"]
    data = _encode(texts)
    assert _decode(data) == texts
    assert _decode(data[:-1]) is None
    assert _decode(b"") == []


def test_exiting_the_context_reaps_the_child() -> None:
    out = run_script("""
        with Offloaded(lambda: ["x"]) as job:
            pid = job._pid
        time.sleep(0.05)
        try:
            os.waitpid(pid, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True
        print(json.dumps({"forked": pid > 0, "reaped": reaped}))
    """)
    assert out == {"forked": True, "reaped": True}


def test_the_child_runs_while_the_parent_works() -> None:
    """The child's pure-Python loop and the parent's run at the same time (their time windows overlap)."""
    out = run_script("""
        def spin(seconds):
            start = time.monotonic()
            end = time.process_time() + seconds
            while time.process_time() < end:
                pass
            return start, time.monotonic()
        job = Offloaded(lambda: [json.dumps(spin(0.3))])
        mine = spin(0.3)
        theirs = json.loads(job.result()[0])
        print(json.dumps({"overlap": theirs[0] < mine[1] and mine[0] < theirs[1],
                          "cores": len(os.sched_getaffinity(0))}))
    """)
    if out["cores"] == 1:
        return  # one core: the windows may follow each other
    assert out["overlap"] is True
