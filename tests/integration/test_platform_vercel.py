"""`photon-bundle vercel`: one zip per function with the runtime's engine, and vercel.json includeFiles for it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bundler.engines.cache import EngineCache
from bundler.hashing import sha256_file
from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_modes as listing
from tests.projects import add_package, compile_elf, make_project, tree_digest

pytestmark = pytest.mark.usefixtures("own_engine_cache")


GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "vercel"
CLIENT = "node_modules/.prisma/client/"
ENGINE_30 = f"{CLIENT}libquery_engine-rhel-openssl-3.0.x.so.node"
ENGINE_10 = f"{CLIENT}libquery_engine-rhel-openssl-1.0.x.so.node"
PRISMA_CLIENT = [f"{CLIENT}index.js", f"{CLIENT}query_engine_bg.postgresql.wasm", f"{CLIENT}schema.prisma",
                 "node_modules/@prisma/client/index.js", "node_modules/@prisma/client/package.json",
                 "node_modules/@prisma/client/runtime/library.js"]
VERCEL_JSON = """\
{
  "$schema": "https://openapi.vercel.sh/vercel.json",
  "regions": ["iad1"],
  "functions": {
    "api/orders.js": {
      "memory": 1024,
      "maxDuration": 10,
      "includeFiles": "templates/**",
      "excludeFiles": "node_modules/debug/docs/**"
    }
  },
  "rewrites": [{ "source": "/orders/:id", "destination": "/api/orders?id=:id" }],
  "cleanUrls": true
}
"""
ORDERS_JS = """\
const fs = require('fs');
const path = require('path');
const { PrismaClient } = require('@prisma/client');
const debug = require('debug')('orders');
const prisma = new PrismaClient();
const receipt = fs.readFileSync(path.join(process.cwd(), 'templates', 'receipt.html'), 'utf8');
module.exports = async (req, res) => res.send(receipt.replace('{{id}}', req.query.id));
"""
STATS_JS = """\
const { PrismaClient } = require('@prisma/client');
const app = require('express-lite');
const { cors } = require('./_lib/cors');
const prisma = new PrismaClient();
module.exports = cors(async (req, res) => res.json(await prisma.order.count()));
"""


def vercel(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return bundle_ok("vercel", project, out, capsys, *extra)


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    """A Vercel project as people write them: functions in api/, a private helper in api/_lib, a TypeScript
    function Vercel compiles, a template read with fs (includeFiles), docs in a dependency (excludeFiles)."""
    root = make_project(tmp_path / "app", elf_cache=elf_cache, engines_node="20.x",
                        targets=("rhel-openssl-1.0.x", "rhel-openssl-3.0.x", "debian-openssl-3.0.x"))
    api = root / "api"
    (api / "_lib").mkdir(parents=True)
    (api / "orders.js").write_text(ORDERS_JS)
    (api / "stats.js").write_text(STATS_JS)
    (api / "_lib" / "cors.js").write_text("exports.cors = (fn) => fn;\n")
    (api / "health.js").write_text("module.exports = (req, res) => res.end('ok');\n")
    (api / "legacy.ts").write_text("export default (req: any, res: any) => res.end('ts');\n")
    (api / "types.d.ts").write_text("export type Order = { id: number };\n")
    (root / "templates").mkdir()
    (root / "templates" / "receipt.html").write_text("<p>order {{id}}</p>\n")
    (root / "node_modules" / "debug" / "docs").mkdir()
    (root / "node_modules" / "debug" / "docs" / "README.md").write_text("# debug\n" * 100)
    (root / "vercel.json").write_text(VERCEL_JSON)
    return root


def test_api_functions_each_zip_own_deps_and_the_runtimes_engine(project: Path, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(project)
    out = tmp_path / "out"
    doc = vercel(project, out, capsys)
    assert (doc["platform"], doc["runtime"], doc["engine"]["target"]) == ("vercel", "nodejs20.x", "rhel-openssl-3.0.x")
    assert doc["runtime_source"] == 'package.json engines.node "20.x"'
    assert [u["name"] for u in doc["units"]] == ["api/health", "api/orders", "api/stats"]  # not _lib, .d.ts, .ts
    orders = listing(out / "functions" / "api" / "orders.zip")
    stats = listing(out / "functions" / "api" / "stats.zip")
    assert sorted(orders) == sorted(["api/orders.js", "package.json", "templates/receipt.html", ENGINE_30,
                                     *PRISMA_CLIENT, "node_modules/debug/index.js", "node_modules/debug/package.json",
                                     "node_modules/ms/index.js", "node_modules/ms/package.json"])
    assert sorted(stats) == sorted(["api/_lib/cors.js", "api/stats.js", "package.json", ENGINE_30, *PRISMA_CLIENT,
                                    "node_modules/express-lite/index.js", "node_modules/express-lite/package.json",
                                    "node_modules/express-lite/node_modules/ms/index.js",
                                    "node_modules/express-lite/node_modules/ms/package.json"])
    for listed in (orders, stats):
        assert [n for n in listed if "query_engine-" in n] == [ENGINE_30]
        assert listed[ENGINE_30] == 0o100755
    assert sorted(listing(out / "functions" / "api" / "health.zip")) == ["api/health.js", "package.json"]
    (unzipped,) = [lim for lim in doc["limits"] if lim["what"] == "unzipped" and lim["name"].startswith("api/orders")]
    assert unzipped["limit"] == 262144000 - 26214400
    assert not [lim for lim in doc["limits"] if lim["what"] == "zipped"]
    assert any("api/legacy.ts: TypeScript is compiled by Vercel's build" in w for w in doc["warnings"])
    assert (out / "vercel.json").read_text() == (GOLDEN / "vercel.json").read_text()
    assert tree_digest(project) == before


@pytest.mark.parametrize(("flags", "runtime", "engine"), [
    (("--runtime", "nodejs18.x"), "nodejs18.x", ENGINE_10),
    (("--runtime", "nodejs22.x"), "nodejs22.x", ENGINE_30),
    ((), "nodejs20.x", ENGINE_30),
])
def test_runtime_picks_the_engine(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                  flags: tuple[str, ...], runtime: str, engine: str) -> None:
    doc = vercel(project, tmp_path / "out", capsys, *flags)
    assert doc["runtime"] == runtime
    stats = listing(tmp_path / "out" / "functions" / "api" / "stats.zip")
    assert [n for n in stats if "query_engine-" in n] == [engine]
    functions = json.loads((tmp_path / "out" / "vercel.json").read_text())["functions"]
    assert functions["api/stats.js"] == {"includeFiles": engine}


def test_write_config_combines_include_files_and_replaces_a_stale_engine(
        project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["vercel", str(project), "--out", str(tmp_path / "a"), "--offline", "--write-config"], capsys)
    assert code == 0, err
    assert f"updated {project / 'vercel.json'} in place (--write-config)" in err
    assert (project / "vercel.json").read_text() == (GOLDEN / "vercel.json").read_text()
    vercel(project, tmp_path / "b", capsys, "--write-config")  # a second run adds nothing twice
    assert (project / "vercel.json").read_text() == (GOLDEN / "vercel.json").read_text()
    vercel(project, tmp_path / "c", capsys, "--write-config", "--runtime", "nodejs18.x")
    functions = json.loads((project / "vercel.json").read_text())["functions"]
    assert functions["api/orders.js"]["includeFiles"] == f"{{templates/**,{ENGINE_10}}}"
    assert functions["api/stats.js"] == {"includeFiles": ENGINE_10}
    assert functions["api/orders.js"]["memory"] == 1024


def test_a_pattern_key_is_updated_for_every_function_it_matches(project: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "vercel.json").write_text('{\n  "functions": {\n    "api/*.js": { "memory": 3008, '
                                         '"includeFiles": "{templates/**,node_modules/.prisma/client/schema.prisma}" '
                                         "}\n  }\n}\n")
    vercel(project, tmp_path / "out", capsys)
    assert json.loads((tmp_path / "out" / "vercel.json").read_text()) == {"functions": {"api/*.js": {
        "memory": 3008, "includeFiles": f"{{templates/**,node_modules/.prisma/client/schema.prisma,{ENGINE_30}}}"}}}
    assert "templates/receipt.html" in listing(tmp_path / "out" / "functions" / "api" / "stats.zip")


def test_over_the_unzipped_limit_exits_4_and_writes_nothing(project: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with (project / "node_modules" / "debug" / "huge.bin").open("wb") as fh:
        fh.truncate(240 * 1024 * 1024)  # sparse: counted, never read (the check runs before any zip is written)
    out = tmp_path / "out"
    code, _, err = run(["vercel", str(project), "--out", str(out), "--offline"], capsys)
    assert code == 4, err
    assert "api/orders: Vercel unzipped size (function):" in err and "over the limit of 225.0 MiB" in err
    assert "node_modules/debug/huge.bin" in err
    assert not out.exists() or not list(out.rglob("*.zip"))


def test_without_vercel_json_entries_get_new_function_entries(project: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (project / "vercel.json").unlink()
    before = tree_digest(project)
    code, _, err = run(["vercel", str(project), "--out", str(tmp_path / "out"), "--offline", "--entry", "api/stats.js",
                        "--entry", "api/health.js"], capsys)
    assert code == 0, err
    assert "your project has none (--write-config creates" in err
    assert sorted(p.name for p in (tmp_path / "out" / "functions" / "api").iterdir()) == ["health.zip", "stats.zip"]
    assert json.loads((tmp_path / "out" / "vercel.json").read_text()) == {
        "functions": {"api/stats.js": {"includeFiles": ENGINE_30}}}
    assert tree_digest(project) == before


def test_malformed_vercel_json_names_file_and_line(project: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (project / "vercel.json").write_text('{\n  "functions": {\n    "api/*.js": { "memory": 1024 }\n  \n}\n')
    code, _, err = run(["vercel", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / 'vercel.json'}:6:" in err and "invalid JSON" in err


@pytest.mark.parametrize(("text", "line", "message"), [
    ('{\n  "functions": {\n    "api/*.js": {\n      "includeFiles": ["templates/**", "data/**"]\n    }\n  }\n}\n', 4,
     "functions['api/*.js'].includeFiles must be one glob string: Vercel rejects a list"),
    ('{\n  "functions": {\n    "api/users/*.js": { "memory": 1024 }\n  }\n}\n', 3,
     "the pattern 'api/users/*.js' defined in `functions` doesn't match any file"),
    ('{\n  "builds": [{ "src": "api/*.js", "use": "@vercel/node" }]\n}\n', 2,
     "vercel.json `builds` (the legacy form) is not read"),
])
def test_bad_vercel_json_is_refused_naming_the_line(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    text: str, line: int, message: str) -> None:
    (project / "vercel.json").write_text(text)
    code, _, err = run(["vercel", str(project), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{project / 'vercel.json'}:{line}: {message}" in err


def test_byte_identical_artifacts_on_a_second_run(project: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    first = vercel(project, tmp_path / "a", capsys)
    second = vercel(project, tmp_path / "b", capsys)
    assert first["artifacts"] == second["artifacts"]
    for name in ("functions/api/orders.zip", "functions/api/stats.zip", "functions/api/health.zip", "vercel.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_no_functions_at_all(tmp_path: Path, elf_cache: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_project(tmp_path / "app", elf_cache=elf_cache)
    add_package(root, "node_modules/unused", "unused")
    code, _, err = run(["vercel", str(root), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3 and "no functions in" in err and "--entry" in err


def test_engine_from_the_cache_is_named_and_flagged(tmp_path: Path, elf_cache: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The project was generated without Vercel's target: the engine comes from photon-bundle's cache, goes
    beside the client's own engines, and the summary says to add the target to binaryTargets."""
    root = make_project(tmp_path / "app", elf_cache=elf_cache, targets=("debian-openssl-3.0.x",))
    (root / "api").mkdir()
    (root / "api" / "stats.js").write_text(STATS_JS.replace("const { cors } = require('./_lib/cors');\n", "")
                                           .replace("cors(", "("))
    cache = EngineCache(tmp_path / "engine-cache")
    entry = cache.entry("0123456789abcdef0123456789abcdef01234567", "rhel-openssl-3.0.x", "library")
    engine = compile_elf(tmp_path / "rhel-engine.so", shared=True, marker="rhel-3.0-from-cache")
    with cache.locked(entry):
        cache.store_copy(entry, engine, sha256_file(engine))
    code, _, err = run(["vercel", str(root), "--out", str(tmp_path / "out"), "--offline", "--runtime", "nodejs20.x"],
                       capsys)
    assert code == 0, err
    stats = listing(tmp_path / "out" / "functions" / "api" / "stats.zip")
    assert [n for n in stats if "query_engine-" in n] == [ENGINE_30] and stats[ENGINE_30] == 0o100755
    with zipfile.ZipFile(tmp_path / "out" / "functions" / "api" / "stats.zip") as zf:
        assert zf.read(ENGINE_30) == engine.read_bytes()
    assert json.loads((tmp_path / "out" / "vercel.json").read_text()) == {
        "functions": {"api/stats.js": {"includeFiles": ENGINE_30}}}
    assert (f"warning: {ENGINE_30} is not in your project (photon-bundle took it from cache): Vercel builds from "
            'your sources, so add "rhel-openssl-3.0.x" to the generator\'s binaryTargets') in err
