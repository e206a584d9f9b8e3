"""The pure parts of the now and vercel adapters: globs as the platforms match them, sizes, config updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.bounds import MAX_BRACE_EXPANSIONS
from bundler.errors import ConfigError, ProjectError
from bundler.manifest import EngineRecord
from platforms.base import Unit
from platforms.globs import anchored_lines, brace_members, expand_braces, glob_files, glob_match
from platforms.now import check_version, node_builds, size_text, updated_now_json
from platforms.nowconfig import entries_option, function_name
from platforms.vercel import combine_include, discover, is_function_file, updated_vercel_json

FILES = ["api/_lib/db.js", "api/index.js", "api/.hidden.js", "api/users.js", "api/users/[id].js", "api/v2/orders.mjs",
         "lib/util.js", "public/index.html", "server.js"]
E3 = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
E1 = "node_modules/.prisma/client/libquery_engine-rhel-openssl-1.0.x.so.node"


@pytest.mark.parametrize(("pattern", "expected"), [
    ("api/*.js", ["api/index.js", "api/users.js"]),  # * stays in one segment and skips dot files
    ("api/**/*.js", ["api/_lib/db.js", "api/index.js", "api/users.js", "api/users/[id].js"]),
    ("api/**", ["api/_lib/db.js", "api/index.js", "api/users.js", "api/users/[id].js", "api/v2/orders.mjs"]),
    ("api/*.{js,mjs}", ["api/index.js", "api/users.js"]),
    ("api/{users,v2/*}.{js,mjs}", ["api/users.js", "api/v2/orders.mjs"]),
    ("./server.js", ["server.js"]),
    ("/server.js", ["server.js"]),
    ("api/.*.js", ["api/.hidden.js"]),
    ("api/user?.js", ["api/users.js"]),
    ("api/[iu]*.js", ["api/index.js", "api/users.js"]),
    ("api/[!i]*.js", ["api/users.js"]),
    ("**/*.html", ["public/index.html"]),
    ("api/users/[id].js", []),  # a class, as in minimatch: matches api/users/i.js, not the literal name
])
def test_globs_follow_minimatch(pattern: str, expected: list[str]) -> None:
    assert glob_files(pattern, FILES) == sorted(expected)


def test_brace_expansion_and_members() -> None:
    assert expand_braces("a/{b,c{d,e}}.js") == ["a/b.js", "a/cd.js", "a/ce.js"]
    assert expand_braces("{x}/y") == ["{x}/y"]
    assert expand_braces("plain/**") == ["plain/**"]
    assert brace_members("{a/**,b/{c,d}.js}") == ["a/**", "b/{c,d}.js"]
    assert brace_members("{a,b}/{c,d}") == ["{a,b}/{c,d}"]
    assert brace_members("templates/**") == ["templates/**"]
    assert anchored_lines("{./templates/**,data/*.json}") == ("/templates/**", "/data/*.json")
    assert glob_match("node_modules/.prisma/client/**", E3)
    assert not glob_match("node_modules/**", E3)  # ** does not enter dot folders


def test_sequences_escapes_and_the_expansion_bound() -> None:
    # minimatch (brace-expansion) and micromatch (braces) both expand sequences
    assert expand_braces("logs/day{1..3}.json") == ["logs/day1.json", "logs/day2.json", "logs/day3.json"]
    assert expand_braces("{a..c}.js") == ["a.js", "b.js", "c.js"]
    assert expand_braces("a/\\{b,c}.js") == ["a/\\{b,c}.js"]  # an escaped brace is no group
    assert glob_files("data/file{1..2}.txt", ["data/file1.txt", "data/file2.txt", "data/file3.txt"]) == [
        "data/file1.txt", "data/file2.txt"]
    assert len(expand_braces("{a,b}" * 10)) == MAX_BRACE_EXPANSIONS
    with pytest.raises(ProjectError, match=f"vercel.json: pattern .* expands to more than {MAX_BRACE_EXPANSIONS}"):
        expand_braces("{a,b}" * 10 + "{c,d}", "vercel.json")
    with pytest.raises(ProjectError, match="more than"):
        glob_match("x{1..100000000}", "x1")


def test_function_names_and_entries_option() -> None:
    assert function_name("api/users.js") == "api/users"
    assert function_name("index.mjs") == "index"
    assert entries_option("api/a.js") == ("api/a.js",)
    assert entries_option(["a.js", "b.js"]) == ("a.js", "b.js")
    with pytest.raises(TypeError):
        entries_option(3)


def test_size_text_reads_back_with_npm_bytes() -> None:
    from bundler.limits import parse_size

    for n in (5 << 20, 50 << 20, 512 << 10, 2621440, 1234567):
        assert parse_size(size_text(n)) == n
    assert (size_text(25 << 20), size_text(2621440), size_text(1234567)) == ("25mb", "2560kb", "1234567")


def test_now_builds_skip_other_builders_and_check_sizes(tmp_path: Path) -> None:
    path = tmp_path / "now.json"
    config = {"builds": [{"src": "api/*.js", "use": "@now/node@1.0.0", "config": {"maxLambdaSize": "15mb",
                                                                                   "includeFiles": ["a/{b,c}"]}},
                         {"src": "www/**", "use": "@now/static"},
                         {"src": "/server.js", "use": "@now/node-server@canary"}]}
    builds = node_builds(config, "", path)
    assert [(b.index, b.src, b.max_size, b.includes) for b in builds] == [
        (0, "api/*.js", (15 << 20, "15mb"), ("/a/b", "/a/c")), (2, "server.js", None, ())]
    with pytest.raises(ConfigError, match="cannot read size 'huge'"):
        node_builds({"builds": [{"src": "a.js", "use": "@now/node", "config": {"maxLambdaSize": "huge"}}]}, "", path)
    with pytest.raises(ConfigError, match="at most 50mb"):
        node_builds({"builds": [{"src": "a.js", "use": "@now/node", "config": {"maxLambdaSize": "51mb"}}]}, "", path)
    with pytest.raises(ProjectError, match='needs "src" and "use"'):
        node_builds({"builds": [{"src": "a.js"}]}, "", path)
    with pytest.raises(ProjectError, match=r"unknown now\.json version 3"):
        check_version({"version": 3}, '{"version": 3}', path)


def unit(name: str, **meta: object) -> Unit:
    return Unit(name=name, function_filename=f"functions/{name}.zip", meta={"entry": f"{name}.js", **meta})


def test_updated_now_json_adds_version_first_and_keeps_everything_else() -> None:
    config = {"name": "x", "builds": [{"src": "api/*.js", "use": "@now/node@1.2.3"},
                                      {"src": "www/**", "use": "@now/static"}], "routes": [{"src": "/", "dest": "/x"}]}
    units = [unit("api/a", build_index=0, max_lambda_size="25mb"), unit("api/b", build_index=0, max_lambda_size="25mb"),
             unit("extra", build_index=None, max_lambda_size="25mb")]
    updated = updated_now_json(config, units)
    assert list(updated) == ["version", "name", "builds", "routes"]
    assert updated["builds"] == [
        {"src": "api/*.js", "use": "@now/node@1.2.3", "config": {"maxLambdaSize": "25mb"}},  # a pinned builder stays
        {"src": "www/**", "use": "@now/static"},
        {"src": "extra.js", "use": "@now/node@canary", "config": {"maxLambdaSize": "25mb"}},
    ]
    assert config["builds"][0] == {"src": "api/*.js", "use": "@now/node@1.2.3"}  # the input is not modified


def test_combine_include_keeps_user_patterns_and_replaces_stale_engines() -> None:
    assert combine_include(None, [E3]) == E3
    assert combine_include("templates/**", [E3]) == f"{{templates/**,{E3}}}"
    assert combine_include(f"{{templates/**,{E1}}}", [E3]) == f"{{templates/**,{E3}}}"
    assert combine_include(f"{{templates/**,{E3}}}", [E3]) == f"{{templates/**,{E3}}}"
    assert combine_include("node_modules/.prisma/client/**", [E3]) == "node_modules/.prisma/client/**"
    assert combine_include("{a,b}/**", [E3]) == f"{{{{a,b}}/**,{E3}}}"
    assert combine_include(None, [E1, E3]) == f"{{{E1},{E3}}}"


def test_updated_vercel_json_groups_functions_by_their_first_matching_key() -> None:
    config = {"functions": {"api/*.js": {"memory": 1024}}, "cleanUrls": True}
    units = [unit("api/a", pattern="api/*.js"), unit("api/b", pattern="api/*.js"), unit("lib/c", pattern=None),
             unit("api/d", pattern="api/*.js")]
    placed = EngineRecord("library", "rhel-openssl-3.0.x", file=E3)
    engines = {"api/a": placed, "api/b": placed, "lib/c": placed,
               "api/d": EngineRecord("library", None, note="the function does not load the Prisma client")}
    assert updated_vercel_json(config, units, engines) == {
        "functions": {"api/*.js": {"memory": 1024, "includeFiles": E3}, "lib/c.js": {"includeFiles": E3}},
        "cleanUrls": True}
    assert updated_vercel_json({}, [unit("api/d", pattern=None)], {"api/d": engines["api/d"]}) == {}


def test_vercel_discovery_follows_vercels_rules(tmp_path: Path) -> None:
    assert not is_function_file("api/_lib/db.js") and not is_function_file("api/types.d.ts")
    files = [*FILES, "api/legacy.ts", "api/types.d.ts", "cron/nightly.js"]
    entries, warnings = discover(files, {"cron/*.js": {"maxDuration": 60}, "api/v2/*": {"runtime": "vercel-php@0.7"}},
                                 tmp_path / "vercel.json", "")
    assert entries == ["api/index.js", "api/users.js", "api/users/[id].js", "cron/nightly.js"]
    assert any("api/legacy.ts: TypeScript" in w for w in warnings)
    assert any("vercel-php@0.7" in w for w in warnings)
