"""bundler/manifest.schema.json: a valid JSON Schema, shipped as package data, and strict where it names keys
(every manifest the integration and e2e tests write is validated against it: tests/conftest.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import tomllib
from jsonschema import Draft202012Validator

from bundler.manifest import MANIFEST_VERSION, SCHEMA_FILE

ROOT = Path(__file__).resolve().parents[2]
SHA = "0" * 64
DOC: dict[str, Any] = {
    "version": 1, "tool": "photon-bundle 0.1.0", "compressor": "zlib-ng 2.2", "platform": "lambda",
    "runtime": "nodejs20.x", "runtime_source": "newest supported runtime", "arch": "x86_64", "os": "Amazon Linux 2023",
    "engine": {"kind": "library", "target": "rhel-openssl-3.0.x", "sha256": SHA, "source": "local", "version": None,
               "file": "node_modules/.prisma/client/libquery_engine-rhel-openssl-3.0.x.so.node",
               "artifact": "function.zip"},
    "artifacts": [{"kind": "function", "path": "function.zip", "sha256": SHA, "zipped_bytes": 10,
                   "unzipped_bytes": 20, "files": 2, "content_digest": "abc"}],
    "limits": [{"name": "function.zip platform zip limit", "what": "zipped", "limit": 100, "actual": 10,
                "headroom": 90}],
    "pruned": {"files": 1, "bytes": 5, "by_reason": {"dev dependency": {"files": 1, "bytes": 5}}},
    "warnings": [], "inputs_fingerprint": "f", "reused": False,
    "verify": {"skipped": False, "artifacts": {"function.zip": {"verdict": "pass", "errors": 0, "warnings": 0}}},
    "load_check": {"skipped": True, "reason": "turned off"},
    "layout": {"manager": "npm", "linker": "node_modules", "workspace": False, "repository_root": "/p",
               "label": "npm single package"},
    "out_dir": "/p/.photon-bundle/lambda", "doctor": {"version": 1},
}


def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def test_the_schema_is_a_valid_json_schema_for_this_manifest_version() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["version"] == {"const": MANIFEST_VERSION}


def test_the_schema_ships_in_the_package() -> None:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        package_data = tomllib.load(fh)["tool"]["setuptools"]["package-data"]["bundler"]
    assert SCHEMA_FILE.name in package_data
    assert SCHEMA_FILE.parent == ROOT / "bundler"


def test_a_manifest_of_the_documented_shape_passes() -> None:
    assert list(validator().iter_errors(DOC)) == []
    extra = {**DOC, "a_key_added_later": {"any": "shape"}}  # readers ignore unknown keys
    assert list(validator().iter_errors(extra)) == []


@pytest.mark.parametrize(("path", "value"), [
    (("version",), 2), (("arch",), "x64"), (("artifacts", 0, "sha256"), "not-a-hash"),
    (("limits", 0, "what"), "gzipped"), (("engine", "kind"), "wasm"), (("pruned", "files"), -1),
    (("verify", "artifacts", "function.zip", "verdict"), "ok"), (("reused",), "no"),
])
def test_a_wrong_value_is_caught(path: tuple[Any, ...], value: object) -> None:
    doc = copy.deepcopy(DOC)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(validator().iter_errors(doc)) != []


@pytest.mark.parametrize("key", ["engine", "artifacts", "layout", "out_dir", "load_check", "doctor"])
def test_a_missing_key_is_caught(key: str) -> None:
    doc = {k: v for k, v in DOC.items() if k != key}
    assert [e.validator for e in validator().iter_errors(doc)] == ["required"]
