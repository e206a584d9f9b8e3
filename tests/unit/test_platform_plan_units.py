"""The plan's per-function options: closure roots, app-file filters, client-only, relocation, generated files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bundler.plan import WHOLE_PROJECT, EngineChoice, PlanOptions, dependency_closure, plan_bundle, vendored_dirs
from bundler.project import PackageJson, Project, parse_schema
from bundler.walk import FileEntry

SCHEMA = 'datasource db {\n provider = "postgresql"\n}\ngenerator c {\n provider = "prisma-client-js"\n}\n'


def pkg(name: str, deps: dict[str, str] | None = None) -> PackageJson:
    return PackageJson(name=name, version="1.0.0", main="index.js", dependencies=deps or {})


INSTALLED = {
    "node_modules/@prisma/client": pkg("@prisma/client"),
    "node_modules/.prisma/client": pkg(".prisma/client"),
    "node_modules/a": pkg("a", {"b": "1"}),
    "node_modules/b": pkg("b"),
    "node_modules/c": pkg("c"),
    "functions/own/node_modules/c": pkg("c"),
}
ENGINE = "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node"


def entry(rel: str, size: int = 10) -> FileEntry:
    return FileEntry(rel=rel, fspath=f"/src/{rel}", mode=0o100644, size=size, mtime_ns=1)


FILES = [entry(r) for r in [
    "package.json", "package-lock.json", "functions/users.js", "functions/health.js", "lib/db.js",
    "functions/own/own.js", "functions/own/package.json", "functions/own/node_modules/c/index.js",
    "node_modules/@prisma/client/index.js", "node_modules/.prisma/client/index.js",
    "node_modules/.prisma/client/package.json", "node_modules/a/index.js", "node_modules/b/index.js",
    "node_modules/c/index.js",
]] + [entry(ENGINE, 1000), entry("node_modules/.prisma/client/libquery_engine-debian-openssl-3.0.x.so.node", 1000)]
PROJECT = Project(root=Path("/src"), package=pkg("app", {"@prisma/client": "5", "a": "1", "c": "1"}),
                  lockfile="npm", schema=parse_schema(SCHEMA, "prisma/schema.prisma"))
CHOICE = EngineChoice(filename="libquery_engine-rhel-openssl-3.0.x.so.node",
                      target_names=frozenset({"rhel-openssl-3.0.x"}), source=Path("/src") / ENGINE, size=1000,
                      rel=ENGINE)


def arcs(options: PlanOptions) -> list[str]:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, CHOICE, options)
    return [e.arc for a in plan.artifacts for e in a.entries]


def test_closure_from_roots_resolves_from_the_requiring_folder() -> None:
    closure, warnings = dependency_closure(PROJECT.package, INSTALLED,
                                           roots=[("functions", "a"), ("functions/own", "c"), ("functions", "ghost")])
    assert closure == {"node_modules/a", "node_modules/b", "functions/own/node_modules/c"}
    assert warnings == ["dependency ghost (of functions/) is not installed; run `npm ci` first"]


def test_ignored_modules_are_not_followed() -> None:
    closure, _ = dependency_closure(PROJECT.package, INSTALLED, roots=[("", "a")], ignored=frozenset({"b"}))
    assert closure == {"node_modules/a"}


def test_function_with_prisma_gets_its_own_files_its_closure_and_one_engine() -> None:
    kept = arcs(PlanOptions(unit=replace(WHOLE_PROJECT, app_files=frozenset({"functions/users.js", "lib/db.js"}),
                                         roots=(("functions", "@prisma/client"), ("lib", "a")))))
    assert kept == ["functions/users.js", "lib/db.js", "node_modules/.prisma/client/index.js",
                    ENGINE, "node_modules/.prisma/client/package.json", "node_modules/@prisma/client/index.js",
                    "node_modules/a/index.js", "node_modules/b/index.js"]


def test_function_without_prisma_carries_no_engine_and_no_client() -> None:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, CHOICE,
                       PlanOptions(unit=replace(WHOLE_PROJECT, app_files=frozenset({"functions/health.js"}),
                                                roots=(("functions", "c"),))))
    assert [e.arc for e in plan.artifacts[0].entries] == ["functions/health.js", "node_modules/c/index.js"]
    assert plan.engine is None
    reasons = {p.rel: p.reason for p in plan.pruned}
    assert reasons[ENGINE] == "engine not needed: the function does not load the Prisma client"
    assert reasons["functions/users.js"] == "not used by this function"


def test_requiring_dot_prisma_directly_counts_as_using_the_client() -> None:
    kept = arcs(PlanOptions(unit=replace(WHOLE_PROJECT, app_files=frozenset({"functions/users.js"}),
                                         roots=(("functions", ".prisma"),))))
    assert ENGINE in kept and "node_modules/@prisma/client/index.js" not in kept


def test_client_only_keeps_the_generated_client_relocated_and_counts_the_rest() -> None:
    plan = plan_bundle(PROJECT, FILES, INSTALLED, CHOICE, PlanOptions(unit=replace(
        WHOLE_PROJECT, dependencies="client-only", relocate=(("node_modules/", "vendor/node_modules/"),),
        generated=(("package.json", b'{"name": "app"}\n'), ("vendor/restore.js", b"//\n")))))
    entries = {e.arc: e for e in plan.artifacts[0].entries}
    assert sorted(a for a in entries if "node_modules" in a) == [
        "vendor/node_modules/.prisma/client/index.js", "vendor/" + ENGINE,
        "vendor/node_modules/.prisma/client/package.json"]
    assert entries["package.json"].data == b'{"name": "app"}\n'
    assert "vendor/restore.js" in entries
    assert plan.engine is not None and plan.engine.arc == "vendor/" + ENGINE and plan.engine.mode == 0o755
    # @prisma/client, a, b, c: the platform installs them (4 files of 10 bytes)
    assert plan.deferred_bytes == 40


def test_a_vendored_node_modules_is_the_apps_and_stays_with_client_only() -> None:
    """src/node_modules has no package.json beside it: vendored code (bundler/plan.py vendored_dirs), shipped whole
    at its path, its packages' dependencies in the closure; with client-only it is not left to the platform's
    install, which would never make it."""
    files = [*FILES, entry("src/handler.js"), entry("src/node_modules/v/package.json"),
             entry("src/node_modules/v/i.js"), entry("src/node_modules/loose.js")]
    installed = {**INSTALLED, "src/node_modules/v": pkg("v", {"b": "1"})}
    assert vendored_dirs(files) == ("src/node_modules/",)
    for dependencies in ("all", "client-only"):
        plan = plan_bundle(PROJECT, files, installed, CHOICE,
                           PlanOptions(unit=replace(WHOLE_PROJECT, dependencies=dependencies)))
        kept = {e.arc for e in plan.artifacts[0].entries}
        assert {"src/node_modules/v/package.json", "src/node_modules/v/i.js", "src/node_modules/loose.js"} <= kept
        assert ("node_modules/b/index.js" in kept) == (dependencies == "all")  # v's dependency: in the closure
    closure, _ = dependency_closure(PROJECT.package, installed, vendored=["src/node_modules/v"])
    assert {"src/node_modules/v", "node_modules/b"} <= closure
