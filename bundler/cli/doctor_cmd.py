"""`photon-bundle doctor`: the deployment guide's database-connection advice as checks. Parse, call, present."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from bundler.cli.common import Console

PLATFORMS = ["lambda", "gcf", "netlify", "now", "vercel", "up", "serverless"]


@click.command(name="doctor")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path), default=".", required=False)
@click.option("--platform", "platform", type=click.Choice(PLATFORMS), required=True,
              help="Platform whose config describes the functions (memory, concurrency, environment).")
@click.option("--max-connections", type=click.IntRange(min=1), help="The database's max_connections (M).")
@click.option("--check-database", is_flag=True,
              help="Connect to the datasource URL and read max_connections, usage and idle timeouts.")
@click.option("--db-instance", metavar="CLASS", help="RDS instance class (db.t3.micro ...): M from RDS's formula.")
@click.option("--aurora", is_flag=True, help="With --db-instance: Aurora's defaults instead of RDS's.")
@click.option("--db-service", metavar="NAME", help="Managed database: neon, supabase, planetscale.")
@click.option("--db-size", metavar="SIZE",
              help="With --db-service: compute size or plan (neon 0.25..8, supabase micro..4xl).")
@click.option("--memory", type=click.IntRange(min=128, max=10240), help="Function memory in MB (overrides the config).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Concurrent containers C (overrides the config).")
@click.option("--stage", help="Serverless stage for ${opt:stage} / ${sls:stage} [default: dev].")
@click.option("--functions-dir", help="Netlify functions folder [default: netlify.toml, else netlify/functions].")
@click.option("--out", help="Output folder of the last bundle [default: <project>/.photon-bundle/<platform>].")
@click.option("--no-require-timing", is_flag=True, help="Do not time the handler's require in node.")
@click.option("--strict", is_flag=True, help="Exit 10 on warnings too (errors always exit 10).")
@click.option("--json", "json_mode", is_flag=True, help="Print the findings as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def doctor(project_dir: Path, platform: str, json_mode: bool, quiet: bool, debug: bool, strict: bool,
           **flags: Any) -> None:
    """Check what happens to database connections once the functions run: where each handler creates its
    Prisma client, N connections per container × C containers against the database's max_connections,
    timeouts and idle settings, and what a cold start pays. Credentials are never printed."""
    from bundler.doctor.run import DoctorOptions, diagnose
    from bundler.errors import FindingsError
    from bundler.options import load_config, option_keys, resolve
    from bundler.project import read_project
    from platforms import REGISTRY
    from platforms import adapter as adapter_for

    console = Console(quiet=quiet, json_mode=json_mode)
    env = dict(os.environ)
    adapter = adapter_for(platform)
    config = load_config(project_dir, list(REGISTRY), {platform: option_keys(adapter.extras)}, checked=[platform])
    bundle_flags = {k: flags[k] for k in ("stage", "functions_dir", "out") if flags.get(k) is not None}
    options = resolve(platform, config, env, bundle_flags, adapter.extras)
    out = options.out
    dopts = DoctorOptions(max_connections=flags["max_connections"], db_instance=flags["db_instance"],
                          aurora=flags["aurora"], db_service=flags["db_service"], db_size=flags["db_size"],
                          check_database=flags["check_database"], memory=flags["memory"],
                          concurrency=flags["concurrency"], time_require=not flags["no_require_timing"],
                          out_dir=(Path(out) if Path(out).is_absolute() else Path.cwd() / out) if out else None)
    result = diagnose(platform, read_project(project_dir), options, env, dopts)
    if json_mode:
        console.data(result.doc())
    else:
        click.echo(result.text())
    if result.errors or (strict and result.warnings):
        what = f"{result.errors} error(s)" + (f" and {result.warnings} warning(s) (--strict)" if strict else "")
        raise FindingsError(f"doctor: {what} in {project_dir} for {platform}",
                            hint="apply the fixes listed with each finding")
