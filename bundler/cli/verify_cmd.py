"""`photon-bundle verify`: check a built artifact (zip or directory) against a runtime's policy."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.cli.common import Console


@click.command("verify")
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option("--platform", "platform_key", required=True, help="Platform: lambda, gcf, netlify, now, vercel, up, ...")
@click.option("--runtime", "runtime_name", help="Runtime name, e.g. nodejs20.x (default: the platform's, if any).")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), default="x86_64", show_default=True,
              help="CPU architecture of the function.")
@click.option("--engine", "engine_kind", type=click.Choice(["auto", "binary", "library", "client"]), default="auto",
              show_default=True,
              help="Query engine to expect: auto (binary or library), binary, library, or client (no native engine).")
@click.option("--layer", "layers", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A layer deployed with the function (zip or folder); counted in the unzipped size only.")
@click.option("--max-zip", help="Zip size limit instead of the platform's, e.g. 25mb.")
@click.option("--max-unzipped", help="Unzipped size limit instead of the platform's, e.g. 250MiB.")
@click.option("--json", "json_mode", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Only the result line on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def verify(
    artifact: Path,
    platform_key: str,
    runtime_name: str | None,
    arch: str,
    engine_kind: str,
    layers: tuple[Path, ...],
    max_zip: str | None,
    max_unzipped: str | None,
    json_mode: bool,
    quiet: bool,
    debug: bool,
) -> None:
    """Check every native file of ARTIFACT (a zip or a folder) against a runtime.

    \b
    Per ELF file: architecture, C library (glibc/musl), needed libraries (system or shipped on
    the rpath), highest symbol versions (GLIBC, GLIBCXX, CXXABI, GCC, OPENSSL). For the artifact:
    the runtime's query engine is present and is the only one, executables keep their exec bit,
    and the sizes fit the platform's limits. Exit code 5 when anything fails.
    """
    from bundler.errors import ConfigError, VerifyError
    from bundler.limits import parse_size
    from bundler.targets import load_matrix, resolve
    from bundler.verify import format_report, unzipped_size, verify_artifact

    del debug  # read by run_guarded from the command line
    console = Console(quiet=quiet, json_mode=json_mode)
    info = load_matrix().platform(platform_key)
    runtime = runtime_name or info.default_runtime
    if runtime is None:
        names = ", ".join(r.name for r in load_matrix().runtimes_for(platform_key))
        raise ConfigError(f"{info.title} needs --runtime", hint=f"choose one of: {names}")
    profile = resolve(platform_key, runtime, arch)
    limits = None
    if max_zip or max_unzipped:
        unzipped_default = None if info.unzipped_max is None else info.unzipped_max - info.reserve
        limits = (
            parse_size(max_zip) if max_zip else info.zip_max,
            parse_size(max_unzipped) if max_unzipped else unzipped_default,
        )
    extra = sum(unzipped_size(layer) for layer in layers)
    report = verify_artifact(
        artifact,
        profile,
        engine_kind=None if engine_kind == "client" else engine_kind,
        extra_unzipped=extra,
        limits=limits,
    )
    if json_mode:
        console.data(report.to_json())
    else:
        console.info(format_report(report))
    if not report.ok:
        errors = len(report.errors)
        raise VerifyError(
            f"{artifact} fails verification: {errors} error{'s' if errors != 1 else ''} against "
            f"{report.runtime_label}"
        )
