"""Google Cloud Functions: a source zip; the platform installs the dependencies at deploy time.

Runtimes (nodejs6 … nodejs24 → Ubuntu 18.04 / 22.04 / 24.04 → debian-openssl-1.1.x / 3.0.x) and the
limits (100 MB zipped, 500 MB unzipped sources + modules) come from runtimes.toml. GCF has no config
file that names the runtime: it is the `--runtime` flag of `gcloud functions deploy`, so it comes from
--runtime, photon-bundle.toml, else that flag where the project writes the deploy command down (a shell
script at the project's top level, e.g. deploy.sh, or a package.json script), else package.json
engines.node, else the newest runtime the generated client's engines serve, else the newest runtime.

What the zip holds: the app's files (filtered by `.gcloudignore`, gitignore syntax with
`#!include:FILE`; gcloud's default when the file is absent), package.json, the lockfile, and the
generated Prisma client with exactly the runtime's engine. No other node_modules: GCF's build runs
`npm ci` (or `npm install`) in the cloud.

Why the generated client survives that install: GCF's Node.js buildpack deletes an uploaded
node_modules before installing (unless GOOGLE_VENDOR_NPM_DEPENDENCIES vendors *all* dependencies), and
npm does not run `prisma generate` for you. So a client generated below node_modules is carried in
`photon-bundle-vendor/node_modules/...` and the zip's package.json (a copy; the project's own file is
untouched) gets a `postinstall` that runs `node photon-bundle-vendor/restore.js` after the user's own
postinstall, if any. npm runs the root package's postinstall after every dependency is installed (and
after @prisma/client's own postinstall has written its "run prisma generate" stub), so the restore puts
the real client and the engine back in node_modules/.prisma/client. A client generated outside
node_modules (a generator `output` such as ../src/generated/client) is part of the app's files and
needs nothing of this.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from bundler.errors import ConfigError, ProjectError
from bundler.options import Options
from bundler.plan import generated_app_dirs
from bundler.project import Project
from bundler.targets import load_matrix
from platforms.base import AdapterDefaults, Entry, Unit, package_main, script_file
from platforms.configfiles import dump_json, parse_json, read_ignore_file, read_text

VENDOR = "photon-bundle-vendor"
IGNORE_FILE = ".gcloudignore"
# What `gcloud functions deploy` writes as .gcloudignore when the project has none.
DEFAULT_GCLOUDIGNORE = (".gcloudignore", ".git", ".gitignore", "node_modules")
RESTORE_COMMAND = f"node {VENDOR}/restore.js"
RESTORE_JS = """\
// Written by photon-bundle. Google Cloud Functions installs the dependencies at deploy time (npm ci or
// npm install), which neither keeps an uploaded node_modules nor runs `prisma generate`. This script runs
// as the package's postinstall, after every dependency is installed, and copies the generated Prisma
// client (with the query engine for this runtime) from photon-bundle-vendor/node_modules into node_modules.
'use strict';
var fs = require('fs');
var path = require('path');

function copy(src, dest) {
  var stat = fs.statSync(src);
  if (stat.isDirectory()) {
    if (!fs.existsSync(dest)) fs.mkdirSync(dest);
    fs.readdirSync(src).forEach(function (name) { copy(path.join(src, name), path.join(dest, name)); });
    return;
  }
  fs.writeFileSync(dest, fs.readFileSync(src));
  fs.chmodSync(dest, stat.mode & 511);
}

var from = path.join(__dirname, 'node_modules');
if (fs.existsSync(from)) copy(from, path.join(__dirname, '..', 'node_modules'));
"""


# `gcloud [beta] functions deploy NAME ... --runtime nodejs10` (or --runtime=nodejs10), on one logical line.
_DEPLOY = re.compile(r"\bgcloud\s+(?:(?:alpha|beta)\s+)?functions\s+deploy\b[^\n;&|]*?--runtime(?:=|\s+)"
                     r"[\"']?([\w.-]+)")
SCRIPT_SUFFIXES = (".sh", ".bash")


def deploy_commands(root: Path) -> list[tuple[str, int, str]]:
    """(file, line, runtime) of every `gcloud functions deploy --runtime` in the project's top-level shell
    scripts and package.json scripts, in file order."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(p for p in root.iterdir() if p.is_file() and p.suffix in SCRIPT_SUFFIXES):
        text = read_text(path).replace("\\\n", " ")  # join continued lines
        for m in _DEPLOY.finditer(text):
            found.append((path.name, text.count("\n", 0, m.start()) + 1, m.group(1)))
    try:
        scripts = json.loads(read_text(root / "package.json")).get("scripts")
    except (ValueError, AttributeError, ProjectError):
        scripts = None
    for name, command in (scripts.items() if isinstance(scripts, dict) else ()):
        if isinstance(command, str):
            found += [(f"package.json scripts.{name}", 1, m.group(1)) for m in _DEPLOY.finditer(command)]
    return found


def runtime_from_deploy_command(root: Path) -> tuple[str, str] | None:
    found = deploy_commands(root)
    if not found:
        return None
    names = [r.name for r in load_matrix().runtimes_for("gcf")]
    where, line, runtime = found[0]
    if runtime not in names:
        raise ConfigError(f"{root / where.split(' ')[0]}:{line}: gcloud functions deploy --runtime {runtime}: not a "
                          "Node.js runtime of Google Cloud Functions",
                          hint=f"use one of: {', '.join(names)} (or pass --runtime)")
    return runtime, f"{where}:{line}: gcloud functions deploy --runtime {runtime}"


def client_below_node_modules(project: Project) -> bool:
    """Whether the generated client lives below node_modules (the default output, or Photon's)."""
    schema = project.schema
    if schema is None or not schema.client_generators:
        return False
    return len(generated_app_dirs(project)) < len(schema.client_generators)


def package_json_with_restore(text: str, where: Path) -> tuple[bytes, str | None]:
    """The zip's package.json: the user's, with the restore chained after their own postinstall."""
    data = parse_json(text, where)
    if not isinstance(data, dict):
        raise ProjectError(f"{where}:1: expected a JSON object at the top level")
    scripts = data.setdefault("scripts", {})
    if not isinstance(scripts, dict):
        raise ProjectError(f"{where}: 'scripts' must be an object")
    own = scripts.get("postinstall")
    note = None
    if isinstance(own, str) and own.strip():
        if RESTORE_COMMAND in own:
            return text.encode(), None
        if "prisma generate" in own:
            note = ("package.json's postinstall runs `prisma generate`, which will also run in the cloud: it needs "
                    "the prisma CLI among the production dependencies; the vendored client is restored after it")
        scripts["postinstall"] = f"{own} && {RESTORE_COMMAND}"
    else:
        scripts["postinstall"] = RESTORE_COMMAND
    return dump_json(data, text).encode(), note


def check_npm_lockfile(root: Path) -> None:
    """Refuse an npm lockfile that is not a JSON object: the zip ships it, and the `npm ci` GCF runs at deploy
    time fails on it, after the upload. npm drops a BOM, so a BOM is fine."""
    import json

    from bundler.project import package_json_text

    for name in ("npm-shrinkwrap.json", "package-lock.json"):  # npm reads the shrinkwrap first
        path = root / name
        if not path.is_file():
            continue
        try:
            data = json.loads(package_json_text(path.read_bytes()))
        except OSError as err:
            raise ProjectError(f"{path}: cannot be read: {err.strerror or err}") from None
        except json.JSONDecodeError as err:
            raise ProjectError(f"{path}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}; GCF's `npm ci` would fail "
                               "on it at deploy time", hint="regenerate it: npm install --package-lock-only") from None
        except (ValueError, RecursionError):
            raise ProjectError(f"{path}: cannot be parsed; GCF's `npm ci` would fail on it at deploy time",
                               hint="regenerate it: npm install --package-lock-only") from None
        if not isinstance(data, dict):
            raise ProjectError(f"{path}: not a JSON object; GCF's `npm ci` would fail on it at deploy time",
                               hint="regenerate it: npm install --package-lock-only")
        return


def postinstall_of(text: str, where: Path) -> str | None:
    """The postinstall script of a package.json text (what npm runs after the cloud install), or None."""
    data = parse_json(text, where)
    scripts = data.get("scripts") if isinstance(data, dict) else None
    script = scripts.get("postinstall") if isinstance(scripts, dict) else None
    return script if isinstance(script, str) and script.strip() else None


class GcfAdapter(AdapterDefaults):
    key = "gcf"

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        return runtime_from_deploy_command(project.root)  # the runtime is a deploy flag

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        ignored = read_ignore_file(project.root, IGNORE_FILE, DEFAULT_GCLOUDIGNORE)
        # .gcloudignore decides about the app's files; node_modules is decided by the plan (client only).
        excludes = (*ignored, "!/node_modules/**")
        warnings: list[str] = []
        relocate: tuple[tuple[str, str], ...] = ()
        generated: tuple[tuple[str, bytes], ...] = ()
        if project.lockfile is None:
            warnings.append("no lockfile: GCF will run `npm install` and may resolve other versions than yours")
        check_npm_lockfile(project.root)
        pkg_path = project.root / "package.json"
        own = postinstall_of(read_text(pkg_path), pkg_path)
        postinstall = (own,) if own else ()
        if client_below_node_modules(project):
            package_json, note = package_json_with_restore(read_text(pkg_path), pkg_path)
            if own is None or RESTORE_COMMAND not in own:
                postinstall = (*postinstall, RESTORE_COMMAND)
            if note:
                warnings.append(note)
            relocate = (("node_modules/", f"{VENDOR}/node_modules/"),)
            generated = (("package.json", package_json), (f"{VENDOR}/restore.js", RESTORE_JS.encode()))
        has_ignore = (project.root / IGNORE_FILE).is_file()
        main = (package_main(project) or script_file(project.root, "index.js")
                or script_file(project.root, "function.js"))
        if main is None:
            warnings.append("no entry point to load-check: package.json names no existing `main` and there is no "
                            "index.js or function.js")
        return [Unit(name="", function_filename=self.function_filename, excludes=excludes,
                     dependencies="client-only", relocate=relocate, generated=generated,
                     meta={"ignore_file": IGNORE_FILE if has_ignore else "(gcloud's default)"},
                     warnings=tuple(warnings), entries=(Entry(main),) if main else (), postinstall=postinstall)]

