"""Read the Node project: package.json, lockfile kind, schema.prisma generators and datasource.

Reading is I/O at the edge; the parsers (`parse_package_json`, `parse_schema`) are pure functions of text,
so malformed files are tested without a file system. Every parse error names the file and the line.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from bundler.bounds import parser_depth, read_bounded
from bundler.errors import ProjectError, echo

LOCKFILES = (("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"), ("yarn.lock", "yarn"),
             ("pnpm-lock.yaml", "pnpm"))
SCHEMA_CANDIDATES = ("prisma/schema.prisma", "schema.prisma", "prisma/project.prisma", "project.prisma")
CLIENT_PROVIDERS = ("prisma-client-js", "photonjs", "prisma-client")
BOM = "\ufeff"


@dataclass(frozen=True)
class PackageJson:
    """The fields of a package.json that bundling needs."""

    name: str | None
    version: str | None
    main: str | None
    dependencies: dict[str, str] = field(default_factory=dict)
    optional: dict[str, str] = field(default_factory=dict)
    dev: dict[str, str] = field(default_factory=dict)
    # peerDependencies, read for installed packages only: npm 7+, pnpm and yarn install them beside the package
    # that names them, and Node loads them from there like any dependency
    peer: dict[str, str] = field(default_factory=dict)
    engines_node: str | None = None
    prisma_schema: str | None = None

    @property
    def runtime_dependencies(self) -> list[str]:
        """Production dependencies, optional ones included, in a stable order."""
        return sorted({*self.dependencies, *self.optional})


@dataclass(frozen=True)
class Generator:
    name: str
    provider: str
    line: int
    output: str | None = None
    binary_targets: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()  # Photon.js 2019 name of binaryTargets
    engine_type: str | None = None

    @property
    def is_client(self) -> bool:
        return self.provider in CLIENT_PROVIDERS

    @property
    def targets(self) -> tuple[str, ...]:
        return self.binary_targets or self.platforms


@dataclass(frozen=True)
class Schema:
    path: str  # relative to the project root
    generators: tuple[Generator, ...]
    datasource_provider: str | None
    datasource_url: tuple[str, int] | None = None  # (the `url = ...` value as written, its line)

    @property
    def client_generators(self) -> tuple[Generator, ...]:
        return tuple(g for g in self.generators if g.is_client)

    @property
    def is_photon(self) -> bool:
        """A 2019 Photon.js project (generator provider `photonjs` or the `platforms` field)."""
        return any(g.provider == "photonjs" or g.platforms for g in self.generators)


@dataclass(frozen=True)
class Project:
    root: Path
    package: PackageJson
    lockfile: str | None  # "npm" | "yarn" | "pnpm" | None
    schema: Schema | None


def generator_dirs(project: Project) -> list[str]:
    """Folders the schema's client generators write to (their `output`), project-relative with a slash."""
    schema = project.schema
    if schema is None:
        return []
    base = posixpath.dirname(schema.path)
    dirs = []
    for gen in schema.client_generators:
        if gen.output and not gen.output.startswith("env:"):
            out = posixpath.normpath(posixpath.join(base, gen.output))
            if not out.startswith("../") and out not in (".", ".."):
                dirs.append(out.rstrip("/") + "/")
    return dirs


def read_project(root: Path) -> Project:
    """Inspect a project directory. Raises ProjectError naming the file for anything malformed or missing."""
    if not root.is_dir():
        raise ProjectError(f"project directory {root} does not exist", hint="pass the folder holding package.json")
    pkg_path = root / "package.json"
    if not pkg_path.is_file():
        raise ProjectError(f"no package.json in {root}", hint="run photon-bundle in (or pass) the Node project folder")
    package = parse_package_json(_read_text(pkg_path).removeprefix(BOM), str(pkg_path))  # node accepts a BOM
    lockfile = next((kind for name, kind in LOCKFILES if (root / name).is_file()), None)
    schema = None
    candidates = ([package.prisma_schema] if package.prisma_schema else []) + list(SCHEMA_CANDIDATES)
    for candidate in candidates:
        path = root / candidate
        if path.is_file():
            schema = parse_schema(_read_text(path), candidate)
            break
    return Project(root=root, package=package, lockfile=lockfile, schema=schema)


def _read_text(path: Path) -> str:
    try:
        return read_bounded(path).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProjectError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ProjectError(f"{path}: cannot be read: {err.strerror}") from None


def parse_package_json(text: str, where: str, *, lenient: bool = False) -> PackageJson:
    """The fields bundling needs. The user's own package.json is read strictly (a field of the wrong type is an
    error naming it); an installed package's (`lenient`) as npm reads it: `"main": false`, a non-string name,
    or a dependency map with odd values are ignored field by field, never a reason to drop the package."""
    try:
        with parser_depth(where):
            data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProjectError(
            f"{where}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}", hint="fix the JSON syntax at that line"
        ) from None
    if not isinstance(data, dict):
        raise ProjectError(f"{where}: expected a JSON object at the top level")

    def deps(key: str) -> dict[str, str]:
        value = data.get(key) or {}
        if lenient:
            return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ProjectError(f"{where}: {key!r} must be an object of name -> version strings")
        return dict(value)

    engines = data.get("engines") or {}
    prisma = data.get("prisma") or {}
    def text_field(key: str) -> str | None:
        if lenient:
            value = data.get(key)
            return value if isinstance(value, str) else None
        return _opt_str(data, key, where)

    return PackageJson(
        name=text_field("name"),
        version=text_field("version"),
        main=text_field("main"),
        dependencies=deps("dependencies"),
        optional=deps("optionalDependencies"),
        dev=deps("devDependencies"),
        peer=deps("peerDependencies") if lenient else {},
        engines_node=(_str_or_none(engines.get("node")) if isinstance(engines, dict) else None) if lenient
        else _nested_str(engines, "engines", "node", where, 'a semver range like ">=18"'),
        prisma_schema=(_str_or_none(prisma.get("schema")) if isinstance(prisma, dict) else None) if lenient
        else _nested_str(prisma, "prisma", "schema", where, 'a path like "prisma/schema.prisma"'),
    )


def _nested_str(parent: object, outer: str, key: str, where: str, example: str) -> str | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is None or isinstance(value, str):
        return value
    raise ProjectError(f"{where}: {outer}.{key} must be a string, found {echo(value)}", hint=f"write {example}")


def read_package_json(path: Path, *, lenient: bool = False) -> PackageJson:
    return parse_package_json(_read_text(path).removeprefix(BOM), str(path), lenient=lenient)


def package_json_text(raw: bytes) -> str:
    """A package.json's text as node reads it: UTF-8 with invalid bytes replaced (U+FFFD), a BOM dropped."""
    return raw.decode("utf-8", errors="replace").removeprefix(BOM)


def package_json_data(path: Path) -> object:
    """The parsed JSON of an installed package's package.json, read as node reads it (package_json_text).
    Raises OSError or ValueError like json.loads on a file."""
    return json.loads(package_json_text(path.read_bytes()))


def read_installed_package_json(path: Path, rel_dir: str) -> tuple[PackageJson, str | None]:
    """An installed package's package.json as node would see it, and a warning when it matters.

    Node (20) reads package.json as UTF-8, replacing invalid bytes, and drops a BOM: such a package loads,
    so it is read the same way here (a warning only when a replaced byte lands in a field that decides what
    loads: name, main, a dependency). Node refuses every require into a package whose package.json is not
    valid JSON ("Error parsing .../package.json"): the package is still read as a package (by its folder name,
    without dependencies) so the bundle keeps it as installed, and the warning names the file. Fields of a
    wrong type are ignored, as node ignores them."""
    name = rel_dir.rsplit("node_modules/", 1)[-1]
    try:
        raw = path.read_bytes()
    except OSError as err:
        return PackageJson(name=name, version=None, main=None), f"{path}: cannot be read: {err.strerror or err}"
    text = package_json_text(raw)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        where = f"{err.lineno}:{err.colno}: {err.msg}" if isinstance(err, json.JSONDecodeError) else "too deep"
        return (PackageJson(name=name, version=None, main=None),
                f"{path}:{where}: invalid JSON; node refuses to load any file of package {name!r} "
                "(\"Error parsing package.json\"): it is bundled as installed, without its dependencies; "
                "reinstall it (npm ci) or fix the file")
    if not isinstance(data, dict):
        return (PackageJson(name=name, version=None, main=None),
                f"{path}: not a JSON object; bundled as installed, without its dependencies")
    package = PackageJson(
        name=_str_or_none(data.get("name")) or name, version=_str_or_none(data.get("version")),
        main=_str_or_none(data.get("main")), dependencies=_str_map(data.get("dependencies")),
        optional=_str_map(data.get("optionalDependencies")), dev=_str_map(data.get("devDependencies")),
        peer=_str_map(data.get("peerDependencies")),
        engines_node=_str_or_none((data.get("engines") or {}).get("node") if isinstance(data.get("engines"), dict)
                                  else None),
    )
    used = [package.name or "", package.main or "", *package.dependencies, *package.optional]
    if "\ufffd" in text and any("\ufffd" in value for value in used):
        return package, (f"{path}: not UTF-8; node reads it with the bad bytes replaced (U+FFFD), so its name, "
                         "main or a dependency name no longer matches a file; reinstall the package or fix "
                         "the file's encoding")
    return package, None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _str_map(value: object) -> dict[str, str]:
    return {k: v for k, v in value.items() if isinstance(v, str)} if isinstance(value, dict) else {}


def _opt_str(data: dict[str, object], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ProjectError(f"{where}: {key!r} must be a string")


# ------------------------------------------------------------------ schema.prisma

_BLOCK_START = re.compile(r"^(generator|datasource|model|enum|type|view)\s+(\w+)\s*\{\s*$")
_ASSIGN = re.compile(r"^(\w+)\s*=\s*(.+)$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_schema(text: str, where: str) -> Schema:
    """Parse the generator and datasource blocks of a Prisma schema (2019 Photon.js files included)."""
    generators: list[Generator] = []
    provider: str | None = None
    url: tuple[str, int] | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        i += 1
        if not line:
            continue
        m = _BLOCK_START.match(line)
        if not m:
            if line.startswith(("generator", "datasource")):
                raise ProjectError(f"{where}:{i}: expected `{line.split()[0]} <name> {{`", hint="fix the block header")
            continue
        kind, name, start = m.group(1), m.group(2), i
        body: dict[str, tuple[str, int]] = {}
        while True:
            if i >= len(lines):
                raise ProjectError(f"{where}:{start}: {kind} {name!r} is not closed", hint="add the missing `}`")
            raw = _strip_comment(lines[i]).strip()
            i += 1
            if raw == "}":
                break
            if not raw or kind not in ("generator", "datasource"):
                continue
            assign = _ASSIGN.match(raw)
            if not assign:
                raise ProjectError(f"{where}:{i}: expected `key = value` in {kind} {name!r}, found {raw!r}")
            value, value_line = assign.group(2).strip(), i
            if value.startswith("[") and "]" not in value:  # a list continued on the next lines
                while "]" not in value:
                    if i >= len(lines):
                        raise ProjectError(f"{where}:{value_line}: list for {assign.group(1)!r} is not closed")
                    value += " " + _strip_comment(lines[i]).strip()
                    i += 1
            body[assign.group(1)] = (value, value_line)
        if kind == "generator":
            generators.append(_generator(name, body, start, where))
        elif kind == "datasource" and "provider" in body:
            provider = _string_value(*body["provider"], where)
            url = body.get("url", url)
    return Schema(path=where, generators=tuple(generators), datasource_provider=provider, datasource_url=url)


def _generator(name: str, body: dict[str, tuple[str, int]], line: int, where: str) -> Generator:
    if "provider" not in body:
        raise ProjectError(
            f"{where}:{line}: generator {name!r} has no provider", hint='add provider = "prisma-client-js"'
        )
    output = body.get("output")
    engine = body.get("engineType")
    return Generator(
        name=name,
        provider=_string_value(*body["provider"], where),
        line=line,
        output=_string_value(*output, where) if output else None,
        binary_targets=_list_value(*body["binaryTargets"], where) if "binaryTargets" in body else (),
        platforms=_list_value(*body["platforms"], where) if "platforms" in body else (),
        engine_type=_string_value(*engine, where) if engine else None,
    )


def _strip_comment(line: str) -> str:
    in_string = False
    for idx, ch in enumerate(line):
        if ch == '"' and (idx == 0 or line[idx - 1] != "\\"):
            in_string = not in_string
        elif ch == "/" and not in_string and line[idx: idx + 2] == "//":
            return line[:idx]
    return line


def _string_value(value: str, line: int, where: str) -> str:
    env = re.fullmatch(r'env\(\s*"([^"]*)"\s*\)', value)
    if env:
        return f"env:{env.group(1)}"
    m = _STRING.fullmatch(value)
    if not m:
        raise ProjectError(f"{where}:{line}: expected a quoted string, found {value!r}")
    return m.group(1)


def _list_value(value: str, line: int, where: str) -> tuple[str, ...]:
    if not (value.startswith("[") and value.endswith("]")):
        raise ProjectError(f"{where}:{line}: expected a list like [\"native\"], found {value!r}")
    inner = value[1:-1].strip()
    if not inner:
        return ()
    items = [item.strip() for item in inner.split(",") if item.strip()]
    return tuple(_string_value(item, line, where) for item in items)
