"""Bundled against unbundled: `photon-bundle lambda` with and without `--bundler esbuild` on the example app's code
(examples/lambda-app/src) on the REAL @prisma/client 5.22.0 (installed offline from the tarballs `make test`
packs into .tools/prisma; else on the example's stand-in client), esbuild 0.24.0 from .tools/esbuild.

Reports the median wall time of a forced rebuild and the artifact's sizes: zipped, unzipped, and unzipped without
the engine (the engines here are 15 KB gcc-built stand-ins; Prisma's real ones are 15-20 MB and the same in
both artifacts). Called from benchmarks/run.py; a report, not a test."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any, TextIO

ENGINE_FILE = re.compile(r"(^|/)(libquery_engine-|query-engine-|query_engine-)[^/]*$")
HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work" / "bundlers"
ESBUILD = REPO / ".tools" / "esbuild" / "node_modules"
EXAMPLE = REPO / "examples" / "lambda-app"


def _project(log: TextIO) -> tuple[Path, str] | None:
    """The benchmark project and what client it is on; None when esbuild is not installed."""
    if not (ESBUILD / ".bin" / "esbuild").exists():
        print("bundlers: no esbuild in .tools/esbuild (make node-tools): skipped", file=log)
        return None
    sys.path.insert(0, str(REPO))
    from tests.real_prisma import make_real_project, missing_reason

    app = WORK / "app"
    if not (app / "node_modules" / ".bin" / "esbuild").exists():
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        if missing_reason() is None:
            print("bundlers: installing the real @prisma/client 5.22.0 offline", file=log)
            app = make_real_project(WORK)
            shutil.copytree(EXAMPLE / "src", app / "src")
            for name in ("debug", "ms"):
                shutil.copytree(EXAMPLE / "node_modules" / name, app / "node_modules" / name)
            data = json.loads((app / "package.json").read_text())
            data["main"] = "src/handler.js"
            data["dependencies"]["debug"] = "4.3.4"
            (app / "package.json").write_text(json.dumps(data, indent=2))
        else:
            shutil.copytree(EXAMPLE, app, symlinks=True)
        (app / "node_modules" / ".bin").mkdir(exist_ok=True)
        for name in ("esbuild", "@esbuild"):
            (app / "node_modules" / name).symlink_to(ESBUILD / name)
        (app / "node_modules" / ".bin" / "esbuild").symlink_to("../esbuild/bin/esbuild")
    real = (app / "node_modules" / "@prisma" / "client" / "runtime" / "library.d.ts").exists()
    return app, "@prisma/client 5.22.0 (real)" if real else "the example's stand-in client"


def _sizes(zip_path: Path) -> dict[str, int]:
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    engine = sum(i.file_size for i in infos if ENGINE_FILE.search(i.filename))
    total = sum(i.file_size for i in infos)
    return {"files": len(infos), "zipped": zip_path.stat().st_size, "unzipped": total, "code": total - engine}


def measure(runs: int, log: TextIO) -> dict[str, Any]:
    """Median seconds and sizes of `photon-bundle lambda` unbundled and `--bundler esbuild`."""
    found = _project(log)
    if found is None:
        return {"skipped": "no esbuild in .tools/esbuild"}
    app, client = found
    out: dict[str, Any] = {"client": client}
    for label, extra in (("unbundled", ["--bundler", "none"]), ("esbuild", ["--bundler", "esbuild"])):
        times = []
        dest = WORK / f"out-{label}"
        for n in range(max(1, runs)):
            print(f"bundlers: {label} run {n + 1}", file=log)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bundler", "lambda", str(app), "--out", str(dest), "--force",
                            "--offline", "--quiet", "--runtime", "nodejs20.x", *extra], cwd=REPO, check=True,
                           env={"PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(REPO),
                                "HOME": str(WORK / "home")})
            times.append(time.perf_counter() - started)
        out[label] = {"seconds": statistics.median(times), **_sizes(dest / "function.zip")}
    out["code_ratio"] = out["unbundled"]["code"] / max(out["esbuild"]["code"], 1)
    out["table"] = table(out)
    return out


def table(result: dict[str, Any]) -> str:
    rows = ["| example app on " + result["client"] + " | files | zipped | unzipped | unzipped without engine | "
            "time (median) |", "|---|---:|---:|---:|---:|---:|"]
    for label in ("unbundled", "esbuild"):
        r = result[label]
        rows.append(f"| {'photon-bundle lambda' if label == 'unbundled' else '--bundler esbuild'} | {r['files']} | "
                    f"{r['zipped']:,} B | {r['unzipped']:,} B | {r['code']:,} B | {r['seconds']:.2f} s |")
    rows.append(f"\nwithout the engine, the bundled artifact is {result['code_ratio']:.1f}x smaller unzipped")
    return "\n".join(rows)


if __name__ == "__main__":
    print(measure(3, sys.stderr)["table"])
