"""Pure parts of the shared cache and of publish's config: the S3 location and its keys, the `cache` option and
its variable, what the inputs fingerprint leaves out, and the [publish] table."""

from __future__ import annotations

from pathlib import Path

import pytest

from bundler.errors import ConfigError
from bundler.options import load_config, resolve
from bundler.publish.config import check_choices, choose, parse_table, region_env
from bundler.reuse import settings_key
from bundler.shared_cache.location import parse_location

SHA = "ab" * 32


@pytest.mark.parametrize(("url", "bucket", "prefix"), [
    ("s3://ci-cache", "ci-cache", ""),
    ("s3://ci-cache/", "ci-cache", ""),
    ("s3://ci-cache/fleet", "ci-cache", "fleet/"),
    ("s3://ci.cache-1/a/b/", "ci.cache-1", "a/b/"),
])
def test_location(url: str, bucket: str, prefix: str) -> None:
    loc = parse_location(url)
    assert (loc.bucket, loc.prefix) == (bucket, prefix)
    assert loc.url == f"s3://{bucket}/{prefix}"
    assert loc.blob_key(SHA) == f"{prefix}blobs/{SHA}"
    assert loc.index_key(SHA) == f"{prefix}artifacts/{SHA}.json"
    assert loc.engine_key("0123abc", "rhel-openssl-3.0.x", "libquery_engine-rhel-openssl-3.0.x.so.node") == (
        f"{prefix}engines/0123abc/rhel-openssl-3.0.x/libquery_engine-rhel-openssl-3.0.x.so.node")


@pytest.mark.parametrize(("url", "says"), [
    ("/tmp/cache", "s3://bucket/prefix"),
    ("https://bucket/x", "s3://bucket/prefix"),
    ("s3://Bad_Bucket/x", "not an S3 bucket name"),
    ("s3://ab", "not an S3 bucket name"),
    ("s3://ci-cache/a/../b", "not a usable key prefix"),
    ("s3://ci-cache/a//b", "not a usable key prefix"),
])
def test_bad_location(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says.replace(".", r"\.")):
        parse_location(url)


def test_keys_only_take_digests() -> None:
    loc = parse_location("s3://ci-cache/x")
    with pytest.raises(ValueError, match="not a sha256"):
        loc.blob_key("../../etc/passwd")
    with pytest.raises(ValueError, match="not an inputs fingerprint"):
        loc.index_key("x" * 64)


def test_cache_option_from_file_flag_and_its_own_variable(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('cache = "s3://ci-cache/fleet"\n')
    config = load_config(tmp_path, ["lambda"], {})
    assert resolve("lambda", config, {}, {}).cache == "s3://ci-cache/fleet/"
    # PHOTON_BUNDLE_CACHE stays the local cache folder; the shared cache's variable has its own name
    options = resolve("lambda", config, {"PHOTON_BUNDLE_CACHE": "/var/cache/pb"}, {})
    assert options.cache == "s3://ci-cache/fleet/"
    options = resolve("lambda", config, {"PHOTON_BUNDLE_SHARED_CACHE": "s3://other/p"}, {})
    assert (options.cache, options.source("cache")) == ("s3://other/p/", "PHOTON_BUNDLE_SHARED_CACHE")
    options = resolve("lambda", config, {}, {"cache": "s3://flag-bucket"})
    assert (options.cache, options.source("cache")) == ("s3://flag-bucket/", "--cache")
    with pytest.raises(ConfigError, match=r"--cache: bad value .* not an S3 bucket name"):
        resolve("lambda", config, {}, {"cache": "s3://No_Such"})


def test_fingerprint_settings_leave_out_where_things_are_kept() -> None:
    """Runners with different local cache folders, output folders or shared cache names share artifacts; what
    changes the bytes still counts."""
    base = resolve("lambda", {}, {}, {})
    key = settings_key("lambda", base, {})
    elsewhere = resolve("lambda", {}, {}, {"out": "/other/out", "cache": "s3://x-bucket/p", "mirror": "http://m"})
    env = {"PHOTON_BUNDLE_CACHE": "/runner/2/cache", "PHOTON_BUNDLE_SHARED_CACHE": "s3://y-bucket",
           "PHOTON_BUNDLE_OUT": "/tmp/o", "PHOTON_BUNDLE_OFFLINE": "1", "HOME": "/home/runner"}
    assert settings_key("lambda", elsewhere, env) == key
    assert settings_key("lambda", resolve("lambda", {}, {}, {"arch": "arm64"}), {}) != key
    assert settings_key("lambda", base, {"PRISMA_CLI_QUERY_ENGINE_TYPE": "binary"}) != key
    assert settings_key("lambda", base, {"PHOTON_BUNDLE_RUNTIME": "nodejs18.x"}) != key


def test_publish_section_is_known_to_every_command(tmp_path: Path) -> None:
    (tmp_path / "photon-bundle.toml").write_text('[publish]\nfunction = "orders"\n[lambda]\nruntime = "nodejs20.x"\n')
    assert load_config(tmp_path, ["lambda"], {}, checked=["lambda"])["publish"] == {"function": "orders"}


def test_publish_table_and_flags() -> None:
    table = parse_table({"publish": {"platform": "serverless", "s3_bucket": "deploys", "s3_prefix": "ci/",
                                     "alias": "live", "region": "eu-west-1", "function": "ignored-here",
                                     "functions": {"api": "shop-prod-api", "worker": "shop-prod-worker"}}}, "p.toml")
    chosen = choose(table, platform=None, function=None, function_map=(), s3_bucket=None, s3_prefix=None,
                    layer_name=None, alias=None)
    assert chosen.platform == "serverless" and chosen.function is None
    assert chosen.function_map == ("api=shop-prod-api", "worker=shop-prod-worker")
    assert (chosen.s3_bucket, chosen.s3_prefix, chosen.alias) == ("deploys", "ci/", "live")
    check_choices(chosen, format_=None, create=False, role=None, via_s3=False)
    # flags win; a lambda bundle takes `function`, not the map
    flags = choose(table, platform="lambda", function=None, function_map=(), s3_bucket="mine", s3_prefix="",
                   layer_name="engine", alias=None)
    assert (flags.platform, flags.function, flags.function_map) == ("lambda", "ignored-here", ())
    assert (flags.s3_bucket, flags.s3_prefix, flags.layer_name) == ("mine", "", "engine")
    assert region_env(table, {})["AWS_REGION"] == "eu-west-1"
    assert region_env(table, {"AWS_DEFAULT_REGION": "us-west-2"}).get("AWS_REGION") is None
    assert region_env(table, {"AWS_REGION": "us-east-1"})["AWS_REGION"] == "us-east-1"


@pytest.mark.parametrize(("table", "says"), [
    ({"functon": "x"}, "(?s)unknown key 'functon' in \\[publish\\].*did you mean function"),
    ({"s3_bucket": 3}, "s3_bucket must be a non-empty string"),
    ({"functions": ["api=x"]}, "functions must be a table"),
    ({"functions": {"api": ""}}, "'api' must name a Lambda function"),
    ({"platform": "lambada"}, "platform 'lambada' is not one of lambda, serverless, netlify"),
])
def test_publish_table_errors(table: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_table({"publish": table}, "p.toml")


def test_choices_that_cannot_be_deployed() -> None:
    empty = parse_table({}, "p.toml")
    lam = choose(empty, platform=None, function=None, function_map=(), s3_bucket=None, s3_prefix=None,
                 layer_name=None, alias=None)
    with pytest.raises(ConfigError, match="needs --function NAME \\(or `function` in \\[publish\\]"):
        check_choices(lam, format_=None, create=False, role=None, via_s3=False)
    many = choose(empty, platform="netlify", function=None, function_map=(), s3_bucket=None, s3_prefix=None,
                  layer_name=None, alias=None)
    with pytest.raises(ConfigError, match=r"\[publish\.functions\] table"):
        check_choices(many, format_=None, create=False, role=None, via_s3=False)
