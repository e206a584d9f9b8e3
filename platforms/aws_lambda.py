"""AWS Lambda: one function zip, optionally a layer with the engine and an exec wrapper.

Runtimes, OS profiles and limits come from runtimes.toml ([platform.lambda], [[runtime]] platform =
"lambda"). Lambda has no config file of its own; the runtime comes from --runtime, photon-bundle.toml,
package.json engines.node or the newest runtime (bundler/bundle.py:choose_runtime).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError
from bundler.options import Resolved, _str
from bundler.project import Project
from bundler.targets import load_matrix
from platforms.base import Entry, OutputFile, Unit, package_main, script_file, single_unit

# What Lambda loads when no --handler says: package.json main, else these files at the root.
DEFAULT_ENTRIES = ("handler.js", "index.js", "index.mjs")


class LambdaAdapter:
    key = "lambda"
    function_filename = "function.zip"
    layer_filename = "layer.zip"
    supports_layers = True
    reads_environment = False
    extra_keys: Mapping[str, tuple[Callable[[Any], Any], Any]] = {"handler": (_str, None)}

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        return None

    def zip_limit(self, options: Mapping[str, Any]) -> int | None:
        return load_matrix().platform(self.key).zip_max

    def units(self, project: Project, options: Resolved, env: Mapping[str, str]) -> list[Unit]:
        return single_unit(self, *lambda_entries(project, options["handler"], options.source("handler")))

    def outputs(self, project: Project, options: Resolved, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        return []


def lambda_entries(project: Project, handler: str | None, where: str) -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """(the files Lambda loads, warnings): --handler's file and export, else package.json main, else
    handler.js / index.js at the root."""
    if handler:
        base = posixpath.basename(handler)
        if "." not in base or base.startswith("."):
            raise ConfigError(f"{where}: handler {handler!r} is not file.export", hint="e.g. --handler src/app.handler")
        stem = posixpath.join(posixpath.dirname(handler), base.split(".", 1)[0])
        found = script_file(project.root, stem)
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
