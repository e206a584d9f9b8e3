"""The Serverless Framework adapter: one unit per function packaged on its own, one shared unit for the rest."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bundler.errors import ProjectError
from bundler.options import Extras, Options, _bool, _str, optional, setting
from bundler.project import Project
from bundler.runtime_choice import unit_profile
from platforms.base import AdapterDefaults, OutputFile, Unit
from platforms.configfiles import config_outputs, load_yaml, relpath_for_config, yaml_line
from platforms.jsdeps import function_scan
from platforms.serverless.config import (
    NEEDS_BUILD,
    SHARED_ZIP,
    Function,
    Service,
    _arch,
    _runtime,
    _version,
    check_function,
    find_config,
    handler_entry_of,
    read_service,
)
from platforms.serverless.patterns import pattern_lines
from platforms.serverless.yamlwrite import function_nodes, lossy_reason, set_artifact

SHARED_UNIT = "(service)"


@dataclass(frozen=True)
class ServerlessExtras(Extras):
    stage: str | None = optional(_str)  # --stage: which provider.stage ${sls:stage} / ${opt:stage} read
    write_config: bool = setting(_bool, False)  # --write-config: update serverless.yml's artifact keys in place


class ServerlessAdapter(AdapterDefaults):
    key = "serverless"
    reads_environment = True
    extras = ServerlessExtras

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        """provider.runtime when written without variables (units() resolves variables and carries it)."""
        path = find_config(project.root)
        doc = load_yaml(path)
        provider = doc.data.get("provider") if isinstance(doc.data, Mapping) else None
        runtime = provider.get("runtime") if isinstance(provider, Mapping) else None
        if isinstance(runtime, str) and "${" not in runtime:
            return str(runtime), f"{path.name}:{yaml_line(provider, 'runtime')} provider.runtime"
        return None

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        service = read_service(project.root, options.extras_as(ServerlessExtras).stage, env, options.bundler)
        warnings = list(service.warnings)
        for fn in service.functions:
            warnings += check_function(fn, service, options)
        own = [f for f in service.functions if f.individually]
        shared = [f for f in service.functions if not f.individually]
        units: list[Unit] = []
        if shared:
            units.append(self._shared_unit(project, options, service, shared, named=bool(own)))
        units += [function_unit(project, options, service, fn) for fn in own]
        if warnings:
            units[0] = replace(units[0], warnings=(*warnings, *units[0].warnings))
        return units

    def _shared_unit(self, project: Project, options: Options, service: Service, functions: list[Function],
                     *, named: bool) -> Unit:
        package = service.resolver.raw(("package",))
        if package is not None and not isinstance(package, Mapping):
            raise service.resolver.error(("package",), "must be a mapping written in the file (photon-bundle sets "
                                                       "package.artifact in it for the shared zip)")
        profiles = []
        for fn in functions:
            probe = Unit(name=fn.name, function_filename=SHARED_ZIP, runtime=_runtime(fn), arch=_arch(fn))
            profiles.append((fn, probe, unit_profile(self, project, options, probe)[0]))
        targets = sorted({p.target for _, _, p in profiles})
        if len(targets) > 1:
            lines = "; ".join(f"{fn.name}: {p.runtime.name} {p.arch} -> {p.target}" for fn, _, p in profiles)
            raise ProjectError(f"{service.path}: the functions share one artifact ({SHARED_ZIP}) but need different "
                               f"query engines ({lines})",
                               hint="set package.individually: true (one zip per function, each with its engine), "
                                    "or give them the same runtime and architecture")
        # The strictest of the runtimes (oldest glibc) is the one the shared zip is verified against.
        _, probe, _ = min(profiles, key=lambda t: _version(t[2].os.glibc))
        warnings = [f"{service.path.name}: function {fn.name}: package.patterns at function level only apply with "
                    "package.individually: true (Serverless ignores them too)" for fn in functions if fn.includes
                    or fn.excludes]
        excludes, includes = pattern_lines([*service.excludes, *service.includes])
        return Unit(name=SHARED_UNIT if named else "", function_filename=SHARED_ZIP, runtime=probe.runtime,
                    arch=probe.arch, excludes=excludes, includes=includes,
                    meta={"functions": [fn.name for fn in functions], "artifact": "package.artifact"},
                    warnings=tuple(warnings), entries=tuple(handler_entry_of(fn) for fn in functions),
                    esbuild=service.esbuild)

    def outputs(self, project: Project, options: Options, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        path = find_config(project.root)
        ydoc = load_yaml(path)
        exact = ydoc.round_trips
        nodes = function_nodes(ydoc.data, path)
        for unit in units:
            artifact = relpath_for_config(out_dir / unit.function_filename, project.root)
            name = unit.meta.get("function")
            if name is None:
                set_artifact(ydoc.data, artifact)
            else:
                set_artifact(nodes[name][1], artifact)
        write_config = options.extras_as(ServerlessExtras).write_config
        return config_outputs(path, out_dir, ydoc.dump(), write_config=write_config, exact=exact,
                              lossy_reason="" if exact else lossy_reason(ydoc))


def function_unit(project: Project, options: Options, service: Service, fn: Function) -> Unit:
    found = function_scan(project.root, [] if fn.entry.endswith(NEEDS_BUILD) else [fn.entry])
    excludes, includes = pattern_lines([*service.excludes, *fn.excludes, *service.includes, *fn.includes])
    return Unit(name=fn.name, function_filename=f"functions/{fn.name}.zip", runtime=_runtime(fn), arch=_arch(fn),
                app_files=found.files, roots=found.modules, excludes=excludes,
                includes=includes, meta={"function": fn.name, "handler": fn.handler, "entry": fn.entry},
                warnings=tuple(f"{m} (name the file in package.patterns if it is loaded)" for m in found.missing),
                entries=(handler_entry_of(fn),), esbuild=service.esbuild)
