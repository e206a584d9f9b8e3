"""`--trace` against the whole production closure on a real app: files, sizes and time.

The synthetic benchmark project is text, not code node can run, so tracing it would measure nothing; this part
uses the --trace tests' app instead (tests/fixtures/trace-app: express, lodash, aws-sdk v2, apollo, graphql, uuid,
zod and the real @prisma/client 5.22), installed offline by npm from the cache `make trace-app` fills. Each round
bundles it for Lambda with and without --trace (alternating, load check on: the code runs), in fresh processes.
Skipped, with the reason, when the cache is not there.

    python -m benchmarks.trace [--runs N]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from benchmarks.generate import WORK

MIB = 1 << 20
Runner = Callable[[list[str]], Any]  # benchmarks.run.run_timed with its checks: a Sample


def ensure_app(log: TextIO) -> Path | None:
    """The trace app under benchmarks/.work/trace-app (installed once), or None when it cannot be made here."""
    from tests.trace_app import make_trace_app, missing_reason

    reason = missing_reason()
    if reason is not None:
        print(f"trace: skipped: {reason}", file=log)
        return None
    root = WORK / "trace-app"
    app = root / "app"
    if not (root / ".complete").is_file():
        shutil.rmtree(root, ignore_errors=True)
        print(f"trace: installing the trace app into {root} (offline)", file=log)
        make_trace_app(root, "npm")
        (root / ".complete").touch()
    return app


def measure(run: Runner, command: list[str], runs: int, log: TextIO) -> dict[str, Any] | None:
    """Median wall time, files, unzipped and zipped bytes of the untraced and the traced Lambda bundle."""
    app = ensure_app(log)
    if app is None:
        return None
    results: dict[str, Any] = {"app": str(app), "runs": runs}
    samples: dict[str, list[float]] = {"untraced": [], "traced": []}
    docs: dict[str, dict[str, Any]] = {}
    for n in range(runs):
        print(f"trace: round {n + 1}/{runs}: untraced and traced", file=log)
        order = ("untraced", "traced") if n % 2 == 0 else ("traced", "untraced")
        for kind in order:
            flags = ["--trace"] if kind == "traced" else []
            sample = run([*command, "lambda", str(app), "--out", str(WORK / "trace-out" / kind), "--force", "--json",
                          "--offline", "--handler", "src/handler.handler", "--runtime", "nodejs20.x", *flags])
            samples[kind].append(sample.wall_s)
            docs[kind] = json.loads(sample.stdout)
    for kind, doc in docs.items():
        artifact = doc["artifacts"][0]
        results[kind] = {"median_s": sorted(samples[kind])[len(samples[kind]) // 2], "files": artifact["files"],
                         "unzipped_bytes": artifact["unzipped_bytes"], "zipped_bytes": artifact["zipped_bytes"]}
    return results


def table(r: dict[str, Any]) -> str:
    rows = []
    for kind, label in (("untraced", "photon-bundle lambda (production closure)"),
                        ("traced", "photon-bundle lambda --trace")):
        m = r[kind]
        rows.append(f"| {label} | {m['median_s']:.2f} s | {m['files']:,} | {m['unzipped_bytes'] / MIB:.1f} MiB | "
                    f"{m['zipped_bytes'] / MIB:.2f} MiB |")
    return "\n".join([f"Trace app (tests/fixtures/trace-app), Lambda nodejs20.x, load check on; medians of {r['runs']} "
                      "runs.", "", "| bundle | time | files | unzipped | zipped |", "|---|---:|---:|---:|---:|", *rows])


def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import checked, photon_bundle_command, run_timed

    parser = argparse.ArgumentParser(prog="python -m benchmarks.trace", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each bundle [3]")
    args = parser.parse_args(argv)
    results = measure(lambda cmd: checked(run_timed(cmd), "photon-bundle lambda (trace app)"),
                      photon_bundle_command(), max(1, args.runs), sys.stderr)
    if results is None:
        return 0
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
