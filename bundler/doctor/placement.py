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
The parsed file and what it declares and exports is bundler/doctor/jsmodule.py's.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bundler.doctor.jsmodule import Module, line_of, text, walk

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


def analyse_module(mod: Module, via: str = "") -> tuple[list[Site], dict[str, str]]:
    """Sites of one module, and its factories: export name -> "file:line" of a client it makes per call."""
    sites: list[Site] = []
    factories: dict[str, str] = {}
    clients: set[str] = set()
    for node in walk(mod.root):
        if node.type != "new_expression" or not mod.is_client_new(node):
            continue
        photon = "Photon" in text(node.child_by_field_name("constructor"))
        where = f"{mod.rel}:{line_of(node)}"
        functions = mod.enclosing(node)
        parent = node.parent
        if parent is not None and parent.type == "variable_declarator":
            clients.add(text(parent.child_by_field_name("name")))
        if not functions:
            sites.append(Site("module", mod.rel, line_of(node), "created once at module scope", photon, via))
            continue
        kept = mod.lazy_target(node, functions)
        if kept is not None:
            clients.add(kept.rsplit(".", 1)[-1])
            sites.append(Site("lazy", mod.rel, line_of(node), f"created on first use and kept in `{kept}`", photon,
                              via))
            continue
        handler = mod.handler_of(functions)
        if handler is not None and not via:
            sites.append(Site("handler", mod.rel, line_of(node), f"created inside the exported handler `{handler}`",
                              photon, via))
            continue
        if handler is not None:  # an exported factory of an imported module: decided by its callers
            factories[handler] = where
            continue
        name = mod.function_name(functions[0])
        calls = mod.calls_inside_handlers({name}) if name != "(anonymous function)" else []
        if calls:
            call, _, h = calls[0]
            sites.append(Site("handler", mod.rel, line_of(node), f"created in `{name}()`, which the exported handler "
                              f"`{h}` calls at line {line_of(call)}: a new client on every invocation", photon, via))
        else:
            sites.append(Site("function", mod.rel, line_of(node), f"created inside `{name}()`: a new client on every "
                              "call", photon, via))
    for node in walk(mod.root):
        if node.type != "call_expression":
            continue
        fn = node.child_by_field_name("function")
        if fn is None or fn.type != "member_expression":
            continue
        prop = text(fn.child_by_field_name("property"))
        obj = text(fn.child_by_field_name("object")).rsplit(".", 1)[-1]
        if prop == "$disconnect" or (prop == "disconnect" and obj in clients):
            handler = mod.handler_of(mod.enclosing(node))
            if handler is not None:
                sites.append(Site("disconnect", mod.rel, line_of(node), f"`{text(fn)}()` in the exported handler "
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
                            f"handler `{handler}` of {importer.rel} calls at line {line_of(call)} (`{callee}()`): a "
                            "new client on every invocation", via=f"loaded by {importer.rel}"))
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
