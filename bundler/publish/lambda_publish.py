"""Publish a lambda bundle: read what is deployed, plan (bundler/publish/plan.py), run the plan.

The reads come first and change nothing; the plan's write calls then run in order, each `Ref` filled from
the result of the call it names. An unchanged bundle plans no write call at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bundler.aws import Aws
from bundler.errors import ProjectError
from bundler.publish.plan import (
    Bundle,
    Call,
    Deployed,
    Ref,
    Request,
    Upload,
    check_sizes,
    layer_matches,
    plan,
    s3_key,
    through_s3,
)

Log = Callable[[str], None]


def read_deployed(aws: Aws, bundle: Bundle, request: Request) -> Deployed:
    """What AWS has for this function, its layer, its alias and the S3 objects: read calls only."""
    fn = request.function
    got = aws.missing("lambda", "GetFunction", {"FunctionName": fn}, fn)
    deployed = Deployed(function=got["Configuration"] if got else None)
    if bundle.layer:
        for v in aws.pages("ListLayerVersions", {"LayerName": request.layer_name}, "LayerVersions",
                           f"layer {request.layer_name}"):
            if layer_matches(v.get("Description"), bundle.layer):
                deployed.layer_arn = str(v["LayerVersionArn"])
                break
    for a in (bundle.layer, bundle.function):
        if a and through_s3(a, request):
            key = s3_key(a, request)
            head = aws.missing("s3", "HeadObject", {"Bucket": request.s3_bucket, "Key": key},
                               f"s3://{request.s3_bucket}/{key}")
            if head is not None:
                deployed.s3_objects[key] = (head.get("Metadata") or {}).get("sha256")
    if deployed.function is not None and (request.publish_version or request.alias):
        versions = [v for v in aws.pages("ListVersionsByFunction", {"FunctionName": fn}, "Versions", fn)
                    if v.get("Version") != "$LATEST"]
        if versions:
            deployed.latest_version = max(versions, key=lambda v: int(v["Version"]))
        if request.alias:
            alias = aws.missing("lambda", "GetAlias", {"FunctionName": fn, "Name": request.alias},
                                f"{fn} alias {request.alias}")
            deployed.alias_exists = alias is not None
            deployed.alias_version = str(alias["FunctionVersion"]) if alias else None
    return deployed


def check_artifacts(bundle: Bundle) -> None:
    """The zips on disk are the ones the manifest describes (not modified or swapped since the bundle)."""
    for a in (bundle.function, bundle.layer):
        if a is None:
            continue
        path = Path(a.path)
        if not path.is_file():
            raise ProjectError(f"{path}: missing, though manifest.json lists it",
                               hint="run `photon-bundle lambda` again (or publish without --no-bundle)")
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != a.sha256:
            raise ProjectError(f"{path}: its sha256 is not the one in manifest.json: it changed after the bundle",
                               hint="run `photon-bundle lambda` again (or publish without --no-bundle)")


def resolve(value: Any, results: Mapping[str, Mapping[str, Any]], aws: Aws | None) -> Any:
    if isinstance(value, Ref):
        return results[value.call][value.key]
    if isinstance(value, Upload):
        return Aws.read_body(value.path)
    if isinstance(value, dict):
        return {k: resolve(v, results, aws) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, results, aws) for v in value]
    return value


def execute(aws: Aws, calls: list[Call], request: Request, log: Log) -> dict[str, dict[str, Any]]:
    """Run the calls in order; the results by operation name."""
    results: dict[str, dict[str, Any]] = {}
    for call in calls:
        target = request.function
        if call.service == "s3":
            target = f"s3://{call.params['Bucket']}/{call.params['Key']}"
        elif call.operation == "PublishLayerVersion":
            target = f"layer {request.layer_name}"
        log(f"{call.service} {call.operation} {target}" + (f" ({call.why})" if call.why else ""))
        params = resolve(call.params, results, aws)
        if call.service == "wait":
            aws.wait(call.operation, params, target)
        else:
            results[call.operation] = aws.call(call.service, call.operation, params, target)
    return results


def outcome(aws: Aws, bundle: Bundle, request: Request, deployed: Deployed, calls: list[Call],
            results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the publish did, for --json and the summary."""
    fn = request.function
    config = (results.get("UpdateFunctionConfiguration") or results.get("UpdateFunctionCode")
              or results.get("CreateFunction") or deployed.function or {})
    layer_arn = (results.get("PublishLayerVersion") or {}).get("LayerVersionArn") or deployed.layer_arn
    published = results.get("PublishVersion") or results.get("CreateFunction") or {}
    version = published.get("Version") if request.publish_version or request.alias else None
    if version is None and (request.publish_version or request.alias) and deployed.latest_version:
        version = deployed.latest_version.get("Version")
    if version == "$LATEST" and not (request.publish_version or request.alias):
        version = None
    writes = [c for c in calls if c.service != "wait"]
    return {
        "function": fn,
        "function_arn": config.get("FunctionArn"),
        "region": aws.region,
        "code_sha256": bundle.function.code_sha256 if bundle.function else config.get("CodeSha256"),
        "layer_version_arn": layer_arn,
        "version": version,
        "alias": request.alias,
        "created": "CreateFunction" in results,
        "skipped": not writes,
        "calls": [f"{c.service} {c.operation}" for c in writes],
    }


def publish(env: Mapping[str, str], bundle: Bundle, request: Request, log: Log) -> dict[str, Any]:
    """Check the zips, read what is deployed, plan and run the writes; what was done (see `outcome`)."""
    check_sizes(bundle, request)  # before any call
    check_artifacts(bundle)
    aws = Aws(env)
    request = Request(**{**request.__dict__, "region": aws.region})
    deployed = read_deployed(aws, bundle, request)
    calls = plan(bundle, request, deployed)
    if not [c for c in calls if c.service != "wait"]:
        log(f"{request.function}: already deployed (CodeSha256"
            + (", layer content digest" if bundle.layer else "") + " unchanged): nothing to publish")
    results = execute(aws, calls, request, log)
    return outcome(aws, bundle, request, deployed, calls, results)
