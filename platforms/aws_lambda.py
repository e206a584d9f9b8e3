"""AWS Lambda: one function zip, optionally a layer with the engine and an exec wrapper.

Runtimes, OS profiles and limits come from runtimes.toml ([platform.lambda], [[runtime]] platform =
"lambda"). Lambda has no config file of its own; the runtime comes from --runtime, photon-bundle.toml,
package.json engines.node or the newest runtime (bundler/bundle.py:choose_runtime).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from bundler.errors import ConfigError
from bundler.options import Extras, Options, _str, optional
from bundler.project import Project
from platforms.base import AdapterDefaults, Entry, Unit, package_main, script_file, single_unit

# What Lambda loads when no --handler says: package.json main, else these files at the root.
DEFAULT_ENTRIES = ("handler.js", "index.js", "index.mjs")
TYPESCRIPT = (".ts", ".mts", ".cts")


@dataclass(frozen=True)
class LambdaExtras(Extras):
    handler: str | None = optional(_str)  # --handler file.export


class LambdaAdapter(AdapterDefaults):
    key = "lambda"
    extras = LambdaExtras

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        handler = options.extras_as(LambdaExtras).handler
        return single_unit(self, *lambda_entries(project, handler, options.source("handler"),
                                                 typescript=options.bundler == "esbuild"))



def lambda_entries(project: Project, handler: str | None, where: str, *,
                   typescript: bool = False) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """(the files Lambda loads, warnings): --handler's file and export, else package.json main, else
    handler.js / index.js at the root. With `typescript` (--bundler esbuild writes the .js) a .ts file too."""
    if handler:
        base = posixpath.basename(handler)
        if "." not in base or base.startswith("."):
            raise ConfigError(f"{where}: handler {handler!r} is not file.export", hint="e.g. --handler src/app.handler")
        stem = posixpath.join(posixpath.dirname(handler), base.split(".", 1)[0])
        found = script_file(project.root, stem)
        if found is None and typescript:
            found = next((stem + ext for ext in TYPESCRIPT if (project.root / (stem + ext)).is_file()), None)
        if found is None or found == f"{stem}/index.js":
            raise ConfigError(f"{where}: handler {handler!r}: no file {stem}.js (or .mjs, .cjs) in {project.root}",
                              hint="name the handler as Lambda does: file path without extension, a dot, the export")
        return (Entry(found, base.split(".", 1)[1]),), ()
    main = package_main(project)
    if main is not None:
        return (Entry(main),), ()
    at_root = [name for name in DEFAULT_ENTRIES if (project.root / name).is_file()]
    if at_root:
        return tuple(Entry(name) for name in at_root), ()
    return (), ("no entry point to load-check: package.json names no existing `main` and there is no handler.js or "
                "index.js at the root (pass --handler file.export)",)
