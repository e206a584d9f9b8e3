"""The bundle a publish deploys: `photon-bundle lambda`'s output, bundled first when missing or stale."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bundler import manifest
from bundler.errors import ProjectError

Log = Callable[[str], None]


def lambda_bundle(project_dir: Path, flags: Mapping[str, Any], env: Mapping[str, str], log: Log, *,
                  rebuild: bool, progress: bool = False, platform: str = "lambda") -> tuple[dict[str, Any], Path]:
    """(manifest, output folder). With `rebuild`, exactly what `photon-bundle PLATFORM` with these flags does: the
    artifacts are reused when nothing changed and bundled anew otherwise; without, the manifest that is there."""
    from bundler.options import load_config, option_keys, output_dir, resolve
    from bundler.outdir import check_out_dir
    from platforms import REGISTRY
    from platforms import adapter as adapter_for

    adapter = adapter_for(platform)
    config = load_config(project_dir, list(REGISTRY), {platform: option_keys(adapter.extras)}, checked=[platform])
    options = resolve(platform, config, env, {k: v for k, v in flags.items() if v is not None},
                      adapter.extras)
    out_dir = output_dir(project_dir, platform, options)
    if rebuild:
        from bundler.reuse import quick_reuse

        check_out_dir(project_dir, out_dir, platform)
        doc = quick_reuse(platform, project_dir, out_dir, options, env, whole_env=adapter.reads_environment)
        if doc is not None:
            log("bundle: nothing changed since the last run: reusing the artifacts")
        else:
            from bundler.bundle import bundle

            log("bundle: the artifacts are missing or stale: bundling first")
            bundle(adapter, project_dir, options, env, log, progress=progress)
    path = out_dir / manifest.MANIFEST_NAME
    doc, why = manifest.load(path)
    if doc is None:
        raise ProjectError(f"{path}: " + (why or "no bundle there"),
                           hint=f"run `photon-bundle {platform}` first (same --out), or publish without --no-bundle")
    return doc, out_dir
