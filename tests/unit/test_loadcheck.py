"""The load check's pure parts: which clients to require, the event stream, the postinstall script, the causes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bundler.loadcheck import (
    MARK,
    POSTINSTALL_FAILED,
    UnitCheck,
    client_specs,
    missing_cause,
    module_name,
    parse_output,
    postinstall_script,
)
from bundler.project import PackageJson, Project, parse_schema


def project_with(schema: str) -> Project:
    return Project(root=Path("/nonexistent"), package=PackageJson(name="app", version="1", main=None),
                   lockfile=None, schema=parse_schema(schema, "prisma/schema.prisma"))


def test_client_specs_follow_the_generators() -> None:
    default = project_with('generator client {\n  provider = "prisma-client-js"\n}\n')
    assert client_specs(default) == ({"kind": "prisma"},)
    photon = project_with('generator photon {\n  provider = "photonjs"\n}\n')
    assert client_specs(photon) == ({"kind": "module", "module": "@generated/photon"},)
    custom = project_with('generator a {\n  provider = "prisma-client-js"\n  output = "../src/db"\n}\n'
                          'generator b {\n  provider = "prisma-client-js"\n  output = "../node_modules/@acme/db"\n}\n')
    assert client_specs(custom) == ({"kind": "dir", "path": "src/db"}, {"kind": "module", "module": "@acme/db"})


def test_module_names() -> None:
    assert module_name("@prisma/client/runtime") == "@prisma/client"
    assert module_name("debug/src/node") == "debug"
    assert module_name("./lib/util") is None


def test_events_are_told_apart_from_the_code_s_own_output() -> None:
    events, output = parse_output(["hello", MARK + '{"event": "start", "node": "v20.0.0"}',
                                   "partial" + MARK + '{"event": "done"}', MARK + "not json"])
    assert events == ({"event": "start", "node": "v20.0.0"}, {"event": "done"})
    assert output == ("hello", "partial", MARK + "not json")


def test_postinstall_script_skips_a_missing_command_but_stops_at_a_failure() -> None:
    script = postinstall_script(("no-such-command-photon", "echo restored"))
    done = subprocess.run(["sh", "-c", script, "sh", "echo", "node ran"], capture_output=True, text=True, check=False)
    events, output = parse_output(done.stdout.splitlines())
    assert done.returncode == 0
    assert events == ({"event": "postinstall-skipped", "step": 0},)
    assert output == ("restored", "node ran")
    done = subprocess.run(["sh", "-c", postinstall_script(("exit 3",)), "sh", "echo", "node ran"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == POSTINSTALL_FAILED
    assert parse_output(done.stdout.splitlines())[0] == ({"event": "postinstall-failed", "step": 0, "code": 3},)


def test_missing_causes(tmp_path: Path) -> None:
    (tmp_path / "node_modules" / "jest").mkdir(parents=True)
    (tmp_path / "node_modules" / "lodash").mkdir(parents=True)
    check = UnitCheck(platform="lambda", unit="", entries=(), artifacts=(), kind="library", engine_arc=None,
                      engine_artifact=None, engine_names=(), clients=(), node_major=20, layer_layout={}, tree=tmp_path,
                      package=PackageJson(name="app", version="1", main=None, dev={"jest": "29"}))
    assert "run `prisma generate` before bundling" in missing_cause(".prisma/client/default",
                                                                   "node_modules/@prisma/client/default.js", check)
    assert "devDependency" in missing_cause("jest", "handler.js", check)
    assert "no production dependency leads to it from handler.js" in missing_cause("lodash/fp", "handler.js", check)
    assert "not installed in the project" in missing_cause("left-pad", "handler.js", check)
    assert "--include" in missing_cause("./templates/x", "handler.js", check)
