"""`photon-bundle report`: re-render report.html from a manifest, and the size diff against an older one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bundler.cli.common import Console


@click.command("report")
@click.argument("source", type=click.Path(path_type=Path), default=".", required=False)
@click.option("--against", type=click.Path(path_type=Path),
              help="An older manifest.json (or its output folder): print the size diff against it.")
@click.option("--format", "format_", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="The diff on stdout: text, markdown (a pull-request comment) or json.")
@click.option("--threshold", default="1kib", show_default=True,
              help="List packages and files whose size changed by at least this much, e.g. 0, 512, 10kb.")
@click.option("--html/--no-html", default=True, show_default=True,
              help="(Re)write report.html beside the manifest (with the diff when --against is given).")
@click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
def report(source: Path, against: Path | None, format_: str, threshold: str, html: bool, quiet: bool,
           debug: bool) -> None:
    """Render report.html from SOURCE: an output folder, its manifest.json, or a project folder with one
    bundle in .photon-bundle/ (default: the current folder).

    With --against OLD, print what changed since OLD: artifacts, packages and files added, removed,
    grown or shrunk (packages and files from --threshold on; files when both folders hold the
    report-data.json of a --report run). Exit codes: 0 · 2 no manifest there · 3 not a photon-bundle
    manifest · 9 report.html cannot be written.
    """
    from bundler.errors import ConfigError
    from bundler.limits import parse_size
    from bundler.outdir import writing
    from bundler.report.diff import diff, format_markdown, format_text
    from bundler.report.files import REPORT_NAME, read_data, write_report

    del debug  # read by run_guarded from the command line
    console = Console(quiet=quiet)
    try:
        limit = parse_size(threshold)
    except ConfigError as err:
        raise ConfigError(f"--threshold: {err.message}", hint=err.hint) from None
    path, doc = _manifest(source, "SOURCE")
    changes = None
    if against is not None:
        old_path, old = _manifest(against, "--against")
        changes = diff(old, doc, limit, read_data(old_path.parent), read_data(path.parent))
        if format_ == "json":
            console.data({"old": str(old_path), "new": str(path), **changes})
        else:
            text = (format_markdown if format_ == "markdown" else format_text)(changes, str(old_path), str(path))
            click.echo(text.rstrip("\n"))
    if html:
        out = path.parent / REPORT_NAME
        with writing(out):
            write_report(path.parent, doc, diff=changes, against=None if against is None else str(against))
        console.info(f"report: {out}")


def _manifest(source: Path, what: str) -> tuple[Path, dict[str, Any]]:
    """(the manifest's path, the manifest) for an output folder or a manifest.json."""
    from bundler import manifest
    from bundler.errors import ConfigError, ProjectError

    path = source / manifest.MANIFEST_NAME if source.is_dir() else source
    if source.is_dir() and not path.exists():  # a project folder: its one default output folder
        found = sorted(source.glob(f".photon-bundle/*/{manifest.MANIFEST_NAME}"))
        if len(found) > 1:
            raise ConfigError(f"{source} has several bundles: {', '.join(str(f.parent) for f in found)}",
                              hint="pass the output folder of the one to report on")
        path = found[0] if found else path
    doc, why = manifest.load(path)
    if why is not None:
        raise ProjectError(f"{path} ({what}) is not a photon-bundle manifest: {why}",
                           hint="pass the output folder of a photon-bundle run, or its manifest.json")
    if doc is None:
        raise ConfigError(f"no manifest at {path} ({what})",
                          hint="pass the output folder of a photon-bundle run (e.g. .photon-bundle/lambda) "
                               "or its manifest.json")
    return path, doc
