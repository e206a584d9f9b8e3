"""The bundling step as the pipeline calls it: which units are bundled or pre-built, and each unit rewritten
for the plan (see the package docstring, bundler/jsbundle/__init__.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from bundler.engines import EngineKind
from bundler.errors import ConfigError
from bundler.jsbundle.model import Bundled
from bundler.options import Options
from bundler.project import PackageJson, Project
from bundler.targets import RuntimeProfile
from bundler.walk import FileEntry
from platforms.base import Entry, Unit

Log = Callable[[str], None]
FUNCTION_PLATFORMS = ("lambda", "netlify", "vercel", "now", "serverless", "up")


@dataclass(frozen=True)
class Prepared:
    unit: Unit  # as the plan sees it: bundles in place of the app files
    bundled: Bundled | None  # None: the unit is shipped as it is (no bundler)

    def load_check_clients(self) -> tuple[dict[str, str], ...] | None:
        """How the load check reaches Prisma's client in the bundle; None: the usual way (node_modules)."""
        if self.bundled is None or self.bundled.engine_home is None:
            return None
        return tuple({"kind": "bundled", "path": path} for path in self.bundled.client_bundles)


def mode(options: Options, unit: Unit) -> str:
    """"prebuilt", "esbuild" or "none" for one unit: flags and photon-bundle.toml first, then the platform's config."""
    if options.prebuilt:
        return "prebuilt"
    if options.bundler is not None:
        return str(options.bundler)
    return "esbuild" if unit.esbuild is not None else "none"


def check_options(platform: str, options: Options) -> None:
    asked = [k for k, v in (("bundler", options.bundler), ("prebuilt", options.prebuilt)) if v not in (None, "none")]
    if asked and platform not in FUNCTION_PLATFORMS:
        raise ConfigError(f"{options.source(asked[0])}: {asked[0]} is for the function platforms "
                          f"({', '.join(FUNCTION_PLATFORMS)}), not {platform}",
                          hint=f"{platform} installs the dependencies itself at deploy time: drop {asked[0]}")
    if options.prebuilt and options.bundler == "esbuild":
        raise ConfigError(f"{options.source('prebuilt')} and {options.source('bundler')}: --prebuilt takes a folder "
                          "your bundler already wrote, --bundler esbuild bundles here: choose one",
                          hint="drop --bundler esbuild, or drop --prebuilt")


def prepare(platform: str, root: Path, project: Project, units: Sequence[Unit],
            profiles: Sequence[RuntimeProfile], files: list[FileEntry], installed: Mapping[str, PackageJson],
            options: Options, kind: EngineKind, env: Mapping[str, str], stack: ExitStack, log: Log) -> list[Prepared]:
    """Each unit as the plan should see it."""
    check_options(platform, options)
    modes = [mode(options, u) for u in units]
    if all(m == "none" for m in modes):
        return [Prepared(u, None) for u in units]
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="photon-bundle-esbuild-")))
    natives: list[str] | None = None
    out: list[Prepared] = []
    for unit, profile, how in zip(units, profiles, modes):
        label = f"{unit.name}: " if unit.name else ""
        if how == "none":
            out.append(Prepared(unit, None))
            continue
        if how == "prebuilt":
            from bundler.jsbundle.prebuilt import prebuilt_folder, prebuilt_unit

            folder = prebuilt_folder(root, str(options.prebuilt), options.source("prebuilt"))
            done = prebuilt_unit(folder, root, project, unit, kind, profile.accepted_targets, profile.target,
                                 log)
        else:
            from bundler.jsbundle.step import bundle_unit, native_packages, provided_externals

            if natives is None:
                natives = native_packages(files, installed)
            flags = {"minify": options.minify, "sourcemap": options.sourcemap}
            done = bundle_unit(root, project, unit, profile.runtime.node, natives, unit.esbuild, flags, tmp, env,
                               provided_externals(platform, installed))
            for line in done.notes:
                log(f"{label}{line}")
        out.append(Prepared(rewritten(unit, done, how, root), done))
    return out


def rewritten(unit: Unit, done: Bundled, how: str, root: Path) -> Unit:
    """The unit with the bundles as its app: the project's own app files left out (package.json kept: it says
    whether .js is an ES module), the closure rooted at the externals, the entries where the bundles are."""
    keep = frozenset({"package.json"}) if (root / "package.json").is_file() else frozenset()
    generated = (() if how == "prebuilt" else unit.generated) + done.files
    meta = {**unit.meta, "bundler": {"mode": how, "notes": list(done.notes), "source_bytes": done.source_bytes,
                                     "client_bundles": list(done.client_bundles),
                                     "engine_folder": done.engine_home}}
    return replace(unit, app_files=keep, roots=done.roots, generated=generated, meta=meta,
                   entries=tuple(Entry(path, export) for path, export in done.entries))
