"""Where each entry point creates its Prisma client, found with a real JavaScript / TypeScript parser
(tree-sitter), not regular expressions: CommonJS, ESM and TypeScript as users write them.

For every `new PrismaClient()` (and the 2019 `new Photon()`, aliases from `require` / `import` included):
  * at module scope                                       -> `module`   (good: one client per container)
  * assigned to a module variable inside a function       -> `lazy`     (good: `prisma ??= new PrismaClient()`,
    `if (!prisma) prisma = new ...`, `globalThis.prisma = ...`)
  * inside an exported handler                            -> `handler`  (error: a client and a pool per invocation)
  * inside a helper that an exported handler calls        -> `handler`  (the same, one call away)
  * inside another function                               -> `function` (warning: it makes a client per call)
and every `$disconnect()` (Photon's `disconnect()` on a client variable) inside an exported handler ->
`disconnect` (warning: it closes the pool that the next invocation would reuse).

Exported handlers: `exports.x = fn`, `module.exports = fn | {x, y: fn}`, `export function x`, `export const x =
fn`, `export default fn`, `export { x }`, a function passed to a wrapper (`export const handler = middy(fn)`).
Relative requires / imports are followed two levels deep, so a client made in `lib/prisma.js` and imported
by the handler is found there (module scope: good; an exported factory the handler calls: error).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from bundler.jsparse import language_for, parser

CLIENT_CLASSES = frozenset({"PrismaClient", "Photon"})
FUNCTIONS = frozenset({"function_declaration", "function_expression", "function", "arrow_function",
                       "method_definition", "generator_function_declaration", "generator_function"})
MAX_DEPTH = 2  # levels of relative imports followed from an entry file
MAX_BYTES = 2 << 20  # larger sources are generated bundles: not parsed
Kind = Literal["module", "lazy", "handler", "function", "disconnect"]


@dataclass(frozen=True)
class Site:
    kind: Kind
    file: str  # relative to the project root
    line: int
    detail: str
    photon: bool = False  # `new Photon()` (2019)
    via: str = ""  # "imported by src/handler.js" for a module the entry loads


@dataclass(frozen=True)
class Placement:
    entry: str
    sites: tuple[Site, ...]
    files: tuple[str, ...]  # the files parsed (entry first)
    problems: tuple[str, ...] = ()  # files that could not be read or parsed


def _text(node: Any) -> str:
    return str(node.text.decode("utf-8", errors="replace")) if node is not None else ""


def _walk(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def _string_value(node: Any) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    inner = [c for c in node.named_children if c.type == "string_fragment"]
    if node.type == "template_string" and any(c.type == "template_substitution" for c in node.named_children):
        return None
    return "".join(_text(c) for c in inner)


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
        for node in _walk(self.root):
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                args = node.child_by_field_name("arguments")
                if fn is not None and fn.type in ("identifier", "import") and _text(fn) in ("require", "import") \
                        and args is not None and args.named_children:
                    spec = _string_value(args.named_children[0])
                    if spec is not None:
                        self.specifiers.append(spec)
                        self._require_bindings(node, spec)
            elif node.type in ("import_statement", "export_statement"):
                source = node.child_by_field_name("source")
                spec = _string_value(source)
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
                self.top_names[_text(name)] = node
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for d in node.named_children:
                if d.type == "variable_declarator":
                    name = d.child_by_field_name("name")
                    if name is not None and name.type == "identifier":
                        self.top_names[_text(name)] = d.child_by_field_name("value") or d
                    elif name is not None:
                        for ident in _walk(name):
                            if ident.type in ("identifier", "shorthand_property_identifier_pattern"):
                                self.top_names[_text(ident)] = d

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
            self.imports[_text(name)] = (spec, "*")
        elif name.type == "object_pattern":
            for child in name.named_children:
                if child.type == "shorthand_property_identifier_pattern":
                    self.imports[_text(child)] = (spec, _text(child))
                elif child.type == "pair_pattern":
                    key, value = child.child_by_field_name("key"), child.child_by_field_name("value")
                    if key is not None and value is not None and value.type == "identifier":
                        self.imports[_text(value)] = (spec, _text(key))
                        if self._client_module(spec) and _text(key) in CLIENT_CLASSES:
                            self.classes.add(_text(value))

    def _import_bindings(self, node: Any, spec: str) -> None:
        for child in _walk(node):
            if child.type == "import_specifier":
                name, alias = child.child_by_field_name("name"), child.child_by_field_name("alias")
                local = _text(alias or name)
                self.imports[local] = (spec, _text(name))
                if self._client_module(spec) and _text(name) in CLIENT_CLASSES:
                    self.classes.add(local)
            elif child.type == "namespace_import":
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.imports[_text(ident)] = (spec, "*")
            elif child.type == "import_clause":
                ident = next((c for c in child.named_children if c.type == "identifier"), None)
                if ident is not None:
                    self.imports[_text(ident)] = (spec, "default")

    def _exports_of(self, stmt: Any) -> None:
        if stmt.type == "expression_statement":
            expr = stmt.named_children[0] if stmt.named_children else None
            if expr is not None and expr.type == "assignment_expression":
                left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
                target = _text(left)
                if target in ("module.exports", "exports"):
                    self._export_value("module.exports", right)
                elif target.startswith(("exports.", "module.exports.")):
                    self._export_value(target.rsplit(".", 1)[1], right)
        elif stmt.type == "export_statement":
            decl = stmt.child_by_field_name("declaration")
            value = stmt.child_by_field_name("value")
            if decl is not None:
                if decl.type in ("function_declaration", "generator_function_declaration"):
                    self._export_value(_text(decl.child_by_field_name("name")), decl)
                elif decl.type in ("lexical_declaration", "variable_declaration"):
                    for d in decl.named_children:
                        if d.type == "variable_declarator":
                            self._export_value(_text(d.child_by_field_name("name")), d.child_by_field_name("value"))
            elif value is not None or any(c.type == "default" for c in stmt.children):
                default = value or next((c for c in stmt.named_children if c.type in FUNCTIONS), None)
                self._export_value("default", default)
            for clause in (c for c in stmt.named_children if c.type == "export_clause"):
                for spec in clause.named_children:
                    local, alias = spec.child_by_field_name("name"), spec.child_by_field_name("alias")
                    self._export_value(_text(alias or local), local)

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
                        self.exports.setdefault(fn.id, _text(child))
                elif child.type == "pair":
                    key, val = child.child_by_field_name("key"), child.child_by_field_name("value")
                    for fn in self.functions_of(val, set()):
                        self.exports.setdefault(fn.id, _text(key))

    def functions_of(self, value: Any, seen: set[str]) -> list[Any]:
        """The function nodes a value stands for: itself, a module-scope name, a wrapper's arguments."""
        if value is None:
            return []
        if value.type in FUNCTIONS:
            return [value]
        if value.type in ("identifier", "shorthand_property_identifier"):
            name = _text(value)
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
            return _text(name)
        parent = fn.parent
        if parent is not None and parent.type == "variable_declarator":
            return _text(parent.child_by_field_name("name"))
        if parent is not None and parent.type in ("assignment_expression", "pair"):
            left = parent.child_by_field_name("left") or parent.child_by_field_name("key")
            return _text(left).rsplit(".", 1)[-1]
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
            return _text(ctor) in self.classes
        if ctor.type == "member_expression":
            return _text(ctor.child_by_field_name("property")) in CLIENT_CLASSES
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
            name = _text(left)
            locals_ = {n for fn in functions for n in _declared_in(fn)}
            return name if name in self.top_names and name not in locals_ else None
        if left.type == "member_expression":
            base = left
            while base.type == "member_expression":
                base = base.child_by_field_name("object")
            if _text(base) in ("global", "globalThis", "this") or _text(base) in self.top_names:
                return _text(left)
        return None

    def calls_inside_handlers(self, names: set[str]) -> list[tuple[Any, str, str]]:
        """(call node, callee text, handler export) for calls of `names` (or `x.name`) inside exported functions."""
        out = []
        for node in _walk(self.root):
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            callee = _text(fn)
            short = callee.rsplit(".", 1)[-1]
            if callee in names or short in names:
                handler = self.handler_of(self.enclosing(node))
                if handler is not None:
                    out.append((node, callee, handler))
        return out


def _declared_in(fn: Any) -> set[str]:
    names: set[str] = set()
    for node in _walk(fn):
        if node is not fn and node.type in FUNCTIONS:
            continue
        if node.type == "variable_declarator":
            name = node.child_by_field_name("name")
            if name is not None and name.type == "identifier":
                names.add(_text(name))
    params = fn.child_by_field_name("parameters")
    for node in _walk(params) if params is not None else []:
        if node.type == "identifier":
            names.add(_text(node))
    return names


def _line(node: Any) -> int:
    return int(node.start_point[0]) + 1


def analyse_module(mod: Module, via: str = "") -> tuple[list[Site], dict[str, str]]:
    """Sites of one module, and its factories: export name -> "file:line" of a client it makes per call."""
    sites: list[Site] = []
    factories: dict[str, str] = {}
    clients: set[str] = set()
    for node in _walk(mod.root):
        if node.type != "new_expression" or not mod.is_client_new(node):
            continue
        photon = "Photon" in _text(node.child_by_field_name("constructor"))
        where = f"{mod.rel}:{_line(node)}"
        functions = mod.enclosing(node)
        parent = node.parent
        if parent is not None and parent.type == "variable_declarator":
            clients.add(_text(parent.child_by_field_name("name")))
        if not functions:
            sites.append(Site("module", mod.rel, _line(node), "created once at module scope", photon, via))
            continue
        kept = mod.lazy_target(node, functions)
        if kept is not None:
            clients.add(kept.rsplit(".", 1)[-1])
            sites.append(Site("lazy", mod.rel, _line(node), f"created on first use and kept in `{kept}`", photon, via))
            continue
        handler = mod.handler_of(functions)
        if handler is not None and not via:
            sites.append(Site("handler", mod.rel, _line(node), f"created inside the exported handler `{handler}`",
                              photon, via))
            continue
        if handler is not None:  # an exported factory of an imported module: decided by its callers
            factories[handler] = where
            continue
        name = mod.function_name(functions[0])
        calls = mod.calls_inside_handlers({name}) if name != "(anonymous function)" else []
        if calls:
            call, _, h = calls[0]
            sites.append(Site("handler", mod.rel, _line(node), f"created in `{name}()`, which the exported handler "
                              f"`{h}` calls at line {_line(call)}: a new client on every invocation", photon, via))
        else:
            sites.append(Site("function", mod.rel, _line(node), f"created inside `{name}()`: a new client on every "
                              "call", photon, via))
    for node in _walk(mod.root):
        if node.type != "call_expression":
            continue
        fn = node.child_by_field_name("function")
        if fn is None or fn.type != "member_expression":
            continue
        prop = _text(fn.child_by_field_name("property"))
        obj = _text(fn.child_by_field_name("object")).rsplit(".", 1)[-1]
        if prop == "$disconnect" or (prop == "disconnect" and obj in clients):
            handler = mod.handler_of(mod.enclosing(node))
            if handler is not None:
                sites.append(Site("disconnect", mod.rel, _line(node), f"`{_text(fn)}()` in the exported handler "
                                  f"`{handler}` closes the pool at the end of every invocation", via=via))
    return sites, factories


def analyse(root: Path, entry: str) -> Placement:
    """Parse the entry file and the local modules it loads (two levels), and place every client."""
    from platforms.jsdeps import resolve_relative

    sites: list[Site] = []
    problems: list[str] = []
    parsed: list[str] = []
    entry_mod = _load(root, entry, problems)
    if entry_mod is None:
        return Placement(entry, (), (), tuple(problems))
    parsed.append(entry)
    found, _ = analyse_module(entry_mod)
    sites += found
    queue: list[tuple[Module, int]] = [(entry_mod, 0)]
    seen = {entry}
    while queue:
        mod, depth = queue.pop(0)
        if depth >= MAX_DEPTH:
            continue
        for spec in dict.fromkeys(mod.specifiers):
            if not spec.startswith(("./", "../")):
                continue
            target = resolve_relative(root, posixpath.dirname(mod.rel), spec)
            if target is None or target in seen or not target.endswith((".js", ".mjs", ".cjs", ".ts", ".mts",
                                                                         ".cts", ".tsx", ".jsx")):
                target = target or _typescript_target(root, posixpath.dirname(mod.rel), spec)
                if target is None or target in seen:
                    continue
            seen.add(target)
            child = _load(root, target, problems)
            if child is None:
                continue
            parsed.append(target)
            child_sites, factories = analyse_module(child, via=f"loaded by {mod.rel}")
            sites += child_sites
            sites += _factory_calls(mod, spec, factories, child)
            queue.append((child, depth + 1))
    return Placement(entry, tuple(sites), tuple(parsed), tuple(problems))


def _factory_calls(importer: Module, spec: str, factories: dict[str, str], child: Module) -> list[Site]:
    """Sites for an imported module's exported factories (a client per call), judged by where they are called."""
    out: list[Site] = []
    for export, where in factories.items():
        locals_ = {local for local, (s, name) in importer.imports.items() if s == spec and name in (export, "default")}
        whole = {local for local, (s, name) in importer.imports.items() if s == spec and name == "*"}
        names = locals_ | ({f"{w}.{export}" for w in whole} if export != "module.exports" else whole)
        calls = importer.calls_inside_handlers({n.rsplit(".", 1)[-1] for n in names} | names) if names else []
        file, _, line = where.rpartition(":")
        if calls:
            call, callee, handler = calls[0]
            out.append(Site("handler", file, int(line), f"created in `{export}()` of {child.rel}, which the exported "
                            f"handler `{handler}` of {importer.rel} calls at line {_line(call)} (`{callee}()`): a new "
                            "client on every invocation", via=f"loaded by {importer.rel}"))
        else:
            out.append(Site("function", file, int(line), f"created inside the exported `{export}()`: a new client on "
                            "every call", via=f"loaded by {importer.rel}"))
    return out


def _typescript_target(root: Path, folder: str, spec: str) -> str | None:
    """`./lib/prisma` from a TypeScript file: lib/prisma.ts (or .tsx, or lib/prisma/index.ts); `./x.js` -> x.ts."""
    base = posixpath.normpath(posixpath.join(folder, spec))
    if base.startswith(".."):
        return None
    stems = [base, base.rsplit(".", 1)[0]] if base.endswith((".js", ".mjs", ".cjs")) else [base]
    for stem in stems:
        for candidate in (f"{stem}.ts", f"{stem}.tsx", f"{stem}.mts", f"{stem}.cts", f"{stem}/index.ts"):
            if (root / candidate).is_file():
                return candidate
    return None


def _load(root: Path, rel: str, problems: list[str]) -> Module | None:
    path = root / rel
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            problems.append(f"{rel}: {size:,} bytes, larger than {MAX_BYTES >> 20} MiB: a generated bundle, not parsed")
            return None
        source = path.read_bytes()
    except OSError as err:
        problems.append(f"{rel}: cannot be read: {err.strerror or err}")
        return None
    mod = Module(rel, source)
    if mod.root.has_error:
        problems.append(f"{rel}: has syntax the parser does not understand; placement may be incomplete")
    return mod
