"""What one JavaScript file loads, read with a real parser (tree-sitter), not regular expressions.

Seen: `require('x')`, `require.resolve('x')`, `module.require('x')`, `import ... from 'x'`, `import 'x'`,
`export ... from 'x'` and `import('x')`, with a string literal or a template literal without substitutions.
A require or import whose argument is computed (`require(name)`, `require('./' + x)`, `` import(`./${x}`) ``)
cannot be followed: it is reported with its line so the user can add its files with `--include`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bundler.jsparse import language, language_for, parser

KINDS = ("require", "import")  # which exports conditions a specifier resolves with

_QUERY = """
(call_expression function: (identifier) @fn arguments: (arguments . (_) @arg))
(call_expression function: (member_expression object: (identifier) @obj property: (property_identifier) @prop)
                 arguments: (arguments . (_) @arg))
(call_expression function: (import) arguments: (arguments . (_) @arg))
(import_statement source: (string) @src)
(export_statement source: (string) @src)
"""
_MARKERS = (b"require", b"import", b"export")  # a file without any of them loads nothing: not parsed
SNIPPET = 60  # characters of a computed argument shown in a warning


@dataclass(frozen=True)
class Specifier:
    value: str
    kind: str  # "require" (CommonJS conditions) or "import" (ESM conditions)
    line: int


@dataclass(frozen=True)
class Computed:
    """A require / import whose argument is not a literal: `call` is the source text, shortened."""

    line: int
    call: str


@dataclass(frozen=True)
class Imports:
    specifiers: tuple[Specifier, ...]
    computed: tuple[Computed, ...]


@lru_cache(maxsize=4)
def _query(kind: str) -> Any:
    import tree_sitter

    return tree_sitter.Query(language(kind), _QUERY)


def _literal(node: Any) -> str | None:
    """The value of a string literal, or of a template literal without substitutions; None otherwise."""
    if node.type == "string":
        return "".join(c.text.decode("utf-8", "replace") for c in node.named_children if c.type == "string_fragment")
    if node.type == "template_string" and not any(c.type == "template_substitution" for c in node.named_children):
        return "".join(c.text.decode("utf-8", "replace") for c in node.named_children if c.type == "string_fragment")
    return None


def read_imports(source: bytes, path: str) -> Imports:
    """Every literal specifier `path` loads and every computed one (the grammar follows the file's extension)."""
    if not any(m in source for m in _MARKERS):
        return Imports((), ())
    import tree_sitter

    kind = language_for(path)
    tree = parser(kind).parse(source)
    found: list[Specifier] = []
    computed: list[Computed] = []
    for _, caps in tree_sitter.QueryCursor(_query(kind)).matches(tree.root_node):
        if "src" in caps:
            node = caps["src"][0]
            value = _literal(node)
            if value:
                found.append(Specifier(value, "import", node.start_point[0] + 1))
            continue
        arg: Any = caps["arg"][0]
        call_kind = _call_kind(caps)
        if call_kind is None:
            continue
        value = _literal(arg)
        line = arg.start_point[0] + 1
        if value is not None:
            if value:
                found.append(Specifier(value, call_kind, line))
        elif arg.type != "spread_element":
            call = arg.parent.parent.text.decode("utf-8", "replace")
            computed.append(Computed(line, " ".join(call.split())[:SNIPPET]))
    found.sort(key=lambda s: (s.line, s.value))
    computed.sort(key=lambda c: c.line)
    return Imports(tuple(found), tuple(computed))


def _call_kind(caps: dict[str, list[Any]]) -> str | None:
    """"require" or "import" for a call that loads a module, None for any other call."""
    if "fn" in caps:
        return "require" if caps["fn"][0].text == b"require" else None
    if "obj" in caps:
        obj, prop = caps["obj"][0].text, caps["prop"][0].text
        return "require" if (obj, prop) in ((b"require", b"resolve"), (b"module", b"require")) else None
    return "import"
