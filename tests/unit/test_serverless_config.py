"""serverless.yml: variables, patterns -> gitignore lines, handlers, and package.artifact written back."""

from __future__ import annotations

from pathlib import Path

import pathspec
import pytest

from bundler.errors import ConfigError, ProjectError
from platforms.configfiles import load_yaml_text
from platforms.serverless import (
    Pattern,
    Service,
    expand_braces,
    function_nodes,
    pattern_lines,
    read_service,
    set_artifact,
)
from platforms.slsvars import Resolver, VariableError, VariableSyntaxError, find_variables

# ------------------------------------------------------------------------------------------- variables


def test_find_variables_parses_sources_fallbacks_and_nesting() -> None:
    (var,) = find_variables("${opt:stage, self:provider.stage, 'dev'}")
    assert [(s.type, s.address, s.literal) for s in var.sources] == [
        ("opt", "stage", None), ("self", "provider.stage", None), (None, None, "dev")]
    (var,) = find_variables('${env:N, 42, true, null, "x\\"y", ${self:a}}')
    assert [s.literal for s in var.sources[1:5]] == [42, True, None, 'x"y']
    assert var.sources[5].nested == "${self:a}"
    (var,) = find_variables("${self:custom.${opt:stage}.runtime}")
    assert var.sources[0].address == "custom.${opt:stage}.runtime"
    (var,) = find_variables("${file(./config.yml):runtime}")
    assert (var.sources[0].type, var.sources[0].params, var.sources[0].address) == ("file", "./config.yml",
                                                                                    "runtime")
    two = find_variables("node${env:A}-${opt:stage}.x")
    assert [(v.start, v.end, v.text) for v in two] == [(4, 12, "${env:A}"), (13, 25, "${opt:stage}")]


@pytest.mark.parametrize("text", ["arn:aws:s3:::${AWS::Region}", "${MyBucket.Arn}", "plain", "\\${env:X}",
                                  "${aws::x}"])
def test_cloudformation_and_escaped_text_is_not_a_variable(text: str) -> None:
    assert find_variables(text) == []


@pytest.mark.parametrize(("text", "message"), [
    ("${opt:stage, dev}", "'dev' in ${opt:stage, dev} is not a source or a literal (to fall back to the text, "
                          "quote it: 'dev')"),
    ("${self:custom.x", "missing closing }"),
    ("${env:A,}", "empty source"),
    ("${env:A, 'x}", "unterminated string 'x in ${env:A, 'x}"),
])
def test_invalid_variable_syntax(text: str, message: str) -> None:
    with pytest.raises(VariableSyntaxError, match=None) as caught:
        find_variables(text)
    assert message in str(caught.value)


DOC = """\
service: x
custom:
  runtimes:
    dev: nodejs18.x
    prod: nodejs20.x
  individually: true
  patterns:
    - '!docs/**'
    - ${self:custom.extra}
  extra: src/**
  list: [a, b]
  loop: ${self:custom.loop2}
  loop2: ${self:custom.loop}
  remote: ${ssm:/app/runtime}
provider:
  name: aws
  stage: ${opt:stage, 'qa'}
  runtime: ${self:custom.runtimes.${sls:stage}, 'nodejs22.x'}
  architecture: ${env:ARCH, "x86_64"}
  a: node${env:V}-${opt:stage}-${self:custom.individually}
  b: ${opt:region, env:REGION, 'eu-west-1'}
  c: ${opt:stage}
  d: ${self:custom.list}-x
  e: ${self:custom.remote}
  f: ${env:UNSET}
"""


def resolver(stage: str | None = None, env: dict[str, str] | None = None) -> Resolver:
    doc = load_yaml_text(DOC, Path("/p/serverless.yml"))
    return Resolver(doc.data, Path("/p/serverless.yml"), stage=stage, env=env or {})


def test_self_opt_sls_env_and_fallbacks() -> None:
    r = resolver(env={"V": "20", "REGION": "us-east-1"})
    assert r.value(("provider", "runtime")) == "nodejs22.x"  # sls:stage = provider.stage = 'qa': no such key
    assert r.value(("provider", "architecture")) == "x86_64"
    assert r.value(("provider", "a")) == "node20-dev-true"  # ${opt:stage} alone: "dev" without --stage
    assert r.value(("provider", "b")) == "us-east-1"  # no --region: the next source
    assert r.value(("custom", "patterns")) == ["!docs/**", "src/**"]
    assert r.value(("custom", "individually")) is True
    assert r.value(("provider", "c")) == "dev"  # ${opt:stage} alone, without --stage
    assert r.value(("provider", "missing"), "default") == "default"
    r = resolver(stage="prod", env={"V": "20", "ARCH": "arm64"})
    assert r.value(("provider", "runtime")) == "nodejs20.x"
    assert r.value(("provider", "architecture")) == "arm64"
    assert r.value(("provider", "c")) == "prod"
    assert r.sls_stage() == "prod"
    r = resolver(stage="dev")
    assert r.value(("provider", "runtime")) == "nodejs18.x"


@pytest.mark.parametrize(("keys", "line", "message"), [
    (("provider", "f"), 25, "provider.f: cannot resolve ${env:UNSET}: the environment variable UNSET is not set"),
    (("custom", "loop"), 12, "custom.loop: circular variable reference: custom.loop -> custom.loop2 -> custom.loop"),
    (("custom", "remote"), 14, "custom.remote: cannot resolve ${ssm:/app/runtime}: ssm: sources are looked up at "
                               "deploy time; photon-bundle resolves only ${self:...}, ${opt:stage}, ${sls:stage} "
                               "and ${env:...}"),
    (("provider", "d"), 23, "provider.d: ${self:custom.list} is a list and cannot be part of a string"),
])
def test_unresolvable_variables_name_file_line_and_variable(keys: tuple[str, ...], line: int, message: str) -> None:
    with pytest.raises(VariableError) as caught:
        resolver().value(keys)
    assert caught.value.message.startswith(f"/p/serverless.yml:{line}: {message}")
    assert caught.value.exit_code == 3


def test_error_behind_a_self_reference_names_both_places() -> None:
    with pytest.raises(VariableError) as caught:
        resolver().value(("provider", "e"))
    assert caught.value.message == (
        "/p/serverless.yml:14: custom.remote: cannot resolve ${ssm:/app/runtime}: ssm: sources are looked up at "
        "deploy time; photon-bundle resolves only ${self:...}, ${opt:stage}, ${sls:stage} and ${env:...} "
        "(needed for provider.e at /p/serverless.yml:24)")


def test_unused_fields_are_never_resolved() -> None:
    r = resolver()
    assert r.value(("provider", "name")) == "aws"  # custom.remote (ssm) and custom.loop are left alone
    assert r.raw(("custom", "remote")) == "${ssm:/app/runtime}"


# ------------------------------------------------------------------------------------------- patterns


def fates(patterns: list[str], paths: list[str], cli_includes: tuple[str, ...] = ()) -> dict[str, str]:
    """What the plan does with each path: "out" (excluded by the patterns), "forced" (named in), or "kept"."""
    excludes, includes = pattern_lines([Pattern(p, "serverless.yml:1") for p in patterns])
    exclude_spec = pathspec.GitIgnoreSpec.from_lines(list(excludes))
    # the pipeline's order (bundle.unit_plan_options): the unit's include lines, then --include
    include_spec = pathspec.GitIgnoreSpec.from_lines([*includes, *cli_includes])
    return {p: "forced" if include_spec.match_file(p) else "out" if exclude_spec.match_file(p) else "kept"
            for p in paths}


def test_patterns_apply_in_order_last_match_wins() -> None:
    got = fates(["!docs/**", "docs/api.md", "!docs/api.md"], ["docs/a.md", "docs/api.md", "src/x.js"])
    assert got == {"docs/a.md": "out", "docs/api.md": "out", "src/x.js": "kept"}
    got = fates(["!docs/**", "docs/api.md"], ["docs/a.md", "docs/api.md"])
    assert got == {"docs/a.md": "out", "docs/api.md": "forced"}


def test_globs_are_anchored_like_micromatch() -> None:
    got = fates(["!*.md", "!src/*.test.js"], ["README.md", "docs/a.md", "src/a.test.js", "src/deep/b.test.js"])
    assert got == {"README.md": "out", "docs/a.md": "kept", "src/a.test.js": "out", "src/deep/b.test.js": "kept"}
    got = fates(["!**/*.md", "!./tmp/**"], ["README.md", "docs/a.md", "tmp/x", "src/tmp/y"])
    assert got == {"README.md": "out", "docs/a.md": "out", "tmp/x": "out", "src/tmp/y": "kept"}


def test_braces_expand_and_extglobs_are_refused() -> None:
    assert expand_braces("a/{b,c}/*.{js,md}") == ["a/b/*.js", "a/b/*.md", "a/c/*.js", "a/c/*.md"]
    assert expand_braces("x/{y}.js") == ["x/{y}.js"]
    assert expand_braces("{a,{b,c}}") == ["a", "b", "c"]
    got = fates(["!**/*.{md,txt}"], ["a.md", "b/c.txt", "d.js"])
    assert got == {"a.md": "out", "b/c.txt": "out", "d.js": "kept"}
    with pytest.raises(ProjectError, match=r"serverless.yml:1: pattern 'src/@\(a\|b\).js': extended globs"):
        pattern_lines([Pattern("!src/@(a|b).js", "serverless.yml:1")])


def test_plain_patterns_never_force_in_node_modules_or_secrets_but_cli_includes_still_win() -> None:
    got = fates(["!node_modules/debug/**", "node_modules/debug/index.js", "**"],
                ["node_modules/debug/index.js", "node_modules/debug/x.js", "node_modules/jest/a.js", ".env",
                 "deploy.pem", "templates/a.html"])
    # below node_modules a plain pattern only undoes an earlier "!" pattern: the closure decides the rest
    assert got == {"node_modules/debug/index.js": "kept", "node_modules/debug/x.js": "kept",
                   "node_modules/jest/a.js": "kept", ".env": "kept", "deploy.pem": "kept",
                   "templates/a.html": "forced"}
    got = fates(["!node_modules/debug/**"], ["node_modules/debug/x.js"])
    assert got == {"node_modules/debug/x.js": "out"}
    got = fates(["templates/**", "!templates/draft.html"], ["templates/draft.html", "node_modules/x/a.js"],
                cli_includes=("templates/draft.html", "node_modules/x/**"))
    assert got == {"templates/draft.html": "forced", "node_modules/x/a.js": "forced"}


def test_only_exclusions_give_no_includes() -> None:
    excludes, includes = pattern_lines([Pattern("!docs/**", "f:1"), Pattern("!a.md", "f:2")])
    assert excludes == ("/docs/**", "/a.md") and includes == ()


# ------------------------------------------------------------------------------------------- reading


def service(tmp_path: Path, yml: str, files: tuple[str, ...] = ("src/a.js",), stage: str | None = None,
            env: dict[str, str] | None = None) -> Service:
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("exports.handler = async () => 1;\n")
    (tmp_path / "serverless.yml").write_text(yml)
    return read_service(tmp_path, stage, env or {})


def test_functions_settings_and_what_is_left_to_serverless(tmp_path: Path) -> None:
    svc = service(tmp_path, """\
service: s
provider: {name: aws, runtime: nodejs20.x, architecture: arm64}
package:
  exclude: ['docs/**', '!docs/keep.md']
  include: [extra/**]
  patterns: ['!*.md']
layers:
  engine: {path: layers/engine/}
  remote: {path: '${ssm:/x}'}
functions:
  - a:
      handler: src/a.handler
      runtime: nodejs18.x
      architecture: x86_64
      package: {individually: true, patterns: [tpl/**]}
  - b:
      handler: src/b.cjs.handler
    img:
      image: 123.dkr.ecr/x:1
    off:
      handler: src/a.handler
      package: {disable: true}
    py:
      handler: app.main
      runtime: python3.12
      package: {individually: true}
""", files=("src/a.js", "src/b.cjs"))
    fns = {f.name: f for f in svc.functions}
    assert list(fns) == ["a", "b"]
    a, b = fns["a"], fns["b"]
    assert a.runtime is not None and a.arch is not None and b.runtime is not None and b.arch is not None
    assert (a.entry, a.runtime.value, a.arch.value, a.individually) == ("src/a.js", "nodejs18.x", "x86_64", True)
    assert a.runtime.label == "serverless.yml:13 functions[0].a.runtime"
    assert [p.glob for p in a.includes] == ["tpl/**"]
    assert (b.entry, b.runtime.value, b.arch.value, b.individually) == ("src/b.cjs", "nodejs20.x", "arm64", False)
    assert b.runtime.label == "serverless.yml:2 provider.runtime"
    svc_excludes = [p.glob for p in svc.excludes]
    assert svc_excludes[-2:] == ["!docs/**", "docs/keep.md"] and "!serverless.yml" in svc_excludes
    assert "!.serverless/**" in svc_excludes and "!layers/engine/**" in svc_excludes
    assert [p.glob for p in svc.includes] == ["extra/**", "!*.md"]
    warnings = " | ".join(svc.warnings)
    assert "function img deploys a container image: not bundled" in warnings
    assert "function off has package.disable: not bundled" in warnings
    assert "function py runs python3.12" in warnings and "left to Serverless" in warnings
    assert "layer remote: its files are not left out of the functions' zips" in warnings


@pytest.mark.parametrize(("yml", "error", "message"), [
    ("provider: {name: google}\nfunctions: {a: {handler: src/a.handler}}\n", ConfigError,
     "serverless.yml:1: provider.name is 'google'"),
    ("provider: {name: aws}\n", ProjectError, "no functions: in serverless.yml"),
    ("functions: ${file(./fns.yml)}\n", ProjectError, "serverless.yml:1: functions: must be written out in the file"),
    ("functions:\n  a/b:\n    handler: src/a.handler\n", ProjectError,
     "serverless.yml:2: functions.a/b: function name 'a/b' must be letters, digits, - and _"),
    ("functions:\n  a:\n    runtime: nodejs20.x\n", ProjectError,
     "serverless.yml:2: functions.a: function a has no handler"),
    ("functions:\n  a:\n    handler: src/a.handler\n    package: ${self:custom.p}\ncustom: {p: {}}\n", ProjectError,
     "serverless.yml:4: functions.a.package: must be a mapping written in the file"),
    ("provider: {runtime: python3.12}\nfunctions:\n  a:\n    handler: src/a.handler\n", ProjectError,
     "function a runs python3.12, not Node.js, but would share the service's zip"),
    ("package: {patterns: '!docs/**'}\nfunctions: {a: {handler: src/a.handler}}\n", ProjectError,
     "serverless.yml:1: package.patterns: must be a list of glob patterns"),
    ("functions:\n  a:\n    handler: src/a.handler\n    runtime: 20\n", ProjectError,
     "serverless.yml:4: functions.a.runtime: must be a string, not 20"),
    ("[1, 2]\n", ProjectError, "serverless.yml:1: expected a mapping"),
])
def test_config_errors_name_the_line(tmp_path: Path, yml: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        service(tmp_path, yml)
    assert message in str(caught.value)


def test_mjs_cjs_handlers_and_dots_in_folders(tmp_path: Path) -> None:
    svc = service(tmp_path, """\
functions:
  a: {handler: v1.2/api/users.handlers.get}
  b: {handler: ./lib/ping.handler}
""", files=("v1.2/api/users.mjs", "lib/ping.cjs"))
    assert [f.entry for f in svc.functions] == ["v1.2/api/users.mjs", "lib/ping.cjs"]


# ------------------------------------------------------------------------------------------- writing


def test_set_artifact_keeps_comments_existing_keys_and_flow_style() -> None:
    text = """\
package:   # top
  individually: true
functions:
  a:
    handler: a.handler
    package:
      artifact: old.zip   # replaced in place
      patterns: ['x/**']
  b:
    handler: b.handler
    package: {individually: true}
  c:
    handler: c.handler
    package:

  # d is last
  d:
    handler: d.handler  # eol
    # after d

# end
"""
    doc = load_yaml_text(text, Path("serverless.yml"))
    nodes = function_nodes(doc.data, Path("serverless.yml"))
    for name in "abcd":
        set_artifact(nodes[name][1], f"out/{name}.zip")
    set_artifact(doc.data, "out/service.zip")
    assert doc.dump() == """\
package:   # top
  individually: true
  artifact: out/service.zip
functions:
  a:
    handler: a.handler
    package:
      artifact: out/a.zip # replaced in place
      patterns: ['x/**']
  b:
    handler: b.handler
    package: {individually: true, artifact: out/b.zip}
  c:
    handler: c.handler
    package:
      artifact: out/c.zip

  # d is last
  d:
    handler: d.handler  # eol
    package:
      artifact: out/d.zip
    # after d

# end
"""


def test_set_artifact_in_the_list_form_of_functions() -> None:
    text = "functions:\n  - a:\n      handler: a.handler\n  - b:\n      handler: b.handler\n"
    doc = load_yaml_text(text, Path("serverless.yml"))
    nodes = function_nodes(doc.data, Path("serverless.yml"))
    assert {name: keys for name, (keys, _) in nodes.items()} == {"a": ("functions", 0, "a"),
                                                                 "b": ("functions", 1, "b")}
    set_artifact(nodes["b"][1], "out/b.zip")
    again = load_yaml_text(doc.dump(), Path("serverless.yml")).data
    assert again["functions"][1]["b"] == {"handler": "b.handler", "package": {"artifact": "out/b.zip"}}
    assert "artifact" not in again["functions"][0]["a"]
    # maps nested in list items keep their layout, so --write-config may rewrite such a file
    assert doc.round_trips
    assert doc.dump() == text + "      package:\n        artifact: out/b.zip\n"


def test_shared_zip_needs_a_top_level_package_mapping_to_write_into(tmp_path: Path) -> None:
    from bundler.options import resolve as resolve_options
    from bundler.project import read_project
    from platforms.serverless import ServerlessAdapter

    (tmp_path / "package.json").write_text('{"name": "s", "version": "1.0.0"}\n')
    service(tmp_path, "custom: {pkg: {patterns: ['!docs/**']}}\npackage: ${self:custom.pkg}\n"
                      "functions: {a: {handler: src/a.handler}}\n")
    adapter = ServerlessAdapter()
    options = resolve_options("serverless", {}, {}, {}, adapter.extras)
    with pytest.raises(ProjectError, match=r"serverless.yml:2: package: must be a mapping written in the file"):
        adapter.units(read_project(tmp_path), options, {})


@pytest.mark.parametrize("text", [
    "functions:\n  - users:\n      handler: src/users.handler\n  - orders:\n      handler: src/orders.handler\n",
    "provider:\n    name: aws\n    iam:\n      - a\n      - b\n",
    "package:\n  patterns:\n  - '!docs/**'\n  - src/**\n",
])
def test_yaml_layouts_round_trip_byte_for_byte(text: str) -> None:
    """Mappings inside sequence items are indented from their key, not their dash; layouts users write
    must round-trip, or --write-config would refuse them."""
    from platforms.configfiles import load_yaml_text

    assert load_yaml_text(text, Path("serverless.yml")).round_trips
