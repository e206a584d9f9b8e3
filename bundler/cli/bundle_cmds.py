"""The platform commands (`photon-bundle lambda`, ...): one factory, so every platform shares its flags."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bundler.cli.common import Console

if TYPE_CHECKING:
    from bundler.options import Options

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]

COMMON_OPTIONS: list[Decorator] = [
    click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path), default=".", required=False),
    click.option("--runtime", help="Runtime name, e.g. nodejs20.x (default: config file, engines.node, newest)."),
    click.option("--arch", type=click.Choice(["x86_64", "arm64"]), help="CPU architecture [default: x86_64]."),
    click.option("--out", help="Output folder [default: <project>/.photon-bundle/<platform>]."),
    click.option("--max-size", help="Largest zipped artifact allowed, e.g. 25mb, 50MB, 250MiB, bytes."),
    click.option("--format", "format_", type=click.Choice(["zip", "layer", "both"]),
                 help="zip: one function zip; layer: a Lambda layer with the engine; both [default: zip]."),
    click.option("--exclude", multiple=True, help="Leave out files matching this gitignore-style pattern."),
    click.option("--include", multiple=True, help="Force in files matching this pattern (overrides excludes)."),
    click.option("--layer-node-modules", is_flag=True, default=None,
                 help="With a layer: put production node_modules in it too (nodejs/node_modules)."),
    click.option("--engine-source", type=click.Choice(["auto", "local", "cache", "mirror", "docker"]),
                 help="Where the engine comes from [default: auto = project, cache, Prisma cache, mirror]."),
    click.option("--mirror", help="Engine mirror base URL (else PRISMA_ENGINES_MIRROR, else Prisma's)."),
    click.option("--engine-version", help="prisma-engines commit hash, when the project does not say."),
    click.option("--offline", is_flag=True, default=None, help="Never touch the network."),
    click.option("--cache", metavar="s3://BUCKET/PREFIX",
                 help="Shared cache on S3: engines and whole artifacts (by inputs fingerprint) are read from it and "
                      "written to it; credentials from the standard AWS chain."),
    click.option("--image", help="Docker image for --build docker / --engine-source docker."),
    click.option("--build", type=click.Choice(["none", "docker"]),
                 help="docker: install and generate inside an image matching the runtime [default: none]."),
    click.option("--build-command", help="Shell command run in the container instead of the default recipe."),
    click.option("--build-env", multiple=True, metavar="KEY=VALUE",
                 help="Environment variable for the container build (repeatable)."),
    click.option("--build-timeout", type=float, help="Seconds the container build may take [default: 900]."),
    click.option("--verify/--no-verify", default=None, help="Check every native binary against the runtime."),
    click.option("--load-check", type=click.Choice(["node", "docker", "off"]),
                 help="Prove each artifact loads: require its entry points and the Prisma client in a fresh node "
                      "(node: the local one; docker: inside the runtime's image) [default: node]."),
    click.option("--no-load-check", is_flag=True, default=None, help="Skip the load check (same as --load-check off)."),
    click.option("--load-check-timeout", type=float, help="Seconds each artifact's load check may take [default: 30]."),
    click.option("--bundler", type=click.Choice(["none", "esbuild"]),
                 help="Bundle each entry point with the project's own esbuild (engine and schema.prisma beside it) "
                      "[default: the platform's config, else none]."),
    click.option("--sourcemap/--no-sourcemap", default=None, help="With --bundler esbuild: write .js.map files."),
    click.option("--minify/--no-minify", default=None, help="With --bundler esbuild: minify the bundles."),
    click.option("--prebuilt", metavar="DIR",
                 help="Take DIR, the output of your own bundler, as the function's files; add the engine, "
                      "schema.prisma and the externals' node_modules."),
    click.option("--report", is_flag=True, default=None,
                 help="Write report.html beside the manifest: treemaps of each artifact and of what was left out."),
    click.option("--trace/--no-trace", default=None,
                 help="Ship only the files the entry points reach (followed requires and imports, their packages' "
                      "package.json, the generated client, the engine) instead of the whole production closure."),
    click.option("--force", is_flag=True, default=None, help="Rebuild even when nothing changed."),
    click.option("--json", "json_mode", is_flag=True, help="Print the manifest as JSON on stdout."),
    click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr."),
    click.option("--debug", is_flag=True, help="Show tracebacks for errors."),
]


def bundle_command(platform: str, help_text: str, extra: list[Decorator] | None = None) -> click.Command:
    """A click command that bundles the project for `platform` with the shared flags (plus `extra`)."""

    def run(project_dir: Path, json_mode: bool, quiet: bool, debug: bool, format_: str | None,
            **flags: Any) -> None:
        from bundler.options import load_config, option_keys, output_dir, resolve
        from bundler.outdir import check_out_dir
        from bundler.reuse import quick_reuse
        from platforms import REGISTRY
        from platforms import adapter as adapter_for

        adapter = adapter_for(platform)
        console = Console(quiet=quiet, json_mode=json_mode)
        env = dict(os.environ)
        config = load_config(project_dir, list(REGISTRY), {platform: option_keys(adapter.extras)}, checked=[platform])
        flags["format"] = format_
        flags["exclude"] = tuple(flags.get("exclude") or ())
        flags["include"] = tuple(flags.get("include") or ())
        flags["build_env"] = tuple(flags.get("build_env") or ())
        if flags.pop("no_load_check", None):
            flags["load_check"] = "off"
        options = resolve(platform, config, env, flags, adapter.extras)
        out_dir = output_dir(project_dir, platform, options)
        check_out_dir(project_dir, out_dir, platform)
        doc = quick_reuse(platform, project_dir, out_dir, options, env, whole_env=adapter.reads_environment)
        if doc is not None:
            console.info("nothing changed since the last run: reusing the artifacts (--force rebuilds)")
        else:
            from bundler.bundle import bundle  # the pipeline's imports only when there is work to do

            doc = bundle(adapter, project_dir, options, env, console.log, progress=console.interactive)
        if options.report and doc.get("reused"):  # an earlier --report run wrote it; again if it was removed
            from bundler.report.files import ensure_report

            ensure_report(out_dir, doc)
        doc = {**doc, "out_dir": str(out_dir.resolve())}  # where the artifacts are, for a CI step without --out
        if json_mode:
            console.data(doc)
        else:
            console.info(summary(doc, project_dir, options))

    command: Callable[..., Any] = run
    for decorator in reversed([*COMMON_OPTIONS, *(extra or [])]):
        command = decorator(command)
    return click.command(name=platform, help=help_text)(command)


def summary(doc: dict[str, Any], project_dir: Path, options: Options) -> str:
    from bundler.limits import format_size

    engine = doc["engine"]
    lines = []
    if engine.get("target"):
        lines.append(f"engine: {engine['file']} ({engine['kind']}, {engine['target']}, from {engine['source']})")
        if engine.get("exec_wrapper"):
            lines.append(f"  layer: set AWS_LAMBDA_EXEC_WRAPPER={engine['exec_wrapper']} on the function "
                         f"(engine at {engine['runtime_path']})")
    elif engine.get("note"):
        lines.append(f"engine: none ({engine['note']})")
    else:
        lines.append("engine: none needed (Prisma client engine)")
    for unit in doc.get("units", []):
        e = unit["engine"]
        lines.append(f"  {unit['name']}: {unit['runtime']} {unit['arch']} -> "
                     + (f"{e['target']} engine {e['file']}" if e.get("file") else "no engine"))
    out = options.out or str(project_dir / ".photon-bundle" / doc["platform"])
    if doc.get("layout"):
        lines.insert(0, f"layout: {doc['layout']['label']}")
    for a in doc["artifacts"]:
        lines.append(f"wrote {out}/{a['path']}: {format_size(a['zipped_bytes'])} zipped, "
                     f"{format_size(a['unzipped_bytes'])} unzipped, {a['files']} files"
                     + (" (unchanged, reused)" if doc.get("reused") else "")
                     + (" (from the shared cache, not rebuilt)" if doc.get("shared_cache") else ""))
    for lim in doc["limits"]:
        lines.append(f"  {lim['name']}: {format_size(lim['headroom'])} headroom of {format_size(lim['limit'])}")
    pruned = doc["pruned"]
    lines.append(f"left out {pruned['files']} files ({format_size(pruned['bytes'])}):")
    for reason, slot in sorted(pruned["by_reason"].items(), key=lambda kv: -kv[1]["bytes"]):
        lines.append(f"  {format_size(slot['bytes']):>10}  {slot['files']:>6} files  {reason}")
    lines += doctor_lines(doc.get("doctor"))
    lines.append(f"manifest: {out}/manifest.json")
    if options.report:
        lines.append(f"report: {out}/report.html (open it in a browser)")
    lines += [o["note"] for o in doc.get("outputs", []) if o.get("note")]
    return "\n".join(lines)


def doctor_lines(section: Any) -> list[str]:
    """The doctor's errors and warnings (manifest `doctor` key), as a block of warnings in the summary."""
    if not isinstance(section, dict):
        return []
    if section.get("error"):
        return [str(section["error"])]
    lines = []
    for f in section.get("findings", []):
        if f.get("severity") in ("error", "warning"):
            who = f"{f['function']}: " if f.get("function") else ""
            where = f" ({f['where']})" if f.get("where") else ""
            lines.append(f"  [{f['severity']}] {who}{f['message']}{where}")
            if f.get("fix"):
                lines.append(f"      fix: {f['fix']}")
    if lines:
        counts = section.get("counts", {})
        lines.insert(0, f"doctor warns ({counts.get('error', 0)} error(s), {counts.get('warning', 0)} warning(s) about "
                        f"database connections; details: {section.get('command', 'photon-bundle doctor')}):")
    return lines


WRITE_CONFIG = click.option("--write-config", is_flag=True, default=None,
                            help="Update the platform's config file in place (default: write a copy to the output).")
ENTRY = click.option("--entry", multiple=True,
                     help="Entry file to bundle as a function (repeatable) [default: from the config file].")

# Each platform's command: its help and its own flags besides COMMON_OPTIONS (made when it is invoked or listed).
PLATFORM_COMMANDS: dict[str, tuple[str, list[Decorator]]] = {
    "lambda": (
        "Bundle the project for AWS Lambda: a function zip (and/or a layer) carrying only the engine the runtime "
        "needs.",
        [click.option("--handler", help="The function's handler as Lambda names it, file.export (e.g. "
                                        "src/app.handler); the load check requires that file and checks the export "
                                        "[default: package.json main, else handler.js / index.js].")],
    ),
    "gcf": (
        "Bundle a source zip for Google Cloud Functions: the app, package.json, the lockfile and the generated "
        "Prisma client with the runtime's engine (GCF installs the other dependencies at deploy time; "
        ".gcloudignore is respected).",
        [],
    ),
    "netlify": (
        "Bundle Netlify Functions: one zip per function with only its own files and dependencies and the engine "
        "of the Lambda runtime it runs on, plus Netlify's manifest.json (netlify.toml is read, never written).",
        [click.option("--functions-dir", help="Functions folder [default: netlify.toml, else netlify/functions].")],
    ),
    "now": (
        "Bundle for ZEIT Now v2 (@now/node): one zip per entry point of now.json builds, each checked against its "
        "maxLambdaSize (--max-size; default the build's config, else 5mb; at most 50mb), and an updated now.json.",
        [ENTRY, WRITE_CONFIG],
    ),
    "vercel": (
        "Bundle Vercel functions: one zip per function with the runtime's engine, vercel.json functions entries "
        "(includeFiles for the engine), checked against the 250 MB unzipped limit.",
        [ENTRY, WRITE_CONFIG],
    ),
    "up": (
        "Bundle for apex/up: one zip for the runtime in up.json (default nodejs10.x), .upignore respected, "
        "250 MiB unzipped limit.",
        [],
    ),
    "serverless": (
        "Bundle for the Serverless Framework: one zip per function (package.individually) or one shared, and a "
        "copy of serverless.yml with package.artifact set (--write-config updates yours).",
        [click.option("--stage", help="Stage for ${opt:stage} / ${sls:stage} in serverless.yml [default: dev]."),
         WRITE_CONFIG],
    ),
}


def platform_command(platform: str) -> click.Command:
    """The command of one platform (PLATFORM_COMMANDS)."""
    help_text, extra = PLATFORM_COMMANDS[platform]
    return bundle_command(platform, help_text, extra)
