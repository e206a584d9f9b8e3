"""`photon-bundle up`: the whole app in one zip for the runtime in up.json, filtered as up filters it."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from platforms.configfiles import json_key_lines, json_line
from platforms.up import _anchored
from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_names as names
from tests.projects import make_photon_project, make_project, tree_digest, write_json

pytestmark = pytest.mark.usefixtures("own_engine_cache")


# An up app is an HTTP server that up's proxy starts (package.json's start script) and talks to on $PORT.
APP = """\
const http = require('http');
const { PrismaClient } = require('@prisma/client');
const util = require('./lib/util');
const prisma = new PrismaClient();
const server = http.createServer((req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ engine: prisma.enginePath, answer: util() }));
});
server.listen(Number(process.env.PORT || 3000), '127.0.0.1', () => console.log(server.address().port));
"""

UP_JSON = """\
{
  "name": "orders",
  "profile": "orders-prod",
  "lambda": {
    "memory": 1024,
    "runtime": "nodejs12.x"
  },
  "proxy": {
    "timeout": 25
  }
}
"""


def up(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[dict[str, Any], str]:
    """(the manifest, stderr). Without --json, so the adapter's warnings are on stderr (--json silences them)."""
    code, _, err = run(["up", str(project), "--out", str(out), "--offline", *extra], capsys)
    assert code == 0, err
    doc: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return doc, err


def engines_in(zip_path: Path) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(zip_path) as zf:
        return [i for i in zf.infolist() if "query_engine-" in i.filename or "query-engine-" in i.filename
                or "schema-engine" in i.filename or "/prisma-" in i.filename]


def make_up_project(root: Path, elf_cache: Path, up_json: str | None = UP_JSON, **kwargs: Any) -> Path:
    project = make_project(root, elf_cache=elf_cache, **kwargs)
    (project / "app.js").write_text(APP)
    pkg = json.loads((project / "package.json").read_text())
    pkg["scripts"] = {"start": "node app.js"}
    write_json(project / "package.json", pkg)
    if up_json is not None:
        (project / "up.json").write_text(up_json)
    return project


def with_runtime(runtime: str) -> str:
    return UP_JSON.replace("nodejs12.x", runtime)


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    return make_up_project(tmp_path / "app", elf_cache)


# ------------------------------------------------------------------------------------------- runtime


@pytest.mark.parametrize(("runtime", "target", "os_name"), [
    ("nodejs12.x", "rhel-openssl-1.0.x", "Amazon Linux 2"),
    ("nodejs20.x", "rhel-openssl-3.0.x", "Amazon Linux 2023"),
])
def test_runtime_from_up_json_picks_the_engine_and_the_whole_app_goes_in(
        tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str], runtime: str, target: str,
        os_name: str) -> None:
    project = make_up_project(tmp_path / "app", elf_cache, with_runtime(runtime))
    doc, err = up(project, tmp_path / "out", capsys)
    assert (doc["platform"], doc["runtime"], doc["runtime_source"]) == ("up", runtime, "up.json lambda.runtime")
    assert (doc["os"], doc["arch"], doc["engine"]["target"]) == (os_name, "x86_64", target)
    assert doc["verify"]["skipped"] is False
    zip_path = tmp_path / "out" / "function.zip"
    (engine,) = engines_in(zip_path)
    assert engine.filename == f"node_modules/.prisma/client/libquery_engine-{target}.so.node"
    assert engine.external_attr >> 16 == 0o100755
    with zipfile.ZipFile(zip_path) as zf:
        assert zf.read(engine.filename) == (project / engine.filename).read_bytes()
        assert zf.read("up.json") == (project / "up.json").read_bytes()  # bundled as it is, never rewritten
    listed = names(zip_path)
    # The whole app (not a handler closure), the full production closure, nothing for development.
    for wanted in ("app.js", "handler.js", "lib/util.js", "package.json", "package-lock.json", "prisma/schema.prisma",
                   "node_modules/@prisma/client/index.js", "node_modules/debug/index.js", "node_modules/ms/index.js",
                   "node_modules/express-lite/node_modules/ms/index.js", "node_modules/fsevents-lite/index.js",
                   "node_modules/.prisma/client/index.js"):
        assert wanted in listed
    assert not [n for n in listed if n.startswith(("node_modules/prisma/", "node_modules/@prisma/engines/",
                                                   "node_modules/jest-lite/", "node_modules/chalk-lite/"))]
    assert not [n for n in listed if n.startswith(".") or "/." in n.replace("node_modules/.prisma/", "")]
    assert "deploy.pem" not in listed
    (unzipped,) = [lim for lim in doc["limits"] if lim["what"] == "unzipped"]
    assert unzipped["limit"] == 250 << 20 and unzipped["actual"] == doc["artifacts"][0]["unzipped_bytes"]
    assert not [lim for lim in doc["limits"] if lim["what"] == "zipped"]  # up uploads through S3
    assert [a["path"] for a in doc["artifacts"]] == ["function.zip"]
    assert "runtime nodejs" in err and "warning:" not in err  # (the doctor block names its findings without "warning:")


def test_default_is_nodejs10x_when_nothing_says(tmp_path: Path, elf_cache: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    project = make_up_project(tmp_path / "app", elf_cache, '{\n  "name": "orders",\n  "lambda": {"memory": 512}\n}\n')
    doc, _ = up(project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"]) == ("nodejs10.x", "rhel-openssl-1.0.x")
    assert doc["runtime_source"] == "up's default (up.json sets no lambda.runtime)"
    (engine,) = engines_in(tmp_path / "out" / "function.zip")
    assert engine.filename.endswith("libquery_engine-rhel-openssl-1.0.x.so.node")


def test_no_up_json_at_all_uses_ups_default_and_says_so(tmp_path: Path, elf_cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    project = make_up_project(tmp_path / "app", elf_cache, up_json=None)
    doc, err = up(project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["runtime_source"]) == ("nodejs10.x", "up's default (no up.json)")
    assert f"warning: no up.json in {project}" in err


def test_engines_node_does_not_override_what_up_deploys_but_warns(tmp_path: Path, elf_cache: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """up ignores engines.node: without lambda.runtime it deploys nodejs10.x, so that is what the engine is for."""
    project = make_up_project(tmp_path / "app", elf_cache, '{"name": "orders"}\n', engines_node="20.x")
    doc, err = up(project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["target"]) == ("nodejs10.x", "rhel-openssl-1.0.x")
    assert 'package.json engines.node "20.x" excludes Node 10, but up deploys nodejs10.x' in err
    assert "set lambda.runtime in up.json" in err


def test_engines_node_that_admits_the_runtime_gives_no_warning(tmp_path: Path, elf_cache: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    project = make_up_project(tmp_path / "app", elf_cache, with_runtime("nodejs20.x"), engines_node=">=18")
    doc, err = up(project, tmp_path / "out", capsys)
    assert doc["runtime"] == "nodejs20.x" and "engines.node" not in err


@pytest.mark.parametrize("how", ["flag", "config"])
def test_runtime_flag_or_photon_bundle_toml_overrides_up_json_with_a_warning(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str) -> None:
    if how == "flag":
        doc, err = up(project, tmp_path / "out", capsys, "--runtime", "nodejs20.x")
        source = "--runtime"
    else:
        (project / "photon-bundle.toml").write_text('[up]\nruntime = "nodejs20.x"\n')
        doc, err = up(project, tmp_path / "out", capsys)
        source = "photon-bundle.toml [up]"
    assert (doc["runtime"], doc["runtime_source"], doc["engine"]["target"]) == ("nodejs20.x", source,
                                                                                 "rhel-openssl-3.0.x")
    (engine,) = engines_in(tmp_path / "out" / "function.zip")
    assert engine.filename.endswith("libquery_engine-rhel-openssl-3.0.x.so.node")
    assert (f"{project / 'up.json'}:6: up deploys lambda.runtime nodejs12.x, but {source} bundles for nodejs20.x"
            in err)
    assert "photon-bundle.toml" not in names(tmp_path / "out" / "function.zip")


def test_stage_runtime_override_is_reported(tmp_path: Path, elf_cache: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = ('{\n  "name": "orders",\n  "lambda": {"runtime": "nodejs18.x"},\n  "stages": {\n'
            '    "staging": {"domain": "staging.example.com"},\n'
            '    "production": {\n      "lambda": {\n        "memory": 2048,\n        "runtime": "nodejs20.x"\n'
            '      }\n    }\n  }\n}\n')
    project = make_up_project(tmp_path / "app", elf_cache, text)
    doc, err = up(project, tmp_path / "out", capsys)
    assert doc["runtime"] == "nodejs18.x"
    assert (f"{project / 'up.json'}:9: stage 'production' deploys nodejs20.x, this bundle is for nodejs18.x: "
            "bundle that stage with --runtime nodejs20.x") in err
    assert "staging" not in err


def test_arm64_is_refused(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline", "--arch", "arm64"], capsys)
    assert code == 2
    assert "apex/up deploys x86_64 functions only" in err and "--arch asks for arm64" in err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------- errors


def test_malformed_up_json_names_file_and_line(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (project / "up.json").write_text('{\n  "name": "orders",\n  "lambda": {\n    "runtime": "nodejs12.x",\n  }\n}\n')
    before = tree_digest(project)
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / 'up.json'}:5:3: invalid JSON" in err and "fix the JSON syntax" in err
    assert not (tmp_path / "out").exists()
    assert tree_digest(project) == before


def test_up_json_that_is_not_an_object(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "up.json").write_text('["orders"]\n')
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3 and f"{project / 'up.json'}:1: expected a JSON object" in err


def test_unknown_runtime_names_file_line_and_the_valid_names(project: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    # A stage's lambda block comes first: the line must be that of the top-level lambda.runtime.
    (project / "up.json").write_text(
        '{\n  "stages": {"production": {"lambda": {"runtime": "nodejs20.x"}}},\n  "lambda": {\n    "memory": 512,\n'
        '    "runtime": "nodejs99.x"\n  }\n}\n')
    before = tree_digest(project)
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 2
    assert f"{project / 'up.json'}:5: lambda.runtime 'nodejs99.x' is not an AWS Lambda Node.js runtime" in err
    assert "use one of: nodejs8.10, nodejs10.x, nodejs12.x" in err and "nodejs24.x" in err
    assert not (tmp_path / "out").exists()
    assert tree_digest(project) == before


@pytest.mark.parametrize(("text", "message"), [
    ('{\n  "lambda": {\n    "runtime": 12\n  }\n}\n', ":3: 'lambda.runtime' must be a string such as"),
    ('{\n  "name": "x",\n  "lambda": "nodejs12.x"\n}\n', ":3: 'lambda' must be an object, found a string"),
    ('{\n  "stages": {"production": {"lambda": []}}\n}\n',
     ":2: 'stages.production.lambda' must be an object, found an array"),
    ('{\n  "stages": ["production"]\n}\n', ":2: 'stages' must be an object of stage names"),
])
def test_wrong_value_types_in_up_json(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                      message: str) -> None:
    (project / "up.json").write_text(text)
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3 and f"{project / 'up.json'}{message}" in err  # a wrong type: 3, as in netlify.toml


def test_runtime_flag_does_not_excuse_a_malformed_up_json(project: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    (project / "up.json").write_text("{\n  name: 1\n}\n")
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline", "--runtime", "nodejs20.x"],
                       capsys)
    assert code == 3 and f"{project / 'up.json'}:2:3" in err


def test_missing_start_file_is_reported(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project(tmp_path / "app", elf_cache=elf_cache)  # a Lambda handler, no app.js, no start script
    (project / "up.json").write_text(UP_JSON)
    doc, err = up(project, tmp_path / "out", capsys)
    assert doc["runtime"] == "nodejs12.x"
    assert "up starts the app with `node app.js` (up's default), but app.js is not in the project" in err
    (project / "up.json").write_text(UP_JSON.replace('"timeout": 25', '"command": "node handler.js"'))
    _, err = up(project, tmp_path / "out2", capsys)
    assert "up starts the app" not in err


# ------------------------------------------------------------------------------------------- .upignore


def test_upignore_rules_and_ups_own_defaults(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "test").mkdir()
    (project / "test" / "app.test.js").write_text("test()\n")
    (project / "README.md").write_text("# orders\n")
    (project / "CHANGELOG.md").write_text("# 1.2.0\n")
    (project / "docs").mkdir()
    (project / "docs" / "api.md").write_text("# api\n")
    (project / "src").mkdir()
    (project / "src" / "server.ts").write_text("export {}\n")
    (project / "lib" / "src").mkdir()
    (project / "lib" / "src" / "keep.js").write_text("module.exports = 1;\n")
    (project / "node_modules" / "debug" / "README.md").write_text("# debug\n")
    (project / ".babelrc").write_text("{}\n")
    (project / ".eslintrc").write_text("{}\n")
    (project / "config").mkdir()
    (project / "config" / ".settings.json").write_text("{}\n")
    (project / ".upignore").write_text(
        "# what up should not deploy\n"
        "*.md\n"
        "!CHANGELOG.md\n"  # a negation re-includes one file
        "test/\n"
        "./src\n"  # up's anchored spelling: only the top-level src, not lib/src
        "!.babelrc\n"  # dotfiles are out by default; a negation brings one back
        "up.json\n"  # up always ships up.json, whatever .upignore says
        "!.env\n"  # photon-bundle never bundles secrets by default
    )
    before = tree_digest(project)
    _, err = up(project, tmp_path / "out", capsys)
    listed = names(tmp_path / "out" / "function.zip")
    assert "CHANGELOG.md" in listed and ".babelrc" in listed and "up.json" in listed and "app.js" in listed
    assert "lib/src/keep.js" in listed
    for gone in ("README.md", "docs/api.md", "test/app.test.js", "src/server.ts", "node_modules/debug/README.md",
                 ".eslintrc", "config/.settings.json", ".upignore", ".env", ".gitignore"):
        assert gone not in listed, gone
    assert any(n.startswith("node_modules/.prisma/client/") for n in listed)  # dot folder below node_modules
    assert ".upignore re-includes '.env', which photon-bundle never bundles by default (secrets)" in err
    assert "--include '.env'" in err
    assert tree_digest(project) == before


def test_ignore_everything_but_a_list(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The pattern from up's docs: ignore everything, then name what goes in."""
    (project / ".upignore").write_text("*\n!app.js\n!package.json\n!node_modules/**\n!lib/**\n")
    up(project, tmp_path / "out", capsys)
    listed = names(tmp_path / "out" / "function.zip")
    assert [n for n in listed if not n.startswith("node_modules/")] == ["app.js", "lib/util.js", "package.json",
                                                                         "up.json"]
    (engine,) = engines_in(tmp_path / "out" / "function.zip")
    assert engine.filename.endswith("rhel-openssl-1.0.x.so.node")


def test_gcloud_include_syntax_is_a_plain_comment_in_upignore(project: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`#!include:FILE` is gcloud's syntax; up reads it as a comment (and the file need not exist)."""
    (project / "docs").mkdir()
    (project / "docs" / "guide.md").write_text("# guide\n")  # not loaded by app.js, so leaving it out is safe
    (project / ".upignore").write_text("#!include:.gitignore\ndocs/\n")
    up(project, tmp_path / "out", capsys)
    listed = names(tmp_path / "out" / "function.zip")
    assert "docs/guide.md" not in listed and "app.js" in listed


def test_include_flag_brings_back_a_secret_the_upignore_names(project: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".upignore").write_text("!.env\n")
    up(project, tmp_path / "out", capsys, "--include", ".env")
    listed = names(tmp_path / "out" / "function.zip")
    assert ".env" in listed and ".env.production" not in listed


# ------------------------------------------------------------------------------------------- limits


def sparse(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        fh.truncate(size)


def test_over_the_250_mib_unzipped_limit_exits_4_with_the_breakdown(project: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    sparse(project / "assets" / "video.bin", 251 << 20)  # 251 MiB on paper, nothing on disk
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 4
    assert "apex/up unzipped size (function)" in err and "is over the limit of 250.0 MiB" in err
    assert "largest files (unzipped):" in err and "assets/video.bin" in err
    assert not (tmp_path / "out" / "function.zip").exists()
    assert not list(tmp_path.glob("out/.*.tmp"))


def test_upignored_files_do_not_count_against_the_limit(project: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    sparse(project / "assets" / "video.bin", 251 << 20)
    (project / ".upignore").write_text("assets/\n")
    doc, _ = up(project, tmp_path / "out", capsys)
    (unzipped,) = [lim for lim in doc["limits"] if lim["what"] == "unzipped"]
    assert unzipped["actual"] < 1 << 20 and "assets/video.bin" not in names(tmp_path / "out" / "function.zip")


def test_max_size_still_limits_the_zip(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "assets").mkdir()
    (project / "assets" / "noise.bin").write_bytes(os.urandom(64 << 10))
    code, _, err = run(["up", str(project), "--out", str(tmp_path / "out"), "--offline", "--max-size", "32kb"], capsys)
    assert code == 4 and "function.zip max-size (--max-size)" in err
    assert not (tmp_path / "out" / "function.zip").exists()


# ------------------------------------------------------------------------------------------- determinism, running


def test_byte_identical_second_run_and_project_untouched(project: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".upignore").write_text("*.md\n")
    before = tree_digest(project)
    first, _ = up(project, tmp_path / "a", capsys)
    second, _ = up(project, tmp_path / "b", capsys)
    assert (tmp_path / "a" / "function.zip").read_bytes() == (tmp_path / "b" / "function.zip").read_bytes()
    assert first["artifacts"] == second["artifacts"]
    assert tree_digest(project) == before
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        ".photon-bundle-hashes.json", ".photon-bundle-state.json", "function.zip", "manifest.json"]
    code, stdout, err = run(["up", str(project), "--out", str(tmp_path / "a"), "--offline", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["reused"] is True, err


def test_the_bundled_app_serves_with_the_bundled_engine(tmp_path: Path, elf_cache: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Unzip as Lambda does and start the app as up's proxy does (the start script, PORT set): the client finds
    the runtime's engine, executable, in the bundle."""
    project = make_up_project(tmp_path / "app", elf_cache, with_runtime("nodejs20.x"))
    up(project, tmp_path / "out", capsys)
    deployed = tmp_path / "task"
    with zipfile.ZipFile(tmp_path / "out" / "function.zip") as zf:
        zf.extractall(deployed)
        for info in zf.infolist():
            (deployed / info.filename).chmod(info.external_attr >> 16 & 0o777)
    start = json.loads((deployed / "package.json").read_text())["scripts"]["start"]
    env = {"PATH": os.environ["PATH"], "PORT": "0"}
    with subprocess.Popen(start.split(), cwd=deployed, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            port = int(proc.stdout.readline())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as resp:
                body = json.loads(resp.read())
        finally:
            proc.terminate()
    engine = deployed / "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
    assert body == {"engine": str(engine), "answer": 42}


def test_photon_2019_project_on_ups_default_runtime_gets_the_libssl1_0_2_binary(
        tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The 2019 specs map linux-glibc-libssl1.0.2 to "Lambda Node 10, Netlify, Up": a Photon.js project deployed
    with up's default nodejs10.x carries exactly that binary, executable, and nothing of the prisma2 CLI."""
    project = make_photon_project(tmp_path / "photon", elf_cache=elf_cache)
    (project / "up.json").write_text('{\n  "name": "photon-graphql"\n}\n')
    (project / "app.js").write_text("require('./index');\n")
    doc, _ = up(project, tmp_path / "out", capsys)
    assert (doc["runtime"], doc["engine"]["kind"]) == ("nodejs10.x", "binary")
    (engine,) = engines_in(tmp_path / "out" / "function.zip")
    assert engine.filename == "node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.2"
    assert engine.external_attr >> 16 == 0o100755
    listed = names(tmp_path / "out" / "function.zip")
    assert "node_modules/graphql-lite/index.js" in listed and "index.js" in listed
    assert not [n for n in listed if n.startswith("node_modules/prisma2/")]


# ------------------------------------------------------------------------------------------- helpers


def test_json_key_lines_follow_nesting_not_the_first_occurrence() -> None:
    text = ('{\n  "stages": {\n    "production": {"lambda": {"runtime": "a"}}\n  },\n  "list": [{"runtime": 1}, '
            '{"x": {"runtime": 2}}],\n  "lambda": {\n    "runtime": "b"\n  },\n  "esc\\"aped": {"k": 0}\n}\n')
    lines = json_key_lines(text)
    assert lines[("stages", "production", "lambda", "runtime")] == 3
    assert lines[("list", "0", "runtime")] == 5 and lines[("list", "1", "x", "runtime")] == 5
    assert lines[("lambda",)] == 6 and lines[("lambda", "runtime")] == 7
    assert lines[('esc"aped', "k")] == 9
    assert json_line(text, "list", 1, "x", "runtime") == 5 and json_line(text, "lambda", "runtime") == 7
    assert json_line(text, "missing") is None
    assert json_key_lines(text, ("lambda",)) == {("lambda",): 6, ("lambda", "runtime"): 7}  # only those kept
    builds = '{"builds": [\n {"src": "a.js"},\n {"src": "a.js",\n  "config": {"maxLambdaSize": "1mb"}}\n]}\n'
    assert json_line(builds, "builds", 1, "src") == 3  # the second build's own line, not the first "src"
    assert json_line(builds, "builds", 1, "config", "maxLambdaSize") == 4


@pytest.mark.parametrize(("line", "expected"), [
    ("./src", "/src"), ("!./dist/**", "!/dist/**"), ("src", "src"), ("!keep.md", "!keep.md"), ("/abs", "/abs"),
])
def test_dot_slash_anchors_like_ups_docs(line: str, expected: str) -> None:
    assert _anchored(line) == expected
