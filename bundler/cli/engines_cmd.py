"""`photon-bundle engines fetch|list|path|clear`: the engine cache from the command line.

Parse, call bundler.engines.acquire / cache, present. `--version` given here wins over
$BINARY_DOWNLOAD_VERSION (an explicit flag beats the environment); without it the version is read from
the project in the current folder like the bundle command does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from bundler.cli.common import Console
from bundler.engines import EngineKind, engine_filename
from bundler.errors import ConfigError, EngineNotFoundError, ProjectError, closest, echo

if TYPE_CHECKING:
    from bundler.engines.acquire import AcquiredEngine

_F = TypeVar("_F", bound=Callable[..., Any])

KIND_CHOICE = click.Choice(["binary", "library"])


def _output_options(func: _F) -> _F:
    func = click.option("--quiet", "-q", is_flag=True, help="No progress or messages on stderr.")(func)
    func = click.option("--json", "json_mode", is_flag=True, help="Print the result as JSON on stdout.")(func)
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Engine cache folder (default $PHOTON_BUNDLE_CACHE, else $XDG_CACHE_HOME/photon-bundle, "
        "else ~/.cache/photon-bundle).",
    )(func)


def _version_options(func: _F) -> _F:
    func = click.option("--kind", type=KIND_CHOICE, default="library", show_default=True, help="Engine type.")(func)
    return click.option(
        "--version",
        "version",
        metavar="HASH",
        help="prisma-engines commit hash (default: from @prisma/engines-version as Node finds it from this folder).",
    )(func)


@click.group()
def engines() -> None:
    """Fetch, list, locate and clear cached Prisma query engines."""


@engines.command()
@click.option("--target", "targets", multiple=True, required=True, metavar="TARGET", help="Engine target; repeat.")
@_version_options
@click.option("--mirror", metavar="URL", help="Engine mirror (default $PRISMA_ENGINES_MIRROR or binaries.prisma.sh).")
@click.option("--offline", is_flag=True, help="Never touch the network: only the caches.")
@click.option("--cache", "shared", metavar="s3://BUCKET/PREFIX",
              help="Shared cache on S3: read before the mirror, filled after it "
                   "[default: $PHOTON_BUNDLE_SHARED_CACHE].")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True, help="Network timeout (s).")
@_output_options
def fetch(
    targets: tuple[str, ...],
    version: str | None,
    kind: str,
    mirror: str | None,
    offline: bool,
    shared: str | None,
    timeout: float,
    cache_dir: Path | None,
    json_mode: bool,
    quiet: bool,
) -> None:
    """Download engines into the cache, verified by sha256.

    A copy already in photon-bundle's cache, or in Prisma's own cache with a matching .sha256, is used
    instead of downloading.
    """
    from bundler.engines.acquire import EngineOptions, fetch_engine

    env = dict(os.environ)
    console = Console(quiet=quiet, json_mode=json_mode)
    engine_kind = cast("EngineKind", kind)
    names = [_target(t) for t in targets]
    resolved = _version(version, env, console)
    options = EngineOptions(
        mirror=mirror, offline=offline, cache_dir=cache_dir, timeout=timeout, progress=console.interactive, env=env,
        shared_cache=_shared(shared or env.get("PHOTON_BUNDLE_SHARED_CACHE") or None),
    )
    results: list[AcquiredEngine] = []
    for name in names:
        got = fetch_engine(engine_kind, name, resolved, options)
        results.append(got)
        where = _SOURCE_WORDS.get(got.source, got.source)
        verb = "downloaded" if got.source == "mirror" else f"{'from' if got.source == 's3' else 'found in'} {where}"
        console.info(f"{name}: {verb}: {got.path}")
    if json_mode:
        console.data([_engine_json(r) for r in results])


@engines.command("list")
@click.option("--verify", is_flag=True, help="Also hash each engine and check it against its .sha256.")
@_output_options
def list_(verify: bool, cache_dir: Path | None, json_mode: bool, quiet: bool) -> None:
    """Show the cached engines with their sizes."""
    from bundler.engines.cache import EngineCache, cache_root

    console = Console(quiet=quiet, json_mode=json_mode)
    cache = EngineCache(cache_root(cache_dir, dict(os.environ)))
    rows: list[dict[str, Any]] = []
    for item in cache.entries():
        row: dict[str, Any] = {
            "version": item.version,
            "target": item.target,
            "kind": item.kind or "?",
            "file": item.name,
            "size": item.size,
            "path": str(item.path),
            "sha256": item.recorded_sha256,
        }
        if verify:
            from bundler.hashing import sha256_file

            row["ok"] = item.recorded_sha256 is not None and sha256_file(item.path) == item.recorded_sha256
        rows.append(row)
    if json_mode:
        console.data({"cache": str(cache.root), "engines": rows, "total_size": sum(r["size"] for r in rows)})
        return
    if not rows:
        console.info(f"no engines cached in {cache.root}")
        return
    headers = ["version", "target", "kind", "size", *(["ok"] if verify else [])]
    table = [
        {**{h: str(r[h]) for h in ("version", "target", "kind")}, "size": _size(r["size"]), "ok": _ok(r.get("ok"))}
        for r in rows
    ]
    widths = {h: max(len(h), *(len(t[h]) for t in table)) for h in headers}
    click.echo("  ".join(h.ljust(widths[h]) for h in headers).rstrip())
    for t in table:
        click.echo("  ".join(t[h].ljust(widths[h]) for h in headers).rstrip())
    console.info(f"{len(rows)} engine(s), {_size(sum(r['size'] for r in rows))} in {cache.root}")


@engines.command()
@click.option("--target", required=True, metavar="TARGET", help="Engine target.")
@_version_options
@_output_options
def path(target: str, version: str | None, kind: str, cache_dir: Path | None, json_mode: bool, quiet: bool) -> None:
    """Print the path of a cached engine (exit 3 if it is not cached)."""
    from bundler.engines.acquire import EngineOptions, fetch_engine
    from bundler.engines.cache import EngineCache, cache_root

    env = dict(os.environ)
    console = Console(quiet=quiet, json_mode=json_mode)
    engine_kind = cast("EngineKind", kind)
    name = _target(target)
    resolved = _version(version, env, console)
    options = EngineOptions(source="cache", offline=True, cache_dir=cache_dir, env=env)
    try:
        got = fetch_engine(engine_kind, name, resolved, options, steps=("cache",))
    except EngineNotFoundError:
        entry = EngineCache(cache_root(cache_dir, env)).entry(resolved, name, engine_kind)
        raise EngineNotFoundError(
            f"{engine_filename(engine_kind, name)} (version {resolved}) is not in the cache: {entry.path}",
            hint=f"run `photon-bundle engines fetch --target {name} --kind {kind} --version {resolved}`",
        ) from None
    if json_mode:
        console.data(_engine_json(got))
    else:
        click.echo(str(got.path))


@engines.command()
@_output_options
def clear(cache_dir: Path | None, json_mode: bool, quiet: bool) -> None:
    """Remove every cached engine."""
    from bundler.engines.cache import EngineCache, cache_root

    console = Console(quiet=quiet, json_mode=json_mode)
    cache = EngineCache(cache_root(cache_dir, dict(os.environ)))
    count, size = cache.clear()
    if json_mode:
        console.data({"cache": str(cache.root), "removed": count, "freed": size})
    else:
        console.info(f"removed {count} engine(s), {_size(size)}, from {cache.root}")


# ----------------------------------------------------------------------------------------- helpers

_SOURCE_WORDS = {"cache": "the photon-bundle cache", "prisma-cache": "Prisma's cache", "s3": "the shared cache"}


def _target(name: str) -> str:
    from bundler.targets import CURRENT_TARGETS, canonical_target, is_known_target  # the table loads here

    if not is_known_target(name):
        raise ConfigError(f"unknown engine target {echo(name)}", hint=closest(name, sorted(CURRENT_TARGETS)))
    target = canonical_target(name)
    if target == "native":
        raise ConfigError(
            "the target 'native' means the machine running Prisma, not the function's runtime",
            hint="name the target, e.g. --target rhel-openssl-3.0.x (see `photon-bundle targets`)",
        )
    return target


def _shared(url: str | None) -> str | None:
    from bundler.shared_cache.location import parse_location

    try:
        return parse_location(url).url if url else None
    except ValueError as err:
        raise ConfigError(f"--cache {echo(url)}: {err}", hint="e.g. --cache s3://my-ci-cache/photon-bundle") from None


def _version(flag: str | None, env: dict[str, str], console: Console) -> str:
    from bundler.engines.version import ENV_OVERRIDE, check_version, engines_version

    if flag:
        version = check_version(flag, origin="--version")
        override = env.get(ENV_OVERRIDE, "").strip()
        if override and override != version:
            console.warn(f"--version {version} wins over ${ENV_OVERRIDE}={override}")
        return version
    from bundler.resolve import installed_packages

    project = Path.cwd()
    # found as Node finds them (a workspace root's node_modules, pnpm's store), as the bundle command does
    try:
        packages = installed_packages(project) if (project / "package.json").is_file() else None
    except ProjectError:  # an unreadable package.json: the parent-folder look-up below still applies
        packages = None
    return engines_version(project, None, env, flag="--version", packages=packages)


def _engine_json(got: AcquiredEngine) -> dict[str, Any]:
    return {
        "target": got.target,
        "kind": got.kind,
        "version": got.version,
        "source": got.source,
        "path": str(got.path),
        "sha256": got.sha256,
        "size": got.path.stat().st_size,
    }


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _ok(value: object) -> str:
    return "" if value is None else ("yes" if value else "DAMAGED")

