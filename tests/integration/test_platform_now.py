"""`photon-bundle now`: one zip per @now/node entry point, each within its maxLambdaSize, and an updated now.json."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import bundle_ok
from tests.cli_helpers import run_cli as run
from tests.cli_helpers import zip_modes as listing
from tests.projects import add_package, make_photon_project, make_project, tree_digest, write_json

pytestmark = pytest.mark.usefixtures("own_engine_cache")


GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "now"
PHOTON_ENGINE = "node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.1"
PRISMA_ENGINE = "node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"
PHOTON_CLIENT = ["node_modules/@generated/photon/index.d.ts", "node_modules/@generated/photon/index.js",
                 "node_modules/@generated/photon/runtime/index.js", PHOTON_ENGINE,
                 "node_modules/@generated/photon/schema.prisma"]
PRISMA_CLIENT = ["node_modules/.prisma/client/index.js", PRISMA_ENGINE,
                 "node_modules/.prisma/client/query_engine_bg.postgresql.wasm",
                 "node_modules/.prisma/client/schema.prisma", "node_modules/@prisma/client/index.js",
                 "node_modules/@prisma/client/package.json", "node_modules/@prisma/client/runtime/library.js"]
# What a 2019 Photon.js app on ZEIT Now looked like: a static site and two lambdas, routes to them.
NOW_JSON = """\
{
  "name": "photon-graphql",
  "version": 2,
  "alias": ["photon-graphql.now.sh"],
  "builds": [
    { "src": "api/*.js", "use": "@now/node" },
    { "src": "public/**", "use": "@now/static" }
  ],
  "routes": [
    { "src": "/api/(.*)", "dest": "/api/$1.js" },
    { "src": "/(.*)", "dest": "/public/$1" }
  ],
  "env": { "POSTGRESQL_URL": "@postgresql-url" }
}
"""
USERS_JS = """\
const { Photon } = require('@generated/photon');
const { GraphQLServer } = require('graphql-yoga-lite');
const format = require('../lib/format');
const photon = new Photon();
module.exports = async (req, res) => res.end(format(await photon.users.findMany()));
"""
POSTS_JS = """\
const { Photon } = require('@generated/photon');
const slug = require('slug-lite');
const photon = new Photon();
module.exports = async (req, res) => res.end(slug(req.query.title));
"""


def now(project: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    return bundle_ok("now", project, out, capsys, *extra)


def add_dependency(project: Path, name: str, version: str = "1.0.0") -> None:
    add_package(project, f"node_modules/{name}", name, version)
    pkg = json.loads((project / "package.json").read_text())
    pkg["dependencies"][name] = version
    write_json(project / "package.json", pkg)


def big_file(path: Path, size: int) -> None:
    path.write_bytes(random.Random(0).randbytes(size))  # incompressible


@pytest.fixture
def photon(tmp_path: Path, elf_cache: Path) -> Path:
    """A 2019 Photon.js project with two lambdas that load different packages, deployed by now.json builds."""
    project = make_photon_project(tmp_path / "photon", elf_cache=elf_cache)
    add_dependency(project, "slug-lite")
    (project / "api").mkdir()
    (project / "api" / "users.js").write_text(USERS_JS)
    (project / "api" / "posts.js").write_text(POSTS_JS)
    (project / "lib").mkdir()
    (project / "lib" / "format.js").write_text("module.exports = (rows) => JSON.stringify(rows);\n")
    (project / "public").mkdir()
    (project / "public" / "index.html").write_text("<h1>photon</h1>\n")
    (project / "now.json").write_text(NOW_JSON)
    return project


@pytest.fixture
def prisma(tmp_path: Path, elf_cache: Path) -> Path:
    """Today's Prisma project (library engine) with two functions and no builds in now.json."""
    project = make_project(tmp_path / "app", elf_cache=elf_cache,
                           targets=("rhel-openssl-1.0.x", "rhel-openssl-3.0.x", "debian-openssl-3.0.x"))
    (project / "api").mkdir()
    (project / "api" / "orders.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                               "const debug = require('debug')('orders');\n"
                                               "module.exports = (req, res) => res.end('orders');\n")
    (project / "api" / "stats.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                              "const app = require('express-lite');\n"
                                              "module.exports = (req, res) => res.end('stats');\n")
    (project / "api" / "ping.js").write_text("module.exports = (req, res) => res.end('pong');\n")
    (project / "now.json").write_text('{\n  "name": "orders",\n  "version": 2,\n'
                                      '  "routes": [{ "src": "/orders", "dest": "/api/orders.js" }]\n}\n')
    return project


def test_photon_2019_builds_one_zip_per_entry_with_its_own_deps_and_the_al1_engine(
        photon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(photon)
    out = tmp_path / "out"
    doc = now(photon, out, capsys)
    assert (doc["platform"], doc["runtime"], doc["engine"]["target"]) == ("now", "nodejs8.10", "rhel-openssl-1.0.x")
    assert doc["runtime_source"] == "@now/node runs Node 8 on AWS Lambda (its default without engines.node)"
    assert [u["name"] for u in doc["units"]] == ["api/posts", "api/users"]
    assert [a["path"] for a in doc["artifacts"]] == ["functions/api/posts.zip", "functions/api/users.zip"]
    users = listing(out / "functions" / "api" / "users.zip")
    posts = listing(out / "functions" / "api" / "posts.zip")
    assert sorted(users) == sorted(["api/users.js", "lib/format.js", "package.json", *PHOTON_CLIENT,
                                    "node_modules/graphql-lite/index.js", "node_modules/graphql-lite/package.json",
                                    "node_modules/graphql-yoga-lite/index.js",
                                    "node_modules/graphql-yoga-lite/package.json"])
    assert sorted(posts) == sorted(["api/posts.js", "package.json", *PHOTON_CLIENT,
                                    "node_modules/slug-lite/index.js", "node_modules/slug-lite/package.json"])
    for listed in (users, posts):
        assert [n for n in listed if "/prisma-" in n] == [PHOTON_ENGINE]  # exactly one engine, the AL1 one
        assert listed[PHOTON_ENGINE] == 0o100755
        assert listed["package.json"] == 0o100644
    assert all(u["engine"]["file"] == PHOTON_ENGINE for u in doc["units"])
    assert doc["verify"]["skipped"] is False
    # the @now/node default: each zip is checked against 5mb
    zipped = [lim for lim in doc["limits"] if lim["what"] == "zipped"]
    assert [lim["limit"] for lim in zipped] == [5 * 1024 * 1024] * 2
    assert zipped[0]["name"] == 'api/posts: functions/api/posts.zip @now/node default maxLambdaSize "5mb"'
    assert (out / "now.json").read_text() == (GOLDEN / "now.json").read_text()
    assert tree_digest(photon) == before  # the user's now.json and everything else untouched


def test_current_prisma_project_entries_get_builds_added(prisma: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    doc = now(prisma, out, capsys, "--entry", "api/orders.js", "--entry", "./api/stats.js", "--entry", "api/ping.js")
    assert [u["name"] for u in doc["units"]] == ["api/orders", "api/stats", "api/ping"]
    orders = listing(out / "functions" / "api" / "orders.zip")
    stats = listing(out / "functions" / "api" / "stats.zip")
    assert sorted(orders) == sorted(["api/orders.js", "package.json", *PRISMA_CLIENT, "node_modules/debug/index.js",
                                     "node_modules/debug/package.json", "node_modules/ms/index.js",
                                     "node_modules/ms/package.json"])
    assert sorted(stats) == sorted(["api/stats.js", "package.json", *PRISMA_CLIENT,
                                    "node_modules/express-lite/index.js", "node_modules/express-lite/package.json",
                                    "node_modules/express-lite/node_modules/ms/index.js",
                                    "node_modules/express-lite/node_modules/ms/package.json"])
    for listed in (orders, stats):
        assert [n for n in listed if "query_engine-" in n] == [PRISMA_ENGINE]
        assert listed[PRISMA_ENGINE] == 0o100755
    assert sorted(listing(out / "functions" / "api" / "ping.zip")) == ["api/ping.js", "package.json"]
    ping = next(u for u in doc["units"] if u["name"] == "api/ping")
    assert ping["engine"]["target"] is None and "does not load the Prisma client" in ping["engine"]["note"]
    # zero config (no "builds"): the api/ entries need no build, and adding one would stop Now serving the rest
    assert (out / "now.json").read_text() == (prisma / "now.json").read_text()


def test_max_size_25mb_happy_path(photon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big_file(photon / "node_modules" / "graphql-yoga-lite" / "schema.bin", 6 << 20)
    doc = now(photon, tmp_path / "out", capsys, "--max-size", "25mb")
    zipped = {lim["name"]: lim for lim in doc["limits"] if lim["what"] == "zipped"}
    assert zipped == {
        f"api/{n}: functions/api/{n}.zip max-size (--max-size)": {
            "name": f"api/{n}: functions/api/{n}.zip max-size (--max-size)", "what": "zipped", "limit": 26214400,
            "actual": a["zipped_bytes"], "headroom": 26214400 - a["zipped_bytes"]}
        for n, a in zip(("posts", "users"), doc["artifacts"])
    }
    assert doc["artifacts"][1]["zipped_bytes"] > 6 << 20
    builds = json.loads((tmp_path / "out" / "now.json").read_text())["builds"]
    assert builds[0] == {"src": "api/*.js", "use": "@now/node@canary", "config": {"maxLambdaSize": "25mb"}}
    assert builds[1] == {"src": "public/**", "use": "@now/static"}


def test_build_max_lambda_size_is_used_without_max_size(photon: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    big_file(photon / "node_modules" / "graphql-yoga-lite" / "schema.bin", 6 << 20)
    (photon / "now.json").write_text(NOW_JSON.replace('"use": "@now/node" }',
                                                      '"use": "@now/node", "config": { "maxLambdaSize": "10mb" } }'))
    for out, extra in ((tmp_path / "all", ()), (tmp_path / "one", ("--entry", "api/users.js"))):
        doc = now(photon, out, capsys, *extra)
        (users,) = [lim for lim in doc["limits"] if lim["what"] == "zipped" and lim["name"].startswith("api/users")]
        assert users["limit"] == 10 * 1024 * 1024
        assert users["name"] == 'api/users: functions/api/users.zip maxLambdaSize "10mb" (now.json builds[0])'
        assert users["actual"] > 6 << 20
        written = json.loads((out / "now.json").read_text())
        assert written["builds"][0]["config"] == {"maxLambdaSize": "10mb"}
        assert len(written["builds"]) == 2  # --entry api/users.js is builds[0]'s: no build added


def test_default_5mb_exceeded_exits_4_with_the_breakdown_and_writes_nothing(
        photon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big_file(photon / "node_modules" / "graphql-yoga-lite" / "schema.bin", 6 << 20)
    out = tmp_path / "out"
    code, _, err = run(["now", str(photon), "--out", str(out), "--offline"], capsys)
    assert code == 4, err
    assert ('api/users: functions/api/users.zip @now/node default maxLambdaSize "5mb": ' in err
            and "over the limit of 5.0 MiB" in err)
    assert "largest packages (unzipped):" in err and "graphql-yoga-lite" in err
    assert "largest files (unzipped):" in err and "node_modules/graphql-yoga-lite/schema.bin" in err
    assert not list(out.rglob("*.zip")) and not list(out.rglob(".*.tmp"))
    assert not (out / "manifest.json").exists() and not (out / "now.json").exists()


def test_more_than_50mb_is_refused_with_the_reason(photon: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run(["now", str(photon), "--out", str(out), "--offline", "--max-size", "60mb"], capsys)
    assert code == 2
    assert "--max-size: max-size 60.0 MiB is more than ZEIT Now allows: maxLambdaSize may be at most 50mb" in err
    sixty = '"use": "@now/node",\n      "config": { "maxLambdaSize": "60mb" } }'
    (photon / "now.json").write_text(NOW_JSON.replace('"use": "@now/node" }', sixty))
    code, _, err = run(["now", str(photon), "--out", str(out), "--offline"], capsys)
    assert code == 2
    assert (f"{photon / 'now.json'}:7: builds[0] config.maxLambdaSize '60mb' is more than ZEIT Now allows: a Lambda "
            "may be at most 50mb zipped (52428800 bytes)") in err
    assert not out.exists()


def test_write_config_updates_the_users_now_json(photon: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["now", str(photon), "--out", str(tmp_path / "out"), "--offline", "--write-config"], capsys)
    assert code == 0, err
    assert f"updated {photon / 'now.json'} in place (--write-config)" in err
    assert (photon / "now.json").read_text() == (GOLDEN / "now.json").read_text()
    assert (tmp_path / "out" / "now.json").read_text() == (GOLDEN / "now.json").read_text()
    before = tree_digest(photon)
    now(photon, tmp_path / "again", capsys, "--write-config")  # already up to date: the file is left as it is
    assert tree_digest(photon) == before


def test_without_write_config_the_project_is_byte_for_byte_unchanged(
        prisma: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(prisma)
    code, _, err = run(["now", str(prisma), "--out", str(tmp_path / "out"), "--offline", "--entry", "api/orders.js"],
                       capsys)
    assert code == 0, err
    assert "zero config: now.json is unchanged" in err and "would switch zero config off" in err
    # an entry outside api/ needs a build: the copy gets it, with the paths Now would stop serving; yours never
    code, _, err = run(["now", str(prisma), "--out", str(tmp_path / "out2"), "--offline", "--entry", "handler.js",
                        "--write-config"], capsys)
    assert code == 0, err
    assert "handler.js is outside api/ and needs a build" in err and "/lib/util.js" in err
    assert "was not changed (even with --write-config)" in err
    assert json.loads((tmp_path / "out2" / "now.json").read_text())["builds"][0]["src"] == "handler.js"
    assert tree_digest(prisma) == before


def test_no_now_json_is_zero_config(prisma: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (prisma / "now.json").unlink()
    code, _, err = run(["now", str(prisma), "--out", str(tmp_path / "out"), "--offline", "--entry", "api/orders.js",
                        "--max-size", "12mb"], capsys)
    assert code == 0, err
    # no now.json is zero config: api/orders.js is a function as it is, nothing to write
    assert not (tmp_path / "out" / "now.json").exists()
    assert not (prisma / "now.json").exists()
    doc = now(prisma, tmp_path / "out2", capsys)
    assert [u["name"] for u in doc["units"]] == ["api/orders", "api/ping", "api/stats"]
    assert not (tmp_path / "out2" / "now.json").exists()


def test_malformed_now_json_names_file_and_line(photon: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (photon / "now.json").write_text('{\n  "version": 2,\n  "builds": [\n    { "src": "api/*.js", }\n  ]\n}\n')
    code, _, err = run(["now", str(photon), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{photon / 'now.json'}:4:" in err and "invalid JSON" in err
    assert not (tmp_path / "out").exists()


def test_now_json_version_1_is_refused(photon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (photon / "now.json").write_text('{\n  "name": "photon-graphql",\n  "version": 1,\n  "type": "npm"\n}\n')
    code, _, err = run(["now", str(photon), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{photon / 'now.json'}:3: now.json version 1 deploys Docker or Node servers, not Lambdas" in err
    assert '"version": 2' in err


def test_build_src_matching_nothing_names_the_line(photon: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (photon / "now.json").write_text(NOW_JSON.replace('"api/*.js"', '"functions/*.js"'))
    code, _, err = run(["now", str(photon), "--out", str(tmp_path / "out"), "--offline"], capsys)
    assert code == 3
    assert f"{photon / 'now.json'}:6: builds[0] src 'functions/*.js' matches no file" in err


def test_bad_entries_and_engines_node(photon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "out")
    code, _, err = run(["now", str(photon), "--out", out, "--offline", "--entry", "api/missing.js"], capsys)
    assert code == 3 and "--entry api/missing.js: no such file" in err
    (photon / "api" / "users.ts").write_text("export default () => 1;\n")
    code, _, err = run(["now", str(photon), "--out", out, "--offline", "--entry", "api/users.ts"], capsys)
    assert code == 3 and "not a JavaScript file" in err
    pkg = json.loads((photon / "package.json").read_text())
    pkg["engines"] = {"node": ">=14"}
    write_json(photon / "package.json", pkg)
    code, _, err = run(["now", str(photon), "--out", out, "--offline"], capsys)
    assert code == 3 and 'engines.node ">=14" allows none of the Node versions @now/node ran' in err


def test_byte_identical_artifacts_on_a_second_run(photon: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    first = now(photon, tmp_path / "a", capsys)
    second = now(photon, tmp_path / "b", capsys)
    assert first["artifacts"] == second["artifacts"]
    for name in ("functions/api/users.zip", "functions/api/posts.zip", "now.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert now(photon, tmp_path / "a", capsys)["reused"] is True


def test_entry_write_config_and_max_size_from_photon_bundle_toml(photon: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (photon / "photon-bundle.toml").write_text('[now]\nentry = ["api/posts.js"]\nwrite_config = true\n'
                                               'max_size = "20mb"\n')
    doc = now(photon, tmp_path / "out", capsys)
    assert [u["name"] for u in doc["units"]] == ["api/posts"]
    (zipped,) = [lim for lim in doc["limits"] if lim["what"] == "zipped"]
    assert zipped["name"] == "api/posts: functions/api/posts.zip max-size (photon-bundle.toml [now])"
    assert zipped["limit"] == 20 << 20
    written = json.loads((photon / "now.json").read_text())
    assert written["builds"][0] == {"src": "api/*.js", "use": "@now/node@canary", "config": {"maxLambdaSize": "20mb"}}
    assert list(written) == ["name", "version", "alias", "builds", "routes", "env"]
