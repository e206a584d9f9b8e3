"""Fixtures for the --bundler esbuild / --prebuilt tests: the pinned esbuild from .tools/
(scripts/install-node-tools.sh, part of `make test`) linked into a fixture project's node_modules as
`npm i -D esbuild` puts it there, a gcc-built Node-API addon, and size and load helpers. Nothing here
reaches a registry."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.projects import write_json

ROOT = Path(__file__).resolve().parents[1]
ESBUILD_VERSION = "0.24.0"
ESBUILD_HOME = ROOT / ".tools" / "esbuild" / "node_modules"
EXAMPLE = ROOT / "examples" / "lambda-app"
ENGINE_FILE = re.compile(r"(^|/)(libquery_engine-|query-engine-|query_engine-)[^/]*$")


def esbuild_missing() -> str | None:
    if not (ROOT / ".tools" / "esbuild" / f".installed-{ESBUILD_VERSION}").is_file():
        return "esbuild is not in .tools/esbuild (run `make node-tools`, part of `make test`)"
    if shutil.which("node") is None or shutil.which("gcc") is None:
        return "needs node and gcc"
    return None


def link_esbuild(project: Path) -> Path:
    """esbuild and its platform binary package in the project's node_modules, and node_modules/.bin/esbuild."""
    modules = project / "node_modules"
    (modules / ".bin").mkdir(parents=True, exist_ok=True)
    for name in ("esbuild", "@esbuild"):
        if not (modules / name).exists():
            (modules / name).symlink_to(ESBUILD_HOME / name)
    binary = modules / ".bin" / "esbuild"
    if not binary.exists():
        binary.symlink_to("../esbuild/bin/esbuild")
    return binary


def example_copy(dest: Path) -> Path:
    """The example app (examples/lambda-app with its stand-in client and gcc-built engines), esbuild linked in."""
    if not (EXAMPLE / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node").is_file():
        raise AssertionError("run `make example-engines` first")
    shutil.copytree(EXAMPLE, dest, symlinks=True, ignore=shutil.ignore_patterns(".photon-bundle"))
    link_esbuild(dest)
    return dest


def native_addon(project: Path, name: str = "fastcalc") -> None:
    """An installed package holding a gcc-built Node-API addon (build/Release/<name>.node, which Node loads through
    napi_register_module_v1) and a dependency of its own (calc-units), as node-gyp would leave it."""
    pkg = project / "node_modules" / name
    (pkg / "build" / "Release").mkdir(parents=True)
    src = pkg / "src.c"
    src.write_text("typedef void *napi_env; typedef void *napi_value;\n"
                   "__attribute__((visibility(\"default\"))) napi_value napi_register_module_v1(napi_env env, "
                   "napi_value exports) { (void)env; return exports; }\n"
                   "int node_api_module_get_api_version_v1(void) { return 8; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-o", str(pkg / "build" / "Release" / f"{name}.node"), str(src)],
                   check=True)
    src.unlink()
    (pkg / "binding.gyp").write_text(json.dumps({"targets": [{"target_name": name, "sources": ["src.c"]}]}))
    write_json(pkg / "package.json", {"name": name, "version": "2.1.0", "main": "index.js", "gypfile": True,
                                      "dependencies": {"calc-units": "^1.0.0"}})
    (pkg / "index.js").write_text(f"const addon = require('./build/Release/{name}.node');\n"
                                  "const units = require('calc-units');\n"
                                  "module.exports = { native: typeof addon, unit: units.unit };\n")
    dep = project / "node_modules" / "calc-units"
    dep.mkdir(parents=True)
    write_json(dep / "package.json", {"name": "calc-units", "version": "1.0.3", "main": "index.js"})
    (dep / "index.js").write_text("exports.unit = 'EUR';\n")
    data = json.loads((project / "package.json").read_text())
    data.setdefault("dependencies", {})[name] = "^2.1.0"
    write_json(project / "package.json", data)


def zip_sizes(zip_path: Path) -> dict[str, int]:
    """Unzipped bytes: all, the engines', the rest (app code, node_modules closure, schema)."""
    with zipfile.ZipFile(zip_path) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
    engine = sum(i.file_size for i in infos if ENGINE_FILE.search(i.filename))
    total = sum(i.file_size for i in infos)
    return {"total": total, "engine": engine, "code": total - engine, "files": len(infos),
            "zipped": zip_path.stat().st_size}


def engines_in(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as zf:
        return [n for n in zf.namelist() if ENGINE_FILE.search(n)]


def unzip(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    for info in zipfile.ZipFile(zip_path).infolist():
        mode = info.external_attr >> 16
        if mode:
            (dest / info.filename).chmod(mode & 0o777)
    return dest


def node_call(unpacked: Path, entry: str, export: str = "handler") -> str:
    """Require the entry in a fresh node (no NODE_PATH, cwd the unpacked folder, as Lambda's /var/task) and call
    the export; what it returns, as JSON."""
    script = (f"const m = require({json.dumps(str(unpacked / entry))});"
              f"Promise.resolve((m.{export} || m.default.{export})({{}})).then(r => console.log(JSON.stringify(r)));")
    done = subprocess.run(["node", "-e", script], cwd=unpacked, env={"PATH": "/usr/local/bin:/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def size_line(label: str, bundled: dict[str, int], unbundled: dict[str, int]) -> str:
    ratio = unbundled["code"] / max(bundled["code"], 1)
    return (f"{label}: unbundled {unbundled['total']:,} B unzipped ({unbundled['files']} files; engine "
            f"{unbundled['engine']:,} B, code {unbundled['code']:,} B) -> bundled {bundled['total']:,} B "
            f"({bundled['files']} files; engine {bundled['engine']:,} B, code {bundled['code']:,} B): code "
            f"unbundled/bundled {ratio:.1f}x")
