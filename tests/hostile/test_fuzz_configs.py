"""Property test: whatever package.json, schema.prisma, serverless.yml, netlify.toml or now.json holds
(valid-ish structures with random values and types, unicode, nesting, and now and then plain garbage),
photon-bundle answers with a documented exit code and a message, never exit 1 ("internal error").

Runs in-process (tests/cli_helpers.run_cli) on one fixture project whose file under test is replaced per
example and put back afterwards; a bounded number of examples keeps the whole module under a minute."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomlkit
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli_helpers import run_cli
from tests.projects import make_project

EXAMPLES = 40
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# ------------------------------------------------------------------------------------------ values

text = st.text(max_size=12) | st.sampled_from(["", " ", "..", "../x", "/etc/passwd", "é☃\u202e", "\x00", "a\nb",
                                               "${self:provider.stage}", "${opt:stage, 'dev'}", "${env:HOME}",
                                               "${ssm:/x}", "${self:", "{a,b}", "**/*.js", "!x", "20.x", "nodejs20.x"])
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
           | text)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=12)
toml_scalars = st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False) | text
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(text.filter(bool), inner, max_size=3), max_leaves=8)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The value, or any other JSON value in its place (a wrong type)."""
    return st.one_of(strategy, strategy, json_values)


deps = maybe(st.dictionaries(st.sampled_from(["@prisma/client", "debug", "express-lite", "ms", "nope"]) | text,
                             maybe(text), max_size=4))
package_json = st.fixed_dictionaries(
    {"name": maybe(text), "version": maybe(text), "main": maybe(st.sampled_from(["handler.js", "missing.js"]) | text)},
    optional={"dependencies": deps, "optionalDependencies": deps, "devDependencies": deps,
              "engines": maybe(st.fixed_dictionaries({"node": maybe(st.sampled_from([">=18", "20.x", "^16"]) | text)})),
              "prisma": maybe(st.fixed_dictionaries({"schema": maybe(text)})), "type": maybe(text),
              "extra": json_values})


@st.composite
def schema_prisma(draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    provider = draw(st.sampled_from(["postgresql", "mysql", "sqlite", "env(\"P\")"]) | text)
    gen = draw(st.sampled_from(["prisma-client-js", "prisma-client", "photonjs"]) | text)
    targets = draw(st.lists(st.sampled_from(["native", "rhel-openssl-3.0.x", "linux-musl"]) | text, max_size=4))
    lines = ["datasource db {", f"  provider = {json.dumps(provider)}", '  url = env("DATABASE_URL")', "}",
             "generator client {", f"  provider = {json.dumps(gen)}",
             f"  binaryTargets = [{', '.join(json.dumps(t) for t in targets)}]"]
    if draw(st.booleans()):
        lines.append(f"  engineType = {json.dumps(draw(st.sampled_from(['library', 'binary', 'client']) | text))}")
    if draw(st.booleans()):
        lines.append(f"  output = {json.dumps(draw(text))}")
    lines += ["}", "model A {", "  id Int @id", "}"]
    garbage = draw(st.lists(text, max_size=3))
    for item in garbage:
        lines.insert(draw(st.integers(0, len(lines))), item)
    return "\n".join(lines) + "\n"


function = st.fixed_dictionaries(
    {"handler": maybe(st.sampled_from(["src/users.handler", "handler.handler", "nope.x"]) | text)},
    optional={"runtime": maybe(st.sampled_from(["nodejs18.x", "nodejs20.x", "python3.12"]) | text),
              "architecture": maybe(st.sampled_from(["x86_64", "arm64"]) | text),
              "package": maybe(st.fixed_dictionaries({}, optional={"patterns": maybe(st.lists(text, max_size=4)),
                                                                  "individually": maybe(st.booleans()),
                                                                  "artifact": maybe(text)}))})
serverless_yml = st.fixed_dictionaries(
    {"service": maybe(text),
     "provider": maybe(st.fixed_dictionaries({"name": maybe(st.just("aws")),
                                              "runtime": maybe(st.sampled_from(["nodejs20.x"]) | text)},
                                             optional={"stage": maybe(text), "architecture": maybe(text)})),
     "functions": maybe(st.dictionaries(st.sampled_from(["users", "orders"]) | text, maybe(function), max_size=3))},
    optional={"package": maybe(st.fixed_dictionaries({}, optional={"patterns": maybe(st.lists(text, max_size=4)),
                                                                  "individually": maybe(st.booleans())})),
              "custom": json_values})

netlify_toml = st.fixed_dictionaries(
    {"build": st.fixed_dictionaries({}, optional={"functions": st.sampled_from(["functions", "netlify/functions"])
                                                  | text, "command": text})},
    optional={"functions": st.fixed_dictionaries({}, optional={
        "node_bundler": st.sampled_from(["zisi", "esbuild"]) | text, "included_files": st.lists(text, max_size=3),
        "external_node_modules": st.lists(text, max_size=3)}) | st.dictionaries(text.filter(bool), toml_values,
                                                                                 max_size=3),
        "extra": toml_values})

build = st.fixed_dictionaries(
    {"src": maybe(st.sampled_from(["api/*.js", "api/orders.js", "**/*.js"]) | text),
     "use": maybe(st.sampled_from(["@now/node", "@vercel/node", "@now/static"]) | text)},
    optional={"config": maybe(st.fixed_dictionaries({}, optional={
        "maxLambdaSize": maybe(st.sampled_from(["50mb", "1gb", "5"]) | text),
        "includeFiles": maybe(st.lists(text, max_size=3) | text)}))})
now_json = st.fixed_dictionaries({"version": maybe(st.sampled_from([1, 2]))},
                                 optional={"builds": maybe(st.lists(maybe(build), max_size=3)), "name": json_values})


def garbage_or(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly the structured file, sometimes raw text or bytes that decode as Latin-1."""
    return st.one_of(strategy, strategy, strategy, st.text(max_size=200),
                     st.binary(max_size=100).map(lambda b: b.decode("latin-1")))


# ------------------------------------------------------------------------------------------ runs


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("fuzz") / "app", targets=("rhel-openssl-3.0.x",),
                        elf_cache=tmp_path_factory.mktemp("fuzz-elf"))
    (root / "src").mkdir()
    (root / "src" / "users.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                           "exports.handler = async () => new PrismaClient();\n")
    (root / "api").mkdir()
    (root / "api" / "orders.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                            "module.exports = (req, res) => res.end(String(new PrismaClient()));\n")
    (root / "netlify" / "functions").mkdir(parents=True)
    (root / "netlify" / "functions" / "hello.js").write_text("exports.handler = async () => ({ statusCode: 200 });\n")
    return root


@contextmanager
def replaced(path: Path, content: str) -> Iterator[None]:
    original = path.read_bytes() if path.exists() else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    try:
        yield
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_bytes(original)


def no_internal_error(platform: str, project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> None:
    out = Path(tempfile.mkdtemp(prefix="fuzz-out-"))
    try:
        code, _, err = run_cli([platform, str(project), "--out", str(out / "o"), "--offline", "--force", *extra],
                               capsys)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert code != 1 and "internal error" not in err and "Traceback" not in err, err
    assert code in (0, 2, 3, 4, 5, 6, 7), (code, err)


def _dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _dump_toml(data: Any) -> str:
    return tomlkit.dumps(data)


@FUZZ
@given(content=garbage_or(package_json.map(lambda d: json.dumps(d, ensure_ascii=False))))
def test_package_json(project: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    with replaced(project / "package.json", content):
        no_internal_error("lambda", project, capsys)


@FUZZ
@given(content=garbage_or(schema_prisma()))
def test_schema_prisma(project: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    with replaced(project / "prisma" / "schema.prisma", content):
        no_internal_error("lambda", project, capsys)


@FUZZ
@given(content=garbage_or(serverless_yml.map(_dump_yaml)))
def test_serverless_yml(project: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    with replaced(project / "serverless.yml", content):
        no_internal_error("serverless", project, capsys)


@FUZZ
@given(content=garbage_or(netlify_toml.map(_dump_toml)))
def test_netlify_toml(project: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    with replaced(project / "netlify.toml", content):
        no_internal_error("netlify", project, capsys)


@FUZZ
@given(content=garbage_or(now_json.map(lambda d: json.dumps(d, ensure_ascii=False))))
def test_now_json(project: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    with replaced(project / "now.json", content):
        no_internal_error("now", project, capsys)
