"""Time the pipeline's phases in one fresh process: walk + plan as `photon-bundle lambda` pays it, the content
check of a no-op rebuild, and the zip write (wall, CPU and CPU use).

Run by run.py as `python -m benchmarks.phases <project> [--write] [--workers N]`; prints JSON. It runs the
real command in process (`photon-bundle lambda <project> --force --no-load-check`, its options, its scan
and its plan) with timers around the scan (walk, package lookup, layout) and the plan, and stops it where the
write would begin; the write is then timed on the planned function zip, in a temp folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Stop(Exception):  # noqa: N818 - not an error: where the measurement ends
    pass


def _timed(fn: F, into: dict[str, float], key: str) -> F:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            into[key] = into.get(key, 0.0) + time.perf_counter() - start
    return wrapper  # type: ignore[return-value]


def walk_and_plan(root: Path, out: Path) -> tuple[dict[str, Any], list[Any]]:
    """Run `photon-bundle lambda` in process up to the write: (timings, the planned units)."""
    import bundler.bundle as pipeline
    from bundler.cli import cli

    marks: dict[str, float] = {}
    planned: list[Any] = []

    def stop(units: list[Any], *args: Any, **kwargs: Any) -> Any:
        marks["until_write_s"] = time.perf_counter() - start
        marks["until_write_cpu_s"] = time.process_time() - cpu_start
        planned.extend(units)
        raise _Stop

    def scan(*args: Any, **kwargs: Any) -> Any:
        scanned = timed_scan(*args, **kwargs)
        marks["walk_files"] = len(scanned.files)
        return scanned

    names = vars(pipeline)  # the pipeline module's globals: its scan, plan_unit and _write_units, wrapped
    originals = {name: names[name] for name in ("scan", "plan_unit", "_write_units", "Prefetch")}
    timed_scan = _timed(originals["scan"], marks, "scan_s")
    prefetch = originals["Prefetch"]
    names.update(scan=scan, plan_unit=_timed(originals["plan_unit"], marks, "plan_s"), _write_units=stop,
                 Prefetch=lambda files: prefetch(files, workers=0))  # walk + plan alone: no compression ahead
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        cli.main(args=["lambda", str(root), "--out", str(out), "--force", "--no-load-check", "-q"],
                 prog_name="photon-bundle", standalone_mode=False)
    except _Stop:
        pass
    finally:
        names.update(originals)
    if "until_write_s" not in marks:
        raise SystemExit("the pipeline ended before the write (see its output)")
    return marks, planned


def measure(root: Path, *, write: bool, workers: int | None) -> dict[str, Any]:
    from bundler.archive import write_zip, zip_epoch
    from bundler.reuse import planned_digests

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp:
        marks, planned = walk_and_plan(root, Path(tmp) / "out")
        plan = planned[0].plan
        out["walk_plan_s"] = marks["until_write_s"]  # everything before the write: inspect, scan, engine, plan
        out["walk_plan_cpu_s"] = marks["until_write_cpu_s"]  # the same in CPU time: less sensitive to other load
        out["scan_s"] = marks["scan_s"]  # walk of the project's files + package lookup + layout of the packages
        out["plan_s"] = marks["plan_s"]
        out["planned_files"] = sum(len(a.entries) for a in plan.artifacts)
        out["walk_files"] = marks["walk_files"]
        entries = plan.artifacts[0].entries
        # the content check of a no-op rebuild when no stat fact matches the record (a fresh checkout): hash all
        t0 = time.perf_counter()
        planned_digests(plan.artifacts, {}, {})
        out["content_check_s"] = time.perf_counter() - t0
        if write:
            t1, c1 = time.perf_counter(), time.process_time()
            result = write_zip(entries, Path(tmp) / "function.zip", epoch=zip_epoch({}), workers=workers)
            out["write_s"] = time.perf_counter() - t1
            out["write_cpu_s"] = time.process_time() - c1
            out["write_cpu_pct"] = 100 * out["write_cpu_s"] / out["write_s"]
            out["write_workers"] = workers or os.cpu_count()
            out["write_bytes"] = result.zipped_size
            out["write_sha256"] = result.sha256
    out["load_avg"] = os.getloadavg()[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phases")
    parser.add_argument("project", type=Path)
    parser.add_argument("--write", action="store_true", help="also time write_zip of the planned function zip")
    parser.add_argument("--workers", type=int, default=None, help="compression threads [all cores]")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.project.resolve(), write=args.write, workers=args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
