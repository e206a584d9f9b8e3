"""The PlatformAdapter protocol: what each platform contributes to the shared bundle pipeline.

An adapter is small and mostly data: its key in platforms/runtimes.toml (runtimes, limits, images, artifact
names, layer support: `AdapterDefaults` reads them), how it picks a runtime from its own config file, its
extra config keys, the units it deploys (one function zip, or one per function), and what it writes after
the artifacts (its config file). The
pipeline in bundler/bundle.py does everything else: plan, zip, limits, verify, manifest, commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from bundler.jsbundle.model import EsbuildSettings
from bundler.options import Extras, NoExtras, Options
from bundler.project import Project

if TYPE_CHECKING:
    from bundler.manifest import BundledUnit
    from bundler.targets import PlatformInfo


@dataclass(frozen=True)
class Entry:
    """A file the platform loads when the function starts (the load check requires it from the unpacked artifact)."""

    path: str  # archive path in the function artifact ("handler.js", "functions/hello.js")
    export: str | None = None  # the exported function the platform calls (Lambda's "handler"), checked when set


@dataclass(frozen=True)
class Unit:
    """One deployable thing the platform wants: its files, its runtime, its artifact names.

    Platforms without functions of their own (Lambda, Up, GCF) have one unit that bundles the project;
    Netlify, Now, Vercel and Serverless have one per function, each with only its own files.
    """

    name: str  # "" for the single unit of a platform without functions; else the function's name
    function_filename: str  # may hold folders ("functions/hello.zip"), relative to the output folder
    layer_filename: str = "layer.zip"
    runtime: tuple[str, str] | None = None  # (runtime, where it was read) when the platform config says
    arch: str | None = None  # likewise, else --arch
    app_files: frozenset[str] | None = None  # files outside node_modules it bundles (None: all)
    roots: tuple[tuple[str, str], ...] | None = None  # (requiring folder, module): closure roots
    includes: tuple[str, ...] = ()  # gitignore-style patterns forced in, after --include
    excludes: tuple[str, ...] = ()  # gitignore-style lines (negations allowed), before --exclude
    ignored_modules: frozenset[str] = frozenset()
    dependencies: str = "closure"  # or "client-only" (the platform installs the rest)
    relocate: tuple[tuple[str, str], ...] = ()
    generated: tuple[tuple[str, bytes], ...] = ()  # (archive path, content) the platform adds
    zip_limit: tuple[int, str] | None = None  # (bytes, name) instead of the platform limit / --max-size
    meta: Mapping[str, object] = field(default_factory=dict)  # adapter facts for the manifest (handler, entry)
    warnings: tuple[str, ...] = ()
    # What the platform loads from the function artifact, each an existing file (the load check requires them);
    # empty when the adapter found none, which the load check reports as a warning.
    entries: tuple[Entry, ...] = ()
    # What the platform runs after installing the dependencies (GCF: the zip's postinstall), as its `&&` steps in
    # order: the user's own command first, photon-bundle's restore last. The load check runs them.
    postinstall: tuple[str, ...] = ()
    # The platform's config asks for esbuild (netlify.toml node_bundler, serverless.yml custom.esbuild): bundled
    # unless --bundler none (bundler/jsbundle/).
    esbuild: EsbuildSettings | None = None


@dataclass(frozen=True)
class OutputFile:
    """A file the adapter writes besides the artifacts: a platform config copy, Netlify's manifest."""

    path: Path
    text: str
    in_place: bool = False  # True: the user's own file, updated because they asked (--write-config)
    note: str = ""  # one line for the summary


class PlatformAdapter(Protocol):
    key: str  # platform key in runtimes.toml

    @property
    def function_filename(self) -> str: ...

    @property
    def layer_filename(self) -> str: ...

    @property
    def supports_layers(self) -> bool: ...

    # True when units() reads environment variables (serverless.yml ${env:X}): then the no-op check keys on
    # the whole environment, not only the variables photon-bundle itself reads.
    reads_environment: bool
    @property
    def extras(self) -> type[Extras]:
        """Config keys this platform adds to the shared ones (bundler/options.py), read as options.extras_as(cls)."""
        ...

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        """(runtime, where it was read) from the platform's own config file, or None."""
        ...

    def zip_limit(self) -> int | None:
        """The compressed-size limit of one artifact, before --max-size."""
        ...

    def units(self, project: Project, options: Options, env: Mapping[str, str]) -> list[Unit]:
        """What to bundle: read from the platform's config file and the project, never the network."""
        ...

    def outputs(self, project: Project, options: Options, units: list[Unit],
                bundled: Sequence[BundledUnit], out_dir: Path) -> list[OutputFile]:
        """Files to write once the artifacts are committed (`bundled`: each unit's runtime, engine and artifacts as
        the manifest records them, in the order of `units`; out_dir the output folder)."""
        ...


class AdapterDefaults:
    """What every adapter shares, in one place: its artifact names, layer support and zip limit come from its
    platform's entry in platforms/runtimes.toml; it reads no environment variable, adds no config key, takes
    no runtime from a config file of its own and writes no file after the artifacts unless it says otherwise.
    An adapter subclasses this and states only what differs (its `key` always)."""

    key: str
    reads_environment: bool = False
    extras: type[Extras] = NoExtras

    @property
    def info(self) -> PlatformInfo:
        from bundler.targets import load_matrix  # the runtime table loads when a platform's facts are needed

        return load_matrix().platform(self.key)

    @property
    def function_filename(self) -> str:
        return self.info.function_filename

    @property
    def layer_filename(self) -> str:
        return self.info.layer_filename

    @property
    def supports_layers(self) -> bool:
        return self.info.layers

    def runtime_from_config(self, project: Project) -> tuple[str, str] | None:
        return None

    def zip_limit(self) -> int | None:
        return self.info.zip_limit

    def outputs(self, project: Project, options: Options, units: list[Unit],
                bundled: Sequence[BundledUnit], out_dir: Path) -> list[OutputFile]:
        return []


def single_unit(adapter: PlatformAdapter, entries: tuple[Entry, ...] = (),
                warnings: tuple[str, ...] = ()) -> list[Unit]:
    """The one unit of a platform that bundles the whole project into one function zip."""
    return [Unit(name="", function_filename=adapter.function_filename, layer_filename=adapter.layer_filename,
                 entries=entries, warnings=warnings)]


ENTRY_EXTENSIONS = (".js", ".mjs", ".cjs")


def script_file(root: Path, name: str) -> str | None:
    """The file Node loads for `name` relative to the project (as given, or with .js/.mjs/.cjs, or its index.js)."""
    clean = name.strip().removeprefix("./").rstrip("/")
    if not clean or clean.startswith(("../", "/")):
        return None
    candidates = [clean, *(clean + ext for ext in ENTRY_EXTENSIONS), f"{clean}/index.js"]
    return next((c for c in candidates if (root / c).is_file()), None)


def package_main(project: Project) -> str | None:
    """package.json `main` as the file it names, when it exists."""
    main = project.package.main
    return script_file(project.root, main) if main else None


def project_file(project: Project, name: str) -> Path:
    return project.root / name
