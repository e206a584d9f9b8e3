"""`photon-bundle targets`: the runtime matrix as a table or JSON."""

from __future__ import annotations

import click

from bundler.cli.common import Console


@click.command()
@click.option("--platform", "platform_filter", help="Only this platform (lambda, gcf, now, vercel, ...).")
@click.option("--json", "json_mode", is_flag=True, help="Print the matrix as JSON on stdout.")
def targets(platform_filter: str | None, json_mode: bool) -> None:
    """Print which engine target each platform runtime needs."""
    from bundler.targets import load_matrix, profile_for  # the table loads when it is shown

    matrix = load_matrix()
    platforms = [platform_filter] if platform_filter else list(matrix.platforms)
    rows: list[dict[str, str]] = []
    for key in platforms:
        info = matrix.platform(key)
        for runtime in matrix.runtimes_for(key):
            for arch in runtime.archs:
                profile = profile_for(runtime, info, arch)
                rows.append(
                    {
                        "platform": key,
                        "runtime": runtime.name,
                        "arch": arch,
                        "os": runtime.os.name,
                        "glibc": runtime.os.glibc or runtime.os.libc,
                        "openssl": runtime.os.openssl,
                        "target": profile.target,
                        "photon_2019": runtime.legacy if arch == "x86_64" and runtime.legacy else "",
                        "deprecated": "yes" if runtime.deprecated else "",
                    }
                )
    console = Console(json_mode=json_mode)
    if json_mode:
        console.data(rows)
        return
    headers = ["platform", "runtime", "arch", "os", "glibc", "openssl", "target", "photon_2019", "deprecated"]
    widths = {h: max(len(h), *(len(r[h]) for r in rows)) for h in headers}
    click.echo("  ".join(h.ljust(widths[h]) for h in headers).rstrip())
    for row in rows:
        click.echo("  ".join(row[h].ljust(widths[h]) for h in headers).rstrip())
