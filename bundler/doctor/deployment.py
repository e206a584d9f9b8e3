"""What the doctor needs to know about each deployed function, read from the platform's own config with the
platforms' readers (platforms/*.py): its entry file, the environment it gets (for the datasource URL), its
memory (Lambda's CPU share follows it), its concurrency cap and its timeout.

Entry points are found as the platforms find them: Lambda and GCF from package.json `main` (else index.js /
handler.js), Serverless from each function's `handler` (through platforms/slsvars.py, so `${self:..}`,
`${opt:stage}`, `${env:X}` resolve), Netlify, Now and Vercel from their adapters' units, up from its start
command. The environment: the platform config's variables (serverless.yml provider/function `environment`,
netlify.toml `[build.environment]` / `[context.production.environment]`, vercel.json / now.json `env`,
up.json `environment`), then `.env` (what `prisma` and local runs read), then the doctor's own environment.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.doctor.data import load as load_data
from bundler.errors import BundleError, ProjectError
from bundler.options import Options
from bundler.project import Project

HANDLER_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".tsx")


@dataclass(frozen=True)
class Setting:
    value: int
    source: str  # the config key it was read from, or the default's source
    default: bool = False


@dataclass(frozen=True)
class EnvValue:
    value: str
    source: str  # "serverless.yml:9 provider.environment.DATABASE_URL", ".env:1", "environment"


@dataclass(frozen=True)
class FunctionConfig:
    name: str  # "" for the single function of Lambda / GCF / up
    entry: str | None  # relative to the project root
    env: Mapping[str, EnvValue]
    memory: Setting
    concurrency: Setting
    timeout: Setting
    provisioned: Setting | None = None
    export: str | None = None  # the handler's export name when the platform names it
    notes: tuple[str, ...] = ()  # what could not be read (unresolved variables), for info findings


@dataclass(frozen=True)
class Deployment:
    platform: str
    functions: tuple[FunctionConfig, ...]
    notes: tuple[str, ...] = field(default=())


def read_deployment(platform: str, project: Project, options: Options, env: Mapping[str, str], *,
                    memory: int | None = None, concurrency: int | None = None) -> Deployment:
    """The functions of the project as the platform deploys them; --memory / --concurrency override."""
    local = dotenv(project.root, env)
    if platform == "serverless":
        functions = serverless_functions(project, options, env, local)
    elif platform in ("netlify", "now", "vercel"):
        functions = adapter_functions(platform, project, options, env, local)
    elif platform == "up":
        functions = [up_function(project, local)]
    else:
        functions = [single_function(platform, project, local)]
    out = []
    for fn in functions:
        changed = fn
        if memory is not None:
            changed = _with(changed, memory=Setting(memory, "--memory"))
        if concurrency is not None:
            changed = _with(changed, concurrency=Setting(concurrency, "--concurrency"))
        out.append(changed)
    return Deployment(platform=platform, functions=tuple(out))


def _with(fn: FunctionConfig, **changes: Any) -> FunctionConfig:
    from dataclasses import replace

    return replace(fn, **changes)


# ------------------------------------------------------------------------------------------ environment


def dotenv(root: Path, env: Mapping[str, str]) -> dict[str, EnvValue]:
    """`.env` of the project (KEY=VALUE, quotes stripped, # comments), over the doctor's own environment."""
    found = {k: EnvValue(v, "environment") for k, v in env.items()}
    path = root / ".env"
    if not path.is_file():
        return found
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return found
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        found[key.strip()] = EnvValue(value, f".env:{number}")
    return found


def _env_table(table: Any, where: str) -> dict[str, EnvValue]:
    if not isinstance(table, Mapping):
        return {}
    return {str(k): EnvValue(str(v), f"{where}.{k}") for k, v in table.items() if isinstance(v, (str, int, float))}


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _defaults(platform: str) -> tuple[Setting, Setting, Setting]:
    d = load_data().platform(platform)
    return (Setting(d.memory_mb, d.memory_source, default=True),
            Setting(d.concurrency, d.concurrency_source, default=True),
            Setting(d.timeout_s, d.timeout_source, default=True))


# ----------------------------------------------------------------------------------------- single function


def entry_file(root: Path, candidates: list[str]) -> str | None:
    """The first candidate that is a file, trying the JavaScript and TypeScript extensions for bare stems."""
    for rel in candidates:
        norm = posixpath.normpath(rel.removeprefix("./"))
        if norm.startswith(".."):
            continue
        if (root / norm).is_file():
            return norm
        for ext in HANDLER_EXTENSIONS:
            if (root / (norm + ext)).is_file():
                return norm + ext
        if (root / norm).is_dir():
            found = entry_file(root, [f"{norm}/index"])
            if found:
                return found
    return None


def single_function(platform: str, project: Project, local: Mapping[str, EnvValue]) -> FunctionConfig:
    """Lambda / GCF: package.json main, else index.js, else handler.js (and src/ variants)."""
    candidates = [project.package.main] if project.package.main else []
    candidates += ["index", "handler", "src/index", "src/handler"]
    memory, concurrency, timeout = _defaults(platform)
    return FunctionConfig(name="", entry=entry_file(project.root, [c for c in candidates if c]), env=dict(local),
                          memory=memory, concurrency=concurrency, timeout=timeout, export="handler")


def up_function(project: Project, local: Mapping[str, EnvValue]) -> FunctionConfig:
    from platforms.configfiles import read_json_object
    from platforms.up import json_key_lines, read_up_config, start_command

    config = read_up_config(project.root)
    command, _ = start_command(project, config)
    try:
        words = shlex.split(command)
    except ValueError:
        words = []
    script = next((w for w in words[1:] if not w.startswith("-")), None) if words[:1] == ["node"] else None
    memory, concurrency, timeout = _defaults("up")
    env = dict(local)
    if config.exists:
        data, text = read_json_object(config.path)
        lines = json_key_lines(text)
        lam = _table(data.get("lambda"))
        if isinstance(lam.get("memory"), int):
            memory = Setting(lam["memory"], f"up.json:{lines.get(('lambda', 'memory'))} lambda.memory")
        if isinstance(lam.get("timeout"), int):
            timeout = Setting(lam["timeout"], f"up.json:{lines.get(('lambda', 'timeout'))} lambda.timeout")
        env.update(_env_table(data.get("environment"), "up.json environment"))
    entry = entry_file(project.root, [script] if script else ["app", "index", "server"])
    return FunctionConfig(name="", entry=entry, env=env, memory=memory, concurrency=concurrency, timeout=timeout)


# ----------------------------------------------------------------------------------- Netlify, Now, Vercel


def adapter_functions(platform: str, project: Project, options: Options, env: Mapping[str, str],
                      local: Mapping[str, EnvValue]) -> list[FunctionConfig]:
    from platforms import adapter as adapter_for
    from platforms.configfiles import read_toml
    from platforms.nowconfig import read_optional

    units = adapter_for(platform).units(project, options, env)
    memory, concurrency, timeout = _defaults(platform)
    base = dict(local)
    functions_cfg: Mapping[str, Any] = {}
    if platform == "netlify" and (project.root / "netlify.toml").is_file():
        cfg = read_toml(project.root / "netlify.toml")
        build = _table(cfg.get("build"))
        base.update(_env_table(build.get("environment"), "netlify.toml [build.environment]"))
        ctx = _table(cfg.get("context"))
        prod = _table(ctx.get("production"))
        base.update(_env_table(prod.get("environment"), "netlify.toml [context.production.environment]"))
    elif platform in ("now", "vercel"):
        name = "vercel.json" if platform == "vercel" else "now.json"
        cfg_json, _ = read_optional(project.root / name)
        if cfg_json is not None:
            base.update(_env_table(cfg_json.get("env"), f"{name} env"))
            functions_cfg = _table(cfg_json.get("functions"))
    out = []
    for unit in units:
        entry = unit.meta.get("main_file") or unit.meta.get("entry")
        fn_memory, fn_timeout = memory, timeout
        pattern = unit.meta.get("pattern")
        settings = functions_cfg.get(pattern) if isinstance(pattern, str) else None
        if isinstance(settings, Mapping):
            if isinstance(settings.get("memory"), int):
                fn_memory = Setting(settings["memory"], f"vercel.json functions[{pattern!r}].memory")
            if isinstance(settings.get("maxDuration"), int):
                fn_timeout = Setting(settings["maxDuration"], f"vercel.json functions[{pattern!r}].maxDuration")
        out.append(FunctionConfig(name=unit.name, entry=entry if isinstance(entry, str) else None, env=base,
                                  memory=fn_memory, concurrency=concurrency, timeout=fn_timeout,
                                  export="default" if platform in ("now", "vercel") else "handler"))
    return out


# ------------------------------------------------------------------------------------------- Serverless


def serverless_functions(project: Project, options: Options, env: Mapping[str, str],
                         local: Mapping[str, EnvValue]) -> list[FunctionConfig]:
    from platforms.configfiles import load_yaml
    from platforms.serverless import ServerlessExtras, find_config, function_keys
    from platforms.slsvars import Resolver, VariableError, dotted

    path = find_config(project.root)
    ydoc = load_yaml(path)
    if not isinstance(ydoc.data, Mapping):
        raise ProjectError(f"{path}:1: expected a mapping (service:, provider:, functions:) at the top level")
    stage = options.extras.stage if isinstance(options.extras, ServerlessExtras) else None
    r = Resolver(ydoc.data, path, stage=stage, env=env)
    memory, concurrency, timeout = _defaults("serverless")

    def read(keys: tuple[Any, ...], notes: list[str]) -> Any:
        try:
            return r.value(keys)
        except VariableError as err:
            notes.append(f"{r.where(keys)}: {dotted(keys)} not read: {err.message}")
            return None

    def number(keys: tuple[Any, ...], fallback: Setting, notes: list[str]) -> Setting:
        value = read(keys, notes)
        if isinstance(value, int) and not isinstance(value, bool):
            return Setting(value, f"{path.name}:{r.line(keys)} {dotted(keys)}")
        return fallback

    def environment(keys: tuple[Any, ...], notes: list[str]) -> dict[str, EnvValue]:
        raw = r.raw(keys)
        found: dict[str, EnvValue] = {}
        if not isinstance(raw, Mapping):
            return found
        for name in raw:
            value = read((*keys, name), notes)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                found[str(name)] = EnvValue(str(value), f"{path.name}:{r.line((*keys, name))} {dotted((*keys, name))}")
        return found

    notes: list[str] = []
    provider_env = environment(("provider", "environment"), notes)
    p_memory = number(("provider", "memorySize"), memory, notes)
    p_timeout = number(("provider", "timeout"), timeout, notes)
    out = []
    for name, keys in function_keys(r):
        fn_notes: list[str] = []
        handler = read((*keys, "handler"), fn_notes)
        entry, export = None, None
        if isinstance(handler, str):
            base = posixpath.basename(handler)
            stem, _, export = base.partition(".")
            entry = entry_file(project.root, [posixpath.join(posixpath.dirname(handler), stem)])
            if entry is None:
                fn_notes.append(f"{r.where((*keys, 'handler'))}: handler {handler!r}: no such file")
        env_here = {**local, **provider_env, **environment((*keys, "environment"), fn_notes)}
        reserved = number((*keys, "reservedConcurrency"), concurrency, fn_notes)
        provisioned = number((*keys, "provisionedConcurrency"), Setting(0, ""), fn_notes)
        out.append(FunctionConfig(
            name=name, entry=entry, env=env_here, memory=number((*keys, "memorySize"), p_memory, fn_notes),
            concurrency=reserved, timeout=number((*keys, "timeout"), p_timeout, fn_notes),
            provisioned=provisioned if provisioned.value else None, export=export or None,
            notes=(*notes, *fn_notes)))
    if not out:
        raise ProjectError(f"{path}: no functions", hint="define the functions in serverless.yml")
    return out


def safe_read(platform: str, project: Project, options: Options, env: Mapping[str, str]
              ) -> tuple[Deployment | None, str | None]:
    """read_deployment for the bundle path: a config problem becomes a note instead of failing the bundle."""
    try:
        return read_deployment(platform, project, options, env), None
    except BundleError as err:
        return None, err.message
