"""`photon-bundle publish lambda` against moto's real server on 127.0.0.1, reached through AWS_ENDPOINT_URL as a
user's boto3 would; the write calls counted from the server's own request log."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.aws_faults import Fault, faulty_proxy
from tests.aws_server import REGION, RequestLog, client
from tests.cli_helpers import run_cli
from tests.projects import TWO_FUNCTION_SERVERLESS, make_project


def role_arn() -> str:
    iam = client("iam")
    try:
        return str(iam.get_role(RoleName="lambda-exec")["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        pass
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "lambda.amazonaws.com"}}]}
    return str(iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps(policy))["Role"]["Arn"])


def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.js", "exports.handler = async () => 'old';\n")
    return buf.getvalue()


def existing_function(name: str, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = client("lambda").create_function(
        FunctionName=name, Runtime="nodejs20.x", Role=role_arn(), Handler="index.handler",
        Code={"ZipFile": tiny_zip()}, **extra)
    return result


def code_sha256(path: Path) -> str:
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def publish(capsys: pytest.CaptureFixture[str], project: Path, out: Path, *args: str) -> tuple[int, Any, str]:
    code, stdout, err = run_cli(["publish", "lambda", str(project), "--out", str(out), "--json", *args], capsys)
    return code, (json.loads(stdout) if stdout.strip() else None), err


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    app = make_project(tmp_path / "app", elf_cache=elf_cache)
    (app / "photon-bundle.toml").write_text('[lambda]\nruntime = "nodejs20.x"\nverify = false\noffline = true\n')
    return app


def test_create_then_update_then_unchanged(aws: RequestLog, project: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    arn = role_arn()
    code, doc, err = publish(capsys, project, out, "--function", "orders", "--create", "--role", arn)
    assert code == 0, err
    assert doc["created"] is True and doc["skipped"] is False
    conf = client("lambda").get_function(FunctionName="orders")["Configuration"]
    assert conf["CodeSha256"] == code_sha256(out / "function.zip") == doc["code_sha256"]
    assert (conf["Runtime"], conf["Handler"], conf["Architectures"]) == ("nodejs20.x", "handler.handler", ["x86_64"])
    assert doc["function_arn"] == conf["FunctionArn"]

    # the source changes: the bundle is rebuilt by publish and the code updated
    (project / "handler.js").write_text((project / "handler.js").read_text() + "\n// v2\n")
    aws.lines.clear()
    code, doc, err = publish(capsys, project, out, "--function", "orders", "--publish-version", "--alias", "live")
    assert code == 0, err
    assert doc["skipped"] is False and "lambda UpdateFunctionCode" in doc["calls"]
    conf = client("lambda").get_function(FunctionName="orders")["Configuration"]
    assert conf["CodeSha256"] == code_sha256(out / "function.zip") == doc["code_sha256"]
    assert conf["LastUpdateStatus"] == "Successful"
    alias = client("lambda").get_alias(FunctionName="orders", Name="live")
    assert alias["FunctionVersion"] == doc["version"] != "$LATEST"
    assert aws.writes(), "the update made write calls"

    # nothing changed: no write call reaches the server
    aws.lines.clear()
    code, doc2, err = publish(capsys, project, out, "--function", "orders", "--publish-version", "--alias", "live")
    assert code == 0, err
    assert doc2["skipped"] is True and doc2["calls"] == [] and doc2["version"] == doc["version"]
    assert aws.lines, "the run read from the server"
    assert aws.writes() == []
    after = client("lambda").get_function(FunctionName="orders")["Configuration"]
    assert after["LastModified"] == conf["LastModified"]


def test_layer_publish_keeps_other_layers_and_variables(aws: RequestLog, project: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    lam = client("lambda")
    other = lam.publish_layer_version(LayerName="otel", Content={"ZipFile": tiny_zip()})["LayerVersionArn"]
    existing_function("api", Layers=[other], Environment={"Variables": {"DATABASE_URL": "postgres://db/x", "A": "1"}})
    out = tmp_path / "out"
    code, doc, err = publish(capsys, project, out, "--function", "api", "--format", "both")
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    conf = lam.get_function(FunctionName="api")["Configuration"]
    layers = [layer["Arn"] for layer in conf["Layers"]]
    assert layers == [other, doc["layer_version_arn"]]
    assert conf["Environment"]["Variables"] == {"DATABASE_URL": "postgres://db/x", "A": "1",
                                                "AWS_LAMBDA_EXEC_WRAPPER": manifest["engine"]["exec_wrapper"]}
    name, number = doc["layer_version_arn"].split(":")[-2:]
    version = lam.get_layer_version(LayerName=name, VersionNumber=int(number))
    assert version["CompatibleRuntimes"] == ["nodejs20.x"] and version["CompatibleArchitectures"] == ["x86_64"]
    layer_zip = next(a for a in manifest["artifacts"] if a["path"] == "layer.zip")
    assert layer_zip["content_digest"] in version["Description"]

    # a new layer version of ours replaces the old one, the other layer stays
    toml = project / "photon-bundle.toml"
    toml.write_text(toml.read_text() + "layer_node_modules = true\n")  # node_modules move into the layer
    aws.lines.clear()
    code, doc2, err = publish(capsys, project, out, "--function", "api", "--format", "both")
    assert code == 0, err
    layers = [layer["Arn"] for layer in lam.get_function(FunctionName="api")["Configuration"]["Layers"]]
    assert layers == [other, doc2["layer_version_arn"]] and doc2["layer_version_arn"] != doc["layer_version_arn"]

    aws.lines.clear()
    code, doc3, err = publish(capsys, project, out, "--function", "api", "--format", "both")
    assert code == 0, err
    assert doc3["skipped"] is True and aws.writes() == []


def test_large_zip_goes_through_s3(aws: RequestLog, project: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    (project / "assets").mkdir()
    (project / "assets" / "blob.bin").write_bytes(os.urandom(60 * 1024 * 1024))  # incompressible: a 60 MB zip
    (project / "photon-bundle.toml").write_text('[lambda]\nruntime = "nodejs20.x"\nverify = false\noffline = true\n'
                                               'max_size = "100mb"\ninclude = ["assets/**"]\n')
    existing_function("big")
    out = tmp_path / "out"
    # no bucket: refused before any upload
    aws.lines.clear()
    code, doc, err = publish(capsys, project, out, "--function", "big")
    assert code == 4, err
    assert "over the 52,428,800-byte limit of a direct upload" in err and "--s3-bucket" in err
    assert aws.lines == []
    client("s3").create_bucket(Bucket="deploys")
    code, doc, err = publish(capsys, project, out, "--function", "big", "--s3-bucket", "deploys", "--s3-prefix", "ci/",
                             "--no-bundle")
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    fz = next(a for a in manifest["artifacts"] if a["path"] == "function.zip")
    assert fz["zipped_bytes"] > 52_428_800
    assert doc["calls"] == ["s3 PutObject", "lambda UpdateFunctionCode"]
    key = f"ci/{fz['content_digest']}/function.zip"
    head = client("s3").head_object(Bucket="deploys", Key=key)
    assert head["ContentLength"] == fz["zipped_bytes"]
    assert client("lambda").get_function(FunctionName="big")["Configuration"]["CodeSha256"] == code_sha256(
        out / "function.zip")


def test_dry_run_makes_no_call(aws: RequestLog, project: Path, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run_cli(["lambda", str(project), "--out", str(out), "--format", "both", "-q"], capsys)
    assert code == 0, err
    aws.lines.clear()
    code, doc, err = publish(capsys, project, out, "--function", "api", "--dry-run", "--alias", "live")
    assert code == 0, err
    assert aws.lines == []
    ops = [c.split("(")[0] for c in doc["calls"]]
    assert ops == ["lambda PublishLayerVersion", "lambda UpdateFunctionCode", "wait function_updated_v2",
                   "lambda UpdateFunctionConfiguration", "wait function_updated_v2", "lambda PublishVersion",
                   "lambda CreateAlias"]
    assert "AWS_LAMBDA_EXEC_WRAPPER" in doc["calls"][3]
    assert doc["reads"][0].startswith("lambda GetFunction(")


def test_missing_function_without_create(aws: RequestLog, project: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, err = publish(capsys, project, tmp_path / "out", "--function", "nope")
    assert code == 8
    assert "ResourceNotFoundException" in err and "'nope'" in err and REGION in err and "--create" in err
    assert doc["error"]["code"] == 8
    assert aws.writes() == []


def test_missing_bucket_is_exit_8(aws: RequestLog, project: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    existing_function("api")
    code, _, err = publish(capsys, project, tmp_path / "out", "--function", "api", "--s3-bucket", "missing-bucket",
                           "--via-s3")
    assert code == 8
    assert "NoSuchBucket" in err and "--s3-bucket" in err


def test_no_bundle_without_manifest(aws: RequestLog, project: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = publish(capsys, project, tmp_path / "out", "--function", "api", "--no-bundle")
    assert code == 3
    assert "run `photon-bundle lambda` first" in err
    assert aws.lines == []


def test_throttling_is_retried_with_backoff_then_exit_8(aws: RequestLog, project: Path, tmp_path: Path,
                                                          moto_server: tuple[str, RequestLog],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    existing_function("api")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")  # boto3's own setting: keeps the backoff short here
    out = tmp_path / "out"
    # throttled twice, then through: the retries hide it
    brief = Fault("GET", "/2015-03-31/functions/api", 429, "TooManyRequestsException", times=2)
    with faulty_proxy(moto_server[0], [brief]) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        code, doc, err = publish(capsys, project, out, "--function", "api")
    assert code == 0, err
    assert brief.hits == 2 and doc["skipped"] is False
    # throttled for good: bounded attempts, one message, exit 8, nothing written
    always = Fault("GET", "/2015-03-31/functions/api", 429, "TooManyRequestsException")
    (project / "handler.js").write_text((project / "handler.js").read_text() + "\n// v3\n")
    aws.lines.clear()
    with faulty_proxy(moto_server[0], [always]) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        code, doc, err = publish(capsys, project, out, "--function", "api")
    assert code == 8
    assert always.hits == 3
    assert "TooManyRequestsException" in err and "still throttled after 3 attempts" in err
    assert "Traceback" not in err and doc["error"]["code"] == 8
    assert aws.writes() == []


def test_update_in_progress_waits_and_retries(aws: RequestLog, project: Path, tmp_path: Path,
                                              moto_server: tuple[str, RequestLog], monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    existing_function("api")
    busy = Fault("PUT", "/2015-03-31/functions/api/code", 409, "ResourceConflictException", times=2)
    with faulty_proxy(moto_server[0], [busy]) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        code, doc, err = publish(capsys, project, tmp_path / "out", "--function", "api")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server[0])
    assert code == 0, err
    assert busy.hits == 2
    conf = client("lambda").get_function(FunctionName="api")["Configuration"]
    assert conf["CodeSha256"] == doc["code_sha256"]
    # an update that never finishes: a bounded number of tries, then exit 8 saying so
    stuck = Fault("PUT", "/2015-03-31/functions/api/code", 409, "ResourceConflictException")
    (project / "handler.js").write_text((project / "handler.js").read_text() + "\n// v4\n")
    monkeypatch.setattr("bundler.aws.CONFLICT_RETRIES", 1)
    with faulty_proxy(moto_server[0], [stuck]) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        code, doc, err = publish(capsys, project, tmp_path / "out", "--function", "api")
    assert code == 8
    assert stuck.hits == 2
    assert "ResourceConflictException" in err and "tried 2 times" in err and "fix:" in err


def test_access_denied_names_the_permission(aws: RequestLog, project: Path, tmp_path: Path,
                                            moto_server: tuple[str, RequestLog], monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    # moto's own IAM enforcement (moto-api/reset-auth) answers every signed Lambda request with
    # SignatureDoesNotMatch, so the denial comes from the proxy, in the shape AWS sends it
    existing_function("api")
    denied = Fault("PUT", "/2015-03-31/functions/api/code", 403, "AccessDeniedException")
    with faulty_proxy(moto_server[0], [denied]) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        code, doc, err = publish(capsys, project, tmp_path / "out", "--function", "api")
    assert code == 8, err
    assert denied.hits == 1  # not retried: a denial does not pass by waiting
    assert "AccessDeniedException" in err and "lambda:UpdateFunctionCode" in err and "fix:" in err
    assert "testing-secret" not in err and "testing-secret" not in json.dumps(doc)
    assert doc["error"]["fix"].startswith("grant the deploying identity the IAM permission lambda:UpdateFunctionCode")


def test_create_with_layer_and_exec_wrapper(aws: RequestLog, project: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, doc, err = publish(capsys, project, out, "--function", "fresh", "--format", "both", "--create",
                             "--role", role_arn(), "--handler", "handler.handler", "--alias", "live")
    assert code == 0, err
    conf = client("lambda").get_function(FunctionName="fresh")["Configuration"]
    assert [layer["Arn"] for layer in conf["Layers"]] == [doc["layer_version_arn"]]
    assert conf["Environment"]["Variables"] == {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/photon-bundle/exec-wrapper"}
    assert conf["State"] == "Active"
    assert client("lambda").get_alias(FunctionName="fresh", Name="live")["FunctionVersion"] == doc["version"] == "1"
    aws.lines.clear()
    code, doc2, err = publish(capsys, project, out, "--function", "fresh", "--format", "both", "--alias", "live",
                              "--handler", "handler.handler")
    assert code == 0, err
    assert doc2["skipped"] is True and doc2["version"] == "1" and aws.writes() == []


@pytest.mark.parametrize(("unset", "message"), [
    (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "no AWS credentials found"),
    (("AWS_REGION",), "no AWS region"),
])
def test_missing_credentials_or_region_is_exit_8(aws: RequestLog, project: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                                 unset: tuple[str, ...], message: str) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup from a test
    for name in unset:
        monkeypatch.delenv(name)
    code, doc, err = publish(capsys, project, tmp_path / "out", "--function", "api")
    assert code == 8
    assert message in err and "fix:" in err and "Traceback" not in err
    assert doc["error"]["code"] == 8
    assert aws.lines == []


def test_example_app_as_a_user_runs_it(aws: RequestLog, tmp_path: Path) -> None:
    """The README's example app, the CLI as a process, boto3 finding moto through AWS_ENDPOINT_URL."""
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(["make", "-s", "example-engines"], cwd=repo, check=True, capture_output=True, timeout=300)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "bundler", "publish", "lambda", str(repo / "examples" / "lambda-app"),
            "--out", str(out), "--format", "both", "--function", "example", "--create", "--role", role_arn(),
            "--alias", "live", "--json"]
    first = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ))
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    conf = client("lambda").get_function(FunctionName="example")["Configuration"]
    assert conf["CodeSha256"] == code_sha256(out / "function.zip") == doc["code_sha256"]
    assert conf["Handler"] == "src/handler.handler"
    assert [layer["Arn"] for layer in conf["Layers"]] == [doc["layer_version_arn"]]
    assert conf["Environment"]["Variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/photon-bundle/exec-wrapper"
    aws.lines.clear()
    second = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["skipped"] is True
    assert aws.writes() == [] and aws.lines


def test_serverless_bundle_each_function_by_map(aws: RequestLog, project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (project / "serverless.yml").write_text(TWO_FUNCTION_SERVERLESS)
    (project / "photon-bundle.toml").write_text("verify = false\noffline = true\n")
    out = tmp_path / "out"
    arn = role_arn()
    existing_function("shop-prod-api")
    base = ["--platform", "serverless", "--create", "--role", arn]
    # every function of the bundle must be mapped
    code, doc, err = publish(capsys, project, out, *base, "--function-map", "api=shop-prod-api")
    assert code == 2 and "worker have no --function-map entry" in err
    maps = ["--function-map", "api=shop-prod-api", "--function-map", "worker=shop-prod-worker"]
    code, doc, err = publish(capsys, project, out, *base, *maps)
    assert code == 0, err
    by_name = {r["function"]: r for r in doc["functions"]}
    assert by_name["shop-prod-worker"]["created"] is True and by_name["shop-prod-api"]["created"] is False
    lam = client("lambda")
    worker = lam.get_function(FunctionName="shop-prod-worker")["Configuration"]
    assert worker["Architectures"] == ["arm64"] and worker["Handler"] == "handler.handler"
    assert worker["CodeSha256"] == code_sha256(out / "functions" / "worker.zip")
    api = lam.get_function(FunctionName="shop-prod-api")["Configuration"]
    assert api["CodeSha256"] == code_sha256(out / "functions" / "api.zip")
    aws.lines.clear()
    code, doc, err = publish(capsys, project, out, *base, *maps)
    assert code == 0, err
    assert doc["skipped"] is True and aws.writes() == []


def test_publish_table_in_photon_bundle_toml(aws: RequestLog, project: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A CI job's `photon-bundle publish lambda` with no flags: platform, function map, bucket, prefix, alias and
    region from [publish]; a flag still wins over the table."""
    (project / "serverless.yml").write_text(TWO_FUNCTION_SERVERLESS)
    (project / "photon-bundle.toml").write_text(
        'verify = false\noffline = true\n\n[publish]\nplatform = "serverless"\ns3_bucket = "deploys"\n'
        f's3_prefix = "shop/"\nalias = "live"\nregion = "{REGION}"\n\n'
        '[publish.functions]\napi = "shop-prod-api"\nworker = "shop-prod-worker"\n')
    monkeypatch.delenv("AWS_REGION")  # the table's region is the one boto3 gets
    client("s3").create_bucket(Bucket="deploys")
    existing_function("shop-prod-api")
    existing_function("shop-prod-worker", Architectures=["arm64"])
    out = tmp_path / "out"
    code, stdout, err = run_cli(["publish", "lambda", str(project), "--out", str(out), "--json", "--via-s3"], capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    by_name = {r["function"]: r for r in doc["functions"]}
    assert set(by_name) == {"shop-prod-api", "shop-prod-worker"}
    assert all(r["region"] == REGION and r["alias"] == "live" for r in by_name.values())
    lam = client("lambda")
    api = lam.get_function(FunctionName="shop-prod-api")["Configuration"]
    assert api["CodeSha256"] == code_sha256(out / "functions" / "api.zip")
    assert lam.get_alias(FunctionName="shop-prod-api", Name="live")["FunctionVersion"] == by_name["shop-prod-api"][
        "version"]
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket="deploys")["Contents"]]
    assert keys and all(k.startswith("shop/") for k in keys)
    # a flag wins over the table: an unknown bundle function in --function-map is refused
    code, _, err = run_cli(["publish", "lambda", str(project), "--out", str(out), "--function-map", "nope=x"], capsys)
    assert code == 2 and "nope" in err
    # a typo in the table is one clear message
    toml = project / "photon-bundle.toml"
    toml.write_text(toml.read_text().replace("s3_bucket", "s3_bukket"))
    code, _, err = run_cli(["publish", "lambda", str(project), "--out", str(out)], capsys)
    assert code == 2 and "unknown key 's3_bukket' in [publish]" in err and "s3_bucket" in err


def test_netlify_bundle_each_function_by_the_table(aws: RequestLog, project: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Netlify Functions run on Lambda: each function's zip goes to the function [publish.functions] names."""
    functions = project / "netlify" / "functions"
    functions.mkdir(parents=True)
    (functions / "users.js").write_text("const { PrismaClient } = require('@prisma/client');\n"
                                        "exports.handler = async () => ({ statusCode: 200 });\n")
    (functions / "ping.js").write_text("exports.handler = async () => ({ statusCode: 204 });\n")
    (project / "photon-bundle.toml").write_text(
        'verify = false\noffline = true\n\n[netlify]\nruntime = "nodejs20.x"\n\n[publish]\nplatform = "netlify"\n\n'
        '[publish.functions]\nusers = "site-users"\nping = "site-ping"\n')
    out = tmp_path / "out"
    argv = ["publish", "lambda", str(project), "--out", str(out), "--json", "--create", "--role", role_arn()]
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    doc = json.loads(stdout)
    assert sorted(r["function"] for r in doc["functions"]) == ["site-ping", "site-users"]
    zips = {a["path"] for a in json.loads((out / "manifest.json").read_text())["artifacts"]}
    lam = client("lambda")
    for name, fn in (("users", "site-users"), ("ping", "site-ping")):
        path = next(out / z for z in zips if z.endswith(f"{name}.zip"))
        conf = lam.get_function(FunctionName=fn)["Configuration"]
        assert conf["CodeSha256"] == code_sha256(path) and conf["Runtime"] == "nodejs20.x"
    aws.lines.clear()
    code, stdout, err = run_cli(argv, capsys)
    assert code == 0, err
    assert json.loads(stdout)["skipped"] is True and aws.writes() == []


def test_two_runners_publish_through_the_shared_cache(aws: RequestLog, project: Path, tmp_path: Path) -> None:
    """The CI flow: a runner bundles, shares and deploys; the next runner (another process, an empty output folder
    and engine cache) takes the bundle from the shared cache and finds it deployed already: no write call."""
    (project / "photon-bundle.toml").write_text('cache = "s3://ci-cache/fleet"\n\n[lambda]\nruntime = "nodejs20.x"\n'
                                               '\n[publish]\nfunction = "orders"\n')
    client("s3").create_bucket(Bucket="ci-cache")
    existing_function("orders")

    def runner(name: str) -> tuple[dict[str, Any], str]:
        env = {**os.environ, "PHOTON_BUNDLE_CACHE": str(tmp_path / name / "cache")}
        done = subprocess.run([sys.executable, "-m", "bundler", "publish", "lambda", str(project), "--out",
                               str(tmp_path / name / "out")], capture_output=True, text=True, timeout=300,
                              check=False, env=env)
        assert done.returncode == 0, done.stderr
        return json.loads((tmp_path / name / "out" / "manifest.json").read_text()), done.stderr

    first, _ = runner("a")
    assert "shared_cache" not in first
    aws.lines.clear()
    second, err = runner("b")
    assert second["shared_cache"].startswith("s3://ci-cache/fleet/artifacts/") and "not rebuilt" in err
    assert "unchanged, nothing published" in err
    assert aws.writes() == []
    conf = client("lambda").get_function(FunctionName="orders")["Configuration"]
    assert conf["CodeSha256"] == code_sha256(tmp_path / "b" / "out" / "function.zip")
