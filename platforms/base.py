"""The PlatformAdapter protocol: what each platform contributes to the shared bundle pipeline.

An adapter is small and mostly data: its key in platforms/runtimes.toml (runtimes, limits, images),
how it picks a runtime from its own config file, its extra config keys, and what it writes after the
artifacts (its config file). The pipeline in bundler/bundle.py does everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from bundler.project import Project


class PlatformAdapter(Protocol):
    key: str  # platform key in runtimes.toml
    function_filename: str
    layer_filename: str
    supports_layers: bool
    # Config keys this platform adds to the shared ones: name -> (converter, default).
    extra_keys: Mapping[str, tuple[Callable[[Any], Any], Any]]

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        """(runtime, where it was read) from the platform's own config file, or None."""
        ...

    def zip_limit(self, options: Mapping[str, Any]) -> int | None:
        """The compressed-size limit of one artifact, before --max-size."""
        ...


def project_file(project: Project, name: str) -> Path:
    return project.root / name
