"""bundler/manifest.py: the typed manifest and its one serialisation (Manifest.to_json), checked against
manifest.schema.json for a single unnamed unit and for several functions."""

from __future__ import annotations

import json
from dataclasses import replace

from jsonschema import Draft202012Validator

from bundler.limits import Limit
from bundler.manifest import (
    SCHEMA_FILE,
    Acquired,
    ArtifactRecord,
    EngineRecord,
    Manifest,
    OutputRecord,
    Pruned,
    UnitRecord,
    Verdict,
    Verification,
    dumps,
)

SHA = "a" * 64
ENGINE = EngineRecord("library", "rhel-openssl-3.0.x", Acquired(SHA, "local", None),
                      file="node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node",
                      artifact="functions/users.zip")
LAYOUT = {"manager": "npm", "linker": "node_modules", "workspace": False, "repository_root": "/p", "label": "npm"}


def unit(name: str, *, engine: EngineRecord = ENGINE, pruned: tuple[tuple[str, int, int], ...] = ()) -> UnitRecord:
    path = f"functions/{name}.zip" if name else "function.zip"
    return UnitRecord(
        name=name, runtime="nodejs20.x", runtime_source="newest", arch="x86_64", os="Amazon Linux 2023",
        engine=engine, artifacts=(ArtifactRecord("function", path, SHA, 10, 20, 2, "d"),),
        limits=(Limit(f"{path} zip", "zipped", 100, 10),), pruned=Pruned.of(pruned), warnings=("w",),
        verify=Verification({path: Verdict("pass", 0, 0)}), load_check={"skipped": True, "reason": "off"},
        meta={"handler": "x.handler"} if name else {})


def valid(doc: dict[str, object]) -> bool:
    validator = Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    return not list(validator.iter_errors(doc))


def test_a_single_unit_manifest_is_that_units_record_without_a_units_list() -> None:
    made = Manifest("lambda", (unit("", pruned=(("dev dependency", 1, 5), ("docs", 1, 3), ("dev dependency", 1, 7))),),
                    LAYOUT, "/p/out", {}, inputs_fingerprint="f", doctor={"version": 1})
    doc = made.to_json()
    assert valid(doc)
    assert "units" not in doc and "meta" not in doc and "outputs" not in doc
    assert doc["engine"] == {"kind": "library", "target": "rhel-openssl-3.0.x", "sha256": SHA, "source": "local",
                             "version": None, "file": ENGINE.file, "artifact": ENGINE.artifact}
    assert made.units[0].pruned.by_reason == {"dev dependency": (2, 12), "docs": (1, 3)}
    assert doc["pruned"] == {"files": 3, "bytes": 15, "by_reason": {"dev dependency": {"files": 2, "bytes": 12},
                                                                    "docs": {"files": 1, "bytes": 3}}}
    assert doc["verify"] == {"skipped": False, "artifacts": {"function.zip": {"verdict": "pass", "errors": 0,
                                                                              "warnings": 0}}}
    assert doc["limits"] == [{"name": "function.zip zip", "what": "zipped", "limit": 100, "actual": 10,
                              "headroom": 90}]
    again = Manifest("lambda", made.units, dict(LAYOUT), "/p/out", {}, "f", {"version": 1})
    assert dumps(doc) == dumps(again.to_json())  # the same input, the same bytes


def test_several_functions_merge_and_one_without_the_client_names_no_target() -> None:
    health = unit("health", engine=EngineRecord("library", "rhel-openssl-3.0.x", Acquired(SHA, "cache", "5.22.0")))
    made = Manifest("netlify", (health, unit("users", pruned=(("docs", 2, 4),))), LAYOUT, "/p/out", {},
                    doctor={"version": 1}, outputs=(OutputRecord("/p/out/functions/manifest.json", False, ""),))
    doc = made.to_json()
    assert valid(doc)
    assert doc["engine"] == ENGINE.to_json()  # the first unit that carries an engine, not the first unit
    units = doc["units"]
    assert isinstance(units, list)
    assert units[0]["engine"] == {"kind": "library", "target": None,
                                  "note": "the function does not load the Prisma client: no engine bundled"}
    assert [a["unit"] for a in doc["artifacts"]] == ["health", "users"]  # type: ignore[attr-defined]
    assert doc["warnings"] == ["health: w", "users: w"]
    passed = {"verdict": "pass", "errors": 0, "warnings": 0}
    assert doc["verify"] == {"skipped": False, "units": {
        "health": {"skipped": False, "artifacts": {"functions/health.zip": passed}},
        "users": {"skipped": False, "artifacts": {"functions/users.zip": passed}}}}
    assert doc["load_check"] == {"skipped": True, "units": {"health": {"skipped": True, "reason": "off"},
                                                            "users": {"skipped": True, "reason": "off"}}}
    assert doc["outputs"] == [{"path": "/p/out/functions/manifest.json", "in_place": False, "note": ""}]
    skipped = replace(made, units=tuple(replace(u, verify=Verification(None)) for u in made.units)).to_json()
    assert skipped["verify"] == {"skipped": True, "units": {"health": {"skipped": True}, "users": {"skipped": True}}}


def test_a_client_engine_record_says_why_there_is_none() -> None:
    record = EngineRecord("client", None, note="Prisma client engine: no native engine needed")
    assert record.to_json() == {"kind": "client", "target": None,
                                "note": "Prisma client engine: no native engine needed"}
