"""The report's data, from a manifest (and report-data.json when there is one): one section per unit (function),
each with its engine, its limits and, per artifact, a tree of what is in it; and a tree of what was left out.

A tree node is {"n": name, "s": unzipped bytes, "z": zipped bytes (bundled files), "k": kind, "w": why it is
in / out, "p": path, "c": children}; folders of one child are joined ("node_modules/@prisma/client").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bundler.plan import APP, ENGINE
from bundler.report.sizes import CLIENT, kind_of

Node = dict[str, Any]


def why_in(label: str, kind: str, brought: Mapping[str, str], engine: Mapping[str, Any]) -> str:
    if kind == "app":
        return "the app's own files"
    if kind == "client":
        return "the generated Prisma client (prisma generate)"
    if kind == "engine":
        target = engine.get("target") or "the runtime"
        return f"the query engine for {target} (from {engine.get('source', 'the project')})"
    by = brought.get(label)
    if by == "package.json":
        return f"{label}: a production dependency in package.json"
    if by:
        return f"{label}: a dependency of {by}"
    return f"{label}: required by the function's code"


def _insert(root: Node, parts: list[str], leaf: Node) -> None:
    node = root
    for i, part in enumerate(parts[:-1]):
        children = node.setdefault("c", [])
        nxt = next((c for c in children if c["n"] == part and "c" in c), None)
        if nxt is None:
            nxt = {"n": part, "p": "/".join(parts[:i + 1]), "c": []}
            children.append(nxt)
        node = nxt
    node.setdefault("c", []).append(leaf)


def _finish(node: Node, kind: str | None = None, why: str | None = None) -> Node:
    """Sum sizes up the tree, join single-child folders, sort children largest first."""
    kind = node.get("k", kind)
    why = node.get("w", why)
    children = node.get("c")
    if children is not None:
        node["c"] = [_finish(c, kind, why) for c in children]
        while len(node["c"]) == 1 and "c" in node["c"][0] and node.get("join", True):
            only = node["c"][0]
            node["n"] = f"{node['n']}/{only['n']}" if node["n"] else only["n"]
            node["p"] = only.get("p", node.get("p"))
            node["c"] = only["c"]
        node.pop("join", None)
        node["c"].sort(key=lambda c: (-c["s"], c["n"]))
        node["s"] = sum(c["s"] for c in node["c"])
        if any("z" in c for c in node["c"]):
            node["z"] = sum(c.get("z", 0) for c in node["c"])
    if kind:
        node["k"] = kind
    if why:
        node["w"] = why
    return node


def artifact_tree(path: str, packages: Mapping[str, Mapping[str, Any]], files: Iterable[list[Any]] | None,
                  brought: Mapping[str, str], engine: Mapping[str, Any]) -> Node:
    """An artifact: package boxes (files and folders inside when the per-file detail is there)."""
    root: Node = {"n": path, "p": "", "c": [], "join": False}
    by_label: dict[str, Node] = {}
    for label, slot in sorted(packages.items()):
        kind = str(slot.get("kind") or kind_of(label))
        node: Node = {"n": label, "p": label, "k": kind, "w": why_in(label, kind, brought, engine),
                      "s": int(slot.get("bytes", 0)), "z": int(slot.get("zipped_bytes", 0))}
        by_label[label] = node
        root["c"].append(node)
    for arc, size, zipped, label in files or ():
        pkg = by_label.get(label)
        if pkg is None:
            continue
        pkg.setdefault("c", [])
        pkg["join"] = False
        _insert(pkg, [*arc.split("/")], {"n": arc.rsplit("/", 1)[-1], "p": arc, "s": int(size), "z": int(zipped)})
    for pkg in by_label.values():  # a package's own folders: "node_modules/x/lib" below the box "x"
        if "c" in pkg:
            while len(pkg["c"]) == 1 and "c" in pkg["c"][0]:
                pkg["c"] = pkg["c"][0]["c"]
    return _finish(root)


def pruned_tree(unit: str, reasons: Mapping[str, Mapping[str, Mapping[str, int]]],
                files: Iterable[list[Any]] | None) -> Node:
    """What was left out: reason boxes, package boxes inside, files inside those (with the detail)."""
    root: Node = {"n": "left out", "p": "", "c": [], "join": False}
    slots: dict[tuple[str, str], Node] = {}
    for reason, packages in sorted(reasons.items()):
        rnode: Node = {"n": reason, "p": reason, "k": "pruned", "w": f"left out: {reason}", "c": [], "join": False}
        root["c"].append(rnode)
        for label, slot in sorted(packages.items()):
            pnode: Node = {"n": label, "p": label, "s": int(slot.get("bytes", 0)), "join": False}
            rnode["c"].append(pnode)
            slots[(reason, label)] = pnode
    for rel, size, reason, label in files or ():
        found = slots.get((reason, label))
        if found is not None:
            _insert(found, rel.split("/"), {"n": rel.rsplit("/", 1)[-1], "p": rel, "s": int(size)})
    for pnode in slots.values():
        if "c" in pnode:
            while len(pnode["c"]) == 1 and "c" in pnode["c"][0]:
                pnode["c"] = pnode["c"][0]["c"]
    return _finish(root)


def units_of(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each unit's name, runtime, arch, engine, artifact names and limits (a single-unit manifest has one, "")."""
    if doc.get("units"):
        return [dict(u) for u in doc["units"]]
    return [{"name": "", "runtime": doc.get("runtime"), "arch": doc.get("arch"), "engine": doc.get("engine", {}),
             "artifacts": [a["path"] for a in doc.get("artifacts", [])], "limits": doc.get("limits", [])}]


def report_model(doc: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Everything report.html shows, as JSON-ready data."""
    sizes = doc.get("sizes") or {}
    brought = sizes.get("brought_by", {})
    detail_files = (data or {}).get("artifacts", {})
    detail_pruned = (data or {}).get("pruned", {})
    by_path = {a["path"]: a for a in doc.get("artifacts", [])}
    units = []
    for unit in units_of(doc):
        engine = unit.get("engine") or {}
        artifacts = []
        for name in unit.get("artifacts", []):
            art = by_path.get(name, {})
            packages: dict[str, Any] | None = sizes.get("artifacts", {}).get(name)
            if packages is None:  # a manifest from before the `sizes` key: one box
                packages = {"(artifact)": {"kind": "app", "files": art.get("files", 0),
                                           "bytes": art.get("unzipped_bytes", 0),
                                           "zipped_bytes": art.get("zipped_bytes", 0)}}
            artifacts.append({"path": name, "kind": art.get("kind", "function"),
                              "zipped": art.get("zipped_bytes", 0), "unzipped": art.get("unzipped_bytes", 0),
                              "files": art.get("files", 0), "sha256": art.get("sha256", ""),
                              "tree": artifact_tree(name, packages, detail_files.get(name), brought, engine)})
        reasons: dict[str, Any] | None = sizes.get("pruned", {}).get(unit["name"])
        if reasons is None:  # no per-package split: one box per reason
            reasons = {r: {"": s} for r, s in doc.get("pruned", {}).get("by_reason", {}).items()}
        units.append({"name": unit["name"], "runtime": unit.get("runtime"), "arch": unit.get("arch"),
                      "engine": {k: engine.get(k) for k in ("kind", "target", "file", "sha256", "source", "note",
                                                            "artifact") if engine.get(k) is not None},
                      "limits": unit.get("limits", []), "artifacts": artifacts,
                      "pruned": pruned_tree(unit["name"], reasons, detail_pruned.get(unit["name"]))})
    return {"platform": doc.get("platform", ""), "tool": doc.get("tool", ""), "detail": data is not None,
            "units": units}


__all__ = ["APP", "CLIENT", "ENGINE", "report_model", "units_of"]
