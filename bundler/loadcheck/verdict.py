"""The verdict: the manifest record of a passing run, or one LoadCheckError naming the missing module, who
required it and the likely cause."""

from __future__ import annotations

import posixpath
import zipfile
from typing import Any

from bundler.errors import LoadCheckError
from bundler.loadcheck.model import HINT, Run, UnitCheck, Views, module_name

PROBLEMS = ("entry-fail", "export-fail", "client-fail", "engine-fail", "engine-load-fail", "async-fail")


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
    problems = [e for e in run.events if e.get("event") in PROBLEMS]
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
    _engine_loading(run, view, doc, notes)
    for e in run.events:
        if e.get("event") == "postinstall-skipped":
            step = check.postinstall[int(e.get("step", 0))]
            notes.append(f"the postinstall step `{step}` was not run: a command it needs is not among the production "
                         "packages (the platform's install must provide it)")
    if notes:
        doc["notes"] = notes
    return doc


def _engine_loading(run: Run, view: Views, doc: dict[str, Any], notes: list[str]) -> None:
    """What the real client's own engine loading did: loaded the bundled engine (on the platform's target), or
    was not run or failed only for this machine's target (notes)."""
    loaded = next((e for e in run.events if e.get("event") == "engine-loaded"), None)
    if loaded is not None:
        doc.setdefault("engine", {})["loaded_by_client"] = {"path": _shown(loaded["path"], view),
                                                            "target": loaded.get("target")}
    for e in run.events:
        if e.get("event") == "engine-load-skipped":
            notes.append(f"the Prisma client's own engine loading was not run: {e.get('reason')} (the lookup for "
                         "the platform's target was checked)")
        elif e.get("event") == "async-error" and e.get("offPlatform"):
            notes.append(f"an {e.get('kind')} after {e.get('after')} loaded: {e.get('message')} (the real client "
                         f"looked for this machine's engine, {e['offPlatform']}; on the platform it looks for the "
                         "bundled one)")


def describe_problem(event: dict[str, Any], check: UnitCheck, view: Views) -> str:
    kind = event["event"]
    if kind == "export-fail":
        exports = ", ".join(event.get("exports") or []) or "nothing"
        return (f"  {event['path']} loads, but its export {event['export']!r} is not a function (it exports: "
                f"{exports})\n  likely cause: the handler name does not match the code (file.export)")
    if kind == "engine-fail":
        return _engine_problem(event, check, view)
    if kind == "engine-load-fail":
        return _engine_load_problem(event, view)
    if kind == "async-fail":
        trace = "".join(f"\n    {line}" for line in (event.get("stack") or [])[1:5])
        when = f"after {event['after']} loaded" if event.get("after") else "before any entry point loaded"
        return (f"  an {event.get('kind')} {when}: {event.get('message')}{trace}\n"
                "  likely cause: asynchronous work started at load time fails (a rejected promise nobody handles: "
                "a client or connection created at module scope); on Lambda the runtime exits with "
                "Runtime.UnhandledPromiseRejection at the first cold start")
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


def _engine_load_problem(event: dict[str, Any], view: Views) -> str:
    client = _shown(event.get("client", ""), view)
    bundled = _shown(event.get("bundled", ""), view)
    if event.get("stage") == "other-file":
        return (f"  the Prisma client ({client}) loaded {_shown(event.get('loaded', ''), view)}, not the bundled "
                f"engine {bundled}\n  likely cause: another copy of the engine lies earlier in its search order")
    err = event.get("error") or {}
    what = "constructing the Prisma client" if event.get("stage") == "construct" else \
        f"the Prisma client ({client}) loading its engine for {event.get('target')}"
    return (f"  {what} fails asynchronously: {err.get('message')}\n  likely cause: the bundled engine {bundled} does "
            "not load on this target (a damaged or wrong-platform file, a missing system library such as libssl, "
            "or an engine that does not match the client's version)")


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
