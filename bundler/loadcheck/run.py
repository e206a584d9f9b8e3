"""The run: unpack the unit's artifacts as the platform lays them out, then node (local, or in the runtime's
image through bundler/dockerio/) with the guard, bounded in time; its output parsed."""

from __future__ import annotations

import json
import os
import posixpath
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from bundler.engines import parse_engine_filename
from bundler.errors import ConfigError, LoadCheckError
from bundler.fstree import executable_folder, extract_zip, scratch_dir, temporary_folder
from bundler.loadcheck.model import (
    COMMAND_NOT_FOUND,
    CONTAINER_TOOLS,
    ENGINE_VARS,
    LAMBDA_LIKE,
    MARK,
    NODE_SCRIPTS,
    POSTINSTALL_FAILED,
    SCRUBBED,
    Log,
    Run,
    UnitCheck,
    Views,
    provided_modules,
)
from bundler.loadcheck.verdict import _outcome
from platforms.base import Entry


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
    # a local check unpacks into memory when there is room: tens of thousands of files created on a busy disk
    # cost seconds (bundler/fstree.py scratch_dir); a container's mounts, and GCF's stand-in install (its size is
    # not known ahead), stay in the temp folder
    scratch = scratch_dir(check.unpacked_bytes, os.environ) if mode == "node" and not check.standin else None
    unpack_in = scratch or tempfile.gettempdir()
    if check.kind == "library" and not executable_folder(unpack_in):
        log(f"warning: {label}the temp folder {unpack_in} is mounted noexec: the query engine "
            "cannot be loaded from the unpacked bundle there, so the load check may fail where the platform would "
            "not; set TMPDIR to a folder on a file system mounted with exec")
    with temporary_folder("photon-bundle-loadcheck-", scratch) as tmp:
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
        targets = sorted({parsed.target for n in check.engine_names if (parsed := parse_engine_filename(n))})
        engine = {"path": path, "names": list(check.engine_names), "kind": check.kind, "targets": targets,
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
