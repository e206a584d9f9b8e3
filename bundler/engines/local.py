"""The engine the project already holds: which kind it generates (library, binary or client), its copy of the
target's engine, the engines on disk (for the missing-engine advice) and what that advice may name.

Pure reads of the walked files; bundler/engines/acquire.py takes it from here (local, cache, mirror, docker).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING

from bundler.clients import generate_command, project_layout
from bundler.closure import package_dir_of
from bundler.engines import EngineKind, parse_engine_filename
from bundler.plan import CLI_PACKAGES
from bundler.project import Project
from bundler.runtime_choice import runtimes_served
from bundler.targets import RuntimeProfile, load_matrix
from bundler.walk import FileEntry

if TYPE_CHECKING:
    from bundler.engines.acquire import EngineAdvice


def engine_kind(project: Project, files: list[FileEntry], env: Mapping[str, str]) -> EngineKind:
    """PRISMA_CLIENT_ENGINE_TYPE, else the generator's engineType (Prisma's own order, getClientEngineType),
    else what was generated, else by generator."""
    gens = project.schema.client_generators if project.schema else ()
    value = env.get("PRISMA_CLIENT_ENGINE_TYPE")
    if value in ("binary", "library", "client"):
        return value  # type: ignore[return-value]
    for gen in gens:
        if gen.engine_type in ("binary", "library", "client"):
            return gen.engine_type  # type: ignore[return-value]
    kinds = {p.kind for f in files if (p := parse_engine_filename(posixpath.basename(f.rel)))
             and "/@prisma/engines/" not in f"/{f.rel}"}
    if any(g.provider == "photonjs" for g in gens) or kinds == {"binary"}:
        return "binary"
    if kinds:
        return "library"
    if gens and all(g.provider == "prisma-client" for g in gens):
        return "client"
    return "library"


def find_local_engine(files: list[FileEntry], kind: EngineKind, profile: RuntimeProfile) -> FileEntry | None:
    """The target's engine among the project's files, the generated client's copy first; never one of the
    Prisma CLI packages' (prisma, prisma2: they carry the engine the CLI downloaded, not the client's)."""
    matches = [f for f in files if (p := parse_engine_filename(posixpath.basename(f.rel)))
               and p.kind == kind and p.target in profile.accepted_targets and not _in_cli_package(f.rel)]
    matches.sort(key=lambda f: ("/@prisma/engines/" in f"/{f.rel}", "/.prisma/" not in f"/{f.rel}", f.rel))
    return matches[0] if matches else None


def _in_cli_package(rel: str) -> bool:
    owner = package_dir_of(rel)
    return owner is not None and owner.rsplit("node_modules/", 1)[-1] in CLI_PACKAGES


def engines_on_disk(files: list[FileEntry]) -> list[str]:
    """The query engines the project's generated clients hold (not the CLI's), as 'file (folder)'."""
    found = sorted(f.rel for f in files if parse_engine_filename(posixpath.basename(f.rel))
                   and "/@prisma/engines/" not in f"/{f.rel}" and not _in_cli_package(f.rel))
    shown = [f"{posixpath.basename(rel)} ({posixpath.dirname(rel)}/)" for rel in found[:6]]
    return shown + ([f"and {len(found) - 6} more"] if len(found) > 6 else [])


def engine_advice(project: Project, engine_files: list[FileEntry], profile: RuntimeProfile) -> EngineAdvice:
    """What the engine-missing advice may name for this project's Prisma version (platforms/clients.toml)."""
    from bundler.engines.acquire import EngineAdvice

    layout = project_layout(project)
    gens = project.schema.client_generators if project.schema else ()
    on_disk = {p.target for f in engine_files if (p := parse_engine_filename(posixpath.basename(f.rel)))
               and "/@prisma/engines/" not in f"/{f.rel}" and not _in_cli_package(f.rel)}
    served = tuple(r for r, _ in runtimes_served(profile.platform.key, on_disk, profile.arch))
    generate = generate_command(project, layout)
    if any(g.platforms for g in gens):  # Photon.js 2019: the `platforms` field and its names
        legacy = load_matrix().legacy_targets
        return EngineAdvice(targets_field="platforms", known_targets=("native", "darwin", "windows", *legacy),
                            target_name=profile.runtime.legacy or profile.target, generate=generate,
                            era="Photon.js 2019", served_runtimes=served)
    return EngineAdvice(known_targets=layout.targets if layout else (), generate=generate,
                        era=layout.era if layout else "", served_runtimes=served)
