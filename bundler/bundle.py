"""The bundle pipeline: inspect -> resolve -> acquire -> plan -> write -> check -> verify -> load check -> commit.

Each step is a function of the one before; only this module sequences them and touches the output
folder. Artifacts are written to temp files beside their final paths and renamed into place only after
every size, verification and load check passed (bundler/loadcheck/: each unit's artifacts unpacked and
required in a fresh node), so a failed or interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bundler import manifest
from bundler.archive import write_zip, zip_epoch
from bundler.clients import refuse_ungenerated
from bundler.engines import EngineKind, engine_filename, parse_engine_filename
from bundler.engines.local import engine_advice, engine_kind, engines_on_disk, find_local_engine
from bundler.errors import BundleError, ConfigError
from bundler.installed import installed_packages, package_notes
from bundler.jsbundle.pipeline import prepare
from bundler.limits import Limit, named_for, raise_if_over, unit_zipped_limits, unzipped_limits
from bundler.manifest import (
    Acquired,
    EngineRecord,
    JsonObject,
    Manifest,
    OutputRecord,
    UnitRecord,
    Verification,
    bundled_units,
    unit_record,
)
from bundler.offload import Offloaded
from bundler.options import Options, output_dir
from bundler.outdir import Written, check_out_dir, commit, prepare_out_dir, withdraw_previous, write_outputs, writing
from bundler.plan import ArtifactPlan, BundlePlan, EngineChoice, PlanOptions
from bundler.prefetch import Prefetch
from bundler.problems import log_skipped_problems, plan_unit
from bundler.project import PackageJson, Project, read_project
from bundler.report.files import after_commit
from bundler.report.sizes import file_details, sizes_section
from bundler.resources import layer_options
from bundler.reuse import (
    HASHES_NAME,
    STATE_NAME,
    decisive_files,
    hashes_text,
    reusable,
    save_records,
    settings_key,
    state_key,
    tree_text,
    written_fingerprint,
)
from bundler.runtime_choice import unit_profile
from bundler.scan import scan
from bundler.shared_cache.artifacts import Fetched, Sharing, fetch_planned
from bundler.shared_cache.store import shared_store
from bundler.targets import RuntimeProfile
from bundler.trace import Tracer, new_tracer, traced_files
from bundler.walk import FileEntry
from platforms.base import PlatformAdapter, Unit

if TYPE_CHECKING:
    from bundler.engines.docker import DockerBuildOptions

Log = Callable[[str], None]


def _rel_inside(path: Path, root: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def docker_build_options(options: Options, out_rel: str | None) -> DockerBuildOptions | None:
    """How to build in a container (--build docker, --engine-source docker), or None when nothing does."""
    if options.build != "docker" and options.engine_source != "docker":
        return None
    from bundler.engines.docker import DockerBuildOptions

    return DockerBuildOptions(image=options.image, command=options.build_command,
                              env=dict(options.build_env), timeout=options.build_timeout,
                              leave_out=(out_rel,) if out_rel else ())


@contextmanager
def _tree(project: Project, profile: RuntimeProfile, build: DockerBuildOptions | None, options: Options,
          log: Log) -> Iterator[Path]:
    """The folder to bundle: the project itself, or a copy built inside a matching Docker image."""
    if options.build != "docker" or build is None:
        yield project.root
        return
    from bundler.engines.docker import built_tree

    with built_tree(project.root, profile, build, log) as tree:
        yield tree


@dataclass(frozen=True)
class PlannedUnit:
    """One unit after planning: its runtime (and why), its plan, its engine's manifest facts and the limits
    checked so far (unzipped); the write step adds the zipped ones."""

    unit: Unit
    profile: RuntimeProfile
    runtime_why: str
    plan: BundlePlan
    engine: EngineRecord
    limits: list[Limit]


def bundle(adapter: PlatformAdapter, project_dir: Path, options: Options, env: Mapping[str, str],
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


def _bundle(adapter: PlatformAdapter, project_dir: Path, out_dir: Path, options: Options, env: Mapping[str, str],  # noqa: PLR0915
            log: Log, *, progress: bool) -> dict[str, Any]:
    project = read_project(project_dir)
    if options.build != "docker":  # a Docker build runs `generate` itself
        refuse_ungenerated(project)
    units = adapter.units(project, options, env)
    profiles = [unit_profile(adapter, project, options, unit) for unit in units]
    _log_units(units, profiles, log)
    with ExitStack() as stack:
        out_rel = _rel_inside(out_dir, project.root)  # the same place in a tree built from a copy
        build = docker_build_options(options, out_rel)
        tree = stack.enter_context(_tree(project, _build_profile(profiles, options), build, options, log))
        tree_project = project if tree == project.root else read_project(tree)
        scanned = scan(tree, tree_project, out_rel, options, log)
        files, folders, problems = scanned.files, scanned.folders, scanned.problems
        kind = engine_kind(project, engine_files := [f for f in files if parse_engine_filename(  # one pass for all
            posixpath.basename(f.rel))], env)
        layout, template = layer_options()
        _check_format(adapter, options, kind)
        notes: dict[str, str] = {}
        installed = installed_packages(files, notes)
        walked = {f.fspath: f for f in files}
        prepared = prepare(adapter.key, tree, tree_project, units, [p for p, _ in profiles], files, installed,
                           options, kind, env, stack, log)  # --bundler esbuild / --prebuilt: bundler/jsbundle/
        # the units as prepared, and the tree's small files compressing on the idle cores while the plan is made
        # (bundler/prefetch.py; not when a JS bundler made the code: the plan then ships its output instead)
        units, prefetch = [p.unit for p in prepared], stack.enter_context(
            Prefetch(files if all(p.bundled is None for p in prepared) else ()))
        engines: dict[str, tuple[EngineChoice | None, EngineRecord]] = {}
        planned: list[PlannedUnit] = []
        tracer = new_tracer(files) if options.trace else None
        for unit, (profile, runtime_why), ready in zip(units, profiles, prepared):
            if profile.target not in engines:
                engines[profile.target] = _engine(project, tree, engine_files, kind, profile, options, env, stack,
                                                  progress, build, log, scanned.packages)
            choice, engine = engines[profile.target]
            plan_options, traced = _traced(tracer if ready.bundled is None else None, unit, profile, replace(
                unit_plan_options(options, unit, out_rel, layout, template, scanned.client_folders),
                engine_home=ready.bundled.engine_home if ready.bundled else None,
                bundled_files=ready.bundled.inputs if ready.bundled else frozenset()))
            plan = _noted(plan_unit(tree_project, files, installed, choice, plan_options, problems), traced, walked,
                          notes)
            planned.append(PlannedUnit(unit, profile, runtime_why, plan, engine,
                                       _checked_limits(adapter, unit, plan, log)))
        log_skipped_problems(problems, log)
        settings = settings_key(adapter.key, options, env)
        artifacts = [a for p in planned for a in p.plan.artifacts]
        previous = None if options.force else reusable(out_dir, settings, artifacts, walked)
        # a bundle is made from files the plan does not list: no quick no-op check (the content check still runs)
        key = reuse_key(tree == project.root and all(p.bundled is None for p in prepared), adapter, project_dir,
                        options, env)
        tree_record = (lambda: tree_text(key, decisive_files(files, artifacts), folders)) if key else lambda: None
        names = [a.filename for a in artifacts]
        if previous is not None:
            log("nothing changed since the last run: reusing the artifacts (--force rebuilds)")
            write_outputs(adapter.outputs(project, options, units, bundled_units(previous), out_dir), log)
            with writing(out_dir / STATE_NAME):
                save_records(out_dir, None, tree_record(), names)  # reusable() refreshed the hashes
            return previous
        checks = LoadCheckContext(adapter.key, tree, tree_project, installed, options, env,
                                  {p.unit.name: c for p in prepared if (c := p.load_check_clients()) is not None})

        def next_records(written: list[Written]) -> Offloaded:
            """The next run's records, built on the idle core while the artifacts are checked and committed."""
            return stack.enter_context(Offloaded(lambda: [hashes_text(((w.plan, w.result) for w in written), walked),
                                                          tree_record() or ""]))

        records, all_written, sharing, offloaded = _produce(planned, adapter, settings, walked, out_dir, stack, kind,
                                                            log, checks, prefetch, next_records)
        plans = [(p.unit.name, p.plan) for p in planned]
        made = Manifest(
            platform=adapter.key, units=tuple(records), layout=scanned.layout.as_dict(), out_dir=str(out_dir.resolve()),
            sizes=sizes_section(plans, all_written, tree_project.package, installed),
            inputs_fingerprint=written_fingerprint(settings, ((w.plan.filename, w.result) for w in all_written)),
            shared_cache=sharing.url)
        made = replace(made, doctor=doctor_section(adapter, project, options, env, made.to_json()))
        outputs = adapter.outputs(project, options, units, made.bundled(), out_dir)
        made = replace(made, outputs=tuple(OutputRecord(str(o.path), o.in_place, o.note) for o in outputs))
        doc = made.to_json()
        commit(all_written, out_dir, doc, report=lambda: after_commit(
            out_dir, doc, options.report, lambda: file_details(plans, all_written, installed)))
        write_outputs(outputs, log)
        hashes, tree_state = offloaded.result()
        with writing(out_dir / HASHES_NAME):
            save_records(out_dir, hashes, tree_state or None, names)
        sharing.share(made, all_written)
    return doc


def _produce(planned: list[PlannedUnit], adapter: PlatformAdapter, settings: str, walked: Mapping[str, FileEntry],
             out_dir: Path, stack: ExitStack, kind: EngineKind, log: Log, checks: LoadCheckContext,
             prefetch: Prefetch | None, after_write: Callable[[list[Written]], Offloaded],
             ) -> tuple[list[UnitRecord], list[Written], Sharing, Offloaded]:
    """The units' records and artifacts in temp files, what shares them once committed, and what `after_write`
    started once every artifact was there: the artifacts come from the shared cache (`--cache s3://...`,
    bundler/shared_cache/) when it has this plan's contents, else they are written (--force always writes)."""
    options, env = checks.options, checks.env
    prepare_out_dir(out_dir)
    store = shared_store(options.cache, options.offline, env, log)
    fetched = None if store is None or options.force else fetch_planned(
        store, settings, planned_units(planned), walked, out_dir, stack, log)
    if fetched is not None and prefetch is not None:
        prefetch.stop()  # nothing is written
    produced = _write_units(planned, adapter, options, out_dir, env, stack, fetched, prefetch)
    all_written = [w for _, written, _ in produced for w in written]
    started = after_write(all_written)
    records = _check_units(produced, options, kind, log, checks, fetched)
    return records, all_written, Sharing(store, fetched, options.load_check != "off", log), started


def planned_units(planned: list[PlannedUnit]) -> dict[str, list[ArtifactPlan]]:
    return {p.unit.name: list(p.plan.artifacts) for p in planned}


def _noted(plan: BundlePlan, traced: list[str], walked: Mapping[str, FileEntry],
           notes: Mapping[str, str]) -> BundlePlan:
    """The plan with the trace's warnings and the installed packages' notes among its warnings."""
    return replace(plan, warnings=(*plan.warnings, *traced, *package_notes(plan, walked, notes)))


def _checked_limits(adapter: PlatformAdapter, unit: Unit, plan: BundlePlan, log: Log) -> list[Limit]:
    """Log the unit's plan warnings; its unzipped limits, raising when it is over one."""
    for warning in plan.warnings:
        log(f"warning: {unit.name + ': ' if unit.name else ''}{warning}")
    limits = named_for(unit, unzipped_limits(adapter, plan))
    raise_if_over(limits, plan)
    return limits


def doctor_section(adapter: PlatformAdapter, project: Project, options: Options, env: Mapping[str, str],
                   doc: Mapping[str, Any]) -> dict[str, Any]:
    """The doctor's static checks for the manifest's `doctor` key (no database, no node: bundler/doctor/run.py)."""
    from bundler.doctor.run import bundle_section

    section, _ = bundle_section(adapter.key, project, options, env, doc)
    return section


def _write_units(planned: list[PlannedUnit], adapter: PlatformAdapter, options: Options, out_dir: Path,
                 env: Mapping[str, str], stack: ExitStack, fetched: Fetched | None = None,
                 prefetch: Prefetch | None = None) -> list[tuple[PlannedUnit, list[Written], list[Limit]]]:
    """Write each unit's artifacts in temp files and hold them against the zipped size limits; with `fetched` (from
    the shared cache, contents checked against the plan), its temp files are taken instead of written."""
    produced: list[tuple[PlannedUnit, list[Written], list[Limit]]] = []
    for p in planned:
        written = write_artifacts(p.plan, out_dir, env, stack, prefetch) if fetched is None else fetched.of(p.plan)
        limits = p.limits + named_for(p.unit, unit_zipped_limits(adapter, options, p.unit, written))
        raise_if_over(limits, p.plan, written)
        produced.append((p, written, limits))
    return produced


def _check_units(produced: list[tuple[PlannedUnit, list[Written], list[Limit]]], options: Options, kind: EngineKind,
                 log: Log, checks: LoadCheckContext, fetched: Fetched | None = None) -> list[UnitRecord]:
    """Verify and load-check each unit's temp artifacts; their records. From the shared cache, the load check's
    record is the one that proved these contents (bundler/shared_cache/)."""
    from bundler.verify.step import verified  # the ELF checks load only when there is something to verify

    records: list[UnitRecord] = []
    for p, written, limits in produced:
        verification = verified(written, p.profile, kind, p.plan, log) if options.verify else Verification(None)
        loaded = (_load_check(checks, p.unit, p.profile, p.plan, written, kind, log) if fetched is None
                  else fetched.load_checks[p.unit.name])
        records.append(unit_record(p.unit, p.profile, p.runtime_why, p.plan, written, limits, p.engine, verification,
                                   loaded))
    return records


@dataclass(frozen=True)
class LoadCheckContext:
    """What the load check needs besides the unit: the tree that was bundled and the run's settings."""

    platform: str
    tree: Path
    project: Project
    installed: Mapping[str, PackageJson]
    options: Options
    env: Mapping[str, str]
    bundled_clients: Mapping[str, tuple[dict[str, str], ...]] = field(default_factory=dict)  # unit -> bundles


def _load_check(ctx: LoadCheckContext, unit: Unit, profile: RuntimeProfile, plan: BundlePlan, written: list[Written],
                kind: EngineKind, log: Log) -> JsonObject:
    """Prove the unit's temp artifacts load (bundler/loadcheck/); raises LoadCheckError before anything is renamed."""
    from bundler.closure import dependency_closure
    from bundler.loadcheck import Artifact, UnitCheck, client_specs, load_check

    mode = ctx.options.load_check
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
        engine_names=names, clients=ctx.bundled_clients.get(unit.name, client_specs(ctx.project)),
        node_major=profile.runtime.node,
        layer_layout=layer_options()[0], tree=ctx.tree, package=ctx.project.package, postinstall=unit.postinstall,
        standin=standin, image=ctx.options.image or profile.image, arch=profile.arch,
        unpacked_bytes=sum(a.unzipped_size for a in plan.artifacts))
    return load_check(check, mode, ctx.options.load_check_timeout, ctx.env, log)


def _traced(tracer: Tracer | None, unit: Unit, profile: RuntimeProfile,
            plan_options: PlanOptions) -> tuple[PlanOptions, list[str]]:
    """With --trace, the unit's file set is what its entry points reach (bundler/trace/); and the trace's warnings."""
    if tracer is None:
        return plan_options, []
    reached, warnings = traced_files(tracer, (e.path for e in unit.entries), unit.relocate, unit.name,
                                     profile.runtime.node, dict(unit.generated))
    return replace(plan_options, traced=reached), warnings


def reuse_key(own_tree: bool, adapter: PlatformAdapter, project_dir: Path, options: Options,
              env: Mapping[str, str]) -> str | None:
    """The key of the walked tree's state for the next run's quick no-op check (none for a Docker-built tree)."""
    if not own_tree:
        return None
    return state_key(adapter.key, project_dir, options, env, whole_env=adapter.reads_environment)


def _check_format(adapter: PlatformAdapter, options: Options, kind: EngineKind) -> None:
    if options.format != "zip" and not adapter.supports_layers:
        raise ConfigError(f"--format {options.format}: {adapter.key} has no layers", hint="use --format zip")
    if options.format != "zip" and kind == "client":
        raise ConfigError(f"--format {options.format}: the layer carries the native query engine, and this "
                          "project's Prisma client needs none (engineType client / the prisma-client generator)",
                          hint="use --format zip")


def _log_units(units: list[Unit], profiles: list[tuple[RuntimeProfile, str]], log: Log) -> None:
    for unit, (profile, runtime_why) in zip(units, profiles):
        log(f"{unit.name + ': ' if unit.name else ''}runtime {profile.runtime.name} ({runtime_why}) on "
            f"{profile.arch}: {profile.os.name}, glibc {profile.os.glibc or '-'}, OpenSSL {profile.os.openssl} "
            f"-> engine target {profile.target}")
        for warning in unit.warnings:
            log(f"warning: {unit.name + ': ' if unit.name else ''}{warning}")


def _build_profile(profiles: list[tuple[RuntimeProfile, str]], options: Options) -> RuntimeProfile:
    """The one profile a --build docker tree is built for."""
    targets = sorted({p.target for p, _ in profiles})
    if options.build == "docker" and len(targets) > 1:
        raise ConfigError(f"--build docker builds one tree, but the functions need engines for {', '.join(targets)}",
                          hint="bundle them in separate runs (--runtime), or give them one runtime")
    return profiles[0][0]


def unit_plan_options(options: Options, unit: Unit, out_rel: str | None, layout: dict[str, str],
                      template: str, client_folders: tuple[str, ...] = ()) -> PlanOptions:
    return PlanOptions(unit=unit, excludes=options.exclude, includes=options.include, out_rel=out_rel,
                       format=options.format, layer_node_modules=options.layer_node_modules, layer_layout=layout,
                       wrapper_template=template, client_folders=client_folders)


def _engine(project: Project, tree: Path, engine_files: list[FileEntry], kind: EngineKind, profile: RuntimeProfile,
            options: Options, env: Mapping[str, str], stack: ExitStack, progress: bool,
            build: DockerBuildOptions | None, log: Log | None = None,
            packages: Mapping[str, Path] | None = None) -> tuple[EngineChoice | None, EngineRecord]:
    if kind == "client":
        return None, EngineRecord("client", None, note="Prisma client engine: no native engine needed")
    from bundler.engines.acquire import EngineOptions, acquire

    docker = None
    if options.engine_source == "docker" and build is not None:
        from bundler.engines.docker import docker_source_for

        dest = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="photon-bundle-engine-")))
        docker = docker_source_for(profile, build, log or (lambda line: None), dest)
    local = find_local_engine(engine_files, kind, profile)
    acquired = acquire(
        kind, profile.target, project_root=tree, local=local.path if local else None,
        options=EngineOptions(source=options.engine_source, mirror=options.mirror, offline=options.offline,
                              version=options.engine_version, progress=progress, env=dict(env),
                              advice=engine_advice(project, engine_files, profile),
                              packages=dict(packages or {}), shared_cache=options.cache),
        docker=docker, found=engines_on_disk(engine_files),
    )
    rel = local.rel if local is not None and acquired.source == "local" else None
    filename = posixpath.basename(rel) if rel else engine_filename(kind, profile.target)
    choice = EngineChoice(filename=filename, target_names=profile.accepted_targets, source=acquired.path,
                          size=acquired.path.stat().st_size, rel=rel)
    return choice, EngineRecord(kind, profile.target, Acquired(acquired.sha256, acquired.source, acquired.version))


def write_artifacts(plan: BundlePlan, out_dir: Path, env: Mapping[str, str], stack: ExitStack,
                    prefetch: Prefetch | None = None) -> list[Written]:
    """Each artifact into a temp file beside its final path; temps are removed unless committed."""
    epoch = zip_epoch(dict(env))
    if prefetch is not None:
        prefetch.stop()  # the write's workers take the cores; what was prefetched is used
    written: list[Written] = []
    for artifact in plan.artifacts:
        final = out_dir / artifact.filename  # may be in a subfolder (Netlify's functions/<name>.zip)
        with writing(final):
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=manifest.temp_prefix(final), suffix=".tmp")
            os.close(fd)
            tmp_path = Path(tmp)
            stack.callback(tmp_path.unlink, missing_ok=True)
            result = write_zip(artifact.entries, tmp_path, epoch=epoch, prefetched=prefetch)
        written.append(Written(artifact, final, result))
    return written
