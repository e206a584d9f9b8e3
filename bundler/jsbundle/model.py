"""Values of the bundling step (bundler/jsbundle/): what a platform's config asks of esbuild, and what the step
hands back to the pipeline for one unit. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EsbuildSettings:
    """esbuild settings a platform's own config file asks for (netlify.toml `node_bundler = "esbuild"` with
    `external_node_modules`; serverless.yml `custom.esbuild` of serverless-esbuild). Flags win over them."""

    source: str  # where they were read, for messages ("netlify.toml [functions] node_bundler")
    external: tuple[str, ...] = ()  # packages kept out of the bundle and shipped in node_modules with their closure
    exclude: tuple[str, ...] = ()  # packages kept out of the bundle and not shipped (the runtime provides them)
    minify: bool | None = None
    sourcemap: bool | None = None


@dataclass(frozen=True)
class Bundled:
    """One unit after bundling (or after taking a pre-built folder): the files that replace its app files, where
    the engine goes, and how the load check reaches the Prisma client inside the bundle."""

    files: tuple[tuple[str, bytes], ...]  # (archive path, content): bundles, maps, schema.prisma, pre-built files
    entries: tuple[tuple[str, str | None], ...]  # (archive path, export) the platform loads
    roots: tuple[tuple[str, str], ...]  # (requiring folder, package) kept external: shipped with their closure
    engine_home: str | None  # folder beside the bundle that holds the client ("src/"), None: the client is external
    client_bundles: tuple[str, ...]  # bundles that contain Prisma's client code (load-checked as "bundled")
    source_bytes: int  # what the bundles were made from (the app's and node_modules' JavaScript esbuild read)
    notes: tuple[str, ...] = ()  # what was added or decided, one line each, for the log and the manifest
    inputs: frozenset[str] = frozenset()  # project files esbuild read into the bundles (relative to the root)
