"""AWS Lambda: one function zip, optionally a layer with the engine and an exec wrapper.

Runtimes, OS profiles and limits come from runtimes.toml ([platform.lambda], [[runtime]] platform =
"lambda"). Lambda has no config file of its own; the runtime comes from --runtime, photon-bundle.toml,
package.json engines.node or the newest runtime (bundler/bundle.py:choose_runtime).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bundler.options import Resolved
from bundler.project import Project
from bundler.targets import load_matrix
from platforms.base import OutputFile, Unit, single_unit


class LambdaAdapter:
    key = "lambda"
    function_filename = "function.zip"
    layer_filename = "layer.zip"
    supports_layers = True
    reads_environment = False
    extra_keys: Mapping[str, tuple[Callable[[Any], Any], Any]] = {}

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        return None

    def zip_limit(self, options: Mapping[str, Any]) -> int | None:
        return load_matrix().platform(self.key).zip_max

    def units(self, project: Project, options: Resolved, env: Mapping[str, str]) -> list[Unit]:
        return single_unit(self)

    def outputs(self, project: Project, options: Resolved, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        return []
