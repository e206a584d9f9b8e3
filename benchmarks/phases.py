"""Time the pipeline's phases in one fresh process: walk, plan, the content check of a no-op rebuild, and the zip write.

Run by run.py as `python -m benchmarks.phases <project> [--write] [--workers N]`; prints JSON. It
follows `bundle()` up to the plan (same functions, same options as `photon-bundle lambda`), so the walk
and plan numbers are the ones the real run pays.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def measure(root: Path, *, write: bool, workers: int | None) -> dict[str, Any]:  # noqa: PLR0915 (lazy imports)
    from bundler.archive import write_zip, zip_epoch
    from bundler.engines.local import engine_kind, find_local_engine
    from bundler.installed import installed_packages
    from bundler.options import load_config, option_keys, resolve
    from bundler.plan import EngineChoice, PlanOptions, plan_bundle
    from bundler.project import read_project
    from bundler.resources import layer_options
    from bundler.reuse import planned_digests
    from bundler.runtime_choice import choose_runtime
    from bundler.targets import resolve as resolve_profile
    from bundler.walk import walk_tree
    from platforms import REGISTRY
    from platforms import adapter as adapter_for
    from platforms.base import single_unit

    adapter = adapter_for("lambda")
    env = dict(os.environ)
    config = load_config(root, list(REGISTRY), {"lambda": option_keys(adapter.extras)}, checked=["lambda"])
    options = resolve("lambda", config, env, {"format": None, "exclude": (), "include": ()}, adapter.extras)
    out: dict[str, Any] = {}

    t0 = time.perf_counter()
    project = read_project(root)
    runtime, _why = choose_runtime(adapter, project, options)
    profile = resolve_profile(adapter.key, runtime, options.arch)
    skip = {".git/", ".photon-bundle/"}
    files = walk_tree(root, lambda rel: rel in skip)
    t1 = time.perf_counter()
    out["walk_s"] = t1 - t0
    out["walk_files"] = len(files)

    installed = installed_packages(files)
    kind = engine_kind(project, files, env)
    local = find_local_engine(files, kind, profile)
    if local is None:
        raise SystemExit(f"no local {kind} engine for {profile.target} in {root}")
    choice = EngineChoice(filename=Path(local.rel).name, target_names=profile.accepted_targets, source=local.path,
                          size=local.size, rel=local.rel)
    layout, template = layer_options()
    t2 = time.perf_counter()
    out["read_packages_s"] = t2 - t1
    out["packages"] = len(installed)
    plan = plan_bundle(project, files, installed, choice,
                       PlanOptions(unit=single_unit(adapter)[0], out_rel=".photon-bundle/lambda",
                                   layer_layout=layout, wrapper_template=template))
    t3 = time.perf_counter()
    out["plan_s"] = t3 - t2
    out["walk_plan_s"] = t3 - t0
    out["planned_files"] = sum(len(a.entries) for a in plan.artifacts)
    # the content check of a no-op rebuild when no stat fact matches the record (a fresh checkout): hash all
    planned_digests(plan.artifacts, {str(f.path): f for f in files}, {})
    out["content_check_s"] = time.perf_counter() - t3

    if write:
        entries = plan.artifacts[0].entries
        with tempfile.TemporaryDirectory(prefix="bench-write-") as tmp:
            t4 = time.perf_counter()
            result = write_zip(entries, Path(tmp) / "function.zip", epoch=zip_epoch({}), workers=workers)
            out["write_s"] = time.perf_counter() - t4
            out["write_workers"] = workers or os.cpu_count()
            out["write_bytes"] = result.zipped_size
            out["write_sha256"] = result.sha256
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.phases")
    parser.add_argument("project", type=Path)
    parser.add_argument("--write", action="store_true", help="also time write_zip of the planned function zip")
    parser.add_argument("--workers", type=int, default=None, help="compression threads [all cores]")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.project, write=args.write, workers=args.workers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
