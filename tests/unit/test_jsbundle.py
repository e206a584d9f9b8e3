"""The pure parts of --bundler esbuild / --prebuilt (bundler/jsbundle/): esbuild's command line, output paths,
entry points, what counts as Prisma's client, the runtime-provided externals, the mode of a unit, and
serverless-esbuild's custom.esbuild."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import ConfigError, ProjectError
from bundler.jsbundle import clientcode
from bundler.jsbundle.esbuild import ESM_BANNER, BuildRequest, command, find_esbuild
from bundler.jsbundle.model import EsbuildSettings
from bundler.jsbundle.pipeline import check_options, mode
from bundler.jsbundle.prebuilt import entry_points
from bundler.jsbundle.step import entry_sources, output_path, provided_externals
from bundler.options import Options
from bundler.project import PackageJson
from platforms.base import Entry, Unit
from platforms.serverless.config import Service, read_service


def _req(**kw: object) -> BuildRequest:
    base: dict[str, object] = {"entry": "src/h.ts", "outfile": Path("/t/src/h.js"), "node_major": 20, "esm": False,
                               "external": ("b", "a", "b"), "minify": False, "sourcemap": False}
    base.update(kw)
    return BuildRequest(**base)  # type: ignore[arg-type]


def test_the_command_targets_the_runtime_and_keeps_the_externals() -> None:
    args = command(Path("/p/node_modules/.bin/esbuild"), _req())
    assert args[:4] == ["/p/node_modules/.bin/esbuild", "src/h.ts", "--bundle", "--platform=node"]
    assert "--target=node20" in args and "--format=cjs" in args and "--outfile=/t/src/h.js" in args
    assert [a for a in args if a.startswith("--external:")] == ["--external:a", "--external:b"]
    assert "--minify" not in args and "--sourcemap" not in args
    assert not any(a.startswith("--banner") for a in args)


def test_an_esm_bundle_gets_require_and_dirname_back() -> None:
    args = command(Path("esbuild"), _req(esm=True, minify=True, sourcemap=True, node_major=18))
    assert "--format=esm" in args and "--target=node18" in args and "--minify" in args and "--sourcemap" in args
    assert f"--banner:js={ESM_BANNER}" in args
    assert "const __dirname" in ESM_BANNER and "createRequire" in ESM_BANNER


def test_no_esbuild_in_the_project_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        find_esbuild(tmp_path / "deep" / "app")
    assert "npm i -D esbuild" in str(err.value)
    (tmp_path / "node_modules" / ".bin").mkdir(parents=True)
    (tmp_path / "node_modules" / ".bin" / "esbuild").write_text("")
    (tmp_path / "app").mkdir()
    assert find_esbuild(tmp_path / "app") == tmp_path / "node_modules" / ".bin" / "esbuild"  # a workspace root


@pytest.mark.parametrize(("source", "out"), [
    ("src/h.ts", ("src/h.js", None)), ("h.js", ("h.js", None)), ("a/b.mts", ("a/b.mjs", True)),
    ("a/b.cts", ("a/b.cjs", False)), ("x.mjs", ("x.mjs", True)), ("x.tsx", ("x.js", None))])
def test_output_paths(source: str, out: tuple[str, bool | None]) -> None:
    assert output_path(source) == out


def test_netlify_generated_entry_bundles_the_main_file() -> None:
    unit = Unit(name="hello", function_filename="functions/hello.zip", generated=(("hello.js", b"x"),),
                meta={"main_file": "netlify/functions/hello.ts"}, entries=(Entry("hello.js", "handler"),))
    assert entry_sources(unit) == [("netlify/functions/hello.ts", "handler", "hello.js")]
    plain = Unit(name="", function_filename="function.zip", entries=(Entry("src/h.js", "handler"),))
    assert entry_sources(plain) == [("src/h.js", "handler", None)]


def test_client_code_and_folders(tmp_path: Path) -> None:
    assert clientcode.holds_client(b"class PrismaClientInitializationError extends Error {}")
    assert clientcode.holds_client(b'provider: "prisma-client-js"')
    assert not clientcode.holds_client(b"module.exports = require('express')")
    assert clientcode.reads_client(["node_modules/.prisma/client/index.js"])
    assert clientcode.reads_client(["node_modules/@prisma/client/runtime/library.js"])
    assert not clientcode.reads_client(["src/prisma.js", "node_modules/prismjs/index.js"])
    (tmp_path / "node_modules/.prisma/client").mkdir(parents=True)
    (tmp_path / "node_modules/.prisma/client/schema.prisma").write_text("")
    assert clientcode.client_folders(["node_modules/.prisma/client/index.js", "src/a.js"], tmp_path) == [
        "node_modules/.prisma/client"]
    meta = {"outputs": {"out/h.js": {"imports": [{"path": "fastcalc", "kind": "require-call", "external": True},
                                                 {"path": "src/x.js", "kind": "import-statement"}]}}}
    assert clientcode.imported_externals(meta, "out/h.js") == ["fastcalc"]


def test_the_aws_sdk_is_left_to_the_runtime_when_not_installed() -> None:
    installed = {"node_modules/debug": PackageJson(name="debug", version="4.3.4", main=None)}
    assert provided_externals("lambda", installed) == ("aws-sdk", "@aws-sdk/*")
    installed["node_modules/@aws-sdk/client-s3"] = PackageJson(name="@aws-sdk/client-s3", version="3.0.0", main=None)
    assert provided_externals("netlify", installed) == ("aws-sdk",)
    assert provided_externals("gcf", installed) == ()


def test_prebuilt_entry_points(tmp_path: Path) -> None:
    unit = Unit(name="", function_filename="function.zip", entries=(Entry("dist/handler.js", "handler"),))
    assert entry_points(tmp_path, {"handler.js": b"", "chunk.js": b""}, unit) == [("handler.js", "handler")]
    other = Unit(name="", function_filename="function.zip", entries=(Entry("src/app.js", "main"),))
    files = {"package.json": b'{"main": "./lib/start"}', "lib/start.js": b"", "index.js": b""}
    assert entry_points(tmp_path, files, other) == [("lib/start.js", "main")]
    assert entry_points(tmp_path, {"index.js": b"", "a.js": b""}, other) == [("index.js", "main")]
    assert entry_points(tmp_path, {"a.js": b"", "b.mjs": b"", "c/d.js": b""}, other) == [("a.js", "main"),
                                                                                       ("b.mjs", "main")]
    with pytest.raises(ConfigError):
        entry_points(tmp_path, {"README.md": b""}, other)


def test_the_mode_of_a_unit() -> None:
    unit = Unit(name="", function_filename="function.zip")
    configured = Unit(name="f", function_filename="f.zip", esbuild=EsbuildSettings(source="netlify.toml"))
    assert mode(Options(), unit) == "none"
    assert mode(Options(), configured) == "esbuild"
    assert mode(Options(bundler="none"), configured) == "none"
    assert mode(Options(bundler="esbuild"), unit) == "esbuild"
    assert mode(Options(prebuilt="dist"), configured) == "prebuilt"
    with pytest.raises(ConfigError, match="choose one"):
        check_options("lambda", Options(prebuilt="dist", bundler="esbuild"))
    with pytest.raises(ConfigError, match="function platforms"):
        check_options("gcf", Options(bundler="esbuild"))
    check_options("gcf", Options(bundler="none"))


SLS = """\
service: s
plugins: [serverless-esbuild]
provider: {{name: aws, runtime: nodejs20.x}}
custom:
  esbuild:
{body}
functions:
  f: {{handler: src/f.handler}}
"""


def _service(tmp_path: Path, body: str, bundler: str | None = None) -> Service:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "f.ts").write_text("export const handler = 1;\n")
    (tmp_path / "serverless.yml").write_text(SLS.format(body=body))
    return read_service(tmp_path, None, {}, bundler)


def test_custom_esbuild_is_read(tmp_path: Path) -> None:
    service = _service(tmp_path, "    minify: true\n    external: [sharp]")
    assert service.esbuild == EsbuildSettings(source="serverless.yml:5 custom.esbuild (serverless-esbuild)",
                                              external=("sharp",), exclude=("aws-sdk",), minify=True)
    assert service.functions[0].entry == "src/f.ts"
    assert not [w for w in service.warnings if "serverless-esbuild" in w]


@pytest.mark.parametrize(("body", "message"), [
    ("    external: sharp", "external must be a list"),
    ("    exclude: '*'", "not supported"),
    ("    bundle: false", "only transpiles"),
])
def test_custom_esbuild_mistakes_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises((ConfigError, ProjectError), match=message) as err:
        _service(tmp_path, body)
    assert "serverless.yml:" in str(err.value)


def test_bundler_none_keeps_the_plugin_warning_and_refuses_typescript(tmp_path: Path) -> None:
    with pytest.raises((ConfigError, ProjectError), match="cannot run without a build"):
        _service(tmp_path, "    minify: true", bundler="none")
