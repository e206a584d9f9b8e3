"""The size diff between two manifests (pure): artifacts, packages and files added, removed, grown or shrunk,
as a JSON-ready dict and as text or Markdown (for a pull-request comment).

Artifacts are always listed. A package or a file is listed when it was added or removed, or when its unzipped
size changed, and only when the change (the whole size for an added or removed one) is at least the threshold.
Packages come from the manifests' `sizes` key; files from report-data.json beside each manifest (written by a
bundle run with --report), when both are there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bundler.limits import format_size

DEFAULT_THRESHOLD = 1024  # bytes
CHANGE_ORDER = {"added": 0, "removed": 1, "grown": 2, "shrunk": 3}
MARKDOWN_ROWS = 50  # rows per table in a pull-request comment; the rest are counted


def _change(old: int | None, new: int | None) -> str | None:
    if old is None:
        return "added"
    if new is None:
        return "removed"
    return "grown" if new > old else "shrunk" if new < old else None


def _row(change: str, old: Mapping[str, int] | None, new: Mapping[str, int] | None) -> dict[str, Any]:
    o_b, n_b = (old or {}).get("bytes", 0), (new or {}).get("bytes", 0)
    o_z, n_z = (old or {}).get("zipped_bytes", 0), (new or {}).get("zipped_bytes", 0)
    return {"change": change, "old_bytes": o_b, "new_bytes": n_b, "delta_bytes": n_b - o_b,
            "old_zipped": o_z, "new_zipped": n_z, "delta_zipped": n_z - o_z}


def _sorted(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (CHANGE_ORDER[r["change"]], -abs(r["delta_bytes"]), *(r[k] for k in keys)))


def _packages(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Mapping[str, Any]]]:
    return dict((doc.get("sizes") or {}).get("artifacts", {}))


def diff(old: Mapping[str, Any], new: Mapping[str, Any], threshold: int = DEFAULT_THRESHOLD,
         old_files: Mapping[str, Any] | None = None, new_files: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The diff of two manifests (and their report-data.json, when both are given)."""
    old_arts = {a["path"]: a for a in old.get("artifacts", [])}
    new_arts = {a["path"]: a for a in new.get("artifacts", [])}
    artifacts = []
    for path in sorted(old_arts.keys() | new_arts.keys()):
        o, n = old_arts.get(path), new_arts.get(path)
        change = _change(None if o is None else o.get("unzipped_bytes", 0),
                         None if n is None else n.get("unzipped_bytes", 0)) or "same"
        o_sizes = {"bytes": o.get("unzipped_bytes", 0), "zipped_bytes": o.get("zipped_bytes", 0)} if o else None
        n_sizes = {"bytes": n.get("unzipped_bytes", 0), "zipped_bytes": n.get("zipped_bytes", 0)} if n else None
        artifacts.append({"artifact": path, **_row(change, o_sizes, n_sizes)})
    packages = []
    old_pk, new_pk = _packages(old), _packages(new)
    brought = {**(old.get("sizes") or {}).get("brought_by", {}), **(new.get("sizes") or {}).get("brought_by", {})}
    for path in sorted(old_pk.keys() | new_pk.keys()):
        o_art, n_art = old_pk.get(path, {}), new_pk.get(path, {})
        for label in sorted(o_art.keys() | n_art.keys()):
            o, n = o_art.get(label), n_art.get(label)
            moved = _change(None if o is None else o.get("bytes", 0), None if n is None else n.get("bytes", 0))
            row = _row(moved, o, n) if moved else None
            if row is None or abs(row["delta_bytes"]) < threshold:
                continue
            kind = (n or o or {}).get("kind", "dependency")
            packages.append({"artifact": path, "package": label, "kind": kind,
                             **({"brought_by": brought[label]} if label in brought else {}), **row})
    files: list[dict[str, Any]] | None = None
    if old_files is not None and new_files is not None:
        files = []
        o_all, n_all = old_files.get("artifacts", {}), new_files.get("artifacts", {})
        for path in sorted(o_all.keys() | n_all.keys()):
            o_map = {f[0]: {"bytes": f[1], "zipped_bytes": f[2]} for f in o_all.get(path, [])}
            n_map = {f[0]: {"bytes": f[1], "zipped_bytes": f[2]} for f in n_all.get(path, [])}
            for name in sorted(o_map.keys() | n_map.keys()):
                o_f, n_f = o_map.get(name), n_map.get(name)
                fate = _change(None if o_f is None else o_f["bytes"], None if n_f is None else n_f["bytes"])
                if fate is None:
                    continue
                row = _row(fate, o_f, n_f)
                if abs(row["delta_bytes"]) >= threshold:
                    files.append({"artifact": path, "file": name, **row})
    totals = _row("same", {"bytes": sum(a.get("unzipped_bytes", 0) for a in old_arts.values()),
                           "zipped_bytes": sum(a.get("zipped_bytes", 0) for a in old_arts.values())},
                  {"bytes": sum(a.get("unzipped_bytes", 0) for a in new_arts.values()),
                   "zipped_bytes": sum(a.get("zipped_bytes", 0) for a in new_arts.values())})
    del totals["change"]
    return {"threshold": threshold, "totals": totals, "artifacts": artifacts,
            "packages": _sorted(packages, "artifact", "package"),
            "files": None if files is None else _sorted(files, "artifact", "file")}


def signed(n: int) -> str:
    return ("+" if n > 0 else "-" if n < 0 else "±") + format_size(abs(n))


def _sizes(row: Mapping[str, Any]) -> str:
    unzipped = f"{format_size(row['old_bytes'])} -> {format_size(row['new_bytes'])}"
    zipped = f"{format_size(row['old_zipped'])} -> {format_size(row['new_zipped'])}"
    return f"{unzipped} unzipped ({signed(row['delta_bytes'])}), {zipped} zipped ({signed(row['delta_zipped'])})"


def _origin(row: Mapping[str, Any]) -> str:
    by = row.get("brought_by")
    if not by:
        return ""
    return " (in package.json)" if by == "package.json" else f" (via {by})"


def format_text(d: Mapping[str, Any], old_name: str, new_name: str) -> str:
    t = d["totals"]
    lines = [f"size diff {old_name} -> {new_name} (packages and files listed from {format_size(d['threshold'])}):",
             f"total: {format_size(t['old_zipped'])} -> {format_size(t['new_zipped'])} zipped "
             f"({signed(t['delta_zipped'])}), {format_size(t['old_bytes'])} -> {format_size(t['new_bytes'])} "
             f"unzipped ({signed(t['delta_bytes'])})", "artifacts:"]
    lines += [f"  {a['change']:<8} {a['artifact']}: {_sizes(a)}" for a in d["artifacts"]]
    lines.append("packages:" if d["packages"] else "packages: no change at or above the threshold")
    lines += [f"  {p['change']:<8} {p['artifact']}: {p['package']} [{p['kind']}]{_origin(p)}: {_sizes(p)}"
              for p in d["packages"]]
    if d["files"] is None:
        lines.append("files: not compared (report-data.json beside both manifests: bundle with --report)")
    else:
        lines.append("files:" if d["files"] else "files: no change at or above the threshold")
        lines += [f"  {f['change']:<8} {f['artifact']}: {f['file']}: {_sizes(f)}" for f in d["files"]]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows[:MARKDOWN_ROWS]]
    if len(rows) > MARKDOWN_ROWS:
        out.append(f"\n… and {len(rows) - MARKDOWN_ROWS} more (see `photon-bundle report --format json`)")
    return out


def format_markdown(d: Mapping[str, Any], old_name: str, new_name: str) -> str:
    t = d["totals"]
    lines = ["### photon-bundle size diff", "",
             f"`{_md(old_name)}` → `{_md(new_name)}`: **{signed(t['delta_zipped'])} zipped** "
             f"({format_size(t['old_zipped'])} → {format_size(t['new_zipped'])}), {signed(t['delta_bytes'])} unzipped "
             f"({format_size(t['old_bytes'])} → {format_size(t['new_bytes'])})", "", "#### Artifacts", ""]
    lines += _table(["artifact", "change", "zipped", "Δ zipped", "unzipped", "Δ unzipped"],
                    [[f"`{_md(a['artifact'])}`", a["change"], format_size(a["new_zipped"]), signed(a["delta_zipped"]),
                      format_size(a["new_bytes"]), signed(a["delta_bytes"])] for a in d["artifacts"]])
    lines += ["", f"#### Packages (changes of at least {format_size(d['threshold'])})", ""]
    if d["packages"]:
        lines += _table(["change", "package", "kind", "artifact", "unzipped", "Δ unzipped", "Δ zipped"],
                        [[p["change"], f"`{_md(p['package'])}`{_md(_origin(p))}", p["kind"], f"`{_md(p['artifact'])}`",
                          format_size(p["new_bytes"]), signed(p["delta_bytes"]), signed(p["delta_zipped"])]
                         for p in d["packages"]])
    else:
        lines.append("No package changed by that much.")
    if d["files"] is not None:
        lines += ["", f"#### Files (changes of at least {format_size(d['threshold'])})", ""]
        if d["files"]:
            lines += _table(["change", "file", "artifact", "unzipped", "Δ unzipped", "Δ zipped"],
                            [[f["change"], f"`{_md(f['file'])}`", f"`{_md(f['artifact'])}`",
                              format_size(f["new_bytes"]), signed(f["delta_bytes"]), signed(f["delta_zipped"])]
                             for f in d["files"]])
        else:
            lines.append("No file changed by that much.")
    return "\n".join(lines) + "\n"
