"""Several functions from one bundle (`publish lambda --platform serverless|netlify --function-map NAME=LAMBDA`):
which artifact, runtime, architecture and handler each of the bundle's functions deploys. Pure."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from bundler.errors import ConfigError, ProjectError
from bundler.publish.plan import Artifact, Bundle

MULTI_PLATFORMS = ("serverless", "netlify")


def parse_function_map(values: Iterable[str]) -> dict[str, str]:
    """`name=lambdaName` pairs, each bundle function named once."""
    mapping: dict[str, str] = {}
    for value in values:
        name, sep, target = value.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ConfigError(f"--function-map {value!r}: not NAME=LAMBDA_FUNCTION",
                              hint="e.g. --function-map orders=orders-api-prod-orders")
        if name.strip() in mapping:
            raise ConfigError(f"--function-map names {name.strip()!r} twice")
        mapping[name.strip()] = target.strip()
    return mapping


def function_bundles(doc: Mapping[str, Any], out_dir: str) -> dict[str, tuple[Bundle, str | None]]:
    """Each function of a multi-function manifest: (its bundle, its handler when the manifest says)."""
    platform = doc.get("platform")
    if platform not in MULTI_PLATFORMS:
        raise ProjectError(f"{out_dir}/manifest.json is a {platform!r} bundle; --platform expects one of "
                           f"{', '.join(MULTI_PLATFORMS)}", hint="pass --platform as the bundle was made")
    artifacts = {str(a["path"]): a for a in doc["artifacts"] if a.get("kind", "function") == "function"}
    found: dict[str, tuple[Bundle, str | None]] = {}
    for unit in doc.get("units") or []:
        paths = [p for p in unit.get("artifacts", []) if p in artifacts]
        if not paths:
            continue
        a = artifacts[paths[0]]
        artifact = Artifact(path=posixpath.join(out_dir, a["path"]), name=str(a["path"]), kind="function",
                            sha256=str(a["sha256"]), content_digest=str(a.get("content_digest") or a["sha256"]),
                            zipped_bytes=int(a["zipped_bytes"]), unzipped_bytes=int(a.get("unzipped_bytes", 0)))
        meta = unit.get("meta") or {}
        bundle = Bundle(runtime=str(unit["runtime"]), arch=str(unit.get("arch") or "x86_64"), function=artifact,
                        layer=None, exec_wrapper=None)
        names = meta.get("functions") or [meta.get("function") or unit["name"]]
        for name in names:
            found[str(name)] = (bundle, meta.get("handler") if len(names) == 1 else None)
    return found


def check_mapping(mapping: Mapping[str, str], functions: Mapping[str, Any]) -> None:
    """Every function of the bundle is mapped, and only those."""
    unknown = sorted(set(mapping) - set(functions))
    if unknown:
        raise ConfigError(f"--function-map names {', '.join(unknown)}, not a function of the bundle "
                          f"({', '.join(sorted(functions)) or 'none'})")
    missing = sorted(set(functions) - set(mapping))
    if missing:
        raise ConfigError(f"the bundle's function(s) {', '.join(missing)} have no --function-map entry",
                          hint=f"add --function-map {missing[0]}=LAMBDA_FUNCTION_NAME for each")
