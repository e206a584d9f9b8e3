"""What the load check checks: the unit's artifacts and facts (UnitCheck), the folders they are unpacked to
(Views), a run's outcome (Run), and the pure choices (which client module to require, what the runtime
provides)."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler.project import PackageJson, Project
from platforms.base import Entry

if TYPE_CHECKING:
    from bundler.clients import FoundClient

Log = Callable[[str], None]


MARK = "@@photon-loadcheck@@ "


NODE_SCRIPTS = ("check.js", "guard.js", "provided.js")


# Platforms that run on AWS Lambda: their runtime provides the AWS SDK (aws-sdk up to Node 16, @aws-sdk/* v3
# from Node 18), which a bundle may rely on without carrying it; the check stubs it when the bundle lacks it.
LAMBDA_LIKE = frozenset({"lambda", "netlify", "now", "vercel", "serverless", "up"})


RUNTIME_PROVIDED = ("aws-sdk", "@aws-sdk/")


ENGINE_VARS = {"library": "PRISMA_QUERY_ENGINE_LIBRARY", "binary": "PRISMA_QUERY_ENGINE_BINARY"}


# Never handed to the checked node: they would put something else on its module path or name another engine.
SCRUBBED = ("NODE_PATH", "NODE_OPTIONS", "PRISMA_QUERY_ENGINE_LIBRARY", "PRISMA_QUERY_ENGINE_BINARY", "HOME",
            "LAMBDA_TASK_ROOT", "AWS_LAMBDA_EXEC_WRAPPER", "PHOTON_LOADCHECK_ROOTS", "PHOTON_LOADCHECK_PROVIDED")


CONTAINER_TOOLS = "/photon-bundle-loadcheck"


POSTINSTALL_FAILED = 97


COMMAND_NOT_FOUND = 127  # sh's exit code for a command it cannot find


HINT = "--no-load-check skips this check (not recommended: the artifact would not load on the platform)"


@dataclass(frozen=True)
class Artifact:
    kind: str  # "function" | "layer"
    filename: str  # its final name, for messages
    path: Path  # the temp file written so far


@dataclass(frozen=True)
class UnitCheck:
    """Everything the check needs about one unit, gathered by the pipeline."""

    platform: str
    unit: str  # "" for the single unit
    entries: tuple[Entry, ...]
    artifacts: tuple[Artifact, ...]
    kind: str  # engine kind: library | binary | client
    engine_arc: str | None  # the bundled engine, in its artifact
    engine_artifact: str | None
    engine_names: tuple[str, ...]  # file names the client looks for on this runtime
    clients: tuple[Mapping[str, str], ...]  # how the function reaches the generated client(s)
    node_major: int
    layer_layout: Mapping[str, str]
    tree: Path  # the bundled project tree (its node_modules stand in for a cloud install)
    package: PackageJson
    postinstall: tuple[str, ...] = ()  # the zip's postinstall steps (GCF), run before node
    standin: tuple[str, ...] = ()  # installed package folders (relative to tree) the cloud would install
    image: str | None = None
    arch: str = "x86_64"
    unpacked_bytes: int = 0  # the artifacts' contents (0: unknown), to pick a scratch folder with room


@dataclass(frozen=True)
class Views:
    """Where things are, as the checked node sees them (temp folders locally, real paths in a container)."""

    task: str
    opt: str
    tools: str
    home: str
    path_map: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Run:
    events: tuple[dict[str, Any], ...]
    output: tuple[str, ...]  # what the user's code and node printed, without the check's own lines
    exit_code: int
    timed_out: bool
    seconds: float


def client_specs(project: Project) -> tuple[dict[str, str], ...]:
    """How code reaches each generated client: through @prisma/client (.prisma/client beside it), a module
    name below node_modules (@generated/photon, the 2.0 previews' generated @prisma/photon / @prisma/client,
    a custom output), or a folder among the app's files. The era comes from the client layouts table
    (platforms/clients.toml); `engineDir` is the folder inside the client where that era keeps its engine."""
    from bundler.clients import find_clients, project_layout

    schema = project.schema
    if schema is None:  # a workspace member whose schema is in a package it uses: the clients Node reaches
        return _installed_specs(find_clients(project))
    era = project_layout(project)
    in_package = era is not None and era.generated == era.package  # the previews: generated into the package
    specs: list[dict[str, str]] = []
    base = posixpath.dirname(schema.path)
    for gen in schema.client_generators:
        photon = gen.provider == "photonjs" or bool(gen.platforms)
        if not gen.output or gen.output.startswith("env:"):
            if in_package and era is not None:
                specs.append({"kind": "module", "module": era.package, "engineDir": era.engine_dir})
            elif photon:
                specs.append({"kind": "module", "module": "@generated/photon", "engineDir": "runtime"})
            else:
                specs.append({"kind": "prisma"})
            continue
        out = posixpath.normpath(posixpath.join(base, gen.output))
        engine_dir = {"engineDir": "runtime"} if photon or in_package else {}
        if out == "node_modules/.prisma/client":
            specs.append({"kind": "prisma"})
        elif out.startswith("node_modules/"):
            parts = out.split("/")[1:]
            specs.append({"kind": "module", "module": "/".join(parts[:2] if parts[0].startswith("@") else parts[:1]),
                          **engine_dir})
        elif not out.startswith("../") and out not in (".", ".."):
            specs.append({"kind": "dir", "path": out, **engine_dir})
    unique = {json.dumps(s, sort_keys=True): s for s in specs}
    return tuple(unique.values())


def _installed_specs(found: list[FoundClient]) -> tuple[dict[str, str], ...]:
    """Client specs for a project without a schema of its own (a monorepo function using a shared db package):
    each generated client Node's lookup reaches from it (bundler/clients.py through bundler/resolve.py)."""
    specs: dict[str, dict[str, str]] = {}
    for client in found:
        if not client.generated or "node_modules/" not in client.dir:
            continue
        layout = client.layout
        if layout.generated == layout.package:
            spec = {"kind": "module", "module": layout.package, "engineDir": layout.engine_dir}
        else:
            spec = {"kind": "prisma"}
        specs.setdefault(json.dumps(spec, sort_keys=True), spec)
    return tuple(specs.values())


def provided_modules(platform: str) -> tuple[str, ...]:
    return RUNTIME_PROVIDED if platform in LAMBDA_LIKE else ()


def module_name(request: str) -> str | None:
    """The package a bare require names ("@a/b/c" -> "@a/b"); None for a relative or absolute path."""
    if request.startswith((".", "/")):
        return None
    parts = request.split("/")
    return "/".join(parts[:2]) if request.startswith("@") else parts[0]
