"""Serverless Framework variables (`${source:address, fallback}`) in serverless.yml: the ones photon-bundle
can resolve with certainty, and a file:line error for the others.

Syntax (Serverless v3's parser, lib/configuration/variables/parse.js): `${` type `:` address `}`, with
optional params `type(p1, p2):address`, and fallbacks after commas, tried in order until one gives a value:
`${opt:stage, 'dev'}`, `${env:X, self:custom.x, 42}`, `${self:a, ${env:B}}`. A fallback may be another
source, a nested variable, a quoted string ('x' or "x"), a number, true, false or null; a bare word is
an error, as in Serverless. Addresses may hold variables (`${self:custom.${opt:stage}.runtime}`). A string
that is one variable takes the value's type (a list, a bool); a variable inside a longer string is
stringified. `${AWS::Region}` and other text that does not start with a lower-case type is CloudFormation's
and left alone; `\\${` escapes.

Resolved here, with certainty:
  * `self:a.b.0` — a value of the same file (itself resolved; a missing path takes the fallback);
  * `opt:stage` — --stage; without it the fallback, or "dev" when there is none (Serverless would
    fail there; "dev" is the stage a deploy without --stage uses). Other `opt:` options are not given,
    so they take their fallback;
  * `sls:stage` — --stage, else provider.stage, else "dev";
  * `env:X` — the environment photon-bundle runs in (the fallback when X is not set).
Every other source (file, ssm, s3, cf, aws, param, strToBool, sls:instanceId, plugins' sources) is
looked up at deploy time: it is an error even when a fallback follows, since the fallback is only
used when the lookup finds nothing, which photon-bundle cannot know. Errors name serverless.yml:line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import ProjectError
from platforms.configfiles import yaml_line

Key = tuple[Any, ...]  # a path of mapping keys (str) and list indexes (int) from the document's root
_TYPE = re.compile(r"\s*([a-z][a-zA-Z0-9]*)(\(|:(?!:))")
_SOURCE = re.compile(r"([a-z][a-zA-Z0-9]*)(?:\((.*)\))?(?::(.*))?", re.DOTALL)
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
HINT = "write the value into serverless.yml, set the environment variable, or pass --stage"
# Bounds on resolving (`${self:}` references can fan out exponentially: a1 = ${self:a0}${self:a0}, a2 = ...):
MAX_RESOLVE_STEPS = 200_000  # values produced while resolving one field (with everything it references)
MAX_RESOLVED_CHARS = 1024 * 1024  # the length of one resolved string
_SCALARS = (str, int, float, bool, type(None))
RESOLVED_SOURCES = "${self:...}, ${opt:stage}, ${sls:stage} and ${env:...}"


class VariableSyntaxError(ValueError):
    """A `${...}` Serverless itself would reject."""


class VariableError(ProjectError):
    """A field photon-bundle needs holds a variable it cannot resolve (or an invalid one)."""

    def __init__(self, message: str, keys: Key, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.keys = keys


@dataclass(frozen=True)
class Source:
    """One candidate of a variable: `type(params):address`, a literal, or a nested variable."""

    text: str
    type: str | None = None
    params: str | None = None
    address: str | None = None
    literal: Any = None
    nested: str | None = None  # the "${...}" text of a nested variable


@dataclass(frozen=True)
class Variable:
    start: int
    end: int
    text: str
    sources: tuple[Source, ...]


def find_variables(value: str) -> list[Variable]:
    """The Serverless variables of a string, in order; CloudFormation's `${AWS::Region}` is not one."""
    found: list[Variable] = []
    i = 0
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value.startswith("${", i):
            end = _closing(value, i + 2)
            if end is None:
                if _TYPE.match(value, i + 2):
                    raise VariableSyntaxError(f"missing closing }} in {value!r}")
                break
            body = value[i + 2:end]
            if _TYPE.match(body):
                found.append(Variable(i, end + 1, value[i:end + 1], parse_sources(body)))
            i = end + 1
            continue
        i += 1
    return found


def _closing(value: str, start: int) -> int | None:
    """Index of the `}` that closes a `${` opened just before `start`, skipping nested ones and quotes."""
    depth = 0
    i = start
    while i < len(value):
        c = value[i]
        if c in "'\"":
            close = value.find(c, i + 1)
            if close != -1:
                i = close + 1
                continue
        elif value.startswith("${", i):
            depth += 1
            i += 2
            continue
        elif c == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return None


def _split_top(body: str, sep: str = ",") -> list[str]:
    """Split at `sep` outside quotes, parentheses and nested variables."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current = ""
    escaped = False
    for c in body:
        if quote:
            if escaped:
                escaped = False
            elif c == "\\" and quote == '"':
                escaped = True
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c in "({":
            depth += 1
        elif c in ")}":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += c
    parts.append(current)
    return parts


def parse_sources(body: str) -> tuple[Source, ...]:
    parts = [p.strip() for p in _split_top(body)]
    sources = []
    for n, part in enumerate(parts):
        if not part:
            raise VariableSyntaxError(f"empty source in ${{{body}}}")
        if n and part.startswith("${") and part.endswith("}") and _closing(part, 2) == len(part) - 1:
            sources.append(Source(part, nested=part))
        elif n and part[0] in "'\"":
            sources.append(Source(part, literal=_string_literal(part, body)))
        elif n and part in ("true", "false", "null"):
            sources.append(Source(part, literal={"true": True, "false": False, "null": None}[part]))
        elif n and _NUMBER.fullmatch(part):
            sources.append(Source(part, literal=float(part) if any(c in part for c in ".eE") else int(part)))
        else:
            m = _SOURCE.fullmatch(part)
            if m is None or (m.group(2) is None and m.group(3) is None):
                raise VariableSyntaxError(f"{part!r} in ${{{body}}} is not a source or a literal"
                                          + (f" (to fall back to the text, quote it: '{part}')" if n else ""))
            address = m.group(3)
            if address is not None:
                address = address.strip()
                if address[:1] in ("'", '"'):
                    address = _string_literal(address, body)
            sources.append(Source(part, type=m.group(1), params=m.group(2), address=address))
    return tuple(sources)


def _string_literal(text: str, body: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise VariableSyntaxError(f"unterminated string {text} in ${{{body}}}")
    if text[0] == "'":
        return text[1:-1]
    try:
        value = json.loads(text)
    except ValueError as err:
        raise VariableSyntaxError(f"invalid string {text} in ${{{body}}}: {err}") from None
    return str(value)


class Resolver:
    """Resolves the variables of one loaded serverless.yml (ruamel's round-trip data, for the lines)."""

    def __init__(self, data: Any, path: Path, *, stage: str | None, env: Mapping[str, str]) -> None:
        self.data = data
        self.path = path
        self.stage = stage
        self.env = env
        self._active: list[Key] = []
        self._resolved: dict[Key, Any] = {}  # real path -> its resolved scalar (a path resolves one way)
        self._steps = 0

    # -------------------------------------------------------------------------------- public

    def value(self, keys: Key, default: Any = None) -> Any:
        """The value at `keys` with every variable in it resolved (plain dicts, lists, scalars)."""
        if not self._active:  # a field asked for from outside: its own budget of steps
            self._steps = 0
        node, real = self._walk(keys)
        if node is _MISSING:
            return default
        try:
            return self._deep(node, real)
        except VariableError as err:
            if err.keys[:len(real)] == real:
                raise
            raise VariableError(f"{err.message} (needed for {dotted(keys)} at {self.where(keys)})", err.keys,
                                hint=err.hint) from None

    def raw(self, keys: Key) -> Any:
        """The node at `keys` as written, or None."""
        node: Any = self.data
        for k in keys:
            node = _child(node, k)
            if node is _MISSING:
                return None
        return node

    def line(self, keys: Key) -> int | None:
        """The line of `keys` in the file, or of the nearest enclosing entry that has one."""
        for n in range(len(keys), 0, -1):
            parent = self.raw(keys[:n - 1])
            found = yaml_line(parent, keys[n - 1]) if parent is not None else None
            if found is not None:
                return found
        return None

    def where(self, keys: Key) -> str:
        line = self.line(keys)
        return f"{self.path}:{line}" if line else str(self.path)

    def error(self, keys: Key, message: str, hint: str | None = None) -> VariableError:
        return VariableError(f"{self.where(keys)}: {dotted(keys)}: {message}", keys, hint=hint)

    # -------------------------------------------------------------------------------- walking

    def _walk(self, keys: Key) -> tuple[Any, Key]:
        """The node at keys, resolving variables met on the way; (node, its real path) or _MISSING."""
        node: Any = self.data
        real: Key = ()
        for k in keys:
            if isinstance(node, str):
                node = self._string(node, real)
            node = _child(node, k)
            if node is _MISSING:
                return _MISSING, real
            real = (*real, k)
        return node, real

    def _step(self, real: Key) -> None:
        self._steps += 1
        if self._steps > MAX_RESOLVE_STEPS:
            raise self.error(real, f"resolving the variables takes more than {MAX_RESOLVE_STEPS:,} steps: "
                                   "${self:...} references that fan out (each value used several times, "
                                   "level after level) grow exponentially",
                             hint="reference the values fewer times, or write the resolved value")

    def _deep(self, node: Any, real: Key) -> Any:
        self._step(real)
        if isinstance(node, str):
            return self._string(node, real)
        if isinstance(node, Mapping):
            return {str(k): self._deep(v, (*real, k)) for k, v in node.items()}
        if isinstance(node, list):
            return [self._deep(v, (*real, i)) for i, v in enumerate(node)]
        if isinstance(node, bool) or node is None:
            return node
        if isinstance(node, int):
            return int(node)
        if isinstance(node, float):
            return float(node)
        return node

    def _string(self, text: str, real: Key) -> Any:
        """A string of the file at `real`, its variables resolved (a cycle back to `real` is an error)."""
        if "${" not in text:
            return str(text)
        if real in self._resolved:
            return self._resolved[real]
        self._step(real)
        if real in self._active:
            chain = " -> ".join(dotted(k) for k in [*self._active[self._active.index(real):], real])
            raise self.error(real, f"circular variable reference: {chain}", hint="break the cycle") from None
        self._active.append(real)
        try:
            value = self._interpolate(text, real)
        finally:
            self._active.pop()
        if isinstance(value, _SCALARS):  # a mapping or list is built afresh for each use (callers may change it)
            self._resolved[real] = value
        return value

    def _interpolate(self, text: str, real: Key) -> Any:
        try:
            variables = find_variables(text)
        except VariableSyntaxError as err:
            raise self.error(real, f"invalid variable: {err}", hint="fix the ${...} syntax") from None
        if not variables:
            return str(text)
        if len(variables) == 1 and variables[0].start == 0 and variables[0].end == len(text):
            return self._variable(variables[0], real)
        out = ""
        last = 0
        for var in variables:
            value = self._variable(var, real)
            if isinstance(value, (dict, list)):
                raise self.error(real, f"{var.text} is a {'list' if isinstance(value, list) else 'mapping'}"
                                       " and cannot be part of a string")
            out += text[last:var.start] + _js_string(value)
            last = var.end
            if len(out) > MAX_RESOLVED_CHARS:
                raise self.error(real, f"resolves to a string of more than {MAX_RESOLVED_CHARS:,} characters",
                                 hint="reference the values fewer times, or write the resolved value")
        return out + text[last:]

    def _variable(self, var: Variable, real: Key) -> Any:
        reasons: list[str] = []
        for n, source in enumerate(var.sources):
            value = self._source(source, var, real, last=n == len(var.sources) - 1, reasons=reasons)
            if value is not None:
                return value
        raise self.error(real, f"cannot resolve {var.text}: {'; '.join(reasons) or 'no value'}", hint=HINT)

    def _source(self, source: Source, var: Variable, real: Key, *, last: bool, reasons: list[str]) -> Any:
        if source.nested is not None:
            return self._interpolate(source.nested, real)
        if source.type is None:
            return source.literal
        address = source.address or ""
        if "${" in address:
            resolved = self._interpolate(address, real)
            if not isinstance(resolved, (str, int)):
                raise self.error(real, f"the address of {var.text} is not a string")
            address = str(resolved)
        kind = source.type
        if kind == "self" and source.params is None:
            return self._self(address, real, reasons)
        if kind == "env" and source.params is None:
            value = self.env.get(address)
            if value is None:
                reasons.append(f"the environment variable {address} is not set")
            return value
        if kind == "opt" and source.params is None:
            if address == "stage":
                return self.stage if self.stage is not None else ("dev" if last else None)
            reasons.append(f"photon-bundle passes no --{address} option")
            return None
        if kind == "sls" and source.params is None and address == "stage":
            return self.sls_stage()
        raise self.error(
            real, f"cannot resolve {var.text}: {source.text.split(':')[0]}: sources are looked up at deploy time; "
                  f"photon-bundle resolves only {RESOLVED_SOURCES}", hint=HINT)

    def _self(self, address: str, real: Key, reasons: list[str]) -> Any:
        keys: list[Any] = []
        node: Any = self.data
        for part in address.split(".") if address else []:
            if isinstance(node, str):
                node = self._string(node, tuple(keys))
            key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
            node = _child(node, key)
            if node is _MISSING:
                reasons.append(f"self:{address} does not exist")
                return None
            keys.append(key)
        target = tuple(keys)
        if not target:
            raise self.error(real, "${self:} (the whole file) is not supported here")
        value = self._deep(node, target)
        if value is None:
            reasons.append(f"self:{address} is empty")
        return value

    def sls_stage(self) -> str:
        if self.stage is not None:
            return self.stage
        if self.raw(("provider", "stage")) is None:
            return "dev"
        value = self.value(("provider", "stage"))
        if not isinstance(value, str):
            raise self.error(("provider", "stage"), "must be a string")
        return value


class _Missing:
    pass


_MISSING: Any = _Missing()


def _child(node: Any, key: Any) -> Any:
    if isinstance(node, Mapping):
        return node.get(key, _MISSING)
    if isinstance(node, list) and isinstance(key, int):
        return node[key] if 0 <= key < len(node) else _MISSING
    return _MISSING


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def dotted(keys: Sequence[Any]) -> str:
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else (f".{k}" if out else str(k))
    return out or "(top level)"
