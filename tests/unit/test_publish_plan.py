"""The publish plan (bundler/publish/plan.py): which AWS calls a manifest and a deployed state lead to."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from bundler.aws import boto_name, cloud_error, max_attempts
from bundler.errors import CloudError, ProjectError, SizeLimitError
from bundler.publish.plan import (
    DIRECT_UPLOAD_MAX,
    UNZIPPED_MAX,
    Deployed,
    Ref,
    Request,
    bundle_from_manifest,
    desired_layers,
    plan,
)

SHA = hashlib.sha256(b"zip").hexdigest()
LAYER_SHA = hashlib.sha256(b"layer").hexdigest()


def manifest(zipped: int = 1000, unzipped: int = 5000, layer: bool = False) -> dict[str, Any]:
    artifacts = [{"path": "function.zip", "kind": "function", "sha256": SHA, "content_digest": "c0ffee",
                  "zipped_bytes": zipped, "unzipped_bytes": unzipped}]
    if layer:
        artifacts.append({"path": "layer.zip", "kind": "layer", "sha256": LAYER_SHA, "content_digest": "1a7e5",
                          "zipped_bytes": 100, "unzipped_bytes": 400})
    return {"platform": "lambda", "runtime": "nodejs20.x", "arch": "arm64", "artifacts": artifacts,
            "engine": {"exec_wrapper": "/opt/photon-bundle/exec-wrapper"},
            "load_check": {"entries": [{"path": "src/app.js", "ok": True}]}}


def ops(calls: list[Any]) -> list[str]:
    return [c.operation for c in calls if c.service != "wait"]


def deployed_sha() -> str:
    return base64.b64encode(hashlib.sha256(b"zip").digest()).decode()


def test_code_sha256_is_lambdas_base64_form() -> None:
    bundle = bundle_from_manifest(manifest(), "/out")
    assert bundle.function is not None and bundle.function.code_sha256 == deployed_sha()


def test_unchanged_function_plans_nothing() -> None:
    bundle = bundle_from_manifest(manifest(), "/out")
    assert plan(bundle, Request("f", "l"), Deployed(function={"CodeSha256": deployed_sha()})) == []


def test_changed_code_is_updated_and_waited_for() -> None:
    calls = plan(bundle_from_manifest(manifest(), "/out"), Request("f", "l"), Deployed(function={"CodeSha256": "x"}))
    assert [(c.service, c.operation) for c in calls] == [("lambda", "UpdateFunctionCode"),
                                                         ("wait", "function_updated_v2")]
    assert "ZipFile" in calls[0].params


def test_create_takes_runtime_arch_and_handler_from_the_manifest() -> None:
    bundle = bundle_from_manifest(manifest(layer=True), "/out")
    calls = plan(bundle, Request("f", "l", create=True, role="arn:role"), Deployed(function=None))
    create = next(c for c in calls if c.operation == "CreateFunction").params
    assert (create["Runtime"], create["Architectures"]) == ("nodejs20.x", ["arm64"])
    assert create["Handler"] == "src/app.handler"
    assert create["Layers"] == [Ref("PublishLayerVersion", "LayerVersionArn")]
    assert create["Environment"] == {"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/photon-bundle/exec-wrapper"}}


def test_missing_function_without_create_is_a_cloud_error() -> None:
    with pytest.raises(CloudError, match=r"ResourceNotFoundException.*'f' in region eu-west-1") as info:
        plan(bundle_from_manifest(manifest(), "/out"), Request("f", "l", region="eu-west-1"), Deployed(function=None))
    assert info.value.exit_code == 8 and "--create" in str(info.value)


def test_our_older_layer_is_replaced_and_others_kept_in_order() -> None:
    current = ["arn:aws:lambda:r:1:layer:otel:3", "arn:aws:lambda:r:1:layer:f-prisma-engine:4",
               "arn:aws:lambda:r:1:layer:ext:1"]
    assert desired_layers(current, "NEW", "f-prisma-engine") == [current[0], current[2], "NEW"]


def test_layer_attach_keeps_variables_and_skips_when_attached() -> None:
    bundle = bundle_from_manifest(manifest(layer=True), "/out")
    ours = "arn:aws:lambda:r:1:layer:l:7"
    config = {"CodeSha256": deployed_sha(), "Layers": [{"Arn": "arn:other:1"}],
              "Environment": {"Variables": {"DATABASE_URL": "x"}}}
    calls = plan(bundle, Request("f", "l"), Deployed(function=config, layer_arn=ours))
    assert ops(calls) == ["UpdateFunctionConfiguration"]
    assert calls[0].params["Layers"] == ["arn:other:1", ours]
    assert calls[0].params["Environment"]["Variables"] == {
        "DATABASE_URL": "x", "AWS_LAMBDA_EXEC_WRAPPER": "/opt/photon-bundle/exec-wrapper"}
    attached = {**config, "Layers": [{"Arn": "arn:other:1"}, {"Arn": ours}],
                "Environment": {"Variables": calls[0].params["Environment"]["Variables"]}}
    assert plan(bundle, Request("f", "l"), Deployed(function=attached, layer_arn=ours)) == []


def test_over_50_mb_goes_through_s3_keyed_by_content_digest() -> None:
    bundle = bundle_from_manifest(manifest(zipped=DIRECT_UPLOAD_MAX + 1), "/out")
    calls = plan(bundle, Request("f", "l", s3_bucket="b", s3_prefix="ci/"), Deployed(function={}))
    assert ops(calls) == ["PutObject", "UpdateFunctionCode"]
    assert calls[0].params["Key"] == "ci/c0ffee/function.zip"
    assert calls[1].params["S3Key"] == "ci/c0ffee/function.zip" and "ZipFile" not in calls[1].params
    # the object is already there with this sha256: no second upload
    already = Deployed(function={}, s3_objects={"ci/c0ffee/function.zip": SHA})
    assert ops(plan(bundle, Request("f", "l", s3_bucket="b", s3_prefix="ci/"), already)) == ["UpdateFunctionCode"]


def test_over_50_mb_without_bucket_is_refused_before_any_call() -> None:
    with pytest.raises(SizeLimitError, match="52,428,800-byte limit of a direct upload") as info:
        plan(bundle_from_manifest(manifest(zipped=DIRECT_UPLOAD_MAX + 1), "/out"), Request("f", "l"), Deployed({}))
    assert "--s3-bucket" in str(info.value)


def test_unzipped_limit_counts_function_and_layer() -> None:
    bundle = bundle_from_manifest(manifest(unzipped=UNZIPPED_MAX - 100, layer=True), "/out")
    with pytest.raises(SizeLimitError, match=r"function.zip \+ layer.zip: 262,144,300 bytes unzipped"):
        plan(bundle, Request("f", "l", s3_bucket="b"), Deployed({}))


def test_version_reused_and_alias_left_when_nothing_changed() -> None:
    bundle = bundle_from_manifest(manifest(), "/out")
    config = {"CodeSha256": deployed_sha()}
    same = Deployed(function=config, latest_version={"Version": "3", "CodeSha256": deployed_sha()},
                    alias_exists=True, alias_version="3")
    assert plan(bundle, Request("f", "l", publish_version=True, alias="live"), same) == []
    moved = Deployed(function=config, latest_version={"Version": "3", "CodeSha256": deployed_sha()},
                     alias_exists=True, alias_version="2")
    calls = plan(bundle, Request("f", "l", publish_version=True, alias="live"), moved)
    assert ops(calls) == ["UpdateAlias"] and calls[0].params["FunctionVersion"] == "3"


def test_other_platforms_manifest_is_refused() -> None:
    with pytest.raises(ProjectError, match="'gcf' bundle, not a lambda one"):
        bundle_from_manifest({**manifest(), "platform": "gcf"}, "/out")


def test_error_messages_name_the_code_and_the_permission() -> None:
    err = cloud_error("s3", "PutObject", "AccessDenied", "Access Denied", "s3://b/k")
    assert err.exit_code == 8 and "AccessDenied" in str(err) and "s3:PutObject" in str(err)
    assert "still throttled after 4 attempts" in str(cloud_error("lambda", "GetFunction", "TooManyRequestsException",
                                                                 "Rate exceeded", "f", 4))
    assert boto_name("UpdateFunctionCode") == "update_function_code"
    assert max_attempts({"AWS_MAX_ATTEMPTS": "9"}) == 9 and max_attempts({"AWS_MAX_ATTEMPTS": "x"}) == 6


def test_function_map_parsing_and_checks() -> None:
    from bundler.errors import ConfigError
    from bundler.publish.functions import check_mapping, parse_function_map

    assert parse_function_map(["a=x", " b = y "]) == {"a": "x", "b": "y"}
    for bad in (["a"], ["=x"], ["a="], ["a=x", "a=y"]):
        with pytest.raises(ConfigError):
            parse_function_map(bad)
    with pytest.raises(ConfigError, match="names zzz, not a function of the bundle"):
        check_mapping({"zzz": "x"}, {"a": 1})
