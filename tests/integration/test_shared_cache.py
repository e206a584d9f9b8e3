"""The shared cache on S3 (`--cache s3://bucket/prefix`) against moto's real server on 127.0.0.1: runners are
separate `python -m bundler` processes with their own empty local cache, reaching moto through AWS_ENDPOINT_URL
as a CI job's boto3 would; what each one asked the server comes from the server's request log."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.aws_server import RequestLog, client
from tests.mirror_server import MirrorServer, cli_env, compile_elf, publish_engine
from tests.projects import TWO_FUNCTION_SERVERLESS, make_project

BUCKET = "ci-cache"
CACHE = f"s3://{BUCKET}/fleet"
VERSION = "0123456789abcdef0123456789abcdef01234567"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def runner_env(tmp: Path, name: str, **extra: str) -> dict[str, str]:
    """A CI runner: os.environ with the AWS settings the `aws` fixture made, its own empty local caches."""
    return cli_env(tmp / name / "cache", tmp / name / "home", **extra)


def run(argv: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The CLI as a process (human output on stderr), and the manifest.json it wrote in its --out folder."""
    result = subprocess.run([sys.executable, "-m", "bundler", *argv], capture_output=True, text=True, env=env,
                            timeout=300, check=False)
    written = Path(argv[argv.index("--out") + 1]) / "manifest.json"
    return result, (json.loads(written.read_text()) if result.returncode == 0 else {})


def objects(prefix: str = "fleet/") -> dict[str, dict[str, Any]]:
    s3 = client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: o for o in listed}


def body(key: str) -> bytes:
    data: bytes = client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return data


def put_raw(key: str, data: bytes, sha: str) -> None:
    """Write an object behind photon-bundle's back, recording `sha` with it (a damaged or planted object)."""
    client("s3").put_object(Bucket=BUCKET, Key=key, Body=data, Metadata={"sha256": sha})


@pytest.fixture
def project(tmp_path: Path, elf_cache: Path) -> Path:
    app = make_project(tmp_path / "app", elf_cache=elf_cache)
    (app / "photon-bundle.toml").write_text(f'cache = "{CACHE}"\n\n[lambda]\nruntime = "nodejs20.x"\n')
    return app


@pytest.fixture
def bucket(aws: RequestLog) -> RequestLog:
    client("s3").create_bucket(Bucket=BUCKET)
    aws.lines.clear()
    return aws


def no_node_env(env: dict[str, str]) -> dict[str, str]:
    """The same runner without node on PATH: a build there cannot load-check (it says so and records it)."""
    return {**env, "PATH": "/nonexistent"}


def test_second_runner_downloads_the_artifacts_instead_of_building(bucket: RequestLog, project: Path,
                                                                   tmp_path: Path) -> None:
    first, doc1 = run(["lambda", str(project), "--out", str(tmp_path / "out1")], runner_env(tmp_path, "a"))
    assert first.returncode == 0, first.stderr
    assert "shared_cache" not in doc1 and doc1["load_check"]["skipped"] is False
    stored = objects()
    fingerprint = doc1["inputs_fingerprint"]
    index_key = f"fleet/artifacts/{fingerprint}.json"
    zip1 = (tmp_path / "out1" / "function.zip").read_bytes()
    assert set(stored) == {index_key, f"fleet/blobs/{sha256(zip1)}"}
    assert body(f"fleet/blobs/{sha256(zip1)}") == zip1
    assert "shared cache: uploaded 1 artifact(s)" in first.stderr

    # another machine: its own checkout elsewhere, an empty local cache, no node on PATH (a build there would
    # record "load check skipped: no node on PATH"); it gets the artifact from S3 and builds nothing
    checkout = tmp_path / "runner-b" / "checkout"
    shutil.copytree(project, checkout, symlinks=True)
    bucket.lines.clear()
    second, doc2 = run(["lambda", str(checkout), "--out", str(tmp_path / "out2")],
                       no_node_env(runner_env(tmp_path, "b")))
    assert second.returncode == 0, second.stderr
    assert doc2.get("shared_cache") == f"s3://{BUCKET}/{index_key}", second.stderr
    assert doc2["inputs_fingerprint"] == fingerprint
    assert "not rebuilt" in second.stderr and "load check skipped" not in second.stderr
    assert doc2["load_check"] == doc1["load_check"]  # the producer's check, carried over with the contents
    assert doc2["out_dir"] == str((tmp_path / "out2").resolve())
    assert (tmp_path / "out2" / "function.zip").read_bytes() == zip1
    assert bucket.writes() == []  # nothing uploaded by a runner that built nothing
    assert any(f"GET /{BUCKET}/fleet/blobs/{sha256(zip1)} " in line for line in bucket.lines)

    # the control: the same runner without the shared cache builds, and its build cannot load-check
    (checkout / "photon-bundle.toml").write_text('[lambda]\nruntime = "nodejs20.x"\n')
    third, doc3 = run(["lambda", str(checkout), "--out", str(tmp_path / "out3")],
                      no_node_env(runner_env(tmp_path, "c")))
    assert third.returncode == 0, third.stderr
    assert "load check skipped: no `node` on PATH" in third.stderr
    assert doc3["load_check"]["skipped"] is True and "shared_cache" not in doc3

    # a build whose load check could not run is not shared (a hit must have been load-checked)
    (checkout / "photon-bundle.toml").write_text(f'cache = "{CACHE}"\n\n[lambda]\nruntime = "nodejs20.x"\n')
    (checkout / "handler.js").write_text((checkout / "handler.js").read_text() + "\n// v2\n")
    bucket.lines.clear()
    fifth, doc5 = run(["lambda", str(checkout), "--out", str(tmp_path / "out5")],
                      no_node_env(runner_env(tmp_path, "e")))
    assert fifth.returncode == 0, fifth.stderr
    assert "not uploading: the load check did not run" in fifth.stderr and bucket.writes() == []
    assert doc5["inputs_fingerprint"] != fingerprint

    # the human summary says where the artifacts came from
    fourth, _ = run(["lambda", str(project), "--out", str(tmp_path / "out4"), "--cache", CACHE],
                    runner_env(tmp_path, "d"))
    assert fourth.returncode == 0, fourth.stderr
    assert "function.zip" in fourth.stderr and "(from the shared cache, not rebuilt)" in fourth.stderr


def _prime(project: Path, tmp_path: Path) -> tuple[dict[str, Any], bytes]:
    first, doc = run(["lambda", str(project), "--out", str(tmp_path / "out1")], runner_env(tmp_path, "a"))
    assert first.returncode == 0, first.stderr
    return doc, (tmp_path / "out1" / "function.zip").read_bytes()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _other_zip(data: bytes) -> bytes:
    """The same zip with one file's contents changed: a self-consistent artifact of other inputs."""
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "handler.js":
                content = content.replace(b"exports", b"EXPORTS", 1)
            dst.writestr(info, content)
    return out.getvalue()


@pytest.mark.parametrize("damage", ["blob-bytes", "index-bytes", "planted-zip", "blob-missing", "no-sha256"])
def test_damaged_object_is_refused_and_rebuilt(bucket: RequestLog, project: Path, tmp_path: Path,
                                               damage: str) -> None:
    doc1, zip1 = _prime(project, tmp_path)
    blob = f"fleet/blobs/{sha256(zip1)}"
    index_key = f"fleet/artifacts/{doc1['inputs_fingerprint']}.json"
    good_index = body(index_key)
    if damage == "blob-bytes":  # bit rot: same length, the recorded sha256 kept
        put_raw(blob, _flip(zip1, len(zip1) // 2), sha256(zip1))
        reason = "damaged"
    elif damage == "index-bytes":
        put_raw(index_key, _flip(good_index, 10), sha256(good_index))
        reason = "damaged"
    elif damage == "blob-missing":  # expired by a lifecycle rule while its index stayed
        client("s3").delete_object(Bucket=BUCKET, Key=blob)
        reason = "is missing"
    elif damage == "no-sha256":  # written by something else, with nothing to check it against
        client("s3").put_object(Bucket=BUCKET, Key=blob, Body=zip1)
        reason = "no sha256 recorded"
    else:  # a zip of other contents, recorded consistently everywhere: only the contents check can tell
        planted = _other_zip(zip1)
        index = json.loads(good_index)
        index["blobs"][0].update(sha256=sha256(planted), bytes=len(planted))  # its content digest still claims ours
        data = json.dumps(index).encode()
        put_raw(f"fleet/blobs/{sha256(planted)}", planted, sha256(planted))
        put_raw(index_key, data, sha256(data))
        reason = "does not hold this run's planned files"
    second, doc2 = run(["lambda", str(project), "--out", str(tmp_path / "out2")], runner_env(tmp_path, "b"))
    assert second.returncode == 0, second.stderr
    assert "warning: shared cache: refused" in second.stderr and reason in second.stderr
    assert "shared_cache" not in doc2 and doc2["load_check"]["skipped"] is False  # built and load-checked
    assert (tmp_path / "out2" / "function.zip").read_bytes() == zip1
    # the rebuilt runner's upload replaced what was refused: a third runner gets the good artifact
    assert body(blob) == zip1
    assert json.loads(body(index_key))["blobs"][0]["sha256"] == sha256(zip1)
    third, doc3 = run(["lambda", str(project), "--out", str(tmp_path / "out3")], runner_env(tmp_path, "c"))
    assert third.returncode == 0, third.stderr
    assert doc3["shared_cache"].endswith(index_key) and (tmp_path / "out3" / "function.zip").read_bytes() == zip1


def test_parallel_writers_never_show_a_torn_entry(bucket: RequestLog, project: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runners build and upload the same fingerprint at once (--force) while a reader keeps fetching it
    through the code a runner uses: every read is a miss or a whole, verified hit, never a refusal."""
    from bundler.shared_cache.artifacts import fetch
    from bundler.shared_cache.location import parse_location
    from bundler.shared_cache.store import SharedStore

    doc1, zip1 = _prime(project, tmp_path)  # the fingerprint, and a plan to check reads against
    fingerprint = doc1["inputs_fingerprint"]
    for key in objects():
        client("s3").delete_object(Bucket=BUCKET, Key=key)
    units = _planned_units(project, monkeypatch)
    digests = {a["path"]: a["content_digest"] for a in doc1["artifacts"]}
    outcomes: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            lines: list[str] = []
            store = SharedStore(parse_location(CACHE), dict(os.environ), lines.append)
            with ExitStack() as stack:
                got = fetch(store, fingerprint, digests, units, tmp_path / "reader", stack, lines.append)
            outcomes.append("hit" if got is not None else "refused" if any("refused" in x for x in lines) else "miss")

    (tmp_path / "reader").mkdir()
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    procs = [subprocess.Popen([sys.executable, "-m", "bundler", "lambda", str(project), "--force", "--out",
                               str(tmp_path / f"w{i}"), "-q"], env=runner_env(tmp_path, f"w{i}"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        threading.Event().wait(1.0)  # a few reads after both finished
        stop.set()
        thread.join(timeout=60)
    assert "refused" not in outcomes and "miss" in outcomes and outcomes[-1] == "hit", outcomes
    assert [k for k in objects() if "/artifacts/" in k] == [f"fleet/artifacts/{fingerprint}.json"]
    assert body(f"fleet/blobs/{sha256(zip1)}") == zip1


def _planned_units(project: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """This project's planned artifacts, as the pipeline plans them (what a reader checks a hit against): the
    pipeline runs up to the step that would fetch or write them."""
    import bundler.bundle as pipeline
    from bundler.options import load_config, option_keys, resolve
    from platforms import REGISTRY
    from platforms import adapter as adapter_for

    captured: dict[str, list[Any]] = {}

    def planned_only(planned: list[Any], *args: Any, **kwargs: Any) -> Any:
        captured.update(pipeline.planned_units(planned))
        raise _PlannedSignal

    adapter = adapter_for("lambda")
    config = load_config(project, list(REGISTRY), {"lambda": option_keys(adapter.extras)})
    options = resolve("lambda", config, {}, {"out": str(project.parent / "plan-only")}, adapter.extras)
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_produce", planned_only)
        with pytest.raises(_PlannedSignal):
            pipeline.bundle(adapter, project, options, {}, lambda line: None)
    return captured


class _PlannedSignal(Exception):  # noqa: N818 - a signal, not an error
    pass


def test_engine_from_the_shared_cache_is_verified(bucket: RequestLog, tmp_path: Path, elf_cache: Path) -> None:
    """An engine not in the project: the first runner gets it from the mirror and shares it; the next, whose
    mirror is unreachable, gets it from S3 checked against its sha256; a damaged one is refused."""
    project = make_project(tmp_path / "app", engine_kind="binary", targets=("debian-openssl-3.0.x",),
                           elf_cache=elf_cache, engines_version=VERSION)
    served = compile_elf(tmp_path / "build" / "engine", source="int main(void) { return 7; }\n")
    published = publish_engine(tmp_path / "mirror", VERSION, "rhel-openssl-3.0.x", "binary", served.read_bytes())
    key = f"fleet/engines/{VERSION}/rhel-openssl-3.0.x/query-engine-rhel-openssl-3.0.x"
    argv = ["lambda", str(project), "--runtime", "nodejs20.x", "--cache", CACHE, "--no-verify"]
    with MirrorServer(tmp_path / "mirror") as server:
        first, doc1 = run([*argv, "--out", str(tmp_path / "o1"), "--mirror", server.base_url],
                          runner_env(tmp_path, "a"))
        assert first.returncode == 0, first.stderr
        assert doc1["engine"]["source"] == "mirror" and server.count(published.url_path, status=200) == 1
        assert body(key) == published.data
        # the same engine again on the mirror's side: a fresh runner whose mirror is down takes it from S3
        dead = "http://127.0.0.1:9"
        second, doc2 = run([*argv, "--out", str(tmp_path / "o2"), "--mirror", dead, "--force"],
                           runner_env(tmp_path, "b"))
        assert second.returncode == 0, second.stderr
        assert doc2["engine"]["source"] == "s3" and doc2["engine"]["sha256"] == sha256(published.data)
        cached = tmp_path / "b" / "cache" / "engines" / VERSION / "rhel-openssl-3.0.x"
        assert (cached / "query-engine-rhel-openssl-3.0.x").read_bytes() == published.data  # now in its local cache
        # `engines fetch` takes the same path: a CI step can warm a runner's cache from S3
        warm = subprocess.run([sys.executable, "-m", "bundler", "engines", "fetch", "--target", "rhel-openssl-3.0.x",
                               "--kind", "binary", "--version", VERSION, "--mirror", dead, "--json"],
                              capture_output=True, text=True, timeout=120, check=False,
                              env=runner_env(tmp_path, "w", PHOTON_BUNDLE_SHARED_CACHE=CACHE))
        assert warm.returncode == 0, warm.stderr
        assert [(e["source"], e["sha256"]) for e in json.loads(warm.stdout)] == [("s3", sha256(published.data))]
        # damaged in the bucket (the sha256 recorded with it kept): refused, fetched from the mirror, replaced
        put_raw(key, _flip(published.data, 100), sha256(published.data))
        third, doc3 = run([*argv, "--out", str(tmp_path / "o3"), "--mirror", server.base_url, "--force"],
                          runner_env(tmp_path, "c"))
        assert third.returncode == 0, third.stderr
        assert "refused" in third.stderr and "damaged" in third.stderr
        assert doc3["engine"]["source"] == "mirror" and server.count(published.url_path, status=200) == 2
        assert body(key) == published.data
        # and nowhere to get it: the error lists the shared cache among the sources tried
        put_raw(key, _flip(published.data, 100), sha256(published.data))
        fourth, _ = run([*argv, "--out", str(tmp_path / "o4"), "--mirror", dead, "--force"],
                        runner_env(tmp_path, "d"))
        assert fourth.returncode == 6, fourth.stderr
        assert f"shared cache: s3://{BUCKET}/{key} refused" in fourth.stderr


def test_cache_unavailable_is_a_warning_and_the_bundle_is_built(aws: RequestLog, project: Path,
                                                                 tmp_path: Path) -> None:
    # no such bucket: one warning naming the AWS error, then the bundle is built as without a cache
    result, doc = run(["lambda", str(project), "--out", str(tmp_path / "out")], runner_env(tmp_path, "a"))
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("warning: shared cache") == 1 and "NoSuchBucket" in result.stderr
    assert "testing-secret" not in result.stderr and "Traceback" not in result.stderr
    assert doc["load_check"]["skipped"] is False and "shared_cache" not in doc
    # no credentials at all: the same, and no secret or traceback printed
    env = {k: v for k, v in runner_env(tmp_path, "b").items() if not k.startswith("AWS_ACCESS_KEY_ID")
           and not k.startswith("AWS_SECRET")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    result, doc = run(["lambda", str(project), "--out", str(tmp_path / "out2")], env)
    assert result.returncode == 0, result.stderr
    assert "no AWS credentials found" in result.stderr and "Traceback" not in result.stderr
    assert "testing-secret" not in result.stderr
    # --offline never touches the network: the cache is not used, and says so
    aws.lines.clear()
    result, doc = run(["lambda", str(project), "--out", str(tmp_path / "out3"), "--offline", "--force"],
                      runner_env(tmp_path, "c"))
    assert result.returncode == 0, result.stderr
    assert "not used: --offline" in result.stderr and aws.lines == []


def test_bad_cache_location_is_exit_2(aws: RequestLog, project: Path, tmp_path: Path) -> None:
    result, _doc = run(["lambda", str(project), "--out", str(tmp_path / "out"), "--cache", "s3://Bad_Bucket/x",
                       ], runner_env(tmp_path, "a"))
    assert result.returncode == 2
    assert "--cache" in result.stderr and "not an S3 bucket name" in result.stderr and aws.lines == []
    assert not (tmp_path / "out").exists()


def test_several_functions_come_down_together(bucket: RequestLog, project: Path, tmp_path: Path) -> None:
    """A serverless bundle (one zip per function, each with its own engine target) is shared as one entry; the
    second runner's serverless.yml copy points at its own output folder."""
    (project / "serverless.yml").write_text(TWO_FUNCTION_SERVERLESS)
    (project / "photon-bundle.toml").write_text(f'cache = "{CACHE}"\nverify = false  # the stand-in arm64 engine\n')
    first, doc1 = run(["serverless", str(project), "--out", str(tmp_path / "s1")], runner_env(tmp_path, "a"))
    assert first.returncode == 0, first.stderr
    names = sorted(a["path"] for a in doc1["artifacts"])
    assert names == ["functions/api.zip", "functions/worker.zip"]
    checkout = tmp_path / "runner-b" / "checkout"
    shutil.copytree(project, checkout, symlinks=True)
    bucket.lines.clear()
    second, doc2 = run(["serverless", str(checkout), "--out", str(tmp_path / "s2")],
                       no_node_env(runner_env(tmp_path, "b")))
    assert second.returncode == 0, second.stderr
    assert "2 artifact(s)" in second.stderr and doc2["shared_cache"].endswith(f"{doc1['inputs_fingerprint']}.json")
    for name in names:
        assert (tmp_path / "s2" / name).read_bytes() == (tmp_path / "s1" / name).read_bytes()
    assert bucket.writes() == []
    copy = (tmp_path / "s2" / "serverless.yml").read_text()
    assert str((tmp_path / "s2").resolve()) in copy and str(tmp_path / "s1") not in copy
