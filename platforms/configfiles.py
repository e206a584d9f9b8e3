"""Platform config files: read them with errors that name the file and line; write them back keeping
key order (and, for YAML, comments and quoting).

Product rule: the user's project is never modified by default. An updated config is written as a copy
into the output folder; the user's own file is updated in place only with --write-config, and a YAML
file is only rewritten when an unchanged round trip reproduces it byte for byte (otherwise comments or
layout could be lost silently): then the copy is written and the summary says why the file was left alone.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.bounds import check_flow_nesting, check_shape, parser_depth, read_bounded
from bundler.errors import ProjectError
from platforms.base import OutputFile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_text(path: Path) -> str:
    """A config file's text: UTF-8, a regular file of at most bounds.MAX_TEXT_BYTES."""
    try:
        return read_bounded(path).decode("utf-8")
    except UnicodeDecodeError as err:
        raise ProjectError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ProjectError(f"{path}: cannot be read: {err.strerror}") from None


# ------------------------------------------------------------------------------------------------ JSON


def parse_json(text: str, where: Path | str) -> Any:
    try:
        with parser_depth(where):
            data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ProjectError(f"{where}:{err.lineno}:{err.colno}: invalid JSON: {err.msg}",
                           hint="fix the JSON syntax at that line") from None
    check_shape(data, where)
    return data


def read_json_object(path: Path) -> tuple[dict[str, Any], str]:
    """(the object, the original text); a ProjectError naming file and line when it is not a JSON object."""
    text = read_text(path)
    data = parse_json(text, path)
    if not isinstance(data, dict):
        raise ProjectError(f"{path}:1: expected a JSON object at the top level, found {type(data).__name__}")
    return data, text


def json_indent(text: str) -> str | int:
    """The indentation the file uses (the first indented line's), else 2."""
    m = re.search(r"^[{\[][^\n]*\n([ \t]+)\S", text, re.MULTILINE)
    if not m:
        return 2
    indent = m.group(1)
    return indent if "\t" in indent else len(indent)


def dump_json(data: Any, original: str = "") -> str:
    """JSON in the original file's indentation and key order, ending with a newline as it did."""
    text = json.dumps(data, indent=json_indent(original), ensure_ascii=False)
    return text + ("\n" if not original or original.endswith("\n") else "")


def json_key_lines(text: str, under: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """The line of every object key of a valid JSON text, by key path (array items by index as strings): the
    one place JSON keys are found for messages (json keeps no positions). One pass over the text; only the
    paths below `under` are kept (a large file's other keys cost no memory)."""
    lines: dict[tuple[str, ...], int] = {}
    path: list[str] = []  # per open container: the current key, or the item index
    in_array: list[bool] = []
    last: tuple[str, int] | None = None  # the last string, as written, and where it started
    line, counted = 1, 0  # the line at offset `counted`
    depth = len(under)
    for m in re.finditer(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]', text):
        piece = m.group(0)
        if piece.startswith('"'):
            last = (piece, m.start())
        elif piece == ":" and last is not None and path:
            raw = last[0]
            path[-1] = json.loads(raw) if "\\" in raw else raw[1:-1]
            if tuple(path[:depth]) == under:
                line += text.count("\n", counted, last[1])
                counted = last[1]
                lines[tuple(path)] = line
        elif piece in "{[":
            path.append("0")
            in_array.append(piece == "[")
        elif piece in "}]" and path:
            path.pop()
            in_array.pop()
        elif piece == "," and in_array and in_array[-1]:
            path[-1] = str(int(path[-1]) + 1)
    return lines


def json_line(text: str, *keys: str | int) -> int | None:
    """The line of the key at that path in a JSON text (array items by index), for messages (json keeps no
    positions). For several lookups in one text, take json_key_lines once."""
    path = tuple(str(k) for k in keys)
    return json_key_lines(text, path).get(path)


# ------------------------------------------------------------------------------------------------ TOML


def read_toml(path: Path) -> dict[str, Any]:
    text = read_text(path)
    try:
        with parser_depth(path):
            data = tomllib.loads(text)
        check_shape(data, path)
        return data
    except tomllib.TOMLDecodeError as err:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
        where = f"{path}:{m.group(1)}:{m.group(2)}" if m else str(path)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
        raise ProjectError(f"{where}: invalid TOML: {message}", hint="fix the TOML syntax at that line") from None


def toml_key_line(text: str, key: str) -> int | None:
    m = re.search(r"^\s*" + re.escape(key) + r"\s*=", text, re.MULTILINE)
    return text.count("\n", 0, m.start()) + 1 if m else None


# ------------------------------------------------------------------------------------------------ YAML


@dataclass
class YamlDoc:
    """A YAML file loaded for a round trip: data (ruamel's commented maps) and how to write it back."""

    path: Path
    text: str
    data: Any
    yaml: Any  # ruamel.yaml.YAML configured with the file's indentation

    def dump(self) -> str:
        buf = io.StringIO()
        self.yaml.dump(self.data, buf)
        return buf.getvalue()

    @property
    def round_trips(self) -> bool:
        """Whether writing the data back unchanged reproduces the file exactly."""
        return load_yaml_text(self.text, self.path).dump() == self.text


def load_yaml(path: Path) -> YamlDoc:
    return load_yaml_text(read_text(path), path)


def load_yaml_text(text: str, path: Path) -> YamlDoc:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    mapping, sequence, offset = guess_yaml_indent(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    check_flow_nesting(text, path)
    try:
        with parser_depth(path):
            data = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(p for p in (err.context, err.problem) if p)
        raise ProjectError(f"{where}: invalid YAML: {problem}", hint="fix the YAML at that line") from None
    except YAMLError as err:
        raise ProjectError(f"{path}: invalid YAML: {err}") from None
    check_shape(data, path)  # before anything walks it: an alias bomb is a few KB that expand to billions
    return YamlDoc(path=path, text=text, data=data, yaml=yaml)


def guess_yaml_indent(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file writes them; ruamel's defaults otherwise."""
    mapping = sequence = offset = None
    lines = text.splitlines()
    for prev, line in zip(lines, lines[1:]):
        p_indent = len(prev) - len(prev.lstrip(" "))
        indent = len(line) - len(line.lstrip(" "))
        if not prev.rstrip().endswith(":") or prev.lstrip().startswith(("#", "- ")) or indent <= p_indent:
            continue  # a "- key:" line's children are indented from its key, not its dash: no measure
        if line.lstrip().startswith("- "):
            if offset is None:
                offset = indent - p_indent
                sequence = offset + 2
        elif mapping is None:
            mapping = indent - p_indent
    return mapping or 2, sequence or 2, offset or 0


def yaml_line(node: Any, key: str | int) -> int | None:
    """The 1-based line of `key` in a ruamel mapping or sequence, when it has positions."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        line = lc.key(key)[0] if isinstance(key, str) else lc.item(key)[0]
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return int(line) + 1


# ------------------------------------------------------------------------------------- ignore files


def read_ignore_file(root: Path, name: str, default: tuple[str, ...] = (), _seen: tuple[str, ...] = (), *,
                     includes: bool = True) -> list[str]:
    """The lines of a gitignore-syntax file (.gcloudignore, .upignore); `#!include:FILE` (gcloud's syntax)
    is expanded when `includes`, else it is a comment like any other line starting with #."""
    path = root / name
    if not path.is_file():
        return list(default)
    lines: list[str] = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        line = raw.rstrip()
        if includes and line.startswith("#!include:"):
            included = line[len("#!include:"):].strip()
            if included in (*_seen, name):
                raise ProjectError(f"{path}:{number}: #!include:{included} includes itself")
            if not (root / included).is_file():
                raise ProjectError(f"{path}:{number}: #!include:{included}: no such file in {root}")
            lines += read_ignore_file(root, included, (), (*_seen, name))
        elif line and not line.startswith("#"):
            lines.append(line)
    return lines


# ------------------------------------------------------------------------------------------- writing


def config_outputs(user_file: Path, out_dir: Path, text: str, *, write_config: bool, exact: bool = True,
                   lossy_reason: str = "") -> list[OutputFile]:
    """The copy in the output folder, and the user's own file only when asked and safe to rewrite
    (a project without such a file gets one with --write-config)."""
    copy = out_dir / user_file.name
    existed = user_file.is_file()
    if not write_config:
        mine = f"your {user_file} was not changed (--write-config updates it in place)" if existed else \
            f"your project has none (--write-config creates {user_file})"
        return [OutputFile(copy, text, note=f"wrote the updated {user_file.name} to {copy}; {mine}")]
    if not exact:
        return [OutputFile(copy, text, note=f"warning: {user_file} was NOT updated although --write-config was "
                                            f"given: {lossy_reason}; the updated copy is {copy}")]
    done = "updated {} in place" if existed else "created {}"
    return [OutputFile(copy, text),
            OutputFile(user_file, text, in_place=True, note=done.format(user_file) + " (--write-config)")]


def relpath_for_config(path: Path, project_dir: Path) -> str:
    """A path as a platform config in the project folder should name it: relative when inside."""
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def get_path(data: Any, dotted: str) -> Any:
    """data["a"]["b"] for "a.b", or None when any part is missing."""
    node = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
