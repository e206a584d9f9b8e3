"""Google Cloud Functions: a source zip; the platform installs the dependencies at deploy time.

Runtimes (nodejs6 … nodejs24 → Ubuntu 18.04 / 22.04 / 24.04 → debian-openssl-1.1.x / 3.0.x) and the
limits (100 MB zipped, 500 MB unzipped sources + modules) come from runtimes.toml. GCF has no config
file that names the runtime (it is a deploy flag), so it comes from --runtime, photon-bundle.toml,
package.json engines.node or the newest runtime.

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

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bundler.errors import ProjectError
from bundler.options import Resolved
from bundler.plan import generated_app_dirs
from bundler.project import Project
from bundler.targets import load_matrix
from platforms.base import Entry, OutputFile, Unit, package_main, script_file
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


def postinstall_of(text: str, where: Path) -> str | None:
    """The postinstall script of a package.json text (what npm runs after the cloud install), or None."""
    data = parse_json(text, where)
    scripts = data.get("scripts") if isinstance(data, dict) else None
    script = scripts.get("postinstall") if isinstance(scripts, dict) else None
    return script if isinstance(script, str) and script.strip() else None


class GcfAdapter:
    key = "gcf"
    function_filename = "source.zip"
    layer_filename = "layer.zip"
    supports_layers = False
    reads_environment = False
    extra_keys: Mapping[str, tuple[Callable[[Any], Any], Any]] = {}

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        return None  # the runtime is a deploy flag (gcloud functions deploy --runtime)

    def zip_limit(self, options: Mapping[str, Any]) -> int | None:
        return load_matrix().platform(self.key).zip_max

    def units(self, project: Project, options: Resolved, env: Mapping[str, str]) -> list[Unit]:
        ignored = read_ignore_file(project.root, IGNORE_FILE, DEFAULT_GCLOUDIGNORE)
        # .gcloudignore decides about the app's files; node_modules is decided by the plan (client only).
        excludes = (*ignored, "!/node_modules/**")
        warnings: list[str] = []
        relocate: tuple[tuple[str, str], ...] = ()
        generated: tuple[tuple[str, bytes], ...] = ()
        if project.lockfile is None:
            warnings.append("no lockfile: GCF will run `npm install` and may resolve other versions than yours")
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

    def outputs(self, project: Project, options: Resolved, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        return []
