"""Which runtime (and architecture) each unit is bundled for: --runtime, the config, the platform's own config,
package.json engines.node, the engines the generated client already holds, the newest runtime.

A low module: the pipeline (bundler/bundle.py) and the platform adapters (platforms/serverless/) both import
it, so no adapter reaches back up into the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bundler.clients import engine_targets_on_disk
from bundler.errors import ProjectError
from bundler.options import Options
from bundler.project import Project
from bundler.targets import (
    RuntimeProfile,
    canonical_target,
    load_matrix,
    newest_runtime,
    resolve,
    runtime_for_node_range,
)

if TYPE_CHECKING:
    from platforms.base import PlatformAdapter, Unit


def choose_runtime(adapter: PlatformAdapter, project: Project, options: Options) -> tuple[str, str]:
    """(runtime, why): --runtime, else the config file, else the platform's own config,
    else package.json engines.node, else the newest runtime whose engine the project's generated client
    already holds, else the newest supported runtime."""
    if options.runtime:
        return options.runtime, options.source("runtime")
    from_platform = adapter.runtime_from_config(project)
    if from_platform:
        return from_platform
    node = project.package.engines_node
    if node:
        match = runtime_for_node_range(adapter.key, node)
        if match is not None:
            return match.name, f'package.json engines.node "{node}"'
        raise ProjectError(
            f'package.json engines.node "{node}" matches no supported {adapter.key} runtime',
            hint="widen engines.node or pass --runtime (see `photon-bundle targets`)",
        )
    served = runtimes_served(adapter.key, engine_targets_on_disk(project), options.arch)
    if served:
        runtime, held = served[0]
        return runtime, f"the project holds {held}: {runtime} is the newest runtime it serves"
    return newest_runtime(adapter.key).name, "newest supported runtime"


def runtimes_served(platform: str, targets: Iterable[str], arch: str) -> list[tuple[str, str]]:
    """(runtime, the engine target on disk that serves it), newest first, for the platform's runtimes that an
    engine of the project's generated client serves: a project generated with binaryTargets ["native",
    "rhel-openssl-1.0.x"] runs on those runtimes without fetching anything."""
    on_disk = set(targets)
    canonical = {canonical_target(t) for t in on_disk} | on_disk
    out: list[tuple[str, str]] = []
    for runtime in sorted(load_matrix().runtimes_for(platform), key=lambda r: r.node, reverse=True):
        if arch in runtime.archs and canonical:
            held = resolve(platform, runtime.name, arch).accepted_targets & canonical
            if held:
                out.append((runtime.name, ", ".join(sorted(held))))
    return out


def unit_profile(adapter: PlatformAdapter, project: Project, options: Options,
                 unit: Unit) -> tuple[RuntimeProfile, str]:
    """The unit's runtime profile: --runtime (or photon-bundle.toml) first, then what the platform's config
    says for this unit, then choose_runtime; the architecture likewise."""
    if unit.runtime is not None and not options.runtime:
        runtime, why = unit.runtime
    else:
        runtime, why = choose_runtime(adapter, project, options)
    arch = unit.arch if unit.arch is not None and options.source("arch") == "default" else options.arch
    return resolve(adapter.key, runtime, arch), why
