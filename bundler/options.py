"""Options, resolved once: defaults < photon-bundle.toml < its [platform] section < environment < flags.

The environment is passed in as a Mapping so tests never touch os.environ. Every value remembers where
it came from, so the summary can say e.g. "runtime nodejs20.x (from photon-bundle.toml [lambda])".
Unknown keys in the config file fail with a "did you mean".
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, echo
from bundler.limits import parse_size
from bundler.targets import closest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_FILE = "photon-bundle.toml"
FORMATS = ("zip", "layer", "both")
ENGINE_SOURCES = ("auto", "local", "cache", "mirror", "docker")
BUILDS = ("none", "docker")
LOAD_CHECKS = ("node", "docker", "off")  # bundler/loadcheck/


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        return value.lower() in ("1", "true", "yes", "on")
    raise TypeError("expected true or false")


def _patterns(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p for p in value.split(",") if p)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError("expected a list of glob patterns")


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in choices:
            raise TypeError(f"expected one of {', '.join(choices)}")
        return str(value)
    return convert


def _size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError("expected a size like 25mb")
    return parse_size(value)


def _env_pairs(value: Any) -> tuple[tuple[str, str], ...]:
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
            key, sep, val = line.partition("=")
            if not sep or not key.strip():
                raise TypeError(f"{echo(line)} is not KEY=VALUE")
            items.append((key.strip(), val))
    return tuple(sorted(dict(items).items()))


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number of seconds")
    return float(value)


# key -> (converter, default). Keys are the config-file spelling; flags use dashes, env PHOTON_BUNDLE_<KEY>.
KEYS: dict[str, tuple[Callable[[Any], Any], Any]] = {
    "runtime": (_str, None),
    "arch": (_choice(("x86_64", "arm64")), "x86_64"),
    "out": (_str, None),
    "max_size": (_size, None),
    "format": (_choice(FORMATS), "zip"),
    "exclude": (_patterns, ()),
    "include": (_patterns, ()),
    "layer_node_modules": (_bool, False),
    "engine_source": (_choice(ENGINE_SOURCES), "auto"),
    "mirror": (_str, None),
    "engine_version": (_str, None),
    "offline": (_bool, False),
    "verify": (_bool, True),
    "force": (_bool, False),
    "image": (_str, None),
    "build": (_choice(BUILDS), "none"),
    "build_command": (_str, None),
    "build_env": (_env_pairs, ()),
    "build_timeout": (_float, 900.0),
    "load_check": (_choice(LOAD_CHECKS), "node"),
    "load_check_timeout": (_float, 30.0),
    "report": (_bool, False),  # report.html beside the manifest (bundler/report/)
    "trace": (_bool, False),  # ship only the files the entry points reach (bundler/trace/)
}
# Keys only a flag sets (not meaningful in a shared config file).
FLAG_ONLY = ("force",)


@dataclass(frozen=True)
class Resolved:
    values: Mapping[str, Any]
    sources: Mapping[str, str]

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")


def output_dir(project_dir: Path, platform: str, options: Resolved) -> Path:
    """--out (relative to the current folder), else <project>/.photon-bundle/<platform>."""
    if options["out"]:
        out = Path(options["out"])
        return out if out.is_absolute() else (Path.cwd() / out)
    return project_dir / ".photon-bundle" / platform


def load_config(project_dir: Path, platforms: list[str], extra_keys: Mapping[str, list[str]],
                checked: Collection[str] | None = None) -> dict[str, Any]:
    """The parsed config file ({} when absent), with unknown top-level keys and sections rejected, and
    unknown keys in the sections named by `checked` (default: all; a command checks its own section, so
    that it loads no other platform's adapter to learn that platform's keys)."""
    path = project_dir / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
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
            if key not in platforms:
                raise ConfigError(f"{path}: unknown section [{key}]", hint=closest(key, platforms))
            if checked is not None and key not in checked:
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
    config: Mapping[str, Any],
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    extra: Mapping[str, tuple[Callable[[Any], Any], Any]] | None = None,
) -> Resolved:
    """Combine the layers; flags with value None count as not given."""
    keys = dict(KEYS)
    keys.update(extra or {})
    section = config.get(platform, {})
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, (convert, default) in keys.items():
        layers: list[tuple[str, Any]] = [("default", default)]
        if key in config and not isinstance(config[key], dict):
            layers.append((CONFIG_FILE, config[key]))
        if key in section:
            layers.append((f"{CONFIG_FILE} [{platform}]", section[key]))
        env_name = "PHOTON_BUNDLE_" + key.upper()
        if env.get(env_name):
            layers.append((env_name, env[env_name]))
        if flags.get(key) not in (None, ()):
            layers.append(("--" + key.replace("_", "-"), flags[key]))
        origin, raw = layers[-1]
        try:
            values[key] = convert(raw) if raw is not None else None
        except (TypeError, ValueError, OverflowError) as err:
            raise ConfigError(f"{origin}: bad value {echo(raw)} for {key}: {err}") from None
        sources[key] = origin
    return Resolved(values=values, sources=sources)
