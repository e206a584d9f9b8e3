"""Reading serverless.yml: the service, its functions, their runtime, architecture, handler and package
settings, with variables resolved by platforms/slsvars.py and file:line errors."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, ProjectError, closest
from bundler.jsbundle.model import EsbuildSettings
from bundler.options import Options
from bundler.targets import load_matrix
from platforms.base import Entry
from platforms.configfiles import load_yaml
from platforms.serverless.patterns import SLS_DEFAULT_EXCLUDES, Pattern, package_patterns
from platforms.slsvars import Key, Resolver, VariableError, dotted

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")


UNREAD_CONFIGS = ("serverless.json", "serverless.js", "serverless.cjs", "serverless.mjs", "serverless.ts")


SHARED_ZIP = "service.zip"


FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")


HANDLER_EXTENSIONS = (".js", ".mjs", ".cjs")


NEEDS_BUILD = (".ts", ".mts", ".cts", ".tsx")


ARCHES = ("x86_64", "arm64")


BUILD_PLUGINS = ("serverless-esbuild", "serverless-webpack", "serverless-plugin-typescript", "serverless-bundle")


@dataclass(frozen=True)
class Setting:
    value: str
    keys: Key
    label: str  # "serverless.yml:7 functions.orders.runtime", for the manifest and errors


@dataclass(frozen=True)
class Function:
    name: str
    keys: Key  # where its mapping is in the file
    handler: str
    entry: str  # the handler's file, relative to the project
    runtime: Setting | None
    arch: Setting | None
    individually: bool
    excludes: tuple[Pattern, ...]  # function-level package.exclude, as "!" patterns
    includes: tuple[Pattern, ...]  # function-level package.include + package.patterns


@dataclass(frozen=True)
class Service:
    path: Path
    resolver: Resolver
    excludes: tuple[Pattern, ...]  # Serverless' defaults, the config file, layers, package.exclude
    includes: tuple[Pattern, ...]  # package.include + package.patterns
    functions: tuple[Function, ...]
    warnings: tuple[str, ...]
    esbuild: EsbuildSettings | None = None  # plugin serverless-esbuild with its custom.esbuild settings


def find_config(root: Path) -> Path:
    for name in CONFIG_NAMES:
        if (root / name).is_file():
            return root / name
    others = [name for name in UNREAD_CONFIGS if (root / name).is_file()]
    if others:
        raise ProjectError(f"{root / others[0]}: photon-bundle reads serverless.yml or serverless.yaml only",
                           hint="write the configuration as serverless.yml (YAML keeps the comments photon-bundle "
                                "preserves when it sets package.artifact)")
    raise ProjectError(f"no serverless.yml in {root}", hint="run in (or pass) the Serverless service folder")


def read_service(root: Path, stage: str | None, env: Mapping[str, str], bundler: str | None = None) -> Service:
    """The service as photon-bundle needs it; `bundler` is --bundler (None: as the plugins say)."""
    path = find_config(root)
    ydoc = load_yaml(path)
    if not isinstance(ydoc.data, Mapping):
        raise ProjectError(f"{path}:1: expected a mapping (service:, provider:, functions:) at the top level")
    r = Resolver(ydoc.data, path, stage=stage, env=env)
    provider_name = r.raw(("provider", "name"))
    if isinstance(provider_name, str) and "${" not in provider_name and provider_name != "aws":
        raise ConfigError(f"{r.where(('provider', 'name'))}: provider.name is {provider_name!r}: photon-bundle "
                          "bundles Serverless services for AWS Lambda", hint="use provider.name: aws")
    excludes = [Pattern(f"!{glob}", "Serverless' default excludes") for glob in SLS_DEFAULT_EXCLUDES]
    excludes.append(Pattern(f"!{path.name}", "Serverless' default excludes"))
    warnings: list[str] = []
    layers = r.raw(("layers",))
    for layer in layers if isinstance(layers, Mapping) else ():
        try:
            layer_path = r.value(("layers", layer, "path"))
        except VariableError as err:
            warnings.append(f"layer {layer}: its files are not left out of the functions' zips: {err.message}")
            continue
        if isinstance(layer_path, str):  # Serverless leaves the layers' folders out of the functions
            excludes.append(Pattern(f"!{layer_path.rstrip('/')}/**", f"{r.where(('layers', layer, 'path'))}"))
    pkg_excludes, pkg_includes = package_patterns(r, ())
    provider_runtime = setting(r, ("provider", "runtime"))
    provider_arch = setting(r, ("provider", "architecture"))
    individually = flag(r, ("package", "individually"))
    plugins = r.raw(("plugins",))
    plugin_list = plugins.get("modules") if isinstance(plugins, Mapping) else plugins
    plugin_names = [p for p in plugin_list if isinstance(p, str)] if isinstance(plugin_list, list) else []
    esbuild = esbuild_settings(r) if "serverless-esbuild" in plugin_names and bundler != "none" else None
    for plugin in plugin_names:
        if plugin in BUILD_PLUGINS and esbuild is None:
            warnings.append(f"{path.name}: plugin {plugin} builds the functions, but photon-bundle zips the handler "
                            "files as they are: point the handlers at the built files, bundle the build's output "
                            "(--prebuilt DIR) or bundle with --bundler esbuild")
    built = esbuild is not None or bundler == "esbuild"
    functions: list[Function] = []
    for name, keys in function_keys(r):
        fn = read_function(root, r, name, keys, provider_runtime, provider_arch, individually, warnings, built)
        if fn is not None:
            functions.append(fn)
    if not functions:
        raise ProjectError(f"{path}: no Node.js function to bundle",
                           hint="add functions with a handler (e.g. handler: src/users.handler) and a nodejs runtime")
    return Service(path=path, resolver=r, excludes=(*excludes, *pkg_excludes), includes=pkg_includes,
                   functions=tuple(functions), warnings=tuple(warnings), esbuild=esbuild)


def esbuild_settings(r: Resolver) -> EsbuildSettings:
    """serverless-esbuild's custom.esbuild: external (bundled out, shipped with their closure), exclude (bundled
    out, not shipped; its default is aws-sdk, which Lambda provides), minify, sourcemap."""
    keys: Key = ("custom", "esbuild")
    raw = r.value(keys, {})
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise r.error(keys, "must be a mapping (serverless-esbuild's settings)")

    def names(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = raw.get(key)
        if value is None:
            return default
        if value == "*":
            raise r.error((*keys, key), f"{key}: '*' (every package) is not supported: name the packages",
                          hint="list the packages to keep out of the bundle")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise r.error((*keys, key), f"{key} must be a list of package names")
        return tuple(value)

    if raw.get("bundle") is False:
        raise r.error((*keys, "bundle"), "bundle: false (serverless-esbuild only transpiles) is not supported",
                      hint="remove it to bundle, or run serverless-esbuild and pass its output with --prebuilt")
    return EsbuildSettings(source=f"{r.path.name}:{r.line(keys)} custom.esbuild (serverless-esbuild)",
                           external=names("external", ()), exclude=names("exclude", ("aws-sdk",)),
                           minify=bool(raw["minify"]) if "minify" in raw else None,
                           sourcemap=bool(raw["sourcemap"]) if "sourcemap" in raw else None)


def function_keys(r: Resolver) -> list[tuple[str, Key]]:
    """(name, where its mapping is) for every function: `functions` is a mapping, or a list of them."""
    raw = r.raw(("functions",))
    if raw is None:
        raise ProjectError(f"{r.path}: no functions: in {r.path.name}", hint="define the functions to bundle")
    blocks: list[tuple[Any, Key]] = []
    if isinstance(raw, Mapping):
        blocks.append((raw, ("functions",)))
    elif isinstance(raw, list):
        blocks += [(item, ("functions", i)) for i, item in enumerate(raw)]
    else:
        blocks.append((raw, ("functions",)))
    found: list[tuple[str, Key]] = []
    for block, keys in blocks:
        if not isinstance(block, Mapping):
            raise r.error(keys, "must be written out in the file as a mapping of functions (photon-bundle sets "
                                "package.artifact in each), not a variable or a value",
                          hint="move the functions into serverless.yml")
        for name in block:
            if not isinstance(name, str) or not FUNCTION_NAME.match(name):
                raise r.error((*keys, name), f"function name {name!r} must be letters, digits, - and _")
            if any(name == n for n, _ in found):
                raise r.error((*keys, name), f"function {name} is defined twice")
            found.append((name, (*keys, name)))
    return found


def read_function(root: Path, r: Resolver, name: str, keys: Key, provider_runtime: Setting | None,
                  provider_arch: Setting | None, service_individually: bool, warnings: list[str],
                  built: bool = False) -> Function | None:
    raw = r.raw(keys)
    if not isinstance(raw, Mapping):
        raise r.error(keys, "must be a mapping (handler:, runtime:, ...) written in the file",
                      hint="photon-bundle sets package.artifact in it")
    label = f"{r.path.name}:{r.line(keys)}"
    if "image" in raw:
        warnings.append(f"{label}: function {name} deploys a container image: not bundled")
        return None
    if flag(r, (*keys, "package", "disable")):
        warnings.append(f"{label}: function {name} has package.disable: not bundled")
        return None
    runtime = setting(r, (*keys, "runtime")) or provider_runtime
    individually = flag(r, (*keys, "package", "individually")) or service_individually
    if runtime is not None and not runtime.value.startswith("nodejs"):
        if individually:
            warnings.append(f"{label}: function {name} runs {runtime.value} ({runtime.label}), not Node.js: "
                            "left to Serverless")
            return None
        raise r.error(runtime.keys, f"function {name} runs {runtime.value}, not Node.js, but would share the "
                                    f"service's zip ({SHARED_ZIP}) with the Node.js functions",
                      hint=f"set package.individually: true on function {name} (Serverless packages it) or on the "
                           "service")
    pkg = r.raw((*keys, "package"))
    if pkg is not None and not isinstance(pkg, Mapping):
        raise r.error((*keys, "package"), "must be a mapping written in the file (photon-bundle sets "
                                          "package.artifact in it)")
    handler_keys = (*keys, "handler")
    handler = r.value(handler_keys)
    if handler is None:
        raise r.error(keys, f"function {name} has no handler", hint="add e.g. handler: src/users.handler")
    if not isinstance(handler, str):
        raise r.error(handler_keys, f"handler must be a string like src/users.handler, not {handler!r}")
    excludes, includes = package_patterns(r, keys)
    return Function(name=name, keys=keys, handler=handler,
                    entry=handler_entry(root, r, name, handler, handler_keys, built=built),
                    runtime=runtime, arch=setting(r, (*keys, "architecture")) or provider_arch,
                    individually=individually, excludes=excludes, includes=includes)


def handler_entry(root: Path, r: Resolver, name: str, handler: str, keys: Key, *, built: bool = False) -> str:
    """The handler's file: Lambda splits the last path segment at its first dot (file.export.path). A TypeScript
    file when the functions are bundled (`built`: esbuild writes the .js Lambda loads)."""
    base = posixpath.basename(handler)
    if "." not in base or base.startswith("."):
        raise r.error(keys, f"handler {handler!r} of function {name} is not file.export",
                      hint="write it as e.g. src/users.handler (the file src/users.js, its export handler)")
    stem = posixpath.normpath(posixpath.join(posixpath.dirname(handler), base.split(".", 1)[0]))
    if stem.startswith(("../", "/")) or stem == "..":
        raise r.error(keys, f"handler {handler!r} of function {name} is outside the service folder {root}")
    for ext in HANDLER_EXTENSIONS:
        if (root / (stem + ext)).is_file():
            return stem + ext
    for ext in NEEDS_BUILD:
        if (root / (stem + ext)).is_file():
            if built:
                return stem + ext
            raise r.error(keys, f"function {name}: handler {handler!r} is {stem}{ext}, which Lambda cannot run "
                                "without a build", hint="compile it first (tsc, esbuild) and point the handler at "
                                                        "the .js output, e.g. dist/users.handler")
    raise r.error(keys, f"function {name}: handler {handler!r}: no file {stem}.js (or .mjs, .cjs) in {root}",
                  hint="fix the handler path (relative to the folder of serverless.yml)")


def setting(r: Resolver, keys: Key) -> Setting | None:
    value = r.value(keys)
    if value is None:
        return None
    if not isinstance(value, str):
        raise r.error(keys, f"must be a string, not {value!r}")
    return Setting(value, keys, f"{r.path.name}:{r.line(keys)} {dotted(keys)}")


def flag(r: Resolver, keys: Key) -> bool:
    value = r.value(keys, False)
    if not isinstance(value, bool):
        raise r.error(keys, f"must be true or false, not {value!r}",
                      hint="a variable gives a string here; write true or false")
    return value


def check_function(fn: Function, service: Service, options: Options) -> list[str]:
    """Runtime and architecture errors with their line; warnings when --runtime / --arch override them."""
    warnings: list[str] = []
    runtimes = {rt.name: rt for rt in load_matrix().runtimes_for("serverless")}
    flag_runtime = options.runtime
    flag_arch = options.arch if options.source("arch") != "default" else None
    r = service.resolver
    if fn.arch is not None and fn.arch.value not in ARCHES:
        raise ConfigError(f"{r.where(fn.arch.keys)}: {dotted(fn.arch.keys)}: {fn.arch.value!r} is not a Lambda "
                          "architecture", hint=f"use one of: {', '.join(ARCHES)}")
    if fn.runtime is not None and flag_runtime is None:
        runtime = runtimes.get(fn.runtime.value)
        if runtime is None:
            names = [n for n in runtimes if n.startswith("nodejs")]
            raise ConfigError(f"{r.where(fn.runtime.keys)}: {dotted(fn.runtime.keys)}: {fn.runtime.value!r} is not an "
                              "AWS Lambda Node.js runtime", hint=f"{closest(fn.runtime.value, names)}")
        arch = flag_arch or (fn.arch.value if fn.arch else "x86_64")
        if arch not in runtime.archs:
            where = fn.arch if fn.arch is not None and flag_arch is None else fn.runtime
            raise ConfigError(f"{r.where(where.keys)}: function {fn.name}: {runtime.name} does not run on {arch}",
                              hint=f"use architecture {' or '.join(runtime.archs)} or a newer runtime")
    if flag_runtime and fn.runtime is not None and fn.runtime.value != flag_runtime:
        warnings.append(f"function {fn.name}: --runtime {flag_runtime} overrides {fn.runtime.value} "
                        f"({fn.runtime.label}): deploy it with {flag_runtime}")
    if flag_arch and fn.arch is not None and fn.arch.value != flag_arch:
        warnings.append(f"function {fn.name}: --arch {flag_arch} overrides {fn.arch.value} ({fn.arch.label}): "
                        f"deploy it with {flag_arch}")
    return warnings


def handler_entry_of(fn: Function) -> Entry:
    """The handler's file and the export Lambda calls (the part after the file name's first dot)."""
    return Entry(fn.entry, posixpath.basename(fn.handler).split(".", 1)[1])


def _runtime(fn: Function) -> tuple[str, str] | None:
    return (fn.runtime.value, fn.runtime.label) if fn.runtime else None


def _arch(fn: Function) -> str | None:
    return fn.arch.value if fn.arch else None


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text or "")) or (0,)
