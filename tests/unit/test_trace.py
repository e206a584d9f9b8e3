"""--trace's parts on small trees: what a file loads (tree-sitter), Node's resolution in the bundle's tree
(exports, imports, main, builtins, module-sync), the tracer (package.json files, generated clients, addon
loaders, computed requires) and the plan hook (what is left out, what is kept whole, --include)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from bundler.errors import ConfigError
from bundler.plan import ENGINE, TRACE_REASON, EngineChoice, PlanOptions, plan_bundle
from bundler.project import PackageJson, Project
from bundler.trace import trace_warnings, traced_files
from bundler.trace.imports import read_imports
from bundler.trace.noderesolve import Tree, resolve
from bundler.trace.tracer import Tracer
from bundler.walk import walk_tree
from platforms.base import Unit


def make_tree(root: Path, files: Mapping[str, str | dict[str, object]]) -> Tree:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if isinstance(content, dict) else content)
    return Tree(walk_tree(root))


# ---------------------------------------------------------------------------------------------- imports


def test_every_literal_form_is_read_with_its_kind_and_line() -> None:
    source = b"""const a = require('a');
import b from 'b';
import 'c';
export { d } from "d";
export * from './e.js';
const f = await import('f');
const g = require.resolve(`g`);
module.require('h');
notRequire('x'); obj.require('y');
"""
    found = read_imports(source, "x.mjs")
    assert [(s.value, s.kind, s.line) for s in found.specifiers] == [
        ("a", "require", 1), ("b", "import", 2), ("c", "import", 3), ("d", "import", 4), ("./e.js", "import", 5),
        ("f", "import", 6), ("g", "require", 7), ("h", "require", 8)]
    assert found.computed == ()


def test_computed_arguments_are_reported_with_their_line_not_followed() -> None:
    source = b"const x = 1;\nrequire(name);\nrequire('./locale/' + lang);\nimport(`./${page}.js`);\nrequire(...xs);\n"
    found = read_imports(source, "a.js")
    assert found.specifiers == ()
    assert [(c.line, c.call) for c in found.computed] == [
        (2, "require(name)"), (3, "require('./locale/' + lang)"), (4, "import(`./${page}.js`)")]


def test_typescript_sources_use_the_typescript_grammar() -> None:
    found = read_imports(b"import type { T } from './t';\nimport x from 'x';\nconst y = <number>1;\n", "a.ts")
    assert [s.value for s in found.specifiers] == ["./t", "x"]


def test_a_file_without_markers_is_not_parsed() -> None:
    assert read_imports(b"module.exports = 42;\n", "a.js").specifiers == ()


# ---------------------------------------------------------------------------------------------- resolution


def test_relative_files_extensions_folders_and_main(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "src/a.js": "", "src/data.json": "{}", "src/lib/index.js": "", "src/pkg/package.json": {"main": "./main"},
        "src/pkg/main.js": "", "src/native.node": ""})
    assert resolve(tree, "src", "./a", "require", 20) == ["src/a.js"]
    assert resolve(tree, "src", "./data", "require", 20) == ["src/data.json"]
    assert resolve(tree, "src", "./lib", "require", 20) == ["src/lib/index.js"]
    assert resolve(tree, "src", "./pkg", "require", 20) == ["src/pkg/main.js"]
    assert resolve(tree, "src", "./native.node", "require", 20) == ["src/native.node"]
    assert resolve(tree, "src", "./nope", "require", 20) == []
    assert resolve(tree, "src", "../../outside", "require", 20) == []


def test_bare_specifiers_look_up_node_modules_from_the_file_up(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "node_modules/a/package.json": {"name": "a", "main": "lib/a.js"}, "node_modules/a/lib/a.js": "",
        "node_modules/a/fp.js": "",
        "node_modules/a/node_modules/b/index.js": "", "node_modules/b/index.js": "",
        "node_modules/@s/p/index.js": "", "node_modules/@s/p/sub/x.js": ""})
    assert resolve(tree, "src", "a", "require", 20) == ["node_modules/a/lib/a.js"]
    assert resolve(tree, "src", "a/fp", "require", 20) == ["node_modules/a/fp.js"]
    assert resolve(tree, "node_modules/a/lib", "b", "require", 20) == ["node_modules/a/node_modules/b/index.js"]
    assert resolve(tree, "src", "b", "require", 20) == ["node_modules/b/index.js"]
    assert resolve(tree, "", "@s/p/sub/x", "import", 20) == ["node_modules/@s/p/sub/x.js"]


def test_exports_conditions_subpaths_patterns_and_null(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "node_modules/e/package.json": {"name": "e", "main": "legacy.js", "exports": {
            ".": {"import": "./esm/index.mjs", "require": "./cjs/index.js"},
            "./feature/*": {"node": {"require": "./cjs/features/*.js"}, "default": "./esm/features/*.mjs"},
            "./feature/private": None,
            "./package.json": "./package.json"}},
        "node_modules/e/legacy.js": "", "node_modules/e/esm/index.mjs": "", "node_modules/e/cjs/index.js": "",
        "node_modules/e/cjs/features/one.js": "", "node_modules/e/esm/features/one.mjs": "",
        "node_modules/e/cjs/features/private.js": "", "node_modules/e/cjs/hidden.js": ""})
    assert resolve(tree, "", "e", "require", 20) == ["node_modules/e/cjs/index.js"]
    assert resolve(tree, "", "e", "import", 20) == ["node_modules/e/esm/index.mjs"]
    assert resolve(tree, "", "e/feature/one", "require", 20) == ["node_modules/e/cjs/features/one.js"]
    assert resolve(tree, "", "e/feature/one", "import", 20) == ["node_modules/e/esm/features/one.mjs"]
    assert resolve(tree, "", "e/feature/private", "require", 20) == []  # null: not exported
    assert resolve(tree, "", "e/cjs/hidden", "require", 20) == []  # exports hide what they do not name
    assert resolve(tree, "", "e/package.json", "require", 20) == ["node_modules/e/package.json"]


def test_module_sync_ships_both_outcomes_from_node_20(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "node_modules/m/package.json": {"exports": {".": [{"module-sync": "./require.mjs", "default": "./index.js"},
                                                          "./index.js"]}},
        "node_modules/m/require.mjs": "", "node_modules/m/index.js": ""})
    assert resolve(tree, "", "m", "require", 18) == ["node_modules/m/index.js"]
    assert resolve(tree, "", "m", "require", 20) == ["node_modules/m/index.js", "node_modules/m/require.mjs"]


def test_builtins_are_never_packages_but_a_trailing_slash_is(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {"node_modules/buffer/index.js": "", "node_modules/util/util.js": "",
                                "node_modules/util/package.json": {"main": "util.js"}})
    assert resolve(tree, "", "buffer", "require", 20) == []
    assert resolve(tree, "", "node:buffer", "require", 20) == []
    assert resolve(tree, "", "fs/promises", "import", 20) == []
    assert resolve(tree, "", "buffer/", "require", 20) == ["node_modules/buffer/index.js"]
    assert resolve(tree, "", "util/", "require", 20) == ["node_modules/util/util.js"]


def test_package_imports_and_self_reference(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "node_modules/c/package.json": {"name": "c", "exports": {".": "./index.js", "./util": "./util.js"},
                                        "imports": {"#ansi": {"node": "./vendor/ansi.js"}, "#dep": "d"}},
        "node_modules/c/index.js": "", "node_modules/c/util.js": "", "node_modules/c/vendor/ansi.js": "",
        "node_modules/d/index.js": ""})
    assert resolve(tree, "node_modules/c", "#ansi", "import", 20) == ["node_modules/c/vendor/ansi.js"]
    assert resolve(tree, "node_modules/c", "#dep", "require", 20) == ["node_modules/d/index.js"]
    assert resolve(tree, "node_modules/c/vendor", "c/util", "require", 20) == ["node_modules/c/util.js"]


# ---------------------------------------------------------------------------------------------- tracer


APP: dict[str, str | dict[str, object]] = {
    "package.json": {"name": "app", "dependencies": {"a": "1", "@prisma/client": "5", "addon": "1"}},
    "src/handler.js": "const a = require('a');\nconst { PrismaClient } = require('@prisma/client');\n"
                      "const addon = require('addon');\nconst cfg = require('./config/' + process.env.STAGE);\n",
    "src/unused.js": "require('b');\n",
    "src/config/prod.js": "",
    "node_modules/a/package.json": {"name": "a", "main": "lib/index.js"},
    "node_modules/a/lib/index.js": "module.exports = require('./helper');\n",
    "node_modules/a/lib/helper.js": "const x = require(name);\n",
    "node_modules/a/lib/unused.js": "",
    "node_modules/a/README.md": "",
    "node_modules/b/index.js": "",
    "node_modules/@prisma/client/package.json": {"name": "@prisma/client", "main": "index.js"},
    "node_modules/@prisma/client/index.js": "module.exports = require('.prisma/client/default');\n",
    "node_modules/@prisma/client/runtime/library.js": "",
    "node_modules/@prisma/client/runtime/edge.js": "",
    "node_modules/.prisma/client/package.json": {"name": "prisma-client"},
    "node_modules/.prisma/client/default.js": "module.exports = require('./index.js');\n",
    "node_modules/.prisma/client/index.js": "require('@prisma/client/runtime/library.js');\n",
    "node_modules/.prisma/client/edge.js": "require('@prisma/client/runtime/edge.js');\n",
    "node_modules/.prisma/client/schema.prisma": "",
    "node_modules/addon/package.json": {"name": "addon", "main": "index.js"},
    "node_modules/addon/index.js": "module.exports = require('bindings')('addon');\n",
    "node_modules/addon/build/Release/addon.node": "",
    "node_modules/addon/build/Release/obj/addon.o": "",
    "node_modules/addon/src/addon.cc": "",
    "node_modules/bindings/package.json": {"name": "bindings", "main": "bindings.js"},
    "node_modules/bindings/bindings.js": "var p = require(n);\n",
}


def test_the_tracer_follows_the_entry_and_keeps_what_node_reads(tmp_path: Path) -> None:
    tracer = Tracer(make_tree(tmp_path, APP))
    found = tracer.trace(["src/handler.js"], 20)
    assert sorted(found.files) == [
        "node_modules/.prisma/client/default.js", "node_modules/.prisma/client/edge.js",
        "node_modules/.prisma/client/index.js", "node_modules/.prisma/client/package.json",
        "node_modules/.prisma/client/schema.prisma",  # the generated client whole (implicit_modules.toml)
        "node_modules/@prisma/client/index.js", "node_modules/@prisma/client/package.json",
        "node_modules/@prisma/client/runtime/library.js",  # edge.js is not followed: edge.js of .prisma is unreached
        "node_modules/a/lib/helper.js", "node_modules/a/lib/index.js", "node_modules/a/package.json",
        "node_modules/addon/build/Release/addon.node",  # loaders.toml: bindings loads build/**/*.node
        "node_modules/addon/index.js", "node_modules/addon/package.json",
        "node_modules/bindings/bindings.js", "node_modules/bindings/package.json",
        "package.json", "src/config/prod.js", "src/handler.js"]  # the computed require's glob src/config/*
    assert [(s.file, s.line) for s in found.computed] == [
        ("node_modules/a/lib/helper.js", 1), ("node_modules/bindings/bindings.js", 1), ("src/handler.js", 4)]
    assert [(e.glob, e.files) for e in found.expanded] == [("src/config/*", ("src/config/prod.js",))]
    lines = trace_warnings(found)
    assert lines[0] == ("--trace: src/handler.js:4: require('./config/' + process.env.STAGE) has a computed argument: "
                        "shipped the 1 file(s) matching src/config/*; add any other file it loads with --include")
    assert lines[1] == ("--trace: node_modules/a loads modules by computed names (lib/helper.js:1 require(name)); "
                        "those are not traced and ship only if reached otherwise: add what the function needs with "
                        "--include")
    assert len(lines) == 3


def test_computed_requires_expand_their_literal_parts_below_the_requiring_folder(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "src/lib/h.js": "require('../locales/' + lang + '.json');\nrequire(`./plugins/${name}`);\n"
                        "require('./' + x);\nrequire('../' + y);\nrequire(`./views/${v}.pug`);\nrequire(name);\n",
        "src/locales/en.json": "{}", "src/locales/de.json": "{}", "src/locales/README.md": "",
        "src/lib/plugins/a.js": "require('./shared');\n", "src/lib/plugins/shared.js": "",
        "src/lib/plugins/b/index.js": "", "src/lib/plugins/b/other.js": "", "src/lib/sibling.js": "",
        "src/other.js": ""})
    found = Tracer(tree).trace(["src/lib/h.js"], 20)
    assert [(e.site.line, e.glob, e.files) for e in found.expanded] == [
        (1, "src/locales/*.json", ("src/locales/de.json", "src/locales/en.json")),
        (2, "src/lib/plugins/*", ("src/lib/plugins/a.js", "src/lib/plugins/b/index.js", "src/lib/plugins/shared.js"))]
    # './' + x and '../' + y would be the whole folder or a parent: reported, not expanded; a glob matching nothing
    # and a fully computed name likewise
    assert [c.line for c in found.computed] == [1, 2, 3, 4, 5, 6]
    assert "src/lib/sibling.js" not in found.files and "src/other.js" not in found.files
    assert "src/lib/plugins/b/other.js" not in found.files
    assert len(trace_warnings(found)) == 6


def test_literal_outcomes_prefixed_globs_and_dirname_paths_are_traced(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {
        "src/h.js": "const f = require(process.env.F || './format-json');\n"
                    "const g = require(flag ? './a' : ('./b'));\n"
                    "const p = require('./plugin-' + name);\n"
                    "const T = path.join(__dirname, '../templates', 'receipt.txt');\n"
                    "const S = fs.readFileSync(__dirname + '/schema.graphql');\n"
                    "const D = path.join(__dirname, 'data', kind + '.csv');\n"
                    "const W = path.resolve(__dirname, '..');\n",
        "src/format-json.js": "", "src/a.js": "", "src/b.js": "", "src/plugin-x.js": "", "src/plugin-y.js": "",
        "src/other.js": "", "src/schema.graphql": "", "src/data/a.csv": "", "src/data/b.txt": "",
        "templates/receipt.txt": "", "templates/other.txt": ""})
    found = Tracer(tree).trace(["src/h.js"], 20)
    assert sorted(found.files) == [
        "src/a.js", "src/b.js", "src/data/a.csv", "src/format-json.js", "src/h.js", "src/plugin-x.js",
        "src/plugin-y.js", "src/schema.graphql", "templates/receipt.txt"]
    assert read_imports(b"x(__dirname); path.join(__dirname); path.join(__dirname, '..', x)", "a.js").assets == ()


def test_a_generated_entry_stub_is_traced(tmp_path: Path) -> None:
    # Netlify writes `<name>.js` at the zip root to load the function's own file: not in the tree, traced all the same
    tracer = Tracer(make_tree(tmp_path, {"functions/hello.js": "require('./lib');\n", "functions/lib.js": ""}))
    files, _ = traced_files(tracer, ["hello.js"], (), "hello", 20,
                            {"hello.js": b"module.exports = require('./functions/hello.js');\n"})
    assert sorted(files) == ["functions/hello.js", "functions/lib.js", "hello.js"]


def test_a_missing_relative_file_of_the_app_is_reported(tmp_path: Path) -> None:
    tracer = Tracer(make_tree(tmp_path, {"h.js": "require('./gone');\nrequire('not-installed');\n"}))
    found = tracer.trace(["h.js"], 20)
    assert [(s.file, s.line, s.text) for s in found.missing] == [("h.js", 1, "./gone")]
    assert trace_warnings(found) == ["--trace: h.js:1: './gone' resolves to no file in the bundle"]


def test_no_entry_point_is_a_config_error(tmp_path: Path) -> None:
    tracer = Tracer(make_tree(tmp_path, {"h.js": ""}))
    with pytest.raises(ConfigError, match="no entry point to trace from"):
        traced_files(tracer, [], (), "hello", 20)


def test_relocated_entries_map_back_to_the_tree(tmp_path: Path) -> None:
    tracer = Tracer(make_tree(tmp_path, {"src/h.js": "require('./x');\n", "src/x.js": ""}))
    files, warnings = traced_files(tracer, ["app/h.js"], (("src/", "app/"),), "", 20)
    assert sorted(files) == ["src/h.js", "src/x.js"] and warnings == []


# ---------------------------------------------------------------------------------------------- the plan hook


def _pkg(name: str, deps: tuple[str, ...] = ()) -> PackageJson:
    return PackageJson(name=name, version="1.0.0", main="index.js", dependencies=dict.fromkeys(deps, "1"))


def test_the_plan_leaves_out_what_the_trace_did_not_reach_but_keeps_client_engine_and_includes(
        tmp_path: Path) -> None:
    tree = make_tree(tmp_path, {**APP, "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node": "E"})
    files = list(tree.files.values())
    project = Project(root=tmp_path, package=_pkg("app", ("a", "@prisma/client", "addon")), lockfile=None, schema=None)
    installed = {"node_modules/a": _pkg("a"), "node_modules/b": _pkg("b"),
                 "node_modules/@prisma/client": _pkg("@prisma/client"),
                 "node_modules/addon": _pkg("addon", ("bindings",)), "node_modules/bindings": _pkg("bindings")}
    engine_rel = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
    engine = EngineChoice(filename=engine_rel.rsplit("/", 1)[1], target_names=frozenset({"rhel-openssl-3.0.x"}),
                          source=tmp_path / engine_rel, size=1, rel=engine_rel)
    traced = Tracer(tree).trace(["src/handler.js"], 20).files - {"node_modules/.prisma/client/edge.js",
                                                                  "src/config/prod.js"}
    options = PlanOptions(unit=Unit(name="", function_filename="function.zip"), traced=traced,
                          includes=("src/config/**",))
    plan = plan_bundle(project, files, installed, engine, options)
    kept = {e.arc for e in plan.artifacts[0].entries}
    pruned = {p.rel: p.reason for p in plan.pruned}
    assert pruned["src/unused.js"] == TRACE_REASON
    assert pruned["node_modules/a/lib/unused.js"] == TRACE_REASON
    assert pruned["node_modules/a/README.md"] == TRACE_REASON
    assert pruned["node_modules/@prisma/client/runtime/edge.js"] == TRACE_REASON
    assert "node_modules/b/index.js" in pruned
    assert "node_modules/.prisma/client/edge.js" in kept  # the generated client stays whole
    assert engine_rel in kept and plan.engine is not None and plan.engine.package == ENGINE
    assert "src/config/prod.js" in kept  # --include adds what tracing cannot see
    assert "node_modules/addon/build/Release/addon.node" in kept
    assert "node_modules/addon/src/addon.cc" in pruned


def test_a_traced_file_ships_even_where_package_json_does_not_name_its_package(tmp_path: Path) -> None:
    # apollo's `graphql` is a peer dependency: a function's package scan does not follow it, the trace does
    tree = make_tree(tmp_path, {"fn.js": "require('server');\n", "node_modules/server/index.js": "require('peer');\n",
                                "node_modules/peer/index.js": "", "node_modules/peer/extra.js": "",
                                "node_modules/unrelated/index.js": ""})
    project = Project(root=tmp_path, package=_pkg("app", ("server",)), lockfile=None, schema=None)
    installed = {"node_modules/server": _pkg("server"), "node_modules/peer": _pkg("peer"),
                 "node_modules/unrelated": _pkg("unrelated")}
    unit = Unit(name="fn", function_filename="fn.zip", app_files=frozenset({"fn.js"}), roots=(("", "server"),))
    untraced = plan_bundle(project, list(tree.files.values()), installed, None, PlanOptions(unit=unit))
    assert {p.rel: p.reason for p in untraced.pruned}["node_modules/peer/index.js"] == "not a production dependency"
    traced = Tracer(tree).trace(["fn.js"], 20).files
    plan = plan_bundle(project, list(tree.files.values()), installed, None, PlanOptions(unit=unit, traced=traced))
    assert sorted(e.arc for e in plan.artifacts[0].entries) == ["fn.js", "node_modules/peer/index.js",
                                                                 "node_modules/server/index.js"]
    assert {"node_modules/peer/extra.js", "node_modules/unrelated/index.js"} <= {p.rel for p in plan.pruned}


def test_trace_is_a_config_key_per_platform_an_environment_variable_and_a_flag() -> None:
    from bundler.options import resolve

    config = {"netlify": {"trace": True}}
    assert resolve("netlify", config, {}, {}).trace is True
    assert resolve("netlify", config, {}, {}).source("trace") != "default"
    assert resolve("lambda", config, {}, {}).trace is False
    assert resolve("lambda", {}, {"PHOTON_BUNDLE_TRACE": "1"}, {}).trace is True
    assert resolve("netlify", config, {}, {"trace": False}).trace is False  # --no-trace wins
    with pytest.raises(ConfigError, match="trace"):
        resolve("lambda", {"trace": "sometimes"}, {}, {})
