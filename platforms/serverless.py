"""Serverless Framework (AWS provider): one zip per function (package.individually) or one shared zip, and
a copy of serverless.yml whose package.artifact names them, so `serverless deploy` uploads them as they are.

Config: serverless.yml, else serverless.yaml (Serverless' own order). serverless.json/.js/.ts are not read
(.js/.ts are programs; convert a .json to .yml). Runtimes, OS profiles and engine targets are Lambda's
(runtimes.toml: [platform.serverless] runtimes_from = "lambda"); limits 50 MB zipped, 262,144,000 bytes
unzipped. Per function: `runtime` > provider.runtime > photon-bundle's default (engines.node, newest);
`architecture` > provider.architecture > x86_64 (arm64 -> linux-arm64-openssl-*); --runtime / --arch
override all (a warning says so when they differ from the file). Functions with a non-Node runtime, an
`image` or `package.disable` are left to Serverless.

Packaging, as Serverless decides it (lib/plugins/package/lib/package-service.js):
  * a function is packaged on its own when `package.individually` is true for the service or for it;
    it gets `functions/<name>.zip` with its handler file, what that file requires (platforms/jsdeps.py,
    relative requires followed), package.json, and only the production closure of the packages it loads.
    The others share `service.zip`: every app file and the production closure of package.json.
    Function-level patterns only count for functions packaged on their own (as in Serverless).
  * patterns (`package.patterns`, and the older include/exclude) are applied in order, the service's then
    the function's, after Serverless' default excludes (.git/**, .serverless/**, serverless.yml...): a
    `!glob` leaves matching files out, a plain glob puts them back; the last matching pattern wins.
    Globs are micromatch's, anchored at the service folder (`*.md` is top level only, `**/*.md` any
    depth; braces `{a,b}` expanded). They map onto gitignore lines: the order goes into Unit.excludes
    (`!glob` -> `/glob`, `glob` -> `!/glob`); plain globs also go into Unit.includes (in the same order)
    so a file the handler does not require (a template) can be named in, but never below node_modules:
    dependencies stay the production closure (Serverless, too, drops dev dependencies after the patterns).
    Differences: a glob naming a folder (`!docs`) covers the files in it (micromatch would match only a
    file of that name); photon-bundle's secrets excludes (.env, *.pem, .npmrc) are not put back by a
    pattern (use --include).
  * handler `src/users.handler` (Lambda splits the file name at its first dot) -> src/users.js, .mjs or
    .cjs. A .ts handler needs a build first (serverless-esbuild, tsc): point the handler at the output.

Variables (${self:...}, ${opt:stage}, ${sls:stage}, ${env:X}, fallbacks): see platforms/slsvars.py. Only
the fields photon-bundle reads are resolved; any other variable is left as it is in the written copy.

Output: `<out>/serverless.yml` (the config file's own name), a copy with package.artifact set per
function packaged on its own and at the top for the shared zip, relative to the project folder; comments,
key order and quoting kept (ruamel round trip). Your own file is updated only with --write-config, and
only when a round trip reproduces it byte for byte.
"""

from __future__ import annotations

import copy
import posixpath
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bundler.bounds import MAX_BRACE_EXPANSIONS, brace_overflow
from bundler.errors import ConfigError, ProjectError
from bundler.options import Resolved, _bool, _str
from bundler.plan import DEFAULT_EXCLUDES
from bundler.project import Project
from bundler.runtime_choice import unit_profile
from bundler.targets import closest, load_matrix
from platforms.base import Entry, OutputFile, Unit
from platforms.configfiles import YamlDoc, config_outputs, load_yaml, load_yaml_text, relpath_for_config, yaml_line
from platforms.jsdeps import function_scan
from platforms.slsvars import Key, Resolver, VariableError, dotted

CONFIG_NAMES = ("serverless.yml", "serverless.yaml")
UNREAD_CONFIGS = ("serverless.json", "serverless.js", "serverless.cjs", "serverless.mjs", "serverless.ts")
SHARED_ZIP = "service.zip"
SHARED_UNIT = "(service)"
FUNCTION_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
# Serverless' defaultExcludes, applied before the user's patterns (which may put files back).
SLS_DEFAULT_EXCLUDES = (".git/**", ".gitignore", ".DS_Store", "npm-debug.log", "yarn-*.log", ".serverless/**",
                        ".serverless_plugins/**")
HANDLER_EXTENSIONS = (".js", ".mjs", ".cjs")
NEEDS_BUILD = (".ts", ".mts", ".cts", ".tsx")
ARCHES = ("x86_64", "arm64")
BUILD_PLUGINS = ("serverless-esbuild", "serverless-webpack", "serverless-plugin-typescript", "serverless-bundle")
_EXTGLOB = re.compile(r"[!@+*?]\(")


@dataclass(frozen=True)
class Pattern:
    glob: str  # Serverless spelling: "!x" leaves out, "x" puts back
    where: str  # file:line, for errors


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


class ServerlessAdapter:
    key = "serverless"
    function_filename = SHARED_ZIP
    layer_filename = "layer.zip"
    supports_layers = False
    reads_environment = True
    extra_keys: Mapping[str, tuple[Callable[[Any], Any], Any]] = {"stage": (_str, None), "write_config": (_bool, False)}

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        """provider.runtime when written without variables (units() resolves variables and carries it)."""
        path = find_config(project.root)
        doc = load_yaml(path)
        provider = doc.data.get("provider") if isinstance(doc.data, Mapping) else None
        runtime = provider.get("runtime") if isinstance(provider, Mapping) else None
        if isinstance(runtime, str) and "${" not in runtime:
            return str(runtime), f"{path.name}:{yaml_line(provider, 'runtime')} provider.runtime"
        return None

    def zip_limit(self, options: Mapping[str, Any]) -> int | None:
        return load_matrix().platform(self.key).zip_max

    def units(self, project: Project, options: Resolved, env: Mapping[str, str]) -> list[Unit]:
        service = read_service(project.root, options["stage"], env)
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

    def _shared_unit(self, project: Project, options: Resolved, service: Service, functions: list[Function],
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
                    warnings=tuple(warnings), entries=tuple(handler_entry_of(fn) for fn in functions))

    def outputs(self, project: Project, options: Resolved, units: list[Unit],
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
        return config_outputs(path, out_dir, ydoc.dump(), write_config=options["write_config"], exact=exact,
                              lossy_reason="" if exact else lossy_reason(ydoc))


# ------------------------------------------------------------------------------------------- reading


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


def read_service(root: Path, stage: str | None, env: Mapping[str, str]) -> Service:
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
    for plugin in plugin_list if isinstance(plugin_list, list) else ():
        if plugin in BUILD_PLUGINS:
            warnings.append(f"{path.name}: plugin {plugin} builds the functions, but photon-bundle zips the handler "
                            "files as they are: point the handlers at the built files or bundle the build's output")
    functions: list[Function] = []
    for name, keys in function_keys(r):
        fn = read_function(root, r, name, keys, provider_runtime, provider_arch, individually, warnings)
        if fn is not None:
            functions.append(fn)
    if not functions:
        raise ProjectError(f"{path}: no Node.js function to bundle",
                           hint="add functions with a handler (e.g. handler: src/users.handler) and a nodejs runtime")
    return Service(path=path, resolver=r, excludes=(*excludes, *pkg_excludes), includes=pkg_includes,
                   functions=tuple(functions), warnings=tuple(warnings))


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
                  provider_arch: Setting | None, service_individually: bool, warnings: list[str]) -> Function | None:
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
    return Function(name=name, keys=keys, handler=handler, entry=handler_entry(root, r, name, handler, handler_keys),
                    runtime=runtime, arch=setting(r, (*keys, "architecture")) or provider_arch,
                    individually=individually, excludes=excludes, includes=includes)


def handler_entry(root: Path, r: Resolver, name: str, handler: str, keys: Key) -> str:
    """The handler's file: Lambda splits the last path segment at its first dot (file.export.path)."""
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


def package_patterns(r: Resolver, keys: Key) -> tuple[tuple[Pattern, ...], tuple[Pattern, ...]]:
    """(package.exclude as "!" patterns, package.include + package.patterns) at `keys` (service or function)."""
    out: dict[str, list[Pattern]] = {}
    for field in ("exclude", "include", "patterns"):
        fkeys = (*keys, "package", field)
        value = r.value(fkeys)
        out[field] = []
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise r.error(fkeys, "must be a list of glob patterns")
        for i, text in enumerate(value):
            if not text.strip() or text.strip() == "!":
                raise r.error((*fkeys, i), "empty pattern")
            glob = (text[1:] if text.startswith("!") else f"!{text}") if field == "exclude" else text
            out[field].append(Pattern(glob, r.where((*fkeys, i))))
    return tuple(out["exclude"]), (*out["include"], *out["patterns"])


def check_function(fn: Function, service: Service, options: Resolved) -> list[str]:
    """Runtime and architecture errors with their line; warnings when --runtime / --arch override them."""
    warnings: list[str] = []
    runtimes = {rt.name: rt for rt in load_matrix().runtimes_for("serverless")}
    flag_runtime = options["runtime"]
    flag_arch = options["arch"] if options.source("arch") != "default" else None
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


def function_unit(project: Project, options: Resolved, service: Service, fn: Function) -> Unit:
    found = function_scan(project.root, [fn.entry])
    excludes, includes = pattern_lines([*service.excludes, *fn.excludes, *service.includes, *fn.includes])
    return Unit(name=fn.name, function_filename=f"functions/{fn.name}.zip", runtime=_runtime(fn), arch=_arch(fn),
                app_files=found.files, roots=found.modules, excludes=excludes,
                includes=includes, meta={"function": fn.name, "handler": fn.handler, "entry": fn.entry},
                warnings=tuple(f"{m} (name the file in package.patterns if it is loaded)" for m in found.missing),
                entries=(handler_entry_of(fn),))


def handler_entry_of(fn: Function) -> Entry:
    """The handler's file and the export Lambda calls (the part after the file name's first dot)."""
    return Entry(fn.entry, posixpath.basename(fn.handler).split(".", 1)[1])


def _runtime(fn: Function) -> tuple[str, str] | None:
    return (fn.runtime.value, fn.runtime.label) if fn.runtime else None


def _arch(fn: Function) -> str | None:
    return fn.arch.value if fn.arch else None


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text or "")) or (0,)


# ------------------------------------------------------------------------------------------- patterns


def pattern_lines(patterns: Sequence[Pattern]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Serverless patterns, in order, as (Unit.excludes, Unit.includes) gitignore lines.

    Excludes: `!glob` -> `/glob`, `glob` -> `!/glob`, so the last matching pattern decides, as in Serverless.
    Includes (files forced in past "not used by this function"): the same order with the signs kept, then
    guards so that nothing below node_modules and none of the default secrets excludes is forced in. The
    pipeline puts --include after these lines, so the command line still wins over the file.
    """
    excludes: list[str] = []
    includes: list[str] = []
    for pattern in patterns:
        negated = pattern.glob.startswith("!")
        for line in gitignore_lines(pattern.glob[1:] if negated else pattern.glob, pattern.where):
            excludes.append(line if negated else f"!{line}")
            includes.append(f"!{line}" if negated else line)
    if not any(not p.glob.startswith("!") for p in patterns):
        return tuple(excludes), ()
    guards = ["!**/node_modules/**", *(f"!{d}" for d in DEFAULT_EXCLUDES)]
    return tuple(excludes), (*includes, *guards)


def gitignore_lines(glob: str, where: str) -> list[str]:
    """A micromatch glob (relative to the service folder) as anchored gitignore lines, braces expanded."""
    if _EXTGLOB.search(glob):
        raise ProjectError(f"{where}: pattern {glob!r}: extended globs like !(x) or @(a|b) are not supported",
                           hint="write one pattern per alternative")
    lines = []
    for one in expand_braces(glob, where):
        body = one.strip()
        while body.startswith("./"):
            body = body[2:]
        body = body.lstrip("/")
        if not body:
            raise ProjectError(f"{where}: empty pattern {glob!r}")
        lines.append("/" + body)
    return lines


def expand_braces(glob: str, where: str = "") -> list[str]:
    """`a/{b,c}/*.{js,md}` -> the four globs micromatch would try (comma lists, nested; no ranges).
    Iterative; more than MAX_BRACE_EXPANSIONS globs is a ProjectError (`where` names the file)."""
    out: list[str] = []
    pending = [glob]  # the next one last
    while pending:
        current = pending.pop()
        split = _first_alternatives(current)
        if split is None:
            out.append(current)
            if len(out) > MAX_BRACE_EXPANSIONS:
                raise brace_overflow(glob, where)
            continue
        head, options, tail = split
        pending.extend(head + option + tail for option in reversed(options))
        if len(pending) > MAX_BRACE_EXPANSIONS:
            raise brace_overflow(glob, where)
    return out


def _first_alternatives(glob: str) -> tuple[str, list[str], str] | None:
    """(head, alternatives, tail) of the first {..} group with more than one alternative, or None."""
    start = glob.find("{")
    while start != -1:
        depth = 0
        for end in range(start, len(glob)):
            if glob[end] == "{":
                depth += 1
            elif glob[end] == "}":
                depth -= 1
                if depth == 0:
                    break
        else:
            return None
        options = _split_commas(glob[start + 1:end])
        if len(options) > 1:
            return glob[:start], options, glob[end + 1:]
        start = glob.find("{", start + 1)
    return None


def _split_commas(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += c
    return [*parts, current]


# ------------------------------------------------------------------------------------------- writing


def function_nodes(data: Any, path: Path) -> dict[str, tuple[Key, Any]]:
    """name -> (keys, its mapping in the loaded document), for setting package.artifact."""
    raw = data.get("functions") if isinstance(data, Mapping) else None
    blocks = [(raw, ("functions",))] if isinstance(raw, Mapping) else \
        [(b, ("functions", i)) for i, b in enumerate(raw)] if isinstance(raw, list) else []
    return {name: ((*keys, name), node) for block, keys in blocks if isinstance(block, Mapping)
            for name, node in block.items()}


def set_artifact(owner: Any, artifact: str) -> None:
    """Set owner.package.artifact, keeping the comments and blank lines that follow the owner's last entry
    where they were (ruamel attaches them to the last scalar; a key appended after it would come after them)."""
    from ruamel.yaml.comments import CommentedMap

    package = owner.get("package")
    if isinstance(package, CommentedMap) and "artifact" in package:
        package["artifact"] = artifact
    elif isinstance(package, CommentedMap):
        append_key(package, "artifact", artifact)
    else:
        new = CommentedMap()
        new["artifact"] = artifact
        if "package" in owner:
            owner["package"] = new
        else:
            append_key(owner, "package", new)


def append_key(mapping: Any, key: str, value: Any) -> None:
    token = _take_trailing(mapping)
    mapping[key] = value
    if token is not None:
        container, slot_key, index = _last_slot(mapping) or (None, None, 0)
        if container is not None:
            entry = container.ca.items.setdefault(slot_key, [None, None, None, None])
            entry[index] = token


def _last_slot(node: Any) -> tuple[Any, Any, int] | None:
    """(container, key or index, slot) of the comment that follows the node's last scalar."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    while True:
        if isinstance(node, CommentedMap) and len(node):
            key = list(node.keys())[-1]
            child = node[key]
            if isinstance(child, (CommentedMap, CommentedSeq)) and len(child):
                node = child
                continue
            return node, key, 2
        if isinstance(node, CommentedSeq) and len(node):
            child = node[-1]
            if isinstance(child, (CommentedMap, CommentedSeq)) and len(child):
                node = child
                continue
            return node, len(node) - 1, 0
        return None


def _take_trailing(node: Any) -> Any:
    """Detach the comment lines after the node's last scalar (its end-of-line comment stays)."""
    slot = _last_slot(node)
    if slot is None:
        return None
    container, key, index = slot
    entry = container.ca.items.get(key)
    token = entry[index] if entry and len(entry) > index else None
    if token is None:
        return None
    value = token.value
    if value.startswith("#"):  # "# eol comment\n" + what follows
        eol, _, rest = value.partition("\n")
        if not rest:
            return None
        kept = copy.copy(token)
        kept.value = eol + "\n"
        entry[index] = kept
        moved = copy.copy(token)
        moved.value = "\n" + rest
        return moved
    entry[index] = None
    return token


def lossy_reason(ydoc: YamlDoc) -> str:
    """Which line a rewrite would change, for the summary."""
    again = load_yaml_text(ydoc.text, ydoc.path).dump().splitlines()
    for n, (old, new) in enumerate(zip(ydoc.text.splitlines(), again), start=1):
        if old != new:
            return (f"rewriting it would change line {n} ({old.strip()!r} -> {new.strip()!r}) besides "
                    "package.artifact, so its layout is not kept exactly")
    return "rewriting it would change its layout besides package.artifact"

