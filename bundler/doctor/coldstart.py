"""Cold start: what a new container pays before the first invocation — unzipping the artifact (size, file
count), loading the engine, and requiring the handler — and the known causes of slow ones.

Facts come from the last bundle's manifest in the output folder when there is one (artifact sizes and file
counts), else from the project tree before pruning. The time to require each entry file is measured in a
fresh `node` process whose network is guarded: `node --require guard.js` makes `net.Server.listen` a no-op and
`net.Socket.connect` fail, so requiring an app that starts a server or connects at load time neither binds a
port nor leaves the machine.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bundler.doctor.findings import Finding, Severity
from bundler.engines import parse_engine_filename
from bundler.limits import format_size
from bundler.manifest import load as load_manifest

MANY_FILES = 10_000  # "tens of thousands of files" slow down the unzip of a cold start
REQUIRE_TIMEOUT_S = 30.0
SLOW_REQUIRE_MS = 1000.0
GUARD_JS = """\
// photon-bundle doctor: no network while a handler is required for timing.
const net = require('net');
net.Server.prototype.listen = function () { this.emit && setImmediate(() => this.emit('listening')); return this; };
net.Socket.prototype.connect = function () {
  const err = new Error('photon-bundle doctor: network is off while timing the require');
  setImmediate(() => this.destroy(err));
  return this;
};
"""
RUNNER_JS = """\
const { pathToFileURL } = require('url');
const file = process.argv[process.argv.length - 1];
const start = process.hrtime.bigint();
import(pathToFileURL(file).href).then(() => {
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(JSON.stringify({ ok: true, ms }) + '\\n');
  process.exit(0);
}, (err) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message || err).slice(0, 300) }) + '\\n');
  process.exit(0);
});
"""


def manifest_facts(out_dir: Path) -> tuple[dict[str, Any] | None, str]:
    doc, why = load_manifest(out_dir / "manifest.json")
    if doc is None:
        return None, why or f"no bundle in {out_dir}"
    path = out_dir / "manifest.json"
    try:
        return doc, path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return doc, str(path)


def artifact_findings(doc: Mapping[str, Any], source: str, root: Path) -> list[Finding]:
    findings = []
    for a in doc.get("artifacts", []):
        files, unzipped, zipped = int(a.get("files", 0)), int(a.get("unzipped_bytes", 0)), int(a.get("zipped_bytes", 0))
        severity: Severity = "warning" if files > MANY_FILES else "ok"
        findings.append(Finding(
            "cold-start", severity, f"{a['path']}: {format_size(zipped)} zipped, {format_size(unzipped)} unzipped, "
            f"{files:,} files" + (" — tens of thousands of files slow every cold start's unpack" if severity ==
                                  "warning" else ""),
            where=source, function=str(a.get("unit", "")),
            numbers={"zipped_bytes": zipped, "unzipped_bytes": unzipped, "files": files},
            fix="bundle the handler with esbuild (one file) or leave unused packages out (--exclude)"
            if severity == "warning" else ""))
    engines = [u.get("engine", {}) for u in doc.get("units", [])] or [doc.get("engine", {})]
    for engine in {e.get("file"): e for e in engines if e.get("file")}.values():
        path = root / str(engine["file"])
        size = path.stat().st_size if path.is_file() else None
        findings.append(Finding("cold-start", "info", f"engine {posixpath.basename(str(engine['file']))}"
                                + (f": {format_size(size)} loaded by each new container" if size else ""),
                                where=source, numbers={"engine_bytes": size} if size else {}))
    return findings


def project_findings(root: Path) -> list[Finding]:
    """Without a bundle: the engines the project carries (a zip of the folder would carry them all)."""
    engines: list[tuple[str, int]] = []
    for folder in ("node_modules/.prisma/client", "node_modules/@generated/photon"):
        base = root / folder
        if base.is_dir():
            for child in sorted(base.iterdir()):
                if child.is_file() and parse_engine_filename(child.name):
                    engines.append((f"{folder}/{child.name}", child.stat().st_size))
    if len(engines) > 1:
        total = sum(size for _, size in engines)
        return [Finding("cold-start", "warning", f"the project carries {len(engines)} query engines "
                        f"({format_size(total)}): a zip of the folder ships them all and every cold start unpacks them",
                        where=engines[0][0].rsplit("/", 1)[0], numbers={"engines": len(engines), "bytes": total},
                        fix="deploy the photon-bundle artifact: it carries the runtime's engine only")]
    return []


def require_times(root: Path, entries: Sequence[str], node: str | None = None) -> dict[str, dict[str, Any]]:
    """entry -> {"ok", "ms"} or {"ok": False, "error"}: each entry required in its own fresh, guarded node."""
    node = node or shutil.which("node")
    out: dict[str, dict[str, Any]] = {}
    if node is None:
        return {e: {"ok": False, "error": "node is not on PATH"} for e in entries}
    with tempfile.TemporaryDirectory(prefix="photon-bundle-doctor-") as tmp:
        guard, runner = Path(tmp) / "guard.js", Path(tmp) / "runner.js"
        guard.write_text(GUARD_JS)
        runner.write_text(RUNNER_JS)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE", "PRISMA_"))}
        for entry in entries:
            if entry.endswith((".ts", ".mts", ".cts", ".tsx")):
                out[entry] = {"ok": False, "error": "TypeScript: measure the compiled .js"}
                continue
            started = time.monotonic()
            try:
                command = [node, "--require", str(guard), str(runner), str(root.resolve() / entry)]
                done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=REQUIRE_TIMEOUT_S,
                                      env=env, check=False)
                line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
                out[entry] = json.loads(line) if line.startswith("{") else {
                    "ok": False, "error": (done.stderr.strip().splitlines() or ["no output"])[-1][:300]}
            except subprocess.TimeoutExpired:
                out[entry] = {"ok": False, "error": f"did not finish within {REQUIRE_TIMEOUT_S:.0f} s"}
            out[entry]["wall_ms"] = round((time.monotonic() - started) * 1000, 1)
    return out


def require_findings(times: Mapping[str, Mapping[str, Any]], names: Mapping[str, str]) -> list[Finding]:
    findings = []
    for entry, t in times.items():
        who = names.get(entry, "")
        if t.get("ok"):
            ms = float(t["ms"])
            slow = ms > SLOW_REQUIRE_MS
            findings.append(Finding("cold-start", "warning" if slow else "ok",
                                    f"requiring {entry} took {ms:.0f} ms in a fresh node "
                                    f"({float(t['wall_ms']):.0f} ms with node's own start)",
                                    where=entry, function=who, numbers={"require_ms": round(ms, 1)},
                                    fix="load heavy modules lazily inside the handler's first call, or bundle with "
                                        "esbuild" if slow else ""))
        else:
            findings.append(Finding("cold-start", "info", f"could not time the require of {entry}: {t.get('error')}",
                                    where=entry, function=who))
    return findings


def warmer_note() -> Finding:
    return Finding("cold-start", "info", "warmers (scheduled pings) do not keep containers: the platform still "
                   "retires and replaces them, and concurrent requests start new ones",
                   fix="provisioned concurrency keeps containers initialised; otherwise keep the bundle and the "
                       "handler's require small")
