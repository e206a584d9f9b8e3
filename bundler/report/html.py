"""report.html: one self-contained page (pure). The data is inline JSON, the script and the style are inline and
allowed by their sha256 in a Content-Security-Policy whose default is 'none', so the page can load nothing
from anywhere. The treemaps are drawn by assets/report.js; everything else is plain HTML."""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

from bundler.limits import format_size
from bundler.report.diff import signed
from bundler.resources import data_file

KIND_NAMES = (("app", "app"), ("dependency", "dependency"), ("client", "generated client"), ("engine", "engine"),
              ("pruned", "left out"))


def _asset(name: str) -> str:
    return data_file("bundler", "report", "assets", name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _kv(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows if v not in (None, ""))
    return f'<table class="kv">{cells}</table>'


def _limits(limits: list[dict[str, Any]]) -> str:
    out = []
    for lim in limits:
        limit, actual = int(lim.get("limit", 0)), int(lim.get("actual", 0))
        share = 100 * actual / limit if limit else 0
        out.append(
            f'<div class="limit" data-limit="{escape(str(lim.get("name", "")))}">'
            f'<span>{escape(str(lim.get("name", "")))}</span>'
            f'<meter min="0" max="{limit}" low="{int(limit * 0.8)}" high="{int(limit * 0.95)}" optimum="0" '
            f'value="{actual}">{share:.0f}%</meter>'
            f'<span class="text">{escape(format_size(actual))} of {escape(format_size(limit))} '
            f'({share:.1f}%): {escape(format_size(int(lim.get("headroom", limit - actual))))} headroom</span></div>')
    return "".join(out) or "<p>no size limit</p>"


def _engine(engine: dict[str, Any]) -> str:
    if not engine.get("file"):
        return f"<p>{escape(str(engine.get('note') or 'no engine bundled'))}</p>"
    return _kv([("target", engine.get("target")), ("file", engine.get("file")), ("in", engine.get("artifact")),
                ("kind", engine.get("kind")), ("sha256", engine.get("sha256")), ("source", engine.get("source"))])


def _unit(i: int, unit: dict[str, Any]) -> str:
    title = f"function {unit['name']}" if unit["name"] else "bundle"
    parts = [f'<section class="unit" data-unit="{escape(unit["name"])}">',
             f"<h2>{escape(title)} · {escape(str(unit.get('runtime') or ''))} "
             f"{escape(str(unit.get('arch') or ''))}</h2>",
             f'<div class="facts"><div><h3>Engine</h3>{_engine(unit["engine"])}</div>'
             f'<div><h3>Limits</h3>{_limits(unit["limits"])}</div></div>']
    for j, art in enumerate(unit["artifacts"]):
        ratio = 100 * art["zipped"] / art["unzipped"] if art["unzipped"] else 100
        parts += [f"<h3>{escape(art['path'])} ({escape(art['kind'])}): "
                  f"{escape(format_size(art['unzipped']))} unzipped, {escape(format_size(art['zipped']))} zipped "
                  f"({ratio:.0f}%), {art['files']} files</h3>",
                  '<div class="crumbs"></div>',
                  f'<div class="treemap" data-tree="{i}.{j}" data-artifact="{escape(art["path"])}"></div>']
    pruned = unit["pruned"]
    parts += [f"<h3>Left out: {escape(format_size(pruned.get('s', 0)))}, by reason</h3>",
              '<div class="crumbs"></div>',
              f'<div class="treemap small" data-tree="{i}.pruned"></div>' if pruned.get("c") else "<p>nothing</p>",
              "</section>"]
    return "\n".join(parts)


def _diff(d: dict[str, Any] | None) -> str:
    if d is None:
        return ""
    t = d["totals"]
    rows = [(a["change"], a["artifact"], a) for a in d["artifacts"]]
    rows += [(p["change"], f"{p['artifact']}: {p['package']} ({p['kind']})", p) for p in d["packages"]]
    rows += [(f["change"], f"{f['artifact']}: {f['file']}", f) for f in d["files"] or []]
    body = "".join(
        f'<tr class="c-{escape(c)}"><td>{escape(c)}</td><td>{escape(what)}</td>'
        f"<td>{escape(format_size(r['new_bytes']))}</td><td>{escape(signed(r['delta_bytes']))}</td>"
        f"<td>{escape(format_size(r['new_zipped']))}</td><td>{escape(signed(r['delta_zipped']))}</td></tr>"
        for c, what, r in rows)
    return (f'<section id="diff"><h2>Changes since {escape(str(d.get("against") or "the older manifest"))}: '
            f"{escape(signed(t['delta_zipped']))} zipped, {escape(signed(t['delta_bytes']))} unzipped</h2>"
            f'<p class="sub">packages and files listed from {escape(format_size(d["threshold"]))}</p>'
            '<table class="kv"><tr><th>change</th><th>what</th><th>unzipped</th><th>Δ</th><th>zipped</th>'
            "<th>Δ</th></tr>"
            f"{body}</table></section>")


def render(model: dict[str, Any]) -> str:
    """The page for report_model(...)."""
    script, style = _asset("report.js"), _asset("report.css")
    csp = (f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; img-src 'none'; "
           "base-uri 'none'; form-action 'none'")
    # no "<" inside the script element: a path like "</script>" or "<!--" cannot end or change it
    payload = json.dumps(model, sort_keys=True, separators=(",", ":")).replace("<", "\\u003c")
    legend = "".join(f'<span><i class="k-{k}"></i>{escape(n)}</span>' for k, n in KIND_NAMES)
    detail = "" if model["detail"] else (
        '<p class="sub">Package boxes only: the per-file detail (report-data.json) is written by a bundle run '
        "with --report.</p>")
    units = "\n".join(_unit(i, u) for i, u in enumerate(model["units"]))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>photon-bundle size report: {escape(model['platform'])}</title>
<style>{style}</style>
</head>
<body>
<h1>Size report: {escape(model['platform'])}</h1>
<p class="sub">{escape(model['tool'])} · boxes are sized by unzipped bytes; hover for sizes and why a file is in,
click to zoom in, click the path above a map to zoom out.</p>
{detail}
<div class="controls">colour by <label><input type="radio" name="colour" value="kind" checked> kind</label>
<label><input type="radio" name="colour" value="ratio"> compression (green compresses well, red not)</label>
<span class="legend">{legend}</span></div>
<div id="info">hover over a box</div>
{_diff(model.get("diff"))}
{units}
<footer><p id="network"></p></footer>
<script type="application/json" id="report-data">{payload}</script>
<script>{script}</script>
</body>
</html>
"""
