"""One JavaScript / TypeScript file parsed with tree-sitter (bundler/jsparse.py), and the facts the doctor's
placement check reads from it: module-scope names, exported handlers, Prisma client aliases,
relative imports, which function encloses a node (bundler/doctor/placement.py classifies the clients)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bundler.jsparse import language_for, parser

CLIENT_CLASSES = frozenset({"PrismaClient", "Photon"})
FUNCTIONS = frozenset({"function_declaration", "function_expression", "function", "arrow_function",
                       "method_definition", "generator_function_declaration", "generator_function"})


def text(node: Any) -> str:
    return str(node.text.decode("utf-8", errors="replace")) if node is not None else ""


def walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def string_value(node: Any) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    inner = [c for c in node.named_children if c.type == "string_fragment"]
    if node.type == "template_string" and any(c.type == "template_substitution" for c in node.named_children):
        return None
    return "".join(text(c) for c in inner)


class Module:
    """One parsed file: its module-scope names, exported functions, client aliases, relative imports."""

    def __init__(self, rel: str, source: bytes) -> None:
        self.rel = rel
        self.tree = parser(language_for(rel)).parse(source)
        self.root = self.tree.root_node
        self.top_names: dict[str, Any] = {}  # module-scope name -> its value node (or the declaration)
        self.exports: dict[int, str] = {}  # id of an exported function node -> export name
        self.export_values: dict[str, Any] = {}
        self.classes = set(CLIENT_CLASSES)
        self.imports: dict[str, tuple[str, str]] = {}  # local name -> (specifier, export name or "*")
        self.specifiers: list[str] = []
        self._scan()

    # ------------------------------------------------------------------------------------------ scanning

    def _scan(self) -> None:
        for stmt in self.root.named_children:
            decl = stmt.child_by_field_name("declaration") if stmt.type == "export_statement" else stmt
            self._declare(decl if decl is not None else stmt)
        for node in walk(self.root):
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if fn is not None and fn.type in ("identifier", "import") and text(fn) in ("require", "import") \
                        and args is not None and args.named_children:
                    spec = string_value(args.named_children[0])
                    if spec is not None:
                        self.specifiers.append(spec)
                        self._require_bindings(node, spec)
            elif node.type in ("import_statement", "export_statement"):
                source = node.child_by_field_name("source")
                spec = string_value(source)
                if spec is not None:
                    self.specifiers.append(spec)
                    if node.type == "import_statement":
                        self._import_bindings(node, spec)
        for stmt in self.root.named_children:
            self._exports_of(stmt)

    def _declare(self, node: Any) -> None:
        if node.type in ("function_declaration", "generator_function_declaration", "class_declaration"):
            name = node.child_by_field_name("name")
            if name is not None:
                self.top_names[text(name)] = node
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for d in node.named_children:
                if d.type == "variable_declarator":
                    name = d.child_by_field_name("name")
                    if name is not None and name.type == "identifier":
                        self.top_names[text(name)] = d.child_by_field_name("value") or d
                    elif name is not None:
                        for ident in walk(name):
                            if ident.type in ("identifier", "shorthand_property_identifier_pattern"):
                                self.top_names[text(ident)] = d

    def _client_module(self, spec: str) -> bool:
        return spec in ("@prisma/client", "@generated/photon", ".prisma/client") or spec.endswith(
            ("/.prisma/client", "/@generated/photon", "generated/client", "generated/prisma"))

    def _require_bindings(self, call: Any, spec: str) -> None:
        """`const x = require(spec)`, `const {a, b: c} = require(spec)`: local names -> what they import."""
        parent = call.parent
        if parent is None or parent.type != "variable_declarator":
            return
        name = parent.child_by_field_name("name")
        if name is None:
            return
        if name.type == "identifier":
            self.imports[text(name)] = (spec, "*")
        elif name.type == "object_pattern":
            for child in name.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    self.imports[text(child)] = (spec, text(child))
                elif child.type == "pair_pattern":
                    key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
                    if key is not None and value is not None and value.type == "identifier":
                        self.imports[text(value)] = (spec, text(key))
                        if self._client_module(spec) and text(key) in CLIENT_CLASSES:
                            self.classes.add(text(value))

    def _import_bindings(self, node: Any, spec: str) -> None:
        for child in walk(node):
            if child.type == "import_specifier":
                name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                local = text(alias or name)
                self.imports[local] = (spec, text(name))
                if self._client_module(spec) and text(name) in CLIENT_CLASSES:
                    self.classes.add(local)
            elif child.type == "namespace_import":
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.imports[text(ident)] = (spec, "*")
            elif child.type == "import_clause":
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.imports[text(ident)] = (spec, "default")

    def _exports_of(self, stmt: Any) -> None:
        if stmt.type == "expression_statement":
            expr = stmt.named_children[0] if stmt.named_children else None
            if expr is not None and expr.type == "assignment_expression":
                left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
                target = text(left)
                if target in ("module.exports", "exports"):
                    self._export_value("module.exports", right)
                elif target.startswith(("exports.", "module.exports.")):
                    self._export_value(target.rsplit(".", 1)[1], right)
        elif stmt.type == "export_statement":
            decl = stmt.child_by_field_name("declaration")
            value = stmt.child_by_field_name("value")
            if decl is not None:
                if decl.type in ("function_declaration", "generator_function_declaration"):
                    self._export_value(text(decl.child_by_field_name("name")), decl)
                elif decl.type in ("lexical_declaration", "variable_declaration"):
                    for d in decl.named_children:
                        if d.type == "variable_declarator":
                            self._export_value(text(d.child_by_field_name("name")), d.child_by_field_name("value"))
            elif value is not None or any(c.type == "default" for c in stmt.children):
                default = value or next((c for c in stmt.named_children if c.type in FUNCTIONS), None)
                self._export_value("default", default)
            for clause in (c for c in stmt.named_children if c.type == "export_clause"):
                for spec in clause.named_children:
                    local, alias = spec.child_by_field_name("name"), spec.child_by_field_name("alias")
                    self._export_value(text(alias or local), local)

    def _export_value(self, name: str, value: Any) -> None:
        if value is None:
            return
        self.export_values[name] = value
        for fn in self.functions_of(value, set()):
            self.exports.setdefault(fn.id, name)
        if value.type == "object":  # module.exports = { handler, other: fn }
            for child in value.named_children:
                if child.type == "shorthand_property_identifier":
                    for fn in self.functions_of(child, set()):
                        self.exports.setdefault(fn.id, text(child))
                elif child.type == "pair":
                    key, val = child.child_by_field_name("key"), child.child_by_field_name("value")
                    for fn in self.functions_of(val, set()):
                        self.exports.setdefault(fn.id, text(key))

    def functions_of(self, value: Any, seen: set[str]) -> list[Any]:
        """The function nodes a value stands for: itself, a module-scope name, a wrapper's arguments."""
        if value is None:
            return []
        if value.type in FUNCTIONS:
            return [value]
        if value.type in ("identifier", "shorthand_property_identifier"):
            name = text(value)
            if name in seen or name not in self.top_names:
                return []
            return self.functions_of(self.top_names[name], {*seen, name})
        if value.type in ("call_expression", "new_expression"):
            args = value.child_by_field_name("arguments")
            return [f for a in (args.named_children if args is not None else []) for f in self.functions_of(a, seen)]
        if value.type in ("parenthesized_expression", "as_expression", "satisfies_expression", "await_expression",
                          "non_null_expression", "type_assertion"):
            return [f for c in value.named_children for f in self.functions_of(c, seen)]
        return []

    # ------------------------------------------------------------------------------------------ queries

    def enclosing(self, node: Any) -> list[Any]:
        """The functions around a node, innermost first."""
        out = []
        current = node.parent
        while current is not None:
            if current.type in FUNCTIONS:
                out.append(current)
            current = current.parent
        return out

    def function_name(self, fn: Any) -> str:
        name = fn.child_by_field_name("name")
        if name is not None:
            return text(name)
        parent = fn.parent
        if parent is not None and parent.type == "variable_declarator":
            return text(parent.child_by_field_name("name"))
        if parent is not None and parent.type in ("assignment_expression", "pair"):
            left = parent.child_by_field_name("left") or parent.child_by_field_name("key")
            return text(left).rsplit(".", 1)[-1]
        return "(anonymous function)"

    def handler_of(self, functions: list[Any]) -> str | None:
        """The export name of the outermost exported function among `functions`, if any."""
        for fn in reversed(functions):
            if fn.id in self.exports:
                return self.exports[fn.id]
        return None

    def is_client_new(self, node: Any) -> bool:
        ctor = node.child_by_field_name("constructor")
        if ctor is None:
            return False
        if ctor.type == "identifier":
            return text(ctor) in self.classes
        if ctor.type == "member_expression":
            return text(ctor.child_by_field_name("property")) in CLIENT_CLASSES
        return False

    def lazy_target(self, node: Any, functions: list[Any]) -> str | None:
        """The module-level place a client made in a function is kept in, if it is kept (`x ??= new ...`)."""
        current = node
        while current.parent is not None and current.parent.type in (
                "parenthesized_expression", "binary_expression", "as_expression", "ternary_expression"):
            current = current.parent
        parent = current.parent
        if parent is None or parent.type not in ("assignment_expression", "augmented_assignment_expression"):
            return None
        left = parent.child_by_field_name("left")
        if left is None:
            return None
        if left.type == "identifier":
            name = text(left)
            locals_ = {n for fn in functions for n in declared_in(fn)}
            return name if name in self.top_names and name not in locals_ else None
        if left.type == "member_expression":
            base = left
            while base.type == "member_expression":
                base = base.child_by_field_name("object")
            if text(base) in ("global", "globalThis", "this") or text(base) in self.top_names:
                return text(left)
        return None

    def calls_inside_handlers(self, names: set[str]) -> list[tuple[Any, str, str]]:
        """(call node, callee text, handler export) for calls of `names` (or `x.name`) inside exported functions."""
        out = []
        for node in walk(self.root):
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            callee = text(fn)
            short = callee.rsplit(".", 1)[-1]
            if callee in names or short in names:
                handler = self.handler_of(self.enclosing(node))
                if handler is not None:
                    out.append((node, callee, handler))
        return out


def declared_in(fn: Any) -> set[str]:
    names: set[str] = set()
    for node in walk(fn):
        if node is not fn and node.type in FUNCTIONS:
            continue
        if node.type == "variable_declarator":
            name = node.child_by_field_name("name")
            if name is not None and name.type == "identifier":
                names.add(text(name))
    params = fn.child_by_field_name("parameters")
    for node in walk(params) if params is not None else []:
        if node.type == "identifier":
            names.add(text(node))
    return names


def line_of(node: Any) -> int:
    return int(node.start_point[0]) + 1
