"""`photon-bundle publish lambda`: deploy a lambda bundle with boto3 (bundler/publish/)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import click

from bundler.cli.common import Console


@click.group()
def publish() -> None:
    """Deploy a bundle to the cloud (exit 8 when an AWS call fails)."""


@publish.command(name="lambda")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path), default=".", required=False)
@click.option("--function", "function", help="The Lambda function's name (or ARN).")
@click.option("--platform", type=click.Choice(["lambda", "serverless", "netlify"]),
              help="Whose bundle to publish: serverless and netlify bundles hold several functions [default: "
                   "[publish] platform, else lambda].")
@click.option("--function-map", multiple=True, metavar="NAME=LAMBDA",
              help="With --platform serverless|netlify: deploy the bundle's function NAME to LAMBDA (repeatable).")
@click.option("--out", help="The bundle's output folder [default: <project>/.photon-bundle/lambda].")
@click.option("--runtime", help="As for `photon-bundle lambda`, when publish bundles (better: photon-bundle.toml).")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), help="As for `photon-bundle lambda`.")
@click.option("--format", "format_", type=click.Choice(["zip", "layer", "both"]), help="As for `photon-bundle lambda`.")
@click.option("--handler", help="The function's handler (file.export) for --create and the bundle's load check.")
@click.option("--cache", metavar="s3://BUCKET/PREFIX", help="As for `photon-bundle lambda`: the shared cache on S3.")
@click.option("--no-bundle", is_flag=True, help="Publish the output folder as it is; never bundle.")
@click.option("--s3-bucket", help="Upload zips through this bucket (needed over 50 MB; same region as the function).")
@click.option("--s3-prefix", help="Key prefix in --s3-bucket; keys are <prefix><content digest>/<zip>.")
@click.option("--via-s3", is_flag=True, help="Go through --s3-bucket even for zips under 50 MB.")
@click.option("--layer-name", help="The layer's name [default: <function>-prisma-engine].")
@click.option("--publish-version", is_flag=True, help="Publish a function version after the update.")
@click.option("--alias", help="Point this alias at the published version (implies --publish-version).")
@click.option("--create", is_flag=True, help="Create the function when it does not exist (needs --role).")
@click.option("--role", help="Execution role ARN for --create.")
@click.option("--dry-run", is_flag=True, help="Print every AWS call it would make; make none.")
@click.option("--json", "json_mode", is_flag=True, help="Print what was done as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def publish_lambda(project_dir: Path, function: str | None, platform: str | None, function_map: tuple[str, ...],
                   out: str | None, runtime: str | None, arch: str | None, format_: str | None,
                   handler: str | None, cache: str | None, no_bundle: bool, s3_bucket: str | None,
                   s3_prefix: str | None, via_s3: bool, layer_name: str | None, publish_version: bool,
                   alias: str | None, create: bool, role: str | None, dry_run: bool, json_mode: bool, quiet: bool,
                   debug: bool) -> None:
    """Deploy PROJECT's lambda bundle to the function: code (through S3 when over 50 MB), engine layer, version,
    alias. Bundles first when the artifacts are missing or stale; publishes nothing that is already deployed.
    Defaults for the flags come from the [publish] table of photon-bundle.toml; flags win."""
    from bundler.publish.config import check_choices, choose, publish_table, region_env
    from bundler.publish.plan import Request, bundle_from_manifest
    from bundler.publish.source import lambda_bundle

    console = Console(quiet=quiet, json_mode=json_mode)
    table = publish_table(project_dir)
    env = region_env(table, os.environ)
    chosen = choose(table, platform=platform, function=function, function_map=function_map, s3_bucket=s3_bucket,
                    s3_prefix=s3_prefix, layer_name=layer_name, alias=alias)
    platform, function, function_map = chosen.platform, chosen.function, chosen.function_map
    s3_bucket, alias = chosen.s3_bucket, chosen.alias
    check_choices(chosen, format_=format_, create=create, role=role, via_s3=via_s3)
    flags = {"out": out, "runtime": runtime, "arch": arch, "format": format_, "handler": handler, "cache": cache}
    doc, out_dir = lambda_bundle(project_dir, flags, env, console.log, rebuild=not no_bundle and not dry_run,
                                 progress=console.interactive, platform=platform)
    base = Request(function="", layer_name="", s3_bucket=s3_bucket, s3_prefix=chosen.s3_prefix, via_s3=via_s3,
                   create=create, role=role, publish_version=publish_version or bool(alias), alias=alias)
    if platform != "lambda":
        from bundler.publish.functions import check_mapping, function_bundles, parse_function_map

        mapping = parse_function_map(function_map)
        found = function_bundles(doc, str(out_dir.resolve()))
        check_mapping(mapping, found)
        targets = [(found[name][0], replace(base, function=mapping[name], handler=handler or found[name][1]))
                   for name in sorted(mapping)]
    else:
        assert function is not None
        targets = [(bundle_from_manifest(doc, str(out_dir.resolve())),
                    replace(base, function=function, handler=handler,
                            layer_name=chosen.layer_name or f"{function.rsplit(':', 1)[-1]}-prisma-engine"))]
    if dry_run:
        from bundler.publish.dryrun import dry_run_calls

        console.info("dry run: no AWS call is made.")
        planned = []
        for bundle, request in targets:
            reads, calls = dry_run_calls(bundle, request)
            planned.append({"dry_run": True, "function": request.function, "reads": [c.describe() for c in reads],
                            "calls": [c.describe() for c in calls]})
            console.info(f"{request.function}: a run reads")
            for c in reads:
                console.info(f"  {c.describe()}")
            console.info("then makes, at most (each is skipped when AWS already has it):")
            for c in calls:
                console.info(f"  {c.describe()}")
        if json_mode:
            console.data(planned[0] if platform == "lambda" else {"dry_run": True, "functions": planned})
        return
    from bundler.publish.lambda_publish import publish as run_publish

    results = [run_publish(env, bundle, request, console.log) for bundle, request in targets]
    if json_mode:
        console.data(results[0] if platform == "lambda" else
                     {"functions": results, "skipped": all(r["skipped"] for r in results)})
        return
    for result in results:
        if result["skipped"]:
            console.info(f"{result['function_arn']}: unchanged, nothing published (CodeSha256 {result['code_sha256']})")
        else:
            console.info(f"published {result['function_arn']}: CodeSha256 {result['code_sha256']}"
                         + (f", version {result['version']}" if result["version"] else "")
                         + (f", alias {alias}" if alias else "")
                         + (f", layer {result['layer_version_arn']}" if result["layer_version_arn"] else ""))
