"""ZEIT Now v2 (2019, @now/node): one Lambda zip per entry point, each within its build's maxLambdaSize.

Runtime: @now/node ran functions on AWS Lambda: nodejs8.10 (Amazon Linux 2018.03, OpenSSL 1.0.2k) by default,
so the engine is rhel-openssl-1.0.x, or the 2019 Photon.js build `prisma-linux-glibc-libssl1.0.1` that the
Photon specs listed for "Lambda Node 8, ZEIT"; the package.json `engines.node` nearest the function (its own
folder's, e.g. api/package.json, else the project's) selected Node 10 or 12 (Lambda nodejs10.x / nodejs12.x,
Amazon Linux 2, the same engine target). runtimes.toml: [platform.now] and its runtimes. An engines.node that
allows none of them is an error rather than a silent mismatch.

Entry points: the `src` of every now.json build whose `use` is @now/node or @now/node-server (any
@version), expanded as a glob against the project's files (platforms/nowconfig.py), or the files given with
--entry (each uses the first node build whose src matches it, else gets a new build). Builds for other
builders (@now/static, @now/next...) are left alone. `version: 1` is refused: Now 1 deployed Docker/Node
servers, not Lambdas. Each entry's zip holds only its own files and dependency closure and one engine.

Zero config (now.json `version: 2` without `builds`, or no now.json): Now served every JavaScript file in
`api/` as a function (names starting with `_` or `.` excepted) and every other file as static, `public/`
at the root. Those files are the entry points; the written now.json stays without `builds`, because adding
any build switches zero config off and Now would stop serving the static files (the functions' size is
then checked against --max-size, else @now/node's 5mb default, and cannot be written into now.json). An
--entry outside api/ needs a build: the now.json copy in the output folder gets it, with a warning naming
every path Now would stop serving, and your own now.json is never changed for it, even with --write-config.

Size: each zip must fit its build's `config.maxLambdaSize` (npm `bytes` syntax: "25mb" = 25 * 1024 * 1024),
default 5mb for @now/node; --max-size (or photon-bundle.toml max_size) overrides it for every build. Now
accepted at most 50mb: a larger value, from either place, is a configuration error. Over the limit the run
stops with exit 4 and the breakdown of what is big, and writes nothing.

now.json out: the same file with `version: 2`, each bundled build's `config.maxLambdaSize` set to the limit
that was checked (an unpinned "@now/node" becomes "@now/node@canary", the builder the 2019 Photon.js guides
deployed with), builds added for --entry files no build covered, every other key (routes, env, alias...)
and the key order kept. It is written to the output folder; the project's own now.json is updated only
with --write-config.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, ProjectError, echo
from bundler.limits import format_size, parse_size
from bundler.options import Options
from bundler.project import Project, read_package_json
from bundler.targets import load_matrix, runtime_for_node_range
from platforms.base import AdapterDefaults, OutputFile, Unit
from platforms.configfiles import config_outputs, dump_json, json_key_line
from platforms.jsdeps import SCANNED
from platforms.nowconfig import (
    NowExtras,
    check_unique_names,
    checked_entries,
    entry_unit,
    expand_braces,
    glob_files,
    glob_match,
    json_value_line,
    normalize,
    project_files,
    read_optional,
    where,
)

CONFIG = "now.json"
CANARY = "@now/node@canary"
NODE_BUILDER = re.compile(r"^@now/node(?:-server)?(?:@[\w.\-]+)?$")


@dataclass(frozen=True)
class Build:
    """A now.json build that @now/node turns into Lambdas."""

    index: int
    src: str
    use: str
    line: int | None
    max_size: tuple[int, str] | None  # (bytes, as written) from config.maxLambdaSize
    includes: tuple[str, ...]  # config.includeFiles as anchored gitignore lines


def size_text(n: int) -> str:
    """Bytes as now.json writes a size: "25mb", "512kb", or plain digits (npm `bytes` reads all three)."""
    if n % (1 << 20) == 0:
        return f"{n >> 20}mb"
    if n % (1 << 10) == 0:
        return f"{n >> 10}kb"
    return str(n)


def check_version(config: Mapping[str, Any], text: str, path: Path) -> None:
    version = config.get("version")
    if version in (None, 2):
        return
    loc = where(path, json_key_line(text, "version"))
    if version == 1:
        raise ProjectError(f"{loc}: now.json version 1 deploys Docker or Node servers, not Lambdas: there are no "
                           "function zips to bundle",
                           hint='move to Now 2: set "version": 2 and list the functions in "builds" with '
                                f'"use": "{CANARY}" (or pass --entry FILE)')
    raise ProjectError(f"{loc}: unknown now.json version {version!r}", hint='ZEIT Now v2 files say "version": 2')


def parse_max(raw: Any, path: Path, text: str, index: int) -> tuple[int, str]:
    loc = where(path, json_value_line(text, "maxLambdaSize", raw, after="builds"))
    what = f"builds[{index}] config.maxLambdaSize {raw!r}"
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise ProjectError(f"{loc}: {what}: expected a size like \"25mb\", found {echo(raw)}")
    try:
        size = parse_size(raw)
    except ConfigError as err:
        raise ConfigError(f"{loc}: {what}: {err.message}", hint=err.hint) from None
    zip_max = load_matrix().platform("now").zip_max or size
    if size <= 0:
        raise ConfigError(f"{loc}: {what} must be more than 0 bytes")
    if size > zip_max:
        raise ConfigError(f"{loc}: {what} is more than ZEIT Now allows: a Lambda may be at most "
                          f"{size_text(zip_max)} zipped ({zip_max} bytes)",
                          hint=f"set maxLambdaSize to {size_text(zip_max)} or less and make the function smaller "
                               "(--exclude what it does not load)")
    return size, str(raw)


def node_builds(config: Mapping[str, Any], text: str, path: Path) -> list[Build]:
    """The builds @now/node handles, checked; other builders' builds are skipped."""
    raw = config.get("builds")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ProjectError(f"{where(path, json_key_line(text, 'builds'))}: \"builds\" must be a list of "
                           '{"src", "use"} objects')
    builds: list[Build] = []
    for i, build in enumerate(raw):
        src = build.get("src") if isinstance(build, dict) else None
        use = build.get("use") if isinstance(build, dict) else None
        line = json_value_line(text, "src", src, after="builds") if isinstance(src, str) else None
        if not isinstance(src, str) or not isinstance(use, str):
            raise ProjectError(f"{where(path, line or json_key_line(text, 'builds'))}: builds[{i}] needs \"src\" "
                               'and "use" strings', hint='e.g. {"src": "api/*.js", "use": "@now/node@canary"}')
        if not NODE_BUILDER.match(use):
            continue
        cfg = build.get("config", {})
        if not isinstance(cfg, dict):
            raise ProjectError(f"{where(path, line)}: builds[{i}] \"config\" must be an object")
        max_size = parse_max(cfg["maxLambdaSize"], path, text, i) if "maxLambdaSize" in cfg else None
        include = cfg.get("includeFiles", [])
        patterns = [include] if isinstance(include, str) else include
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise ProjectError(f"{where(path, line)}: builds[{i}] config.includeFiles must be a glob or a list of "
                               "globs")
        includes = tuple("/" + normalize(p) for pattern in patterns for p in expand_braces(pattern, str(path))
                         if normalize(p))
        builds.append(Build(index=i, src=normalize(src), use=use, line=line, max_size=max_size, includes=includes))
    return builds


def flag_limit(options: Options) -> tuple[int, str] | None:
    """--max-size (or photon-bundle.toml max_size) for every build, refused above Now's 50mb."""
    size = options.max_size
    if size is None:
        return None
    source = options.source("max_size")
    zip_max = load_matrix().platform("now").zip_max or size
    if size > zip_max:
        raise ConfigError(f"{source}: max-size {format_size(size)} is more than ZEIT Now allows: maxLambdaSize may "
                          f"be at most {size_text(zip_max)} ({zip_max} bytes zipped)",
                          hint=f"use --max-size {size_text(zip_max)} or less")
    return size, f"max-size ({source})"


ZERO_CONFIG_DIR = "api/"


def is_zero_config(config: Mapping[str, Any] | None) -> bool:
    """now.json v2 without `builds` (or no now.json): Now finds the functions in api/ itself."""
    return config is None or "builds" not in config


def zero_config_functions(files: list[str]) -> list[str]:
    """The files zero-config Now deploys as functions: JavaScript below api/, no segment starting with _ or ."""
    return [f for f in files if f.startswith(ZERO_CONFIG_DIR) and f.endswith(SCANNED)
            and not any(part.startswith(("_", ".")) for part in f.split("/"))]


def served_paths_lost(files: list[str]) -> list[str]:
    """The paths zero-config Now serves that a now.json with `builds` would no longer serve: every file that
    is not a function, as its URL (public/x is served at /x)."""
    functions = set(zero_config_functions(files))
    lost = []
    for f in files:
        if f in functions or f in (CONFIG, "package.json", "package-lock.json", "yarn.lock") or \
                f.startswith(ZERO_CONFIG_DIR) or any(part.startswith(".") for part in f.split("/")):
            continue
        lost.append("/" + (f[len("public/"):] if f.startswith("public/") else f))
    return lost


def engines_node_runtime(root: Path, entry: str) -> tuple[str, str] | None:
    """The runtime the package.json nearest the entry (below the project root) selects with engines.node."""
    folder = posixpath.dirname(entry)
    while folder:
        path = root / folder / "package.json"
        if path.is_file():
            node = read_package_json(path).engines_node
            if node:
                return _node_runtime(node, f"{folder}/package.json")
            return None
        folder = posixpath.dirname(folder)
    return None


def _node_runtime(node: str, where: str) -> tuple[str, str]:
    match = runtime_for_node_range("now", node, where)
    if match is None:
        names = ", ".join(f"Node {r.node}" for r in load_matrix().runtimes_for("now"))
        raise ProjectError(f'{where} engines.node "{node}" allows none of the Node versions @now/node ran ({names} '
                           "on AWS Lambda, ZEIT Now 2019-2020)",
                           hint="allow one of them in engines.node, or bundle for today's platform with "
                                "`photon-bundle vercel`")
    return match.name, f'{where} engines.node "{node}"'


def updated_now_json(config: Mapping[str, Any], units: list[Unit]) -> dict[str, Any]:
    """now.json with version 2 and each bundled build's use/maxLambdaSize; nothing else changes."""
    data: dict[str, Any] = dict(config) if "version" in config else {"version": 2, **config}
    builds: list[Any] = copy.deepcopy(list(config.get("builds") or []))
    for unit in units:
        index, size = unit.meta["build_index"], unit.meta["max_lambda_size"]
        if index is None:
            entry = unit.meta["entry"]
            if not any(isinstance(b, dict) and b.get("src") == entry for b in builds):
                builds.append({"src": entry, "use": CANARY, "config": {"maxLambdaSize": size}})
            continue
        build = builds[index]
        if build.get("use") == "@now/node":
            build["use"] = CANARY
        build.setdefault("config", {})["maxLambdaSize"] = size
    data["builds"] = builds
    return data


def _own_package_json(root: Path, entry: str) -> str | None:
    """The package.json nearest the entry below the project root (Now installs and reads it), if any."""
    folder = posixpath.dirname(entry)
    while folder:
        if (root / folder / "package.json").is_file():
            return f"{folder}/package.json"
        folder = posixpath.dirname(folder)
    return None


def _zero_config_outputs(root: Path, path: Path, config: Mapping[str, Any] | None, text: str, units: list[Unit],
                         out_dir: Path, options: Options) -> list[OutputFile]:
    """A zero-config project keeps its now.json as it is; only entries outside api/ need builds, and adding them
    would stop Now serving the static files: a warning naming them, and never written in place."""
    files = project_files(root)
    functions = set(zero_config_functions(files))
    extra = [u for u in units if u.meta["entry"] not in functions]
    lost = served_paths_lost(files)
    if not extra:  # nothing to change: Now finds the functions in api/ and serves the rest as it did
        if config is None:
            return []
        return [OutputFile(out_dir / CONFIG, text,
                           note=f"zero config: {path.name} is unchanged in {out_dir / CONFIG} (no \"builds\" added: "
                                "they would switch zero config off" + (f" and stop Now serving {lost[0]} ..." if lost
                                                                       else "") + "; the size limit checked is "
                                "not written into it)")]
    updated = updated_now_json(config or {"version": 2}, extra)
    shown = ", ".join(lost[:8]) + (f" and {len(lost) - 8} more" if len(lost) > 8 else "")
    copy_path = out_dir / CONFIG
    note = (f"warning: {', '.join(u.meta['entry'] for u in extra)} is outside api/ and needs a build, but adding "
            f"\"builds\" to {path} switches zero config off: Now would stop serving "
            f"{shown or 'the functions in api/'}; wrote the copy with builds to {copy_path}, your {path.name} "
            "was not changed" + (" (even with --write-config)" if options.extras_as(NowExtras).write_config else "")
            + "; move the function into api/ instead, or add builds for the static files yourself")
    out_text = dump_json(updated, text) if text else json.dumps(updated, indent=2) + "\n"
    return [OutputFile(copy_path, out_text, note=note)]


class NowAdapter(AdapterDefaults):
    key = "now"
    extras = NowExtras

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        node = project.package.engines_node
        if node:
            return _node_runtime(node, "package.json")
        default = load_matrix().platform(self.key).default_runtime
        assert default is not None, "runtimes.toml: [platform.now] needs default_runtime"
        node_major = next(r.node for r in load_matrix().runtimes_for(self.key) if r.name == default)
        return default, f"@now/node runs Node {node_major} on AWS Lambda (its default without engines.node)"

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        root = project.root
        path = root / CONFIG
        config, text = read_optional(path)
        if config is not None:
            check_version(config, text, path)
        builds = node_builds(config or {}, text, path)
        forced = flag_limit(options)
        pairs: list[tuple[str, Build | None]] = []
        warnings: list[str] = []
        given = options.extras_as(NowExtras).entry
        if given:
            for entry in checked_entries(root, given):
                pairs.append((entry, next((b for b in builds if glob_match(b.src, entry, str(path))), None)))
        elif is_zero_config(config):
            functions = zero_config_functions(project_files(root))
            if not functions:
                raise ProjectError(f"{path if config is not None else root}: zero-config Now (no \"builds\"): no "
                                   "JavaScript file in api/, so there is no function to bundle",
                                   hint=f'put the functions in api/, or list them in "builds" with "use": "{CANARY}", '
                                        "or pass --entry FILE")
            pairs = [(entry, None) for entry in functions]
        else:
            pairs, warnings = self._from_builds(root, path, config, builds)
        check_unique_names([entry for entry, _ in pairs])
        default = load_matrix().platform(self.key).default_max or 0
        units = []
        for n, (entry, build) in enumerate(pairs):
            if forced is not None:
                limit, written = forced, size_text(forced[0])
            elif build is not None and build.max_size is not None:
                limit = (build.max_size[0], f'maxLambdaSize "{build.max_size[1]}" ({CONFIG} builds[{build.index}])')
                written = build.max_size[1]
            else:
                written = size_text(default)
                limit = (default, f'@now/node default maxLambdaSize "{written}"')
            meta = {"build_index": build.index if build else None, "use": build.use if build else CANARY,
                    "max_lambda_size": written}
            unit = entry_unit(root, entry, includes=build.includes if build else (), zip_limit=limit,
                              meta=meta, warnings=tuple(warnings) if n == 0 else ())
            own = _own_package_json(root, entry)
            unit = replace(unit, runtime=engines_node_runtime(root, entry),
                           app_files=unit.app_files | {own} if own and unit.app_files is not None else unit.app_files)
            units.append(unit)
        return units

    def _from_builds(self, root: Path, path: Path, config: Mapping[str, Any] | None,
                     builds: list[Build]) -> tuple[list[tuple[str, Build | None]], list[str]]:
        if config is None:
            raise ProjectError(f"no {CONFIG} in {root}: nothing says which files are functions",
                               hint=f'add a now.json with "builds": [{{"src": "api/*.js", "use": "{CANARY}"}}], '
                                    "or pass --entry FILE")
        if not builds:
            raise ProjectError(f"{path}: no @now/node builds: nothing to bundle",
                               hint=f'add {{"src": "api/*.js", "use": "{CANARY}"}} to "builds", or pass --entry FILE')
        files = project_files(root)
        pairs: list[tuple[str, Build | None]] = []
        warnings: list[str] = []
        seen: set[str] = set()
        for build in builds:
            matched = glob_files(build.src, files, str(path))
            if not matched:
                raise ProjectError(f"{where(path, build.line)}: builds[{build.index}] src {build.src!r} matches no "
                                   f"file in {root}", hint="fix the glob: it is matched against the project's own "
                                                           "files (node_modules excluded)")
            for entry in matched:
                if entry in seen:
                    warnings.append(f"{entry} matches builds[{build.index}] too; the first build that matches it "
                                    "is used")
                elif not entry.endswith(SCANNED):
                    warnings.append(f"{entry} (builds[{build.index}]) is not JavaScript: skipped")
                else:
                    seen.add(entry)
                    pairs.append((entry, build))
        if not pairs:
            raise ProjectError(f"{path}: the @now/node builds match no JavaScript file",
                               hint="point builds[].src at .js files, or pass --entry FILE")
        return pairs, warnings

    def outputs(self, project: Project, options: Options, units: list[Unit],
                doc: Mapping[str, Any], out_dir: Path) -> list[OutputFile]:
        path = project.root / CONFIG
        config, text = read_optional(path)
        if is_zero_config(config):
            return _zero_config_outputs(project.root, path, config, text, units, out_dir, options)
        updated = updated_now_json(config or {}, units)
        out_text = text if config is not None and updated == config else dump_json(updated, text)
        return config_outputs(path, out_dir, out_text, write_config=options.extras_as(NowExtras).write_config)
