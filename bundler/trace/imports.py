"""What one JavaScript file loads, read with a real parser (tree-sitter), not regular expressions.

Seen: `require('x')`, `require.resolve('x')`, `module.require('x')`, `import ... from 'x'`, `import 'x'`,
`export ... from 'x'` and `import('x')`, with a string literal or a template literal without substitutions.
A require or import whose argument is computed (`require(name)`, `require('./' + x)`, `` import(`./${x}`) ``)
is reported with its line; its literal outcomes (`x || './default'`, `c ? 'a' : 'b'`) are followed, and its
literal parts make a glob (`'./locales/' + lang + '.json'` -> `./locales/*.json`) that the tracer expands. Paths
built from `__dirname` (the files a module reads with `fs`) are assets.
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
((identifier) @dirname (#eq? @dirname "__dirname"))
"""
PATH_CALLS = frozenset({b"path.join", b"path.resolve", b"join", b"resolve", b"path.posix.join",
                        b"path.posix.resolve"})
_MARKERS = (b"require", b"import", b"export", b"__dirname")  # a file without any of them loads nothing: not parsed
SNIPPET = 60  # characters of a computed argument shown in a warning


@dataclass(frozen=True)
class Specifier:
    value: str
    kind: str  # "require" (CommonJS conditions) or "import" (ESM conditions)
    line: int


@dataclass(frozen=True)
class Computed:
    """A require / import whose argument is not a literal: `call` is the source text, shortened; `pattern` the
    argument with each computed part as `*` when the rest is literal (`'./locales/' + lang + '.json'` ->
    `./locales/*.json`), else None."""

    line: int
    call: str
    pattern: str | None = None


@dataclass(frozen=True)
class Asset:
    """A path built from `__dirname` (`path.join(__dirname, '../templates/receipt.txt')`, `__dirname + '/x'`,
    `` `${__dirname}/x` ``): relative to the file's folder, computed parts as `*`. Files read with `fs` are found
    this way when their path is built where they are read or in a constant."""

    line: int
    pattern: str


@dataclass(frozen=True)
class Imports:
    specifiers: tuple[Specifier, ...]
    computed: tuple[Computed, ...]
    assets: tuple[Asset, ...] = ()


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
    assets: list[Asset] = []
    for _, caps in tree_sitter.QueryCursor(_query(kind)).matches(tree.root_node):
        if "dirname" in caps:
            node = caps["dirname"][0]
            pattern = _dirname_path(node)
            if pattern is not None:
                assets.append(Asset(node.start_point[0] + 1, pattern))
            continue
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
            computed.append(Computed(line, " ".join(call.split())[:SNIPPET], _pattern(arg)))
            found += [Specifier(v, call_kind, line) for v in _alternatives(arg)]
    found.sort(key=lambda s: (s.line, s.value))
    computed.sort(key=lambda c: c.line)
    return Imports(tuple(found), tuple(computed), tuple(sorted(set(assets), key=lambda a: (a.line, a.pattern))))


def _call_kind(caps: dict[str, list[Any]]) -> str | None:
    """"require" or "import" for a call that loads a module, None for any other call."""
    if "fn" in caps:
        return "require" if caps["fn"][0].text == b"require" else None
    if "obj" in caps:
        obj, prop = caps["obj"][0].text, caps["prop"][0].text
        return "require" if (obj, prop) in ((b"require", b"resolve"), (b"module", b"require")) else None
    return "import"


def _pattern(node: Any) -> str | None:
    """`a + b` chains and template literals as a glob: literal parts kept, each computed part `*`; None when
    nothing but the computed parts would be left."""
    parts = _parts(node)
    if parts is None or not any(p != "*" for p in parts):
        return None
    return "".join(parts).replace("**", "*")


def _parts(node: Any) -> list[str] | None:
    if node.type in ("string", "template_string"):
        literal = _literal(node)
        if literal is not None:
            return [literal]
        if node.type == "string":
            return None
        out: list[str] = []
        for child in node.named_children:
            out.append(child.text.decode("utf-8", "replace") if child.type == "string_fragment" else "*")
        return out
    if node.type == "binary_expression" and node.child_by_field_name("operator").type == "+":
        left, right = _parts(node.child_by_field_name("left")), _parts(node.child_by_field_name("right"))
        return None if left is None or right is None else [*left, *right]
    if node.type == "parenthesized_expression" and node.named_child_count == 1:
        return _parts(node.named_children[0])
    return ["*"]


def _dirname_path(node: Any) -> str | None:
    """The path `__dirname` starts, relative to the file's folder ("./templates/*.txt"), or None."""
    parent = node.parent
    parts: list[str] | None = None
    if parent is not None and parent.type == "arguments" and parent.named_children[0] == node:
        call = parent.parent
        function = call.child_by_field_name("function") if call is not None else None
        if function is None or function.text not in PATH_CALLS:
            return None
        parts = []
        for arg in parent.named_children[1:]:
            segment = _parts(arg)
            if segment is None:
                return None
            parts += ["/", *segment]
    elif parent is not None and parent.type in ("binary_expression", "template_substitution"):
        top = parent if parent.type == "binary_expression" else parent.parent
        if top is None or top.named_children[0] not in (node, parent):
            return None  # __dirname must lead the expression
        while top.parent is not None and top.parent.type == "binary_expression" and top.parent.named_children[0] == top:
            top = top.parent
        parts = _parts(top)
        if parts is None or parts[0] != "*":
            return None
        parts = parts[1:]
    if not parts:
        return None
    path = "".join(parts)
    if path.startswith("/"):
        path = "." + path
    if not path.startswith("./") or path.startswith(".//"):
        return None
    if not any(c not in "./*" for c in path):
        return None  # __dirname itself, a parent, or nothing literal
    return path.replace("**", "*")


def _alternatives(node: Any) -> list[str]:
    """The literal outcomes of `a || 'x'`, `a ?? 'x'` and `c ? 'x' : 'y'` (the computed ones stay unknown)."""
    node = _unwrapped(node)
    if node.type == "binary_expression" and node.child_by_field_name("operator").type in ("||", "??"):
        branches = [node.child_by_field_name("left"), node.child_by_field_name("right")]
    elif node.type == "ternary_expression":
        branches = [node.child_by_field_name("consequence"), node.child_by_field_name("alternative")]
    else:
        return []
    out: list[str] = []
    for branch in map(_unwrapped, branches):
        value = _literal(branch) if branch.type in ("string", "template_string") else None
        out += [value] if value else _alternatives(branch)
    return out


def _unwrapped(node: Any) -> Any:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node
