"""Options, resolved once: defaults < photon-bundle.toml < its [platform] section < environment < flags.

The environment is passed in as a Mapping so tests never touch os.environ. Every value remembers where
it came from, so the summary can say e.g. "runtime nodejs20.x (from photon-bundle.toml [lambda])".
Unknown keys in the config file fail with a "did you mean".
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from bundler.errors import ConfigError, closest, echo
from bundler.limits import parse_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILE = "photon-bundle.toml"
FORMATS = ("zip", "layer", "both")
ENGINE_SOURCES = ("auto", "local", "cache", "mirror", "docker")
BUILDS = ("none", "docker")
LOAD_CHECKS = ("node", "docker", "off")  # bundler/loadcheck/
BUNDLERS = ("none", "esbuild")  # bundler/jsbundle/

T = TypeVar("T")
E = TypeVar("E", bound="Extras")
Convert = Callable[[object], object]


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise TypeError("expected true or false")


def _patterns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p for p in value.split(",") if p)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise TypeError("expected a list of glob patterns")


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def convert(value: object) -> str:
        if value not in choices:
            raise TypeError(f"expected one of {', '.join(choices)}")
        return str(value)
    return convert


def _size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError("expected a size like 25mb")
    return parse_size(value)


def _env_pairs(value: object) -> tuple[tuple[str, str], ...]:
    """Environment for the build container: KEY=VALUE strings (flags, PHOTON_BUNDLE_BUILD_ENV with commas)
    or a TOML table; sorted pairs."""
    if isinstance(value, dict):
        items = [(str(k), str(v)) for k, v in value.items()]
    else:
        lines = value.split(",") if isinstance(value, str) else value
        if not isinstance(lines, (list, tuple)) or not all(isinstance(v, str) for v in lines):
            raise TypeError("expected KEY=VALUE strings or a table")
        items = []
        for line in lines:
            key, sep, val = str(line).partition("=")
            if not sep or not key.strip():
                raise TypeError(f"{echo(line)} is not KEY=VALUE")
            items.append((key.strip(), val))
    return tuple(sorted(dict(items).items()))


def _s3_url(value: object) -> str:
    """The shared cache, `s3://bucket/prefix` (bundler/shared_cache/)."""
    from bundler.shared_cache.location import parse_location

    if not isinstance(value, str):
        raise TypeError("expected s3://bucket/prefix")
    return parse_location(value).url


def _float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("expected a number of seconds")
    return float(value)


def setting(convert: Callable[[object], T], default: T, *, flag_only: bool = False, env: str | None = None) -> T:
    """A config key: the field's name is its config-file spelling (flags use dashes, the environment
    PHOTON_BUNDLE_<KEY> unless `env` names another variable); `convert` reads a raw value from any layer;
    `flag_only` keys are not meaningful in a shared config file."""
    made: T = field(default=default, metadata={"convert": convert, "flag_only": flag_only, "env": env})
    return made


def optional(convert: Callable[[object], T], *, env: str | None = None) -> T | None:
    """A config key without a default (None when no layer sets it)."""
    return setting(convert, None, env=env)


class Extras:
    """An adapter's own config keys (Lambda's --handler, Serverless's --stage): a frozen dataclass whose fields
    are declared with `setting`/`optional`, like the shared ones on `Options`. The adapter names its class in
    `extras`; `Options.extras_as(cls)` gives it back typed."""


@dataclass(frozen=True)
class NoExtras(Extras):
    """The extras of an adapter with no config key of its own."""


@dataclass(frozen=True)
class Options:
    """Every setting of one run, resolved, with where each came from (`source`)."""

    runtime: str | None = optional(_str)
    arch: str = setting(_choice(("x86_64", "arm64")), "x86_64")
    out: str | None = optional(_str)
    max_size: int | None = optional(_size)
    format: str = setting(_choice(FORMATS), "zip")
    exclude: tuple[str, ...] = setting(_patterns, ())
    include: tuple[str, ...] = setting(_patterns, ())
    layer_node_modules: bool = setting(_bool, False)
    engine_source: str = setting(_choice(ENGINE_SOURCES), "auto")
    mirror: str | None = optional(_str)
    engine_version: str | None = optional(_str)
    offline: bool = setting(_bool, False)
    verify: bool = setting(_bool, True)
    force: bool = setting(_bool, False, flag_only=True)
    image: str | None = optional(_str)
    build: str = setting(_choice(BUILDS), "none")
    build_command: str | None = optional(_str)
    build_env: tuple[tuple[str, str], ...] = setting(_env_pairs, ())
    build_timeout: float = setting(_float, 900.0)
    load_check: str = setting(_choice(LOAD_CHECKS), "node")
    load_check_timeout: float = setting(_float, 30.0)
    report: bool = setting(_bool, False)  # report.html beside the manifest (bundler/report/)
    trace: bool = setting(_bool, False)  # ship only the files the entry points reach (bundler/trace/)
    # the shared cache on S3 (bundler/shared_cache/); PHOTON_BUNDLE_CACHE is the local engine cache folder
    cache: str | None = optional(_s3_url, env="PHOTON_BUNDLE_SHARED_CACHE")
    # bundler/jsbundle/: bundle the entry points with esbuild (None: as the platform's config says, netlify.toml
    # node_bundler or serverless.yml custom.esbuild), or take an already-bundled folder as the app.
    bundler: str | None = optional(_choice(BUNDLERS))
    sourcemap: bool | None = optional(_bool)
    minify: bool | None = optional(_bool)
    prebuilt: str | None = optional(_str)
    # The adapter's own keys, and where every value (shared or the adapter's) came from.
    extras: Extras = field(default_factory=NoExtras)
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, key: str) -> str:
        """Where the value of `key` came from: "default", "photon-bundle.toml [lambda]", "--arch", ..."""
        return self.sources.get(key, "default")

    def extras_as(self, kind: type[E]) -> E:
        """The adapter's own settings, as the class the adapter declared."""
        if not isinstance(self.extras, kind):
            raise TypeError(f"these options carry {type(self.extras).__name__}, not {kind.__name__}")
        return self.extras

    def items(self) -> Iterator[tuple[str, object]]:
        """(key, value) of every config key, shared and the adapter's (the no-op check hashes them)."""
        for f in settings_of(type(self)):
            yield f.name, getattr(self, f.name)
        for f in settings_of(type(self.extras)):
            yield f.name, getattr(self.extras, f.name)


def settings_of(cls: type[object]) -> list[Field[object]]:
    """The config-key fields of an options or extras dataclass."""
    if not hasattr(cls, "__dataclass_fields__"):
        return []
    return [f for f in fields(cls) if "convert" in f.metadata]  # type: ignore[arg-type]


def option_keys(cls: type[object]) -> tuple[str, ...]:
    """The config keys of an options or extras class."""
    return tuple(f.name for f in settings_of(cls))


# The shared keys, in declaration order.
KEYS = option_keys(Options)
# Keys only a flag sets (not meaningful in a shared config file).
FLAG_ONLY = tuple(f.name for f in settings_of(Options) if f.metadata["flag_only"])
# Sections that are not a platform's, each checked by the command that reads it.
COMMAND_SECTIONS = ("publish",)  # bundler/publish/config.py


def output_dir(project_dir: Path, platform: str, options: Options) -> Path:
    """--out (relative to the current folder), else <project>/.photon-bundle/<platform>."""
    if options.out:
        out = Path(options.out)
        return out if out.is_absolute() else (Path.cwd() / out)
    return project_dir / ".photon-bundle" / platform


def load_config(project_dir: Path, platforms: list[str], extra_keys: Mapping[str, Collection[str]],
                checked: Collection[str] | None = None) -> dict[str, object]:
    """The parsed config file ({} when absent), with unknown top-level keys and sections rejected, and
    unknown keys in the sections named by `checked` (default: all; a command checks its own section, so
    that it loads no other platform's adapter to learn that platform's keys)."""
    path = project_dir / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data: dict[str, object] = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})",
                          hint="TOML files are UTF-8: save it as UTF-8") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}", hint="fix the syntax at that line") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read (arrays or tables inside each other)",
                          hint="flatten the structure; no setting needs that depth") from None
    known = [k for k in KEYS if k not in FLAG_ONLY]
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in platforms and key not in COMMAND_SECTIONS:
                raise ConfigError(f"{path}: unknown section [{key}]", hint=closest(key, [*platforms,
                                                                                       *COMMAND_SECTIONS]))
            if key in COMMAND_SECTIONS or (checked is not None and key not in checked):
                continue
            allowed = known + list(extra_keys.get(key, []))
            for sub in value:
                if sub not in allowed:
                    raise ConfigError(f"{path}: unknown key {echo(sub)} in [{key}]", hint=closest(sub, allowed))
        elif key not in known:
            raise ConfigError(f"{path}: unknown key {echo(key)}", hint=closest(key, known))
    return data


def resolve(
    platform: str,
    config: Mapping[str, object],
    env: Mapping[str, str],
    flags: Mapping[str, object],
    extras: type[Extras] = NoExtras,
) -> Options:
    """Combine the layers for the shared keys and the adapter's `extras`; flags with value None (or an empty
    tuple) count as not given, flags naming no key are ignored."""
    section = config.get(platform, {})
    sources: dict[str, str] = {}

    def values(cls: type[object]) -> dict[str, object]:
        out: dict[str, object] = {}
        for f in settings_of(cls):
            key, convert = f.name, f.metadata["convert"]
            layers: list[tuple[str, object]] = [("default", f.default)]
            if key in config and not isinstance(config[key], dict):
                layers.append((CONFIG_FILE, config[key]))
            if isinstance(section, dict) and key in section:
                layers.append((f"{CONFIG_FILE} [{platform}]", section[key]))
            env_name = f.metadata.get("env") or "PHOTON_BUNDLE_" + key.upper()
            if env.get(env_name):
                layers.append((env_name, env[env_name]))
            if flags.get(key) not in (None, ()):
                layers.append(("--" + key.replace("_", "-"), flags[key]))
            origin, raw = layers[-1]
            try:
                out[key] = convert(raw) if raw is not None else None
            except (TypeError, ValueError, OverflowError) as err:
                raise ConfigError(f"{origin}: bad value {echo(raw)} for {key}: {err}") from None
            sources[key] = origin
        return out

    make_extras: Callable[..., Extras] = extras
    make: Callable[..., Options] = Options
    return make(**values(Options), extras=make_extras(**values(extras)), sources=sources)
