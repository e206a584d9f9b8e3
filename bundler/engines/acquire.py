"""Get the query engine a bundle needs, from the first source that has it, and say where it came from.

Sources (`--engine-source`):

    auto    the project's own engine on disk → photon-bundle's cache → Prisma's cache → the shared cache on S3
            (`--cache s3://...`, bundler/shared_cache/) → the mirror
    local   only the project's engine on disk
    cache   only the caches (photon-bundle's, then Prisma's): never the network
    mirror  download from the mirror (into photon-bundle's cache), skipping cached copies
    docker  built inside the runtime's image (the `docker=` source the pipeline passes; bundler/engines/docker.py)

Everything fetched lands in photon-bundle's cache (cache.py), under a per-engine lock, so the path
returned is never inside the user's project unless the source is "local". When every source fails, the
error lists what each one said.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bundler.engines import EngineKind, engine_filename
from bundler.engines.cache import CacheEntry, EngineCache, cache_root
from bundler.engines.mirror_urls import engine_url, mirror_base
from bundler.engines.prisma_cache import find_in_prisma_cache, prisma_cache_roots
from bundler.engines.version import engines_version
from bundler.errors import BundleError, ConfigError, EngineFetchError, EngineNotFoundError, ProjectError, closest
from bundler.hashing import sha256_file

if TYPE_CHECKING:
    from bundler.engines.mirror import Progress
    from bundler.shared_cache.store import SharedStore

log = logging.getLogger(__name__)

SOURCES: tuple[str, ...] = ("auto", "local", "cache", "mirror", "docker")
Step = str  # "cache" | "prisma-cache" | "s3" | "mirror"
STEPS_FOR_SOURCE: dict[str, tuple[Step, ...]] = {
    "auto": ("cache", "prisma-cache", "s3", "mirror"),
    "cache": ("cache", "prisma-cache"),
    "mirror": ("mirror",),
}


@dataclass(frozen=True)
class EngineAdvice:
    """What the advice for a missing engine may name, for the project's Prisma version: the generator field and
    the target names that version knows (the 2019 Photon.js `platforms`, the 2.0 previews' short
    binaryTargets list; empty: today's list), the runtime's target in that field, the generate command of
    that era, and the --runtime values the engines already on disk serve."""

    targets_field: str = "binaryTargets"
    known_targets: tuple[str, ...] = ()
    target_name: str | None = None
    generate: str = "prisma generate"
    era: str = ""
    served_runtimes: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngineOptions:
    source: str = "auto"  # auto|local|cache|mirror|docker
    mirror: str | None = None  # --mirror
    offline: bool = False
    version: str | None = None  # --engine-version
    cache_dir: Path | None = None  # override (tests); else env/XDG/home
    timeout: float = 30.0
    progress: bool = False
    env: Mapping[str, str] = field(default_factory=dict)  # the environment, passed in
    advice: EngineAdvice | None = None  # for the engine-missing advice (bundle commands set it)
    # package name -> real folder, as the resolver found them (pnpm's store, a workspace root): where the
    # engine version is read first (bundler/resolve.py)
    packages: Mapping[str, Path] = field(default_factory=dict)
    shared_cache: str | None = None  # --cache s3://bucket/prefix: read before the mirror, filled after it


@dataclass(frozen=True)
class AcquiredEngine:
    path: Path  # the engine file on disk (never inside the user's project unless source == "local")
    source: str  # "local" | "cache" | "prisma-cache" | "s3" | "mirror" | "docker"
    sha256: str
    kind: EngineKind
    target: str
    version: str | None


class EngineSource(Protocol):
    """The shape of a pluggable source (the Docker one): return the engine or raise a BundleError."""

    def __call__(
        self,
        kind: EngineKind,
        target: str,
        *,
        version: str | None,
        project_root: Path,
        options: EngineOptions,
    ) -> AcquiredEngine: ...


# ------------------------------------------------------------------------------------------ public


def acquire(
    kind: EngineKind,
    target: str,
    *,
    project_root: Path,
    local: Path | None,
    options: EngineOptions,
    docker: EngineSource | None = None,
    found: Sequence[str] = (),
) -> AcquiredEngine:
    """The engine file for `kind` and `target`, from the source `options.source` selects.

    `docker` is the Docker source for this call (the pipeline passes bundler/engines/docker.py's
    `docker_source_for`, a closure over the RuntimeProfile and the Docker build options); without it,
    `--engine-source docker` is not available.
    """
    source = _check_source(options.source)
    filename = _native_filename(kind, target)
    on_disk = f"; the project has {', '.join(found)}" if found else "; the project has no query engine at all"
    if source == "local":
        if local is None or not local.is_file():
            raise EngineNotFoundError(
                f"the {kind} engine {filename} for target {target} is not in the project"
                + (f" (expected {local})" if local is not None else "") + on_disk,
                hint=_binary_targets_hint(target, options.advice) + ", or use --engine-source auto|mirror to "
                "download it",
            )
        return _from_local(kind, target, local, project_root, options)
    if source == "docker":
        if docker is None:
            raise ConfigError(
                "--engine-source docker is not available: no Docker engine source is installed",
                hint="use --engine-source auto, local, cache or mirror",
            )
        return docker(
            kind, target, version=_version_or_none(project_root, options), project_root=project_root, options=options
        )

    failures: list[str] = []
    if source == "auto":
        if local is not None and local.is_file():
            return _from_local(kind, target, local, project_root, options)
        failures.append(f"project: no {filename} on disk" + (f" (expected {local})" if local is not None else "")
                        + on_disk)
    try:
        version = engines_version(project_root, options.version, options.env, packages=options.packages)
    except ProjectError as err:
        raise EngineNotFoundError(
            f"the {kind} engine {filename} for target {target} is not in the project, and photon-bundle cannot "
            f"fetch it: {err.message}",
            hint=f"{err.hint}; or {_binary_targets_hint(target, options.advice)}" if err.hint
            else _binary_targets_hint(target, options.advice),
        ) from None
    return fetch_engine(kind, target, version, options, steps=STEPS_FOR_SOURCE[source], failures=failures)


def fetch_engine(
    kind: EngineKind,
    target: str,
    version: str,
    options: EngineOptions,
    *,
    steps: tuple[Step, ...] = STEPS_FOR_SOURCE["auto"],
    failures: list[str] | None = None,
) -> AcquiredEngine:
    """The engine of a known version from the caches and/or the mirror (no project involved).

    `steps` is a subset of ("cache", "prisma-cache", "s3", "mirror"), tried in that order ("s3" only with a
    shared cache, never --offline); an engine the mirror gives is then shared. `failures` are
    earlier sources' reasons, repeated in the error when every step fails.
    """
    filename = _native_filename(kind, target)
    tried = list(failures or [])
    fetch_failed: EngineFetchError | None = None
    url = engine_url(mirror_base(options.mirror, options.env), version, target, kind) if "mirror" in steps else ""
    cache = EngineCache(cache_root(options.cache_dir, options.env))
    entry = cache.entry(version, target, kind)

    def found(path: Path, source: str, sha256: str) -> AcquiredEngine:
        log.info("engine %s (%s, %s) from %s: %s", filename, target, version, source, path)
        return AcquiredEngine(path=path, source=source, sha256=sha256, kind=kind, target=target, version=version)

    with cache.locked(entry) as writable:
        if "cache" in steps:
            had_file = entry.path.is_file()
            sha = cache.lookup(entry, may_discard=writable)
            if sha is not None:
                return found(entry.path, "cache", sha)
            state = "was damaged and is discarded" if had_file else "not there"
            tried.append(f"photon-bundle cache: {entry.path} {state}")
        if "prisma-cache" in steps:
            hit = find_in_prisma_cache(kind, target, version, options.env)
            if hit.path is not None and hit.sha256 is not None:
                path = cache.store_copy(entry, hit.path, hit.sha256) if writable else hit.path
                return found(path, "prisma-cache", hit.sha256)
            roots = " or ".join(str(r / "master" / version / target) for r in prisma_cache_roots(options.env))
            tried.append(f"Prisma's cache: not in {roots}" + "".join(f"; {note}" for note in hit.notes))
        shared = _shared_store(options) if writable else None
        if "s3" in steps and shared is not None:
            from bundler.shared_cache.engines import engine_from_shared

            got = engine_from_shared(shared, entry, cache)
            if not isinstance(got, str):
                return found(got[0], "s3", got[1])
            tried.append(f"shared cache: {got}")
        if "mirror" in steps:
            if options.offline:
                tried.append(f"mirror: not contacted (--offline): {url}")
            elif not writable:
                fetch_failed = EngineFetchError(
                    f"the engine cache {entry.dir} is not writable",
                    hint="make it writable or point PHOTON_BUNDLE_CACHE at a writable folder",
                )
                tried.append(f"mirror: not tried, {fetch_failed.message}")
            else:
                try:
                    fetched = found(*_download(entry, cache, url, options, label=f"{target} {kind}"))
                    if shared is not None:
                        from bundler.shared_cache.engines import engine_to_shared

                        engine_to_shared(shared, entry, fetched.sha256)
                    return fetched
                except EngineFetchError as err:
                    fetch_failed = err
                    tried.append(f"mirror: {err.message}")
    raise _summary(kind, target, version, filename, tried, fetch_failed, options)


# ----------------------------------------------------------------------------------------- helpers


def _shared_store(options: EngineOptions) -> SharedStore | None:
    """The shared cache for this engine, unless none is set or the run is --offline (said by the pipeline)."""
    from bundler.shared_cache.store import shared_store

    if options.offline:
        return None
    return shared_store(options.shared_cache, False, options.env,
                        lambda line: log.warning("%s", line.removeprefix("warning: ")))


def _check_source(source: str) -> str:
    if source not in SOURCES:
        raise ConfigError(f"unknown engine source {source!r}", hint=closest(source, list(SOURCES)))
    return source


def _native_filename(kind: EngineKind, target: str) -> str:
    if kind == "client":
        raise ConfigError(
            f"the 'client' engine type has no native query engine to acquire (target {target})",
            hint="nothing to fetch: Prisma's client engine runs as WebAssembly inside the generated client",
        )
    return engine_filename(kind, target)


def _binary_targets_hint(target: str, advice: EngineAdvice | None = None) -> str:
    """How to get the target's engine into the project, naming only what the project's Prisma version knows."""
    a = advice or EngineAdvice()
    served = (f"; the engines the project already has serve --runtime {' or '.join(a.served_runtimes)}"
              if a.served_runtimes else "")
    name = a.target_name or target
    if a.known_targets and name not in a.known_targets:
        return (f"this project's Prisma ({a.era}) has no engine for {target}: its {a.targets_field} are "
                f"{', '.join(a.known_targets)}{served}; or upgrade Prisma")
    return (f'add {a.targets_field} = ["native", "{name}"] to the generator block in schema.prisma and re-run '
            f"`{a.generate}`{served}")


def _version_or_none(project_root: Path, options: EngineOptions) -> str | None:
    try:
        return engines_version(project_root, options.version, options.env, packages=options.packages)
    except BundleError:
        return None


def _from_local(
    kind: EngineKind, target: str, local: Path, project_root: Path, options: EngineOptions
) -> AcquiredEngine:
    return AcquiredEngine(
        path=local,
        source="local",
        sha256=sha256_file(local),
        kind=kind,
        target=target,
        version=_version_or_none(project_root, options),
    )


def _download(
    entry: CacheEntry, cache: EngineCache, url: str, options: EngineOptions, *, label: str
) -> tuple[Path, str, str]:
    from bundler.engines.mirror import MirrorClient  # the HTTP stack loads only for a download

    client = MirrorClient(env=options.env, timeout=options.timeout)
    expected = client.checksums(url)
    with _progress_bar(options.progress, label) as progress:
        download = client.download(url, entry.dir, expected=expected, progress=progress)
    path = cache.store(entry, download.path, download.sha256)
    return path, "mirror", download.sha256


@contextlib.contextmanager
def _progress_bar(enabled: bool, label: str) -> Iterator[Progress | None]:
    """A rich progress bar on stderr (bytes, rate); imported here so `--help` stays fast."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TransferSpeedColumn,
    )
    from rich.progress import Progress as RichProgress

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _summary(
    kind: EngineKind,
    target: str,
    version: str,
    filename: str,
    tried: list[str],
    fetch_failed: EngineFetchError | None,
    options: EngineOptions,
) -> BundleError:
    head = f"cannot get the {kind} engine {filename} for target {target} (engine version {version}):"
    message = head + "".join(f"\n  - {line}" for line in tried)
    fetch_cmd = f"photon-bundle engines fetch --target {target} --kind {kind} --version {version}"
    if fetch_failed is not None:
        return EngineFetchError(message, hint=fetch_failed.hint)
    advice = options.advice
    if advice is not None and advice.known_targets and (advice.target_name or target) not in advice.known_targets:
        return EngineNotFoundError(message, hint=_binary_targets_hint(target, advice))  # no fetch can help
    if options.offline:
        return EngineNotFoundError(
            message, hint=f"run `{fetch_cmd}` once while online (it fills the cache), or drop --offline"
        )
    return EngineNotFoundError(message, hint=f"run `{fetch_cmd}`, or {_binary_targets_hint(target, options.advice)}")
