"""The `[publish]` table of photon-bundle.toml: what `photon-bundle publish lambda` deploys where, for a CI job
that runs it without flags. Flags win over the table; the table is checked only by the publish command.

    [publish]
    platform = "serverless"            # --platform
    s3_bucket = "my-deploys"           # --s3-bucket
    s3_prefix = "orders/"              # --s3-prefix
    alias = "live"                     # --alias
    region = "eu-west-1"               # when neither AWS_REGION nor AWS_DEFAULT_REGION is set

    [publish.functions]                # --function-map: the bundle's function -> the Lambda function
    api = "shop-prod-api"
    worker = "shop-prod-worker"

`function` (--function) and `layer_name` (--layer-name) are for a lambda bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bundler.errors import ConfigError, closest, echo
from bundler.publish.functions import MULTI_PLATFORMS

TABLE = "publish"
TEXT_KEYS = ("platform", "function", "s3_bucket", "s3_prefix", "layer_name", "alias", "region")
KEYS = (*TEXT_KEYS, "functions")
PLATFORMS = ("lambda", *MULTI_PLATFORMS)


@dataclass(frozen=True)
class PublishTable:
    platform: str | None = None
    function: str | None = None
    functions: Mapping[str, str] = field(default_factory=dict)
    s3_bucket: str | None = None
    s3_prefix: str | None = None
    layer_name: str | None = None
    alias: str | None = None
    region: str | None = None


def publish_table(project_dir: Path) -> PublishTable:
    """The project's `[publish]` table, checked; empty when there is none."""
    from bundler.options import CONFIG_FILE, load_config
    from platforms import REGISTRY

    return parse_table(load_config(project_dir, list(REGISTRY), {}, checked=()), f"{project_dir / CONFIG_FILE}")


def parse_table(config: Mapping[str, Any], where: str) -> PublishTable:
    table = config.get(TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: `{TABLE}` must be a table ([{TABLE}])")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown key {echo(key)} in [{TABLE}]", hint=closest(key, list(KEYS)))
        if key == "functions":
            values[key] = _functions(value, where)
        elif not isinstance(value, str) or (not value.strip() and key != "s3_prefix"):
            raise ConfigError(f"{where}: [{TABLE}] {key} must be a non-empty string, not {echo(value)}")
        else:
            values[key] = value.strip()
    if values.get("platform") not in (None, *PLATFORMS):
        raise ConfigError(f"{where}: [{TABLE}] platform {echo(values['platform'])} is not one of "
                          f"{', '.join(PLATFORMS)}", hint=closest(str(values["platform"]), list(PLATFORMS)))
    return PublishTable(**values)


def _functions(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{TABLE}] functions must be a table of NAME = \"LAMBDA_FUNCTION\"",
                          hint=f"[{TABLE}.functions] then one line per function, e.g. orders = \"orders-api-prod\"")
    bad = [k for k, v in value.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ConfigError(f"{where}: [{TABLE}.functions] {echo(bad[0])} must name a Lambda function (a string)")
    return {str(k): v.strip() for k, v in value.items()}


@dataclass(frozen=True)
class Choices:
    """What a publish deploys where: the flags, with the [publish] table's values where a flag was not given."""

    platform: str
    function: str | None
    function_map: tuple[str, ...]
    s3_bucket: str | None
    s3_prefix: str
    layer_name: str | None
    alias: str | None


def choose(table: PublishTable, *, platform: str | None, function: str | None, function_map: tuple[str, ...],
           s3_bucket: str | None, s3_prefix: str | None, layer_name: str | None, alias: str | None) -> Choices:
    """Flags win over the table; a lambda bundle takes `function`, a serverless or netlify one `functions`."""
    chosen = platform or table.platform or "lambda"
    many = chosen != "lambda"
    return Choices(
        platform=chosen, function=function or (None if many else table.function),
        function_map=function_map or (tuple(f"{k}={v}" for k, v in table.functions.items()) if many else ()),
        s3_bucket=s3_bucket or table.s3_bucket, s3_prefix=s3_prefix if s3_prefix is not None else table.s3_prefix or "",
        layer_name=layer_name or table.layer_name, alias=alias or table.alias)


def region_env(table: PublishTable, env: Mapping[str, str]) -> dict[str, str]:
    """The environment for boto3: the table's region when neither AWS_REGION nor AWS_DEFAULT_REGION is set."""
    if table.region and not env.get("AWS_REGION") and not env.get("AWS_DEFAULT_REGION"):
        return {**env, "AWS_REGION": table.region}
    return dict(env)


def check_choices(chosen: Choices, *, format_: str | None, create: bool, role: str | None, via_s3: bool) -> None:
    """Refuse flag combinations that cannot be deployed, before anything is bundled or asked."""
    if create and not role:
        raise ConfigError("--create needs --role ROLE_ARN: the execution role of the new function",
                          hint="e.g. --role arn:aws:iam::123456789012:role/lambda-exec")
    if via_s3 and not chosen.s3_bucket:
        raise ConfigError("--via-s3 needs --s3-bucket BUCKET")
    if chosen.platform == "lambda" and (not chosen.function or chosen.function_map):
        raise ConfigError("publish lambda needs --function NAME (or `function` in [publish] of photon-bundle.toml); "
                          "--function-map is for --platform serverless|netlify")
    if chosen.platform != "lambda" and (chosen.function or not chosen.function_map or format_ in ("layer", "both")):
        raise ConfigError(f"--platform {chosen.platform} publishes every function of the bundle: give --function-map "
                          "NAME=LAMBDA for each (or a [publish.functions] table), not --function; zips only, no layer")
