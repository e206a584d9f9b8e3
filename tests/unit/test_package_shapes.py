"""Installed packages are read as npm reads them; the user's own package.json stays strict. The Prisma 2.0
preview client layouts (platforms/clients.toml) are recognised; the engine version comes from every place
Prisma kept it; GCF reads the runtime from the deploy command."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bundler.clients import find_clients, layouts, package_layout, refuse_ungenerated
from bundler.engines.version import engines_version
from bundler.errors import ConfigError, ProjectError
from bundler.installed import installed_packages
from bundler.plan import WHOLE_PROJECT, EngineChoice, PlanOptions, dependency_closure, plan_bundle
from bundler.project import PackageJson, Project, parse_package_json, read_project
from bundler.walk import walk_tree
from platforms.gcf import deploy_commands, runtime_from_deploy_command

COMMIT = "e7579bd35e0938dbf773f1706c098a0d14a5a038"


@pytest.mark.parametrize(("shape", "main"), [
    ({"main": False}, None),  # dunder-proto, math-intrinsics
    ({"main": "missing.js"}, "missing.js"),  # main pointing at a file that is not there
    ({"exports": {"./abs": "./abs.js"}}, None),  # only exports
    ({"main": 0}, None),
    ({"main": ["index.js"]}, None),
    ({"main": None, "exports": "./index.js"}, None),
])
def test_installed_package_shapes_npm_accepts(shape: dict[str, object], main: str | None) -> None:
    pkg = parse_package_json(json.dumps({"name": "x", "version": "1.0.0", **shape}), "x/package.json", lenient=True)
    assert (pkg.name, pkg.version, pkg.main) == ("x", "1.0.0", main)


def test_installed_package_odd_fields_are_ignored_field_by_field() -> None:
    text = json.dumps({"name": 7, "version": ["1"], "dependencies": {"a": "^1", "b": 2, "c": None},
                       "optionalDependencies": ["d"], "engines": {"node": 12}, "prisma": "x"})
    pkg = parse_package_json(text, "x/package.json", lenient=True)
    assert (pkg.name, pkg.version, pkg.dependencies, pkg.optional, pkg.engines_node) == (None, None, {"a": "^1"}, {},
                                                                                         None)


def test_the_users_own_package_json_stays_strict() -> None:
    with pytest.raises(ProjectError, match=r"package.json: 'main' must be a string"):
        parse_package_json('{"main": false}', "package.json")
    with pytest.raises(ProjectError, match=r"'dependencies' must be an object of name -> version strings"):
        parse_package_json('{"dependencies": {"a": 1}}', "package.json")


def _tree(root: Path) -> None:
    (root / "package.json").write_text(json.dumps({"name": "app", "dependencies": {"get-intrinsic": "1"}}))
    for name, data in (("get-intrinsic", {"main": "index.js", "dependencies": {"math-intrinsics": "1",
                                                                                "dunder-proto": "1", "odd": "1"}}),
                       ("math-intrinsics", {"main": False, "exports": {"./abs": "./abs.js"}}),
                       ("dunder-proto", {"main": "missing.js"}),
                       ("odd", None)):
        folder = root / "node_modules" / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text("{ not json" if data is None else json.dumps({"name": name, **data}))
        (folder / "abs.js").write_text("module.exports = Math.abs;\n")


def test_main_false_packages_are_in_the_closure_and_missing_only_when_absent(tmp_path: Path) -> None:
    _tree(tmp_path)
    files = walk_tree(tmp_path)
    installed = installed_packages(files)
    assert set(installed) == {f"node_modules/{n}" for n in ("get-intrinsic", "math-intrinsics", "dunder-proto", "odd")}
    root = PackageJson(name="app", version=None, main=None, dependencies={"get-intrinsic": "1", "gone": "1"})
    closure, warnings = dependency_closure(root, installed)
    assert closure == set(installed)
    assert warnings == ["dependency gone (of package.json) is not installed; run `npm ci` first"]
    project = Project(root=tmp_path, package=root, lockfile=None, schema=None)
    plan = plan_bundle(project, files, installed, None, PlanOptions())
    arcs = {e.arc for a in plan.artifacts for e in a.entries}
    assert "node_modules/math-intrinsics/abs.js" in arcs and "node_modules/odd/abs.js" in arcs


# ------------------------------------------------------------------------------------------ client layouts


def _photon(root: Path, *, generated: bool, version: str = "2.0.0-preview019") -> Path:
    folder = root / "node_modules" / "@prisma" / "photon"
    (folder / "runtime").mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "@prisma/photon", "version": version,
                                                     "prisma": {"version": "latest"}}))
    if generated:
        (folder / "index.js").write_text(f"/**\n * Query Engine version: {COMMIT}\n */\nmodule.exports = 1;\n")
        (folder / "schema.prisma").write_text('generator photon {\n  provider = "photonjs"\n}\n')
        (folder / "runtime" / "query-engine-rhel-openssl-1.0.x").write_text("elf")
    else:
        (folder / "index.js").write_text("throw new Error('@prisma/photon did not initialize yet. Please run "
                                         "\"prisma2 generate\"')\n")
    (root / "package.json").write_text(json.dumps({"name": "app", "dependencies": {"@prisma/photon": version},
                                                   "devDependencies": {"prisma2": "2.0.0-preview022"}}))
    return folder


def test_layout_table_covers_every_era() -> None:
    assert [(x.key, x.package, x.engine_dir) for x in layouts()] == [
        ("photon-2019", "@generated/photon", "runtime"), ("photon-preview", "@prisma/photon", "runtime"),
        ("client-preview", "@prisma/client", "runtime"), ("client", "@prisma/client", "")]
    assert package_layout("node_modules/@prisma/photon", True) is not None
    assert package_layout("api/node_modules/@prisma/client", True) is not None
    assert package_layout("node_modules/@prisma/client", False) is None  # today's package: the client is elsewhere


def test_generated_photon_and_the_stub(tmp_path: Path) -> None:
    _photon(tmp_path, generated=True)
    (found,) = find_clients(read_project(tmp_path))
    assert (found.layout.key, found.dir, found.generated) == ("photon-preview", "node_modules/@prisma/photon/", True)
    refuse_ungenerated(read_project(tmp_path))  # generated: no error


def test_ungenerated_stub_is_refused_with_the_eras_command(tmp_path: Path) -> None:
    _photon(tmp_path, generated=False)
    with pytest.raises(ProjectError, match="was never generated") as err:
        refuse_ungenerated(read_project(tmp_path))
    assert err.value.hint is not None and "npx prisma2 generate" in err.value.hint


def test_engine_from_elsewhere_goes_to_the_preview_clients_runtime_folder(tmp_path: Path) -> None:
    folder = _photon(tmp_path, generated=True)
    (folder / "runtime" / "query-engine-rhel-openssl-1.0.x").unlink()
    files = walk_tree(tmp_path)
    installed = installed_packages(files)
    project = read_project(tmp_path)
    target = "debian-openssl-1.1.x"
    engine = EngineChoice(filename=f"query-engine-{target}", target_names=frozenset({target}), source=tmp_path / "x",
                          size=3)
    client_only = PlanOptions(unit=replace(WHOLE_PROJECT, dependencies="client-only"))
    plan = plan_bundle(project, files, installed, engine, client_only)
    assert plan.engine is not None
    assert plan.engine.arc == "node_modules/@prisma/photon/runtime/query-engine-debian-openssl-1.1.x"
    arcs = {e.arc for a in plan.artifacts for e in a.entries}
    assert {"node_modules/@prisma/photon/index.js", "node_modules/@prisma/photon/schema.prisma"} <= arcs  # vendored


# ------------------------------------------------------------------------------------------ engine version


def test_engine_version_from_the_generated_header_then_the_cli(tmp_path: Path) -> None:
    _photon(tmp_path, generated=True)  # @prisma/photon's prisma.version is "latest": not a commit
    assert engines_version(tmp_path, None, {}) == COMMIT
    (tmp_path / "node_modules" / "@prisma" / "photon" / "index.js").write_text("module.exports = 1;\n")
    cli = tmp_path / "node_modules" / "prisma2"
    cli.mkdir(parents=True)
    (cli / "package.json").write_text(json.dumps({"name": "prisma2", "prisma": {"version": "b" * 40}}))
    assert engines_version(tmp_path, None, {}) == "b" * 40


def test_engine_version_from_the_prisma_cli_package(tmp_path: Path) -> None:
    cli = tmp_path / "node_modules" / "prisma"
    cli.mkdir(parents=True)
    (cli / "package.json").write_text(json.dumps({"name": "prisma", "prisma": {"version": "c" * 40}}))
    assert engines_version(tmp_path, None, {}) == "c" * 40


# ------------------------------------------------------------------------------------------ GCF deploy command


def test_gcf_runtime_from_deploy_script_and_package_scripts(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"scripts": {
        "deploy": "gcloud beta functions deploy api --trigger-http --runtime=nodejs12"}}))
    assert runtime_from_deploy_command(tmp_path) == (
        "nodejs12", "package.json scripts.deploy:1: gcloud functions deploy --runtime nodejs12")
    (tmp_path / "deploy.sh").write_text("#!/bin/sh\ngcloud functions deploy photonExample \\\n  --runtime nodejs10\n")
    assert deploy_commands(tmp_path)[0] == ("deploy.sh", 2, "nodejs10")
    (tmp_path / "deploy.sh").write_text("gcloud functions deploy x --runtime python37\n")
    with pytest.raises(ConfigError, match=r"deploy.sh:1: gcloud functions deploy --runtime python37"):
        runtime_from_deploy_command(tmp_path)
