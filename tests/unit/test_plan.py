from __future__ import annotations

from pathlib import Path

import pytest

from bundler.closure import dependency_closure, package_dir_of, resolve_package
from bundler.errors import ProjectError
from bundler.plan import EngineChoice, PlanOptions, plan_bundle
from bundler.project import PackageJson, Project, parse_schema
from bundler.walk import FileEntry, walk_tree

SCHEMA = 'datasource db {\n provider = "postgresql"\n}\ngenerator c {\n provider = "prisma-client-js"\n}\n'


def pkg(name: str, deps: dict[str, str] | None = None, optional: dict[str, str] | None = None,
        dev: dict[str, str] | None = None) -> PackageJson:
    return PackageJson(name=name, version="1.0.0", main="index.js", dependencies=deps or {},
                       optional=optional or {}, dev=dev or {})


ROOT = pkg("app", {"@prisma/client": "5", "a": "1"}, optional={"opt-missing": "1"}, dev={"prisma": "5", "jest": "1"})
INSTALLED = {
    "node_modules/@prisma/client": pkg("@prisma/client"),
    "node_modules/a": pkg("a", {"b": "2", "c": "1"}),
    "node_modules/a/node_modules/b": pkg("b"),  # nested: a needs b@2
    "node_modules/b": pkg("b"),  # b@1, wanted by nobody in production
    "node_modules/c": pkg("c", {"a": "1"}),  # a cycle a -> c -> a
    "node_modules/prisma": pkg("prisma", {"@prisma/engines": "5"}),
    "node_modules/@prisma/engines": pkg("@prisma/engines"),
    "node_modules/jest": pkg("jest"),
}


def entry(rel: str, size: int = 10, mode: int = 0o100644) -> FileEntry:
    return FileEntry(rel=rel, fspath=f"/src/{rel}", mode=mode, size=size, mtime_ns=1)


FILES = [entry(r) for r in [
    "handler.js", ".env", ".env.local", "certs/server.pem", "id_rsa.pub", ".npmrc", ".aws/credentials",
    "docs/guide.md", "package.json",
    "node_modules/@prisma/client/index.js", "node_modules/@prisma/client/package.json",
    "node_modules/.prisma/client/index.js",
    "node_modules/.prisma/client/query_engine_bg.postgresql.wasm",
    "node_modules/.prisma/client/query_engine_bg.mysql.wasm",
    "node_modules/a/index.js", "node_modules/a/package.json",
    "node_modules/a/node_modules/b/index.js", "node_modules/b/index.js", "node_modules/c/index.js",
    "node_modules/prisma/build/index.js", "node_modules/@prisma/engines/schema-engine-rhel-openssl-3.0.x",
    "node_modules/@prisma/engines/libquery_engine-rhel-openssl-3.0.x.so.node",
    "node_modules/jest/index.js", "node_modules/.bin/prisma", "node_modules/.cache/x",
    "node_modules/.package-lock.json",
]] + [
    entry("node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node", 1000),
    entry("node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node", 1000),
    entry("node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x", 1000, 0o100755),
    entry("bin/tool.sh", 5, 0o100755),
]
PROJECT = Project(root=Path("/src"), package=ROOT, lockfile="npm", schema=parse_schema(SCHEMA, "prisma/schema.prisma"))
LOCAL = EngineChoice(filename="libquery_engine-rhel-openssl-3.0.x.so.node",
                     target_names=frozenset({"rhel-openssl-3.0.x"}), source=Path("/src/e"), size=1000,
                     rel="node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node")


def arcs(plan_: object) -> list[str]:
    return [e.arc for a in plan_.artifacts for e in a.entries]  # type: ignore[attr-defined]


def test_package_dir_of() -> None:
    assert package_dir_of("node_modules/a/index.js") == "node_modules/a"
    assert package_dir_of("node_modules/@s/p/lib/x.js") == "node_modules/@s/p"
    assert package_dir_of("node_modules/a/node_modules/@s/p/x.js") == "node_modules/a/node_modules/@s/p"
    assert package_dir_of("handler.js") is None
    assert package_dir_of("node_modules/x.js") is None


def test_node_resolution_prefers_nested() -> None:
    assert resolve_package("node_modules/a", "b", INSTALLED) == "node_modules/a/node_modules/b"
    assert resolve_package("node_modules/c", "b", INSTALLED) == "node_modules/b"
    assert resolve_package("", "nope", INSTALLED) is None


def test_closure_walks_production_deps_only() -> None:
    closure, warnings = dependency_closure(ROOT, INSTALLED)
    assert closure == {"node_modules/@prisma/client", "node_modules/a", "node_modules/a/node_modules/b",
                       "node_modules/c"}
    assert warnings == []  # the missing dependency is optional


def test_missing_required_dependency_warns() -> None:
    _, warnings = dependency_closure(pkg("app", {"ghost": "1"}), {})
    assert warnings == ["dependency ghost (of package.json) is not installed; run `npm ci` first"]


def test_plan_keeps_exactly_the_target_engine_and_prunes_the_rest() -> None:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, LOCAL, PlanOptions())
    kept = arcs(plan)
    engines = [a for a in kept if "query_engine-" in a or "query-engine-" in a]
    assert engines == ["node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"]
    assert plan.engine is not None and plan.engine.mode == 0o755
    assert "node_modules/.prisma/client/query_engine_bg.postgresql.wasm" in kept
    assert "node_modules/.prisma/client/query_engine_bg.mysql.wasm" not in kept
    assert {"handler.js", "package.json", "docs/guide.md", "node_modules/a/node_modules/b/index.js",
            "node_modules/c/index.js", "node_modules/@prisma/client/index.js"} <= set(kept)
    for gone in ["node_modules/b/index.js", "node_modules/jest/index.js", "node_modules/prisma/build/index.js",
                 "node_modules/@prisma/engines/schema-engine-rhel-openssl-3.0.x", "node_modules/.bin/prisma",
                 "node_modules/.cache/x", "node_modules/.package-lock.json"]:
        assert gone not in kept
    reasons = {p.rel: p.reason for p in plan.pruned}
    assert reasons["node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node"] == \
        "engines for other targets"
    assert reasons["node_modules/jest/index.js"] == "not a production dependency"
    assert reasons["node_modules/prisma/build/index.js"] == "Prisma CLI package (not needed at run time)"
    assert reasons["node_modules/.prisma/client/query-engine-rhel-openssl-3.0.x"].startswith("another copy or kind")


def test_default_excludes_secrets() -> None:
    kept = set(arcs(plan_bundle(PROJECT, FILES, INSTALLED, LOCAL, PlanOptions())))
    for secret in [".env", ".env.local", "certs/server.pem", "id_rsa.pub", ".npmrc", ".aws/credentials"]:
        assert secret not in kept


def test_modes_are_normalised() -> None:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, LOCAL, PlanOptions())
    modes = {e.arc: e.mode for a in plan.artifacts for e in a.entries}
    assert modes["bin/tool.sh"] == 0o755
    assert modes["handler.js"] == 0o644


def test_user_excludes_and_includes() -> None:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, LOCAL,
                       PlanOptions(excludes=("docs/",), includes=(".env.local", "node_modules/jest/**")))
    kept = set(arcs(plan))
    assert "docs/guide.md" not in kept
    assert ".env.local" in kept and "node_modules/jest/index.js" in kept
    assert ".env" not in kept


def test_includes_never_bring_back_a_second_engine() -> None:
    """A broad include (Vercel's includeFiles "node_modules/.prisma/client/**") keeps exactly one engine."""
    plan = plan_bundle(PROJECT, FILES, INSTALLED, LOCAL,
                       PlanOptions(includes=("node_modules/.prisma/client/**", "node_modules/@prisma/engines/**")))
    kept = set(arcs(plan))
    engines = sorted(a for a in kept if "query_engine-" in a or "schema-engine" in a)
    assert engines == ["node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"]
    assert "node_modules/.prisma/client/query_engine_bg.mysql.wasm" not in kept


def test_engine_from_outside_goes_beside_the_generated_client() -> None:
    files = [f for f in FILES if "libquery_engine-rhel" not in f.rel]
    outside = EngineChoice(filename="libquery_engine-rhel-openssl-3.0.x.so.node",
                           target_names=frozenset({"rhel-openssl-3.0.x"}), source=Path("/cache/e"), size=7)
    plan = plan_bundle(PROJECT, files, INSTALLED, outside, PlanOptions())
    assert plan.engine is not None
    assert plan.engine.arc == "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"
    assert plan.engine.source == Path("/cache/e")


@pytest.mark.parametrize(("output", "home"), [
    ("../generated/client", "generated/client/"),  # outside node_modules: part of the app's files
    ("../node_modules/.custom/client", "node_modules/.custom/client/"),  # a custom folder below node_modules
])
def test_engine_from_outside_goes_to_the_generators_output(output: str, home: str) -> None:
    """Prisma looks for the engine beside the generated client first: an engine fetched from a mirror or a
    cache must land there, not in node_modules/.prisma/client."""
    schema = SCHEMA.replace('provider = "prisma-client-js"', f'provider = "prisma-client-js"\n output = "{output}"')
    project = Project(root=Path("/src"), package=ROOT, lockfile="npm",
                      schema=parse_schema(schema, "prisma/schema.prisma"))
    # the project was generated for the host only: no engine of the target anywhere near the client
    files = [f for f in FILES if not f.rel.startswith("node_modules/.prisma/client/") or f.rel.endswith(".js")]
    files += [entry(f"{home}index.js"), entry(f"{home}schema.prisma")]
    outside = EngineChoice(filename="libquery_engine-rhel-openssl-3.0.x.so.node",
                           target_names=frozenset({"rhel-openssl-3.0.x"}), source=Path("/cache/e"), size=7)
    plan = plan_bundle(project, files, INSTALLED, outside, PlanOptions())
    assert plan.engine is not None
    assert plan.engine.arc == f"{home}libquery_engine-rhel-openssl-3.0.x.so.node"
    assert f"{home}index.js" in arcs(plan)


def test_legacy_photon_engine_name_is_the_runtime_engine() -> None:
    files = [entry("node_modules/@generated/photon/index.js"),
             entry("node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.1", 50, 0o100755),
             entry("node_modules/@generated/photon/runtime/prisma-darwin", 50, 0o100755)]
    photon = Project(root=Path("/src"), package=pkg("app", {"@generated/photon": "0"}), lockfile=None,
                     schema=parse_schema('generator p {\n provider = "photonjs"\n platforms = ["native"]\n}\n',
                                         "project.prisma"))
    choice = EngineChoice(filename="prisma-linux-glibc-libssl1.0.1", source=Path("/x"), size=50,
                          target_names=frozenset({"rhel-openssl-1.0.x", "linux-glibc-libssl1.0.1"}),
                          rel="node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.1")
    plan = plan_bundle(photon, files, {}, choice, PlanOptions())
    assert arcs(plan) == ["node_modules/@generated/photon/index.js",
                          "node_modules/@generated/photon/runtime/prisma-linux-glibc-libssl1.0.1"]


def test_layer_split_moves_engine_and_adds_wrapper() -> None:
    layout = {"engine_dir": "photon-bundle/engines", "node_modules_dir": "nodejs/node_modules",
              "wrapper": "photon-bundle/exec-wrapper"}
    plan = plan_bundle(PROJECT, FILES, INSTALLED, LOCAL, PlanOptions(
        format="both", layer_layout=layout, wrapper_template='export {{ENGINE_VAR}}="{{ENGINE_PATH}}"\n'))
    function, layer = plan.artifacts
    assert not [e for e in function.entries if "query_engine-rhel" in e.arc]
    layer_arcs = {e.arc: e for e in layer.entries}
    engine = layer_arcs["photon-bundle/engines/libquery_engine-rhel-openssl-3.0.x.so.node"]
    assert engine.mode == 0o755
    wrapper = layer_arcs["photon-bundle/exec-wrapper"]
    assert wrapper.mode == 0o755
    assert wrapper.data == (b'export PRISMA_QUERY_ENGINE_LIBRARY='
                            b'"/opt/photon-bundle/engines/libquery_engine-rhel-openssl-3.0.x.so.node"\n')
    assert plan.engine_artifact == layer.filename


def test_walk_follows_links_inside_and_rejects_escapes(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "x.js").write_text("x")
    (root / "alias").symlink_to(root / "lib")
    assert [e.rel for e in walk_tree(root)] == ["alias/x.js", "lib/x.js"]
    (tmp_path / "outside.txt").write_text("secret")
    (root / "leak.txt").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(ProjectError, match=r"symlink leak\.txt points outside the project"):
        walk_tree(root)
    assert [e.rel for e in walk_tree(root, skip_link=lambda rel: rel == "leak.txt")] == ["alias/x.js", "lib/x.js"]
    (root / "leak.txt").unlink()
    (root / "lib" / "loop").symlink_to(root / "lib")
    with pytest.raises(ProjectError, match=r"symlink cycle: (alias|lib)/loop points back"):
        walk_tree(root)
    assert [e.rel for e in walk_tree(root, skip_dir=lambda rel: rel in ("lib/loop/", "alias/"))] == ["lib/x.js"]


@pytest.mark.parametrize("out_rel", [None, ".photon-bundle/lambda", "dist", "build/out/"])
def test_default_exclude_prefilter_is_true_wherever_the_patterns_match(out_rel: str | None) -> None:
    """The cheap candidate test may say yes too often, never too rarely."""
    import itertools

    import pathspec

    from bundler.excludes import DEFAULT_EXCLUDES, default_exclude_candidate

    out = (out_rel.rstrip("/") + "/",) if out_rel else ()
    spec = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *out])
    candidate = default_exclude_candidate(out_rel)
    parts = ["a", "node_modules", ".git", ".env", ".env.prod", "x.pem", "k.key", "id_rsa", "id_rsa.pub", ".npmrc",
             ".aws", ".photon-bundle", "lambda", "photon-bundle.toml", ".DS_Store", "dist", "build", "out", "pem",
             "key.js", ".hidden", "my.keys", ".serverless", "cdk.out", ".next", "cache", "x.tfstate",
             "x.tfstate.backup", ".esbuild", ".build", "cdk"]
    matched = 0
    for depth in (1, 2, 3):
        for combo in itertools.product(parts, repeat=depth):
            rel = "/".join(combo)
            if spec.match_file(rel):
                matched += 1
                assert candidate(rel), rel
    assert matched > 1000
    assert not candidate("node_modules/a/index.js") and not candidate("src/handler.js")
