"""The bundle pipeline: inspect -> resolve -> acquire -> plan -> write -> check -> verify -> load check -> commit.

Each step is a function of the one before; only this module sequences them and touches the output
folder. Artifacts are written to temp files beside their final paths and renamed into place only after
every size, verification and load check passed (bundler/loadcheck.py: each unit's artifacts unpacked and
required in a fresh node), so a failed or interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import os
import posixpath
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pathspec

from bundler import __version__, manifest
from bundler.archive import ArchiveResult, write_zip, zip_epoch
from bundler.clients import engine_targets_on_disk, generate_command, project_layout, refuse_ungenerated
from bundler.deflate import DEFLATE_BACKEND
from bundler.engines import EngineKind, engine_filename, parse_engine_filename
from bundler.errors import BundleError, ConfigError, ProjectError, SizeLimitError, VerifyError
from bundler.layout import project_tree
from bundler.limits import Limit, breakdown, format_breakdown, format_size
from bundler.options import Resolved, output_dir
from bundler.outdir import check_out_dir, collect_stale_temps, contained_all, writing
from bundler.pkgmanager import Layout, detect_layout
from bundler.plan import (
    CLI_PACKAGES,
    DEFAULT_EXCLUDES,
    ArtifactPlan,
    BundlePlan,
    EngineChoice,
    PlanOptions,
    default_exclude_candidate,
    package_dir_of,
    plan_bundle,
)
from bundler.project import PackageJson, Project, read_installed_package_json, read_project
from bundler.report.files import REPORT_FILES, after_commit
from bundler.report.sizes import file_details, sizes_section, unit_plans
from bundler.resolve import resolve_project
from bundler.resources import data_file
from bundler.reuse import (
    HASHES_NAME,
    STATE_NAME,
    decisive_files,
    reusable,
    save_hashes,
    save_state,
    settings_key,
    state_key,
    written_fingerprint,
)
from bundler.targets import (
    RuntimeProfile,
    canonical_target,
    load_matrix,
    newest_runtime,
    resolve,
    runtime_for_node_range,
)
from bundler.walk import FileEntry, FolderEntry, WalkProblem, walk_tree
from platforms.base import OutputFile, PlatformAdapter, Unit

if TYPE_CHECKING:
    from bundler.engines.acquire import EngineAdvice
    from bundler.engines.docker import DockerBuildOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LAYER_TEMPLATES = data_file("bundler", "layer_templates")
Log = Callable[[str], None]


@dataclass(frozen=True)
class Written:
    plan: ArtifactPlan
    final: Path
    result: ArchiveResult


def choose_runtime(adapter: PlatformAdapter, project: Project, options: Resolved) -> tuple[str, str]:
    """(runtime, why): --runtime, else the config file, else the platform's own config,
    else package.json engines.node, else the newest runtime whose engine the project's generated client
    already holds, else the newest supported runtime."""
    if options["runtime"]:
        return options["runtime"], options.source("runtime")
    from_platform = adapter.runtime_from_config(project)
    if from_platform:
        return from_platform
    node = project.package.engines_node
    if node:
        match = runtime_for_node_range(adapter.key, node)
        if match is not None:
            return match.name, f'package.json engines.node "{node}"'
        raise ProjectError(
            f'package.json engines.node "{node}" matches no supported {adapter.key} runtime',
            hint="widen engines.node or pass --runtime (see `photon-bundle targets`)",
        )
    served = runtimes_served(adapter.key, engine_targets_on_disk(project), options["arch"])
    if served:
        runtime, held = served[0]
        return runtime, f"the project holds {held}: {runtime} is the newest runtime it serves"
    return newest_runtime(adapter.key).name, "newest supported runtime"


def runtimes_served(platform: str, targets: Iterable[str], arch: str) -> list[tuple[str, str]]:
    """(runtime, the engine target on disk that serves it), newest first, for the platform's runtimes that an
    engine of the project's generated client serves: a project generated with binaryTargets ["native",
    "rhel-openssl-1.0.x"] runs on those runtimes without fetching anything."""
    on_disk = set(targets)
    canonical = {canonical_target(t) for t in on_disk} | on_disk
    out: list[tuple[str, str]] = []
    for runtime in sorted(load_matrix().runtimes_for(platform), key=lambda r: r.node, reverse=True):
        if arch in runtime.archs and canonical:
            held = resolve(platform, runtime.name, arch).accepted_targets & canonical
            if held:
                out.append((runtime.name, ", ".join(sorted(held))))
    return out


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


def installed_packages(files: list[FileEntry], notes: dict[str, str] | None = None) -> dict[str, PackageJson]:
    """The package.json of every installed package folder below node_modules, read as node reads it
    (project.read_installed_package_json); `notes` gets a warning per package folder whose package.json is
    broken, for the bundle to report when the package is bundled."""
    out: dict[str, PackageJson] = {}
    for f in files:
        if f.rel.endswith("/package.json") and package_dir_of(f.rel) == f.rel[: -len("/package.json")]:
            rel_dir = f.rel[: -len("/package.json")]
            out[rel_dir], note = read_installed_package_json(f.path, rel_dir)
            if note is not None and notes is not None:
                notes[rel_dir] = note
    return out


def package_notes(plan: BundlePlan, walked: Mapping[str, FileEntry], notes: Mapping[str, str]) -> tuple[str, ...]:
    """The notes (installed_packages) of the packages the plan bundles."""
    if not notes:
        return ()
    dirs = {package_dir_of(f.rel) for a in plan.artifacts for e in a.entries
            if e.source is not None and (f := walked.get(str(e.source))) is not None}
    return tuple(note for rel_dir, note in sorted(notes.items()) if rel_dir in dirs)


def _rel_inside(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def layer_options() -> tuple[dict[str, str], str]:
    layout_dir = LAYER_TEMPLATES / "lambda"
    with (layout_dir / "layout.toml").open("rb") as fh:
        layout = {k: str(v) for k, v in tomllib.load(fh).items()}
    template = (layout_dir / layout["wrapper_template"]).read_text(encoding="utf-8")
    return layout, template


def docker_build_options(options: Resolved, out_rel: str | None) -> DockerBuildOptions | None:
    """How to build in a container (--build docker, --engine-source docker), or None when nothing does."""
    if options["build"] != "docker" and options["engine_source"] != "docker":
        return None
    from bundler.engines.docker import DockerBuildOptions

    return DockerBuildOptions(image=options["image"], command=options["build_command"],
                              env=dict(options["build_env"]), timeout=options["build_timeout"],
                              leave_out=(out_rel,) if out_rel else ())


@contextmanager
def _tree(project: Project, profile: RuntimeProfile, build: DockerBuildOptions | None, options: Resolved,
          log: Log) -> Iterator[Path]:
    """The folder to bundle: the project itself, or a copy built inside a matching Docker image."""
    if options["build"] != "docker" or build is None:
        yield project.root
        return
    from bundler.engines.docker import built_tree

    with built_tree(project.root, profile, build, log) as tree:
        yield tree


def bundle(adapter: PlatformAdapter, project_dir: Path, options: Resolved, env: Mapping[str, str],
           log: Log, *, progress: bool = False) -> dict[str, Any]:
    """Run the whole pipeline; returns the manifest that was written.

    The adapter names the units to deploy (one function zip for Lambda, one per function on Netlify,
    Now, Vercel, Serverless). The tree is walked once; each unit is planned, size-checked, written and
    verified on its own; then all artifacts are committed together under one manifest, so a failure in
    any unit leaves nothing behind. A failed run also withdraws the previous run's artifacts from the
    output folder: what is there after a run is that run's bundle or nothing, never a stale one.
    """
    out_dir = output_dir(project_dir, adapter.key, options)
    check_out_dir(project_dir, out_dir, adapter.key)
    try:
        return _bundle(adapter, project_dir, out_dir, options, env, log, progress=progress)
    except BundleError as err:
        removed, problems = withdraw_previous(out_dir)
        if removed:
            err.message += (f"\nthe previous run's artifacts were removed from {out_dir} ({', '.join(removed)}), "
                            "so a stale bundle cannot be deployed by mistake")
        err.message += "".join(f"\n{problem}" for problem in problems)
        raise


def prepare_out_dir(out_dir: Path) -> None:
    """Create the output folder and remove the temp files killed runs left in it."""
    with writing(out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
    collect_stale_temps(out_dir)


def withdraw_previous(out_dir: Path) -> tuple[list[str], list[str]]:
    """Remove what the last run's manifest lists (artifacts, the files written beside them) and the manifest
    and reuse records themselves; returns the names removed and what could not be done. Only paths inside
    out_dir are touched (bundler/outdir.py `contained`): a manifest naming `../x` or `/tmp/x` is ignored
    with a warning, and the user's own files are never touched."""
    previous = manifest.read(out_dir / manifest.MANIFEST_NAME)
    if previous is None:
        return [], []
    listed = [a["path"] for a in previous["artifacts"]]
    listed += [o["path"] for o in previous.get("outputs", []) if not o.get("in_place")]
    paths, problems = contained_all(out_dir, listed, f"{out_dir / manifest.MANIFEST_NAME}")
    paths += [out_dir / name for name in (STATE_NAME, HASHES_NAME, manifest.MANIFEST_NAME, *REPORT_FILES)]
    removed = []
    root = Path(os.path.realpath(out_dir))
    for path in paths:
        if path.is_file():
            try:
                path.unlink()
            except OSError as err:
                problems.append(f"could not remove the previous run's {path}: {err.strerror or err}; "
                                "do not deploy it")
                continue
            real = Path(os.path.realpath(path.parent)) / path.name
            removed.append(real.relative_to(root).as_posix() if real.is_relative_to(root) else str(path))
    return removed, [f"warning: {p}" for p in problems]


def _bundle(adapter: PlatformAdapter, project_dir: Path, out_dir: Path, options: Resolved, env: Mapping[str, str],
            log: Log, *, progress: bool) -> dict[str, Any]:
    project = read_project(project_dir)
    if options["build"] != "docker":  # a Docker build runs `generate` itself
        refuse_ungenerated(project)
    units = adapter.units(project, options, env)
    profiles = [unit_profile(adapter, project, options, unit) for unit in units]
    _log_units(units, profiles, log)
    with ExitStack() as stack:
        out_rel = _rel_inside(out_dir, project.root)  # the same place in a tree built from a copy
        build = docker_build_options(options, out_rel)
        tree = stack.enter_context(_tree(project, _build_profile(profiles, options), build, options, log))
        tree_project = project if tree == project.root else read_project(tree)
        scanned = _scan(tree, tree_project, out_rel, options, log)
        files, folders, problems = scanned.files, scanned.folders, scanned.problems
        engine_files = [f for f in files if parse_engine_filename(posixpath.basename(f.rel))]  # one pass for all
        kind = engine_kind(project, engine_files, env)
        layout, template = layer_options()
        _check_format(adapter, options, kind)
        notes: dict[str, str] = {}
        installed = installed_packages(files, notes)
        walked = {f.fspath: f for f in files}
        engines: dict[str, tuple[EngineChoice | None, dict[str, Any]]] = {}
        planned: list[tuple[Unit, RuntimeProfile, str, BundlePlan, dict[str, Any], list[Limit]]] = []
        for unit, (profile, runtime_why) in zip(units, profiles):
            if profile.target not in engines:
                engines[profile.target] = _engine(project, tree, engine_files, kind, profile, options, env, stack,
                                                  progress, build, log, scanned.packages)
            choice, engine_info = engines[profile.target]
            plan = plan_unit(tree_project, files, installed, choice,
                             unit_plan_options(options, unit, out_rel, layout, template, scanned.client_folders),
                             problems)
            plan = replace(plan, warnings=plan.warnings + package_notes(plan, walked, notes))
            planned.append((unit, profile, runtime_why, plan, engine_info, _checked_limits(adapter, unit, plan, log)))
        log_skipped_problems(problems, log)
        settings = settings_key(adapter.key, options, env)
        artifacts = [a for p in planned for a in p[3].artifacts]
        previous = None if options["force"] else reusable(out_dir, settings, artifacts, walked)
        state = reuse_state(tree == project.root, adapter, project_dir, options, env)
        if previous is not None:
            log("nothing changed since the last run: reusing the artifacts (--force rebuilds)")
            write_outputs(adapter.outputs(project, options, units, previous, out_dir), log)
            return _record_state(state, out_dir, scanned, artifacts, previous)
        prepare_out_dir(out_dir)
        checks = LoadCheckContext(adapter.key, tree, tree_project, installed, options, env)
        docs, all_written = _write_units(planned, adapter, options, out_dir, env, stack, kind, log, checks)
        doc = {**merge_unit_docs(units, docs), "layout": scanned.layout.as_dict(), "out_dir": str(out_dir.resolve()),
               "sizes": sizes_section(unit_plans(planned), all_written, tree_project.package, installed)}
        doc["inputs_fingerprint"] = written_fingerprint(settings, ((w.plan.filename, w.result) for w in all_written))
        doc["doctor"] = doctor_section(adapter, project, options, env, doc)
        outputs = adapter.outputs(project, options, units, doc, out_dir)
        if outputs:
            doc["outputs"] = [{"path": str(o.path), "in_place": o.in_place, "note": o.note} for o in outputs]
        commit(all_written, out_dir, doc, report=lambda: after_commit(
            out_dir, doc, options["report"], lambda: file_details(unit_plans(planned), all_written, installed)))
        write_outputs(outputs, log)
        with writing(out_dir / HASHES_NAME):
            save_hashes(out_dir, ((w.plan, w.result) for w in all_written), walked)
            state(out_dir, files, artifacts, folders)
    return doc


def _record_state(state: Callable[[Path, list[FileEntry], list[ArtifactPlan], list[FolderEntry]], None],
                  out_dir: Path, scanned: Scanned, artifacts: list[ArtifactPlan],
                  doc: dict[str, Any]) -> dict[str, Any]:
    """Record the walked tree for the next run's quick no-op check; returns the manifest."""
    with writing(out_dir / STATE_NAME):
        state(out_dir, scanned.files, artifacts, scanned.folders)
    return doc


def _checked_limits(adapter: PlatformAdapter, unit: Unit, plan: BundlePlan, log: Log) -> list[Limit]:
    """Log the unit's plan warnings; its unzipped limits, raising when it is over one."""
    for warning in plan.warnings:
        log(f"warning: {unit.name + ': ' if unit.name else ''}{warning}")
    limits = _named(unit, unzipped_limits(adapter, plan))
    _raise_if_over(limits, plan)
    return limits


def doctor_section(adapter: PlatformAdapter, project: Project, options: Resolved, env: Mapping[str, str],
                   doc: Mapping[str, Any]) -> dict[str, Any]:
    """The doctor's static checks for the manifest's `doctor` key (no database, no node: bundler/doctor/run.py)."""
    from bundler.doctor.run import bundle_section

    section, _ = bundle_section(adapter.key, project, options, env, doc)
    return section


def _write_units(planned: list[tuple[Unit, RuntimeProfile, str, BundlePlan, dict[str, Any], list[Limit]]],
                 adapter: PlatformAdapter, options: Resolved, out_dir: Path, env: Mapping[str, str], stack: ExitStack,
                 kind: EngineKind, log: Log, checks: LoadCheckContext) -> tuple[list[dict[str, Any]], list[Written]]:
    """Write, size-check, verify and load-check each unit's artifacts in temp files; their manifests and the files."""
    docs: list[dict[str, Any]] = []
    all_written: list[Written] = []
    for unit, profile, runtime_why, plan, engine_info, limits_before in planned:
        written = write_artifacts(plan, out_dir, env, stack)
        limits = limits_before + _named(unit, unit_zipped_limits(adapter, options, unit, written))
        _raise_if_over(limits, plan, written)
        verification = _verify(written, profile, kind, options, plan, log)
        loaded = _load_check(checks, unit, profile, plan, written, kind, log)
        unit_doc = build_manifest(adapter, profile, runtime_why, plan, written, limits, engine_info)
        unit_doc["verify"] = verification
        unit_doc["load_check"] = loaded
        docs.append(unit_doc)
        all_written += written
    return docs, all_written


@dataclass(frozen=True)
class LoadCheckContext:
    """What the load check needs besides the unit: the tree that was bundled and the run's settings."""

    platform: str
    tree: Path
    project: Project
    installed: Mapping[str, PackageJson]
    options: Resolved
    env: Mapping[str, str]


def _load_check(ctx: LoadCheckContext, unit: Unit, profile: RuntimeProfile, plan: BundlePlan, written: list[Written],
                kind: EngineKind, log: Log) -> dict[str, Any]:
    """Prove the unit's temp artifacts load (bundler/loadcheck.py); raises LoadCheckError before anything is renamed."""
    from bundler.loadcheck import Artifact, UnitCheck, client_specs, load_check
    from bundler.plan import dependency_closure

    mode = ctx.options["load_check"]
    if mode == "off":
        return {"skipped": True, "reason": f"turned off ({ctx.options.source('load_check')})"}
    names: tuple[str, ...] = ()
    if plan.engine is not None and kind != "client":
        names = tuple(sorted({posixpath.basename(plan.engine.arc),
                              *(engine_filename(kind, t) for t in profile.accepted_targets)}))
    standin: tuple[str, ...] = ()
    if unit.dependencies == "client-only":  # the platform installs the rest: the project's packages stand in
        closure, _ = dependency_closure(ctx.project.package, ctx.installed)
        standin = tuple(sorted(d for d in closure if (ctx.tree / d).is_dir()))
    engine_arc = plan.engine.arc if plan.engine else None
    for old, new in unit.relocate if unit.postinstall else ():
        if engine_arc is not None and engine_arc.startswith(new):  # where the postinstall puts it back (GCF)
            engine_arc = old + engine_arc[len(new):]
    check = UnitCheck(
        platform=ctx.platform, unit=unit.name, entries=unit.entries,
        artifacts=tuple(Artifact(w.plan.kind, w.plan.filename, w.result.path) for w in written),
        kind=kind, engine_arc=engine_arc, engine_artifact=plan.engine_artifact,
        engine_names=names, clients=client_specs(ctx.project), node_major=profile.runtime.node,
        layer_layout=layer_options()[0], tree=ctx.tree, package=ctx.project.package, postinstall=unit.postinstall,
        standin=standin, image=ctx.options["image"] or profile.image, arch=profile.arch)
    return load_check(check, mode, ctx.options["load_check_timeout"], ctx.env, log)


def reuse_state(own_tree: bool, adapter: PlatformAdapter, project_dir: Path, options: Resolved, env: Mapping[str, str]
                ) -> Callable[[Path, list[FileEntry], list[ArtifactPlan], list[FolderEntry]], None]:
    """What records the walked tree for the next run's quick no-op check (nothing for a Docker-built tree)."""
    if not own_tree:
        return lambda out_dir, files, artifacts, folders: None
    key = state_key(adapter.key, project_dir, options, env, whole_env=adapter.reads_environment)
    return lambda out_dir, files, artifacts, folders: save_state(out_dir, key, decisive_files(files, artifacts),
                                                                 folders)


def unit_profile(adapter: PlatformAdapter, project: Project, options: Resolved,
                 unit: Unit) -> tuple[RuntimeProfile, str]:
    """The unit's runtime profile: --runtime (or photon-bundle.toml) first, then what the platform's config
    says for this unit, then choose_runtime; the architecture likewise."""
    if unit.runtime is not None and not options["runtime"]:
        runtime, why = unit.runtime
    else:
        runtime, why = choose_runtime(adapter, project, options)
    arch = unit.arch if unit.arch is not None and options.source("arch") == "default" else options["arch"]
    return resolve(adapter.key, runtime, arch), why


def _check_format(adapter: PlatformAdapter, options: Resolved, kind: EngineKind) -> None:
    if options["format"] != "zip" and not adapter.supports_layers:
        raise ConfigError(f"--format {options['format']}: {adapter.key} has no layers", hint="use --format zip")
    if options["format"] != "zip" and kind == "client":
        raise ConfigError(f"--format {options['format']}: the layer carries the native query engine, and this "
                          "project's Prisma client needs none (engineType client / the prisma-client generator)",
                          hint="use --format zip")


@dataclass(frozen=True)
class Scanned:
    files: list[FileEntry]  # the npm-shaped tree: rel is the path in the bundle, fspath the real file
    folders: list[FolderEntry]  # what the no-op check watches
    layout: Layout  # the package manager and layout seen
    packages: dict[str, Path]  # package name -> real folder (for the engine version)
    client_folders: tuple[str, ...]  # where generated clients were placed
    problems: list[WalkProblem]  # paths the walks could not follow (an error only if the bundle needs one)


def _scan(tree: Path, project: Project, out_rel: str | None, options: Resolved, log: Log) -> Scanned:
    """The npm-shaped tree to plan on (bundler/layout.py): the project's own files (its folder minus
    node_modules) and every package it can load, found by Node's lookup wherever the package manager put
    it (bundler/resolve.py) and laid out flat; the folders the no-op check watches; the layout seen; and
    each package name's real folder (for the engine version)."""
    layout_seen = detect_layout(tree)
    # .yarn/ holds yarn berry's cache, install state and release: the package manager's, never loaded
    skip = {".git/", ".photon-bundle/", ".yarn/", *([out_rel + "/"] if out_rel else [])}
    excluded_link = pathspec.GitIgnoreSpec.from_lines([*DEFAULT_EXCLUDES, *options["exclude"]])
    # without --exclude, the cheap superset test first: a tree of many links is walked at walking speed
    maybe = default_exclude_candidate(None) if not options["exclude"] else lambda rel: True

    def skip_link(rel: str) -> bool:
        return maybe(rel) and excluded_link.match_file(rel)

    folders: list[FolderEntry] = []
    problems: list[WalkProblem] = []
    app = walk_tree(tree, skip_dir=lambda rel: rel in skip or rel == "node_modules/" or rel.endswith("/node_modules/"),
                    skip_link=skip_link, folders=folders, problems=problems)
    schema = project.schema.path if project.schema else None
    own_packages = tuple(posixpath.dirname(f.rel) for f in app if f.rel.endswith("/package.json"))
    resolution = resolve_project(tree, layout_seen.repo_root, schema_path=schema, app_packages=own_packages)
    for warning in resolution.warnings:
        log(f"warning: {warning}")
    built = project_tree(resolution, app, folders, skip_link=skip_link, problems=problems)
    return Scanned(built.files, built.folders, layout_seen, resolution.packages_by_name(), built.client_folders,
                   problems)


# A folder that cannot be listed stands for the files it may hold: one typical file name, planned like any.
_UNREADABLE_STANDIN = "index.js"
_PROBLEM_SOURCE = "\0walk-problem"  # marks the stand-in entries; never a real path


def needed_problems(problems: list[WalkProblem], project: Project, installed: Mapping[str, PackageJson],
                    choice: EngineChoice | None, plan_options: PlanOptions) -> list[WalkProblem]:
    """The walk problems whose path the bundle would carry.

    Each problem path is planned like a file of the tree: a folder that cannot be listed as a typical file
    in it, a link as a file and as a folder (its target is unknown). A package folder whose package.json
    could not be read counts as an installed package with unknown dependencies, so a production dependency
    behind a dangling or outside link is needed while a devDependency is not. Those the plan keeps are
    needed; the others (node_modules/.bin, devDependencies, excluded paths) can be skipped."""
    if not problems:
        return []
    standins: dict[str, int] = {}
    unread: dict[str, PackageJson] = {}
    for n, p in enumerate(problems):
        folder = p.rel if p.rel.endswith("/") else p.rel + "/"
        standins[folder + _UNREADABLE_STANDIN] = n
        if not p.rel.endswith("/"):
            standins[p.rel] = n
        if package_dir_of(folder + "package.json") == folder[:-1] and folder[:-1] not in installed:
            unread[folder[:-1]] = PackageJson(name=None, version=None, main=None)
    entries = [FileEntry(rel, _PROBLEM_SOURCE, 0o100644, 0, 0) for rel in standins]
    plan = plan_bundle(project, entries, {**installed, **unread}, choice, plan_options)
    pruned = {p.rel for p in plan.pruned}
    needed = {n for rel, n in standins.items() if rel not in pruned}
    return [p for n, p in enumerate(problems) if n in needed]


def plan_unit(project: Project, files: list[FileEntry], installed: Mapping[str, PackageJson],
              choice: EngineChoice | None, plan_options: PlanOptions, problems: list[WalkProblem]) -> BundlePlan:
    """The unit's plan; an error when a path the walk could not follow is one the plan would carry."""
    plan = plan_bundle(project, files, installed, choice, plan_options)
    raise_needed_problems(problems, project, installed, choice, plan_options)
    return plan


def raise_needed_problems(problems: list[WalkProblem], project: Project, installed: Mapping[str, PackageJson],
                          choice: EngineChoice | None, plan_options: PlanOptions) -> None:
    needed = needed_problems(problems, project, installed, choice, plan_options)
    if needed:
        err = needed[0].error()
        if len(needed) > 1:
            err.message += f" (and {len(needed) - 1} more such path{'s' if len(needed) > 2 else ''}: " + \
                ", ".join(p.rel for p in needed[1:4]) + (", ..." if len(needed) > 4 else "") + ")"
        raise err


def log_skipped_problems(problems: list[WalkProblem], log: Log) -> None:
    """Problems no bundle needs: said once, so a dangling link in node_modules/.bin does not go unnoticed."""
    for p in problems[:5]:
        log(f"skipped (not bundled): {p.message}")
    if len(problems) > 5:
        log(f"skipped (not bundled): {len(problems) - 5} more paths that could not be followed")


def _log_units(units: list[Unit], profiles: list[tuple[RuntimeProfile, str]], log: Log) -> None:
    for unit, (profile, runtime_why) in zip(units, profiles):
        log(f"{unit.name + ': ' if unit.name else ''}runtime {profile.runtime.name} ({runtime_why}) on "
            f"{profile.arch}: {profile.os.name}, glibc {profile.os.glibc or '-'}, OpenSSL {profile.os.openssl} "
            f"-> engine target {profile.target}")
        for warning in unit.warnings:
            log(f"warning: {unit.name + ': ' if unit.name else ''}{warning}")


def _build_profile(profiles: list[tuple[RuntimeProfile, str]], options: Resolved) -> RuntimeProfile:
    """The one profile a --build docker tree is built for."""
    targets = sorted({p.target for p, _ in profiles})
    if options["build"] == "docker" and len(targets) > 1:
        raise ConfigError(f"--build docker builds one tree, but the functions need engines for {', '.join(targets)}",
                          hint="bundle them in separate runs (--runtime), or give them one runtime")
    return profiles[0][0]


def unit_plan_options(options: Resolved, unit: Unit, out_rel: str | None, layout: dict[str, str],
                      template: str, client_folders: tuple[str, ...] = ()) -> PlanOptions:
    return PlanOptions(excludes=(*unit.excludes, *options["exclude"]), includes=(*unit.includes, *options["include"]),
                       out_rel=out_rel, format=options["format"], layer_node_modules=options["layer_node_modules"],
                       function_filename=unit.function_filename, layer_filename=unit.layer_filename,
                       layer_layout=layout, wrapper_template=template, app_files=unit.app_files, roots=unit.roots,
                       ignored_modules=unit.ignored_modules, dependencies=unit.dependencies,
                       relocate=unit.relocate, generated=unit.generated, client_folders=client_folders)


def _named(unit: Unit, limits: list[Limit]) -> list[Limit]:
    return [replace(lim, name=f"{unit.name}: {lim.name}") for lim in limits] if unit.name else limits


def unit_zipped_limits(adapter: PlatformAdapter, options: Resolved, unit: Unit, written: list[Written]) -> list[Limit]:
    """The unit's own zip limit (e.g. a now.json build's maxLambdaSize) when the adapter set one."""
    if unit.zip_limit is None:
        return zipped_limits(adapter, options, written)
    limit, name = unit.zip_limit
    return [Limit(f"{w.plan.filename} {name}", "zipped", limit, w.result.zipped_size) for w in written]


def merge_unit_docs(units: list[Unit], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """One manifest for several units: every artifact, limit and warning, and a `units` list.

    The top-level runtime, arch, os and engine are the first unit's (the first that carries an engine),
    so readers of single-unit manifests keep working. The single unnamed unit of a platform without
    functions keeps its manifest as it is, with the adapter's warnings and facts added."""
    if len(units) == 1 and not units[0].name:
        doc = {**docs[0], "warnings": [*units[0].warnings, *docs[0]["warnings"]]}
        return {**doc, "meta": dict(units[0].meta)} if units[0].meta else doc
    docs = [d if d["engine"].get("file") or not d["engine"].get("target") else
            {**d, "engine": {"kind": d["engine"]["kind"], "target": None,
                             "note": "the function does not load the Prisma client: no engine bundled"}}
            for d in docs]
    doc = dict(docs[0])
    doc["engine"] = next((d["engine"] for d in docs if d["engine"].get("file")), docs[0]["engine"])
    doc["artifacts"] = [{**a, "unit": u.name} for u, d in zip(units, docs) for a in d["artifacts"]]
    doc["limits"] = [lim for d in docs for lim in d["limits"]]
    reasons: dict[str, dict[str, int]] = {}
    for d in docs:
        for reason, slot in d["pruned"]["by_reason"].items():
            total = reasons.setdefault(reason, {"files": 0, "bytes": 0})
            total["files"] += slot["files"]
            total["bytes"] += slot["bytes"]
    doc["pruned"] = {"files": sum(d["pruned"]["files"] for d in docs),
                     "bytes": sum(d["pruned"]["bytes"] for d in docs), "by_reason": reasons}
    doc["warnings"] = [f"{u.name}: {w}" for u, d in zip(units, docs) for w in [*u.warnings, *d["warnings"]]]
    doc["verify"] = {"skipped": all(d["verify"].get("skipped") for d in docs),
                     "units": {u.name: d["verify"] for u, d in zip(units, docs)}}
    doc["load_check"] = {"skipped": all(d["load_check"].get("skipped") for d in docs),
                         "units": {u.name: d["load_check"] for u, d in zip(units, docs)}}
    doc["units"] = [
        {"name": u.name, "runtime": d["runtime"], "runtime_source": d["runtime_source"], "arch": d["arch"],
         "os": d["os"], "engine": d["engine"], "artifacts": [a["path"] for a in d["artifacts"]],
         "limits": d["limits"], **({"meta": dict(u.meta)} if u.meta else {})}
        for u, d in zip(units, docs)
    ]
    return doc


def write_outputs(outputs: list[OutputFile], log: Log) -> None:
    """Write the adapter's files (config copies, Netlify's manifest) atomically, each only if it changed.
    A file with a note is announced by the summary, which prints the note; the others are logged here."""
    for out in outputs:
        try:
            current = out.path.read_text(encoding="utf-8") if out.path.is_file() else None
        except (OSError, UnicodeDecodeError):
            current = None
        if current != out.text:
            with writing(out.path):
                out.path.parent.mkdir(parents=True, exist_ok=True)
                manifest.write_atomic(out.path, out.text)
            if not out.note:
                log(f"wrote {out.path}")


def _engine(project: Project, tree: Path, engine_files: list[FileEntry], kind: EngineKind, profile: RuntimeProfile,
            options: Resolved, env: Mapping[str, str], stack: ExitStack, progress: bool,
            build: DockerBuildOptions | None, log: Log | None = None,
            packages: Mapping[str, Path] | None = None) -> tuple[EngineChoice | None, dict[str, Any]]:
    if kind == "client":
        return None, {"kind": "client", "target": None, "note": "Prisma client engine: no native engine needed"}
    from bundler.engines.acquire import EngineOptions, acquire

    docker = None
    if options["engine_source"] == "docker" and build is not None:
        from bundler.engines.docker import docker_source_for

        dest = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="photon-bundle-engine-")))
        docker = docker_source_for(profile, build, log or (lambda line: None), dest)
    local = find_local_engine(engine_files, kind, profile)
    acquired = acquire(
        kind, profile.target, project_root=tree, local=local.path if local else None,
        options=EngineOptions(source=options["engine_source"], mirror=options["mirror"], offline=options["offline"],
                              version=options["engine_version"], progress=progress, env=dict(env),
                              advice=engine_advice(project, engine_files, profile),
                              packages=dict(packages or {})),
        docker=docker, found=engines_on_disk(engine_files),
    )
    rel = local.rel if local is not None and acquired.source == "local" else None
    filename = posixpath.basename(rel) if rel else engine_filename(kind, profile.target)
    choice = EngineChoice(filename=filename, target_names=profile.accepted_targets, source=acquired.path,
                          size=acquired.path.stat().st_size, rel=rel)
    info = {"kind": kind, "target": profile.target, "sha256": acquired.sha256, "source": acquired.source,
            "version": acquired.version}
    return choice, info


def unzipped_limits(adapter: PlatformAdapter, plan: BundlePlan) -> list[Limit]:
    info = load_matrix().platform(adapter.key)
    total = sum(a.unzipped_size for a in plan.artifacts) + plan.deferred_bytes
    if info.unzipped_max is None:
        return []
    what = "function + layer" if len(plan.artifacts) > 1 else "function"
    if plan.deferred_bytes:
        what += " + production modules installed at deploy time, measured locally"
    return [Limit(f"{info.title} unzipped size ({what})", "unzipped", info.unzipped_max - info.reserve, total)]


def zipped_limits(adapter: PlatformAdapter, options: Resolved, written: list[Written]) -> list[Limit]:
    limit, name = adapter.zip_limit(options.values), "platform zip limit"
    if options["max_size"] is not None:
        limit, name = options["max_size"], f"max-size ({options.source('max_size')})"
    if limit is None:
        return []
    return [Limit(f"{w.plan.filename} {name}", "zipped", limit, w.result.zipped_size) for w in written]


def _raise_if_over(limits: list[Limit], plan: BundlePlan, written: list[Written] | None = None) -> None:
    over = [lim for lim in limits if not lim.ok]
    if not over:
        return
    items = [(e.arc, e.package, e.size) for a in plan.artifacts for e in a.entries]
    packages, files = breakdown(items)
    lines = [f"{lim.name}: {format_size(lim.actual)} {lim.what} is over the limit of {format_size(lim.limit)} "
             f"by {format_size(-lim.headroom)}" for lim in over]
    raise SizeLimitError(
        "bundle too large; nothing was written at the final path\n" + "\n".join(lines) + "\n"
        + format_breakdown(packages, files),
        hint=_over_limit_hint(over),
    )


def _over_limit_hint(over: list[Limit]) -> str:
    """What helps depends on the limit: a layer or a larger --max-size help a zip limit, not the unzipped one
    (it counts the function and its layers together)."""
    hint = ("exclude what the function does not load (--exclude 'node_modules/pkg/docs/**') or move dependencies "
            "it does not use to devDependencies")
    if any(lim.what == "zipped" for lim in over):
        hint += "; for the zip limit: --format both puts the engine in a layer, or raise --max-size where the " \
                "platform allows"
    if any(lim.what == "unzipped" for lim in over):
        hint += "; the unzipped limit counts the function and its layers together, so a layer does not help"
    return hint


def write_artifacts(plan: BundlePlan, out_dir: Path, env: Mapping[str, str], stack: ExitStack) -> list[Written]:
    """Each artifact into a temp file beside its final path; temps are removed unless committed."""
    epoch = zip_epoch(dict(env))
    written: list[Written] = []
    for artifact in plan.artifacts:
        final = out_dir / artifact.filename  # may be in a subfolder (Netlify's functions/<name>.zip)
        with writing(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=manifest.temp_prefix(final), suffix=".tmp")
            os.close(fd)
            tmp_path = Path(tmp)
            stack.callback(tmp_path.unlink, missing_ok=True)
            result = write_zip(artifact.entries, tmp_path, epoch=epoch)
        written.append(Written(artifact, final, result))
    return written


def _verify(written: list[Written], profile: RuntimeProfile, kind: EngineKind, options: Resolved,
            plan: BundlePlan, log: Log) -> dict[str, Any]:
    """Check every native binary of each temp artifact against the runtime; raise before anything is renamed.

    Sizes are not checked here: the pipeline already held them against the platform and --max-size.
    """
    if not options["verify"]:
        return {"skipped": True}
    from bundler.verify import format_report, verify_artifact

    results: dict[str, Any] = {}
    for w in written:
        expected = kind if w.plan.filename == plan.engine_artifact else None
        heads = {e.arc: e.head for e in w.result.entries}
        report = verify_artifact(w.result.path, profile, engine_kind=expected, limits=(None, None), heads=heads)
        report = replace(report, artifact=w.plan.filename)  # its final name, not the temp file's
        for finding in report.warnings:
            log(f"warning: {w.plan.filename}: {finding.file + ': ' if finding.file else ''}{finding.message}")
        results[w.plan.filename] = {"verdict": report.verdict, "errors": len(report.errors),
                                    "warnings": len(report.warnings)}
        if not report.ok:
            raise VerifyError(
                f"{w.plan.filename} would not run on {profile.platform.title} {profile.runtime.name} "
                f"({profile.arch}); nothing was written at the final path\n{format_report(report)}",
                hint="see the fix under each failing file; --no-verify skips this check (not recommended)",
            )
    return {"skipped": False, "artifacts": results}


def build_manifest(adapter: PlatformAdapter, profile: RuntimeProfile, runtime_why: str, plan: BundlePlan,
                   written: list[Written], limits: list[Limit], engine_info: dict[str, Any]) -> dict[str, Any]:
    if plan.engine is not None:
        engine_info = {**engine_info, "file": plan.engine.arc, "artifact": plan.engine_artifact}
        if any(w.plan.kind == "layer" for w in written):
            engine_info["runtime_path"] = "/opt/" + plan.engine.arc
            engine_info["exec_wrapper"] = "/opt/" + layer_options()[0]["wrapper"]
    reasons: dict[str, dict[str, int]] = {}
    for p in plan.pruned:
        slot = reasons.setdefault(p.reason, {"files": 0, "bytes": 0})
        slot["files"] += 1
        slot["bytes"] += p.size
    return {
        "version": manifest.MANIFEST_VERSION,
        "tool": f"photon-bundle {__version__}",
        "compressor": DEFLATE_BACKEND,
        "platform": adapter.key,
        "runtime": profile.runtime.name,
        "runtime_source": runtime_why,
        "arch": profile.arch,
        "os": profile.os.name,
        "engine": engine_info,
        "artifacts": [
            {"kind": w.plan.kind, "path": w.plan.filename, "sha256": w.result.sha256,
             "zipped_bytes": w.result.zipped_size, "unzipped_bytes": w.result.unzipped_size,
             "files": w.result.file_count, "content_digest": w.result.content_digest}
            for w in written
        ],
        "limits": [{"name": lim.name, "what": lim.what, "limit": lim.limit, "actual": lim.actual,
                    "headroom": lim.headroom} for lim in limits],
        "pruned": {"files": len(plan.pruned), "bytes": sum(p.size for p in plan.pruned), "by_reason": reasons},
        "warnings": list(plan.warnings),
        "inputs_fingerprint": "",  # set over all units once every artifact is written (bundler/reuse.py)
        "reused": False,
    }


def commit(written: list[Written], out_dir: Path, doc: dict[str, Any],
           report: Callable[[], None] | None = None) -> None:
    """Rename every temp artifact into place, then write the manifest last (then `report`: bundler/report/)."""
    umask = os.umask(0)
    os.umask(umask)
    done: list[Path] = []
    try:
        for w in written:
            with writing(w.final):
                w.result.path.chmod(0o666 & ~umask)
                w.result.path.replace(w.final)
            done.append(w.final)
        with writing(out_dir / manifest.MANIFEST_NAME):
            manifest.write_atomic(out_dir / manifest.MANIFEST_NAME, manifest.dumps(doc))
    except BaseException:
        for path in done:  # no artifact without its manifest
            path.unlink(missing_ok=True)
        raise
    if report is not None:
        report()
