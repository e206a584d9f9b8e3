"""The load check: prove that each unit's artifacts load before anything is renamed into place.

For one unit (bundler/bundle.py calls `load_check` after verify, before commit) the artifacts are unpacked
as the platform lays them out: the function zip at a task root (Lambda's /var/task, GCF's /workspace), a
layer under a stand-in /opt, with the variable its exec wrapper sets (the wrapper itself runs node) and
NODE_PATH as Lambda sets it (/opt/nodejs/nodeNN/node_modules, /opt/nodejs/node_modules, the task root).
For GCF's source zip the project's installed production packages stand in for the cloud's `npm install`
(no generated client among them, as after a real install) and the zip's postinstall runs first.

Then a fresh `node --require guard.js check.js SPEC` (bundler/_node/, shipped in the package) runs with
the unpacked root as its working folder and nothing else on its module path. It requires every entry point
the adapter named (Unit.entries; the export the platform calls must be a function), then the Prisma
client from there (@prisma/client -> .prisma/client, @generated/photon, or a generator `output`), and
emulates the client's engine lookup (Prisma 4.16-6.19's resolveEnginePath: env variable, the generated
folder, the runtime's parent, ../../../.prisma/client from the runtime, /tmp/prisma-engines, the schema
folder; check.js says more) from where the client really resolved: the first engine it would find must be
the bundled one. guard.js turns listen/connect into reported no-ops, so a handler that starts a
server or opens a database connection at require time does not; each run is bounded in time.

`node` mode uses the local node (skipped with a warning when there is none); `docker` runs the same script
inside the runtime's build image (through bundler/dockerio.py), with the runtime's own Node and no network.
A failure raises LoadCheckError (exit 5): the missing module, who required it, and the likely cause.
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bundler.engines import parse_engine_filename
from bundler.errors import ConfigError, LoadCheckError
from bundler.fstree import extract_zip, temporary_folder
from bundler.project import PackageJson, Project
from platforms.base import Entry

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


# ---------------------------------------------------------------- what to check (pure)


def client_specs(project: Project) -> tuple[dict[str, str], ...]:
    """How code reaches each generated client: through @prisma/client (.prisma/client beside it), a module
    name below node_modules (@generated/photon, the 2.0 previews' generated @prisma/photon / @prisma/client,
    a custom output), or a folder among the app's files. The era comes from the client layouts table
    (platforms/clients.toml); `engineDir` is the folder inside the client where that era keeps its engine."""
    from bundler.clients import project_layout

    schema = project.schema
    if schema is None:
        return ()
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


def provided_modules(platform: str) -> tuple[str, ...]:
    return RUNTIME_PROVIDED if platform in LAMBDA_LIKE else ()


def module_name(request: str) -> str | None:
    """The package a bare require names ("@a/b/c" -> "@a/b"); None for a relative or absolute path."""
    if request.startswith((".", "/")):
        return None
    parts = request.split("/")
    return "/".join(parts[:2]) if request.startswith("@") else parts[0]


# ---------------------------------------------------------------- the run


def load_check(check: UnitCheck, mode: str, timeout: float, env: Mapping[str, str], log: Log) -> dict[str, Any]:
    """Run the check for one unit; its manifest record. Raises LoadCheckError when the unit does not load."""
    label = f"{check.unit}: " if check.unit else ""
    if mode == "off":
        return {"skipped": True, "reason": "turned off (--no-load-check / load_check = \"off\")"}
    node = None
    if mode == "node":
        node = shutil.which("node", path=env.get("PATH", os.defpath))
        if node is None:
            log(f"warning: {label}load check skipped: no `node` on PATH (install Node.js, or --load-check docker)")
            return {"skipped": True, "reason": "no node on PATH"}
    function = next((a for a in check.artifacts if a.kind == "function"), None)
    notes: list[str] = []
    if function is None:
        notes.append("no function artifact (--format layer): only the layer's engine variable is checked")
    elif not check.entries:
        notes.append("no entry point: the client was required from the artifact's root")
        log(f"warning: {label}{function.filename}: no entry point to load-check; only the Prisma client is required")
    with temporary_folder("photon-bundle-loadcheck-") as tmp:
        local = _views_local(tmp, check)
        _unpack(check, tmp, local)
        missing = [e.path for e in check.entries if function is not None and not (Path(local.task) / e.path).is_file()]
        if missing:
            raise LoadCheckError(
                f"{label}{function.filename if function else 'the bundle'} does not hold the entry point "
                f"{', '.join(missing)} that the platform loads; nothing was written at the final path",
                hint="an exclude pattern or the platform's ignore file leaves it out: name it with --include")
        entries = check.entries if function is not None else ()
        if mode == "docker":
            view = _views_container(check)
            run = _run_docker(check, tmp, view, _spec(check, view, entries), timeout, env, log)
        else:
            assert node is not None
            run = _run_local(node, check, tmp, local, _spec(check, local, entries), timeout, env)
        view = local if mode != "docker" else _views_container(check)
    return _outcome(check, run, view, mode, timeout, notes)


def _views_local(tmp: Path, check: UnitCheck) -> Views:
    task = tmp / ("workspace" if check.platform == "gcf" else "task")
    return Views(task=str(task), opt=str(tmp / "opt"), tools=str(tmp / "tools"), home=str(tmp / "home"),
                 path_map=(("/opt", str(tmp / "opt")), ("/tmp/prisma-engines", str(tmp / "tmp" / "prisma-engines"))))


def _views_container(check: UnitCheck) -> Views:
    task = "/workspace" if check.platform == "gcf" else "/var/task"
    return Views(task=task, opt="/opt", tools=CONTAINER_TOOLS, home="/tmp", path_map=())


def _unpack(check: UnitCheck, tmp: Path, view: Views) -> None:
    for folder in (view.task, view.opt, view.tools, view.home):
        Path(folder).mkdir(parents=True, exist_ok=True)
    for artifact in check.artifacts:
        extract(artifact.path, Path(view.task if artifact.kind == "function" else view.opt))
    scripts = resources.files("bundler").joinpath("_node")
    for name in NODE_SCRIPTS:
        (Path(view.tools) / name).write_text(scripts.joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
    for rel in check.standin:
        _copy_package(check.tree / rel, Path(view.task) / rel)


def extract(zip_path: Path, dest: Path) -> None:
    """Unpack a zip with the modes it stores (the exec bit of a binary engine and the wrapper matters); a
    deep folder chain unpacks without recursion (bundler/fstree.py)."""
    extract_zip(zip_path, dest)


def _copy_package(src: Path, dest: Path) -> None:
    """One installed package as a cloud install would lay it down: no nested node_modules (the closure lists
    those packages on their own), no engines (a fresh install has no generated client)."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if (n == "node_modules" and Path(folder) == src) or parse_engine_filename(n)]

    shutil.copytree(src, dest, ignore=ignore, symlinks=False, dirs_exist_ok=True)


def _spec(check: UnitCheck, view: Views, entries: tuple[Entry, ...]) -> dict[str, Any]:
    engine = None
    if check.engine_arc is not None and check.kind in ENGINE_VARS:
        in_layer = any(a.kind == "layer" and a.filename == check.engine_artifact for a in check.artifacts)
        path = posixpath.join(view.opt if in_layer else view.task, check.engine_arc)
        extra = sorted({c["engineDir"] for c in check.clients if c.get("engineDir")})
        engine = {"path": path, "names": list(check.engine_names), "kind": check.kind,
                  "envVar": ENGINE_VARS[check.kind], "extraDirs": extra}
    dirs = sorted({posixpath.dirname(e.path) or "." for e in entries})
    return {"root": view.task, "tools": view.tools, "entries": [{"path": e.path, "export": e.export} for e in entries],
            "clients": list(check.clients) if engine is not None else [],
            "clientFrom": dirs, "engine": engine, "pathMap": [list(p) for p in view.path_map]}


def _environment(check: UnitCheck, view: Views, env: Mapping[str, str], *, container: bool) -> dict[str, str]:
    """The user's environment without what would change module lookup or the engine, plus the platform's."""
    keep = {k: v for k, v in env.items() if k not in SCRUBBED and not k.startswith("npm_")}
    if container:
        keep = {k: v for k, v in keep.items() if k not in ("PATH", "PWD", "SHELL", "USER", "TERM", "HOSTNAME")}
    out = {**keep, "HOME": view.home,
           "PHOTON_LOADCHECK_ROOTS": json.dumps([view.task, view.opt]),
           "PHOTON_LOADCHECK_PROVIDED": json.dumps(list(provided_modules(check.platform)))}
    if check.platform in LAMBDA_LIKE:
        out["LAMBDA_TASK_ROOT"] = view.task
        out["NODE_PATH"] = ":".join([f"{view.opt}/nodejs/node{check.node_major}/node_modules",
                                     f"{view.opt}/{check.layer_layout.get('node_modules_dir', 'nodejs/node_modules')}",
                                     view.task])
    return out


def _command(check: UnitCheck, view: Views, node: str, spec: dict[str, Any]) -> list[str]:
    """node with the guard and the check; behind the layer's exec wrapper when the layer has one, as
    AWS_LAMBDA_EXEC_WRAPPER runs it (in a local run, a copy whose /opt paths name the stand-in folder)."""
    cmd = [node, "--require", f"{view.tools}/guard.js", f"{view.tools}/check.js", json.dumps(spec)]
    wrapper = check.layer_layout.get("wrapper")
    if not wrapper or not any(a.kind == "layer" and a.filename == check.engine_artifact for a in check.artifacts):
        return cmd
    if view.opt == "/opt":
        return [f"/opt/{wrapper}", *cmd]
    copy = Path(view.tools) / "exec-wrapper"
    text = (Path(view.opt) / wrapper).read_text(encoding="utf-8")
    copy.write_text(text.replace("/opt/", view.opt + "/"), encoding="utf-8")
    copy.chmod(0o755)
    return [str(copy), *cmd]


def _run_local(node: str, check: UnitCheck, tmp: Path, view: Views, spec: dict[str, Any], timeout: float,
               env: Mapping[str, str]) -> Run:
    run_env = _environment(check, view, env, container=False)
    started = time.monotonic()
    events: list[dict[str, Any]] = []
    output: list[str] = []
    bin_dir = str(Path(view.task) / "node_modules" / ".bin")
    for i, step in enumerate(check.postinstall):
        done = _bounded(["sh", "-c", step], view.task, {**run_env, "PATH": f"{bin_dir}:{env.get('PATH', os.defpath)}"},
                        timeout)
        output += done.output
        if done.exit_code == 0 and not done.timed_out:
            continue
        if done.exit_code == COMMAND_NOT_FOUND and i < len(check.postinstall) - 1:
            events.append({"event": "postinstall-skipped", "step": i})
            continue
        events.append({"event": "postinstall-failed", "step": i, "code": done.exit_code})
        return Run(events=tuple(events), output=tuple(output), exit_code=POSTINSTALL_FAILED, timed_out=done.timed_out,
                   seconds=time.monotonic() - started)
    done = _bounded(_command(check, view, node, spec), view.task, run_env, timeout)
    return Run(events=(*events, *done.events), output=(*output, *done.output), exit_code=done.exit_code,
               timed_out=done.timed_out, seconds=time.monotonic() - started)


def postinstall_script(steps: tuple[str, ...]) -> str:
    """The postinstall steps as one `sh -c` script that then execs its arguments (the checked node), reporting
    a step whose command is missing (skipped unless it is the last) or that fails, as the local run does."""
    lines = []
    for i, step in enumerate(steps):
        skipped = json.dumps({"event": "postinstall-skipped", "step": i})
        failed = json.dumps({"event": "postinstall-failed", "step": i, "code": 0}).replace('"code": 0', '"code": %s')
        on_error = f"printf '{MARK}{failed}\\n' $rc; exit {POSTINSTALL_FAILED}"
        if i < len(steps) - 1:
            on_error = f"if [ $rc -eq {COMMAND_NOT_FOUND} ]; then echo '{MARK}{skipped}'; else {on_error}; fi"
        lines.append(f"( {step} ); rc=$?; if [ $rc -ne 0 ]; then {on_error}; fi")
    return "; ".join([*lines, 'exec "$@"'])


def _bounded(cmd: list[str], cwd: str, env: Mapping[str, str], timeout: float) -> Run:
    """Run a command in its own process group; kill the group at the deadline."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:  # Ctrl-C while waiting: leave nothing running
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    events, output = parse_output(out.decode("utf-8", "replace").splitlines())
    return Run(events=events, output=output, exit_code=proc.returncode, timed_out=timed_out,
               seconds=time.monotonic() - started)


def _run_docker(check: UnitCheck, tmp: Path, view: Views, spec: dict[str, Any], timeout: float,
                env: Mapping[str, str], log: Log) -> Run:
    from bundler import dockerio

    image = check.image
    if not image:
        raise ConfigError(f"--load-check docker: no build image for this runtime on {check.arch}",
                          hint="name one with --image (or `image` in the config file)")
    local = _views_local(tmp, check)
    client = dockerio.connect()
    platform = dockerio.platform_for(check.arch)
    dockerio.ensure_image(client, image, platform=platform, log=log)
    node_cmd = _command(check, view, "node", spec)
    entrypoint, command = node_cmd[:1], node_cmd[1:]
    if check.postinstall:
        entrypoint, command = ["/bin/sh", "-c", postinstall_script(check.postinstall), "sh"], node_cmd
    lines: list[str] = []
    log(f"load check in {image} ({platform})")
    with dockerio.container(client, image, entrypoint=entrypoint, command=command, workdir=view.task,
                            env=_environment(check, view, env, container=True), platform=platform,
                            role="load-check", network=False) as box:
        dockerio.put_directory(box, Path(local.task), view.task)
        if any(a.kind == "layer" for a in check.artifacts):
            dockerio.put_directory(box, Path(local.opt), view.opt)
        dockerio.put_directory(box, Path(local.tools), view.tools)
        result = dockerio.run_logged(box, timeout=timeout, log=lines.append, prefix="")
    events, output = parse_output(lines)
    return Run(events=events, output=output, exit_code=result.exit_code, timed_out=result.timed_out,
               seconds=result.seconds)


def parse_output(lines: list[str]) -> tuple[tuple[dict[str, Any], ...], tuple[str, ...]]:
    """(the check's events, every other line) from the checked process's output."""
    events: list[dict[str, Any]] = []
    output: list[str] = []
    for line in lines:
        at = line.find(MARK)
        if at >= 0:
            try:
                event = json.loads(line[at + len(MARK):])
            except ValueError:
                output.append(line)
                continue
            if isinstance(event, dict):
                events.append(event)
            if at > 0:
                output.append(line[:at])
        else:
            output.append(line)
    return tuple(events), tuple(output)


# ---------------------------------------------------------------- the verdict


def _outcome(check: UnitCheck, run: Run, view: Views, mode: str, timeout: float, notes: list[str]) -> dict[str, Any]:
    label = f"{check.unit}: " if check.unit else ""
    names = ", ".join(a.filename for a in check.artifacts)
    head = f"{label}{names} does not load"
    tail = "; nothing was written at the final path"
    start = next((e for e in run.events if e.get("event") == "start"), {})
    failed = next((e for e in run.events if e.get("event") == "postinstall-failed"), None)
    if failed is not None:
        step = check.postinstall[int(failed.get("step", 0))]
        what = f"did not finish within {timeout:.0f} s" if run.timed_out else f"failed (exit {failed.get('code')})"
        raise LoadCheckError(f"{head}: the zip's postinstall step `{step}` {what} after a stand-in for the "
                             f"platform's install (the project's production packages){tail}\n"
                             + _output_tail(run.output),
                             hint="the platform runs it after installing the production dependencies: make it work "
                                  "with those alone (a CLI it runs must be a dependency, not a devDependency); "
                                  + HINT)
    if run.timed_out:
        pending = _pending(run.events)
        where = f"requiring {pending}" if pending else "the check"
        raise LoadCheckError(f"{head}: {where} did not finish within {timeout:.0f} s and was stopped{tail}\n"
                             "it waits at load time (a loop, a blocking call, or work that never ends); listen and "
                             "connect calls are turned into no-ops by the check, so it is not waiting on the network\n"
                             + _output_tail(run.output),
                             hint="move long-running work into the handler; --load-check-timeout SECONDS allows "
                                  "more time; " + HINT)
    problems = [e for e in run.events if e.get("event") in ("entry-fail", "export-fail", "client-fail", "engine-fail")]
    reported = {e.get("missing") for e in problems if e.get("event") == "entry-fail" and e.get("missing")}
    problems = [e for e in problems if not (e.get("event") == "client-fail"
                                            and (e.get("error") or {}).get("missing") in reported)]
    if problems:
        raise LoadCheckError(f"{head} in node {start.get('node', '?')}{tail}\n"
                             + "\n".join(describe_problem(p, check, view) for p in problems)
                             + ("\n" + _output_tail(run.output) if _output_tail(run.output) else ""),
                             hint=HINT)
    if not any(e.get("event") == "done" for e in run.events) or run.exit_code != 0:
        crash = next((e.get("message") for e in run.events if e.get("event") == "crash"), None)
        raise LoadCheckError(f"{head}: node exited with code {run.exit_code} before the check finished{tail}\n"
                             + (f"{crash}\n" if crash else "") + _output_tail(run.output), hint=HINT)
    engine = next((e for e in run.events if e.get("event") == "engine"), None)
    clients = [e for e in run.events if e.get("event") == "client"]
    doc: dict[str, Any] = {
        "skipped": False, "mode": mode, "node": start.get("node"),
        "artifacts": [a.filename for a in check.artifacts],
        "entries": [{"path": e["path"], "ok": True} for e in run.events if e.get("event") == "entry-ok"],
        "clients": sorted({_shown(c.get("client", ""), view) for c in clients}),
        "guarded": [f"{e['what']} {e.get('detail', '')}".strip() for e in run.events if e.get("event") == "guard"],
        "runtime_provided": sorted({e["module"] for e in run.events if e.get("event") == "provided"}),
    }
    if mode == "docker":  # where it ran (a local run's temp folder is left out: the manifest is deterministic)
        doc.update(image=check.image, task_root=view.task)
    if engine is not None and engine.get("found"):
        first = engine["found"][0]
        doc["engine"] = {"found": _shown(first["path"], view), "via": first["where"]}
    for e in run.events:
        if e.get("event") == "postinstall-skipped":
            step = check.postinstall[int(e.get("step", 0))]
            notes.append(f"the postinstall step `{step}` was not run: a command it needs is not among the production "
                         "packages (the platform's install must provide it)")
    if notes:
        doc["notes"] = notes
    return doc


def describe_problem(event: dict[str, Any], check: UnitCheck, view: Views) -> str:
    kind = event["event"]
    if kind == "export-fail":
        exports = ", ".join(event.get("exports") or []) or "nothing"
        return (f"  {event['path']} loads, but its export {event['export']!r} is not a function (it exports: "
                f"{exports})\n  likely cause: the handler name does not match the code (file.export)")
    if kind == "engine-fail":
        return _engine_problem(event, check, view)
    what = f"requiring {event['path']}" if kind == "entry-fail" else \
        f"requiring the Prisma client from {_shown(event.get('from', ''), view) or '.'}"
    err = event if kind == "entry-fail" else event.get("error", {})
    if err.get("missing"):
        stack = [_shown(p, view) for p in err.get("requireStack") or []]
        lines = [f"  {what}: Cannot find module '{err['missing']}'"]
        if stack:
            lines.append(f"  required by {stack[0]}" + (f" (from {' <- '.join(stack[1:4])})" if len(stack) > 1 else ""))
        lines.append(f"  likely cause: {missing_cause(err['missing'], stack[0] if stack else None, check)}")
        return "\n".join(lines)
    detail = "\n".join(f"    {line}" for line in (err.get("stack") or [])[1:5])
    return (f"  {what} throws: {err.get('message')}" + (f"\n{detail}" if detail else "")
            + "\n  likely cause: the code fails at load time, before the platform could call it")


def _engine_problem(event: dict[str, Any], check: UnitCheck, view: Views) -> str:
    bundled = _shown(event["bundled"], view)
    searched = "; ".join(f"{s['where']} ({_shown(s['path'], view)})" for s in event.get("searched", []))
    names = " or ".join(check.engine_names)
    problem = event.get("problem")
    client = _shown(event.get("client", ""), view)
    if problem == "env-missing":
        var = event["searched"][0]["where"].removeprefix("env ")
        return (f"  the client ({client}) takes its engine from {var}={event['searched'][0]['path']}, which does not "
                f"exist\n  likely cause: the engine is not where the variable points (bundled at {bundled})")
    if problem == "not-found":
        return (f"  the client ({client}) finds no {names}: it searched {searched}\n"
                f"  likely cause: the engine is not where the client looks (bundled at {bundled})")
    if problem == "other-first":
        first = event["found"][0]
        return (f"  the client ({client}) would load {_shown(first['path'], view)} ({first['where']}) before the "
                f"bundled engine {bundled}\n  likely cause: another copy of the engine lies earlier in the "
                "client's search order")
    return (f"  the bundled engine {bundled} is not executable\n  likely cause: the binary engine lost its exec bit "
            "(Prisma's chmod fails on the platform's read-only file system)")


def missing_cause(missing: str, requirer: str | None, check: UnitCheck) -> str:
    """Why a module is missing from the bundle, judged from the project tree it was bundled from."""
    tree = check.tree
    beside = f" beside {posixpath.dirname(requirer)}" if requirer and "node_modules/" in requirer else ""
    if missing == ".prisma/client" or missing.startswith(".prisma/client/"):
        if (tree / "node_modules" / ".prisma" / "client").is_dir():
            return (f"the generated client .prisma/client is not in the bundle{beside}: it is in the project "
                    "(node_modules/.prisma/client), so an --exclude pattern or the platform's ignore rules leave it "
                    "out")
        return (f"the generated client .prisma/client is not in the bundle{beside}: the bundler did not find it "
                "where @prisma/client resolves (run `prisma generate` before bundling)")
    if missing == "@generated/photon" or missing.startswith("@generated/photon/"):
        return ("the generated Photon.js client node_modules/@generated/photon is not in the bundle (run "
                "`prisma2 generate` before bundling, and check the exclude patterns)")
    name = module_name(missing)
    if name is not None and name == missing and _bundled_package(check, name):
        return (f"package {name} is in the bundle, but Node finds no file to load in it: its package.json `main` "
                "(or `exports`) names a file that is not there, and it has no index.js")
    if name is None:
        return ("a file the code requires is not in the bundle: the platform's file rules left it out or the "
                "require could not be followed; name it with --include (Netlify: included_files, Serverless: "
                "package.patterns, Vercel/Now: includeFiles)")
    if not (tree / "node_modules" / name).exists():
        return f"package {name} is not installed in the project: add it to dependencies and install"
    if name in check.package.dev:
        return (f"package {name} is a devDependency: bundles carry production dependencies only; move it to "
                "dependencies")
    who = f" from {requirer}" if requirer else ""
    return (f"package {name} is installed in the project but not in the bundle: no production dependency leads to "
            f"it{who}; add it to the dependencies of package.json (or of the package that requires it), or check "
            "the exclude patterns")


def _bundled_package(check: UnitCheck, name: str) -> bool:
    """Whether an artifact of the unit carries the package `name` (its package.json, at any depth)."""
    for artifact in check.artifacts:
        try:
            with zipfile.ZipFile(artifact.path) as zf:
                if any(n.endswith(f"node_modules/{name}/package.json") for n in zf.namelist()):
                    return True
        except (OSError, zipfile.BadZipFile):
            continue
    return False


def _pending(events: tuple[dict[str, Any], ...]) -> str | None:
    started = [e["path"] for e in events if e.get("event") == "entry-start"]
    finished = {e.get("path") for e in events if e.get("event") in ("entry-ok", "entry-fail", "export-fail")}
    pending = [p for p in started if p not in finished]
    if pending:
        return str(pending[-1])
    return "the Prisma client" if started and not any(e.get("event") == "done" for e in events) else None


def _shown(path: str, view: Views) -> str:
    """A path of the checked process as the artifact names it (task files relative, layer files under /opt)."""
    if path.startswith(view.task + "/"):
        return path[len(view.task) + 1:]
    if path == view.task:
        return "."
    if path.startswith(view.opt + "/"):
        return "/opt/" + path[len(view.opt) + 1:]
    return path


def _output_tail(output: tuple[str, ...], lines: int = 12) -> str:
    shown = [line for line in output if line.strip()][-lines:]
    return "\n".join(["  its output:", *(f"    | {line}" for line in shown)]) if shown else ""
