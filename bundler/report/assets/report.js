"use strict";
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var colour = location.hash === "#ratio" ? "ratio" : "kind";  // report.html#ratio opens coloured by compression
  var views = [];

  function fmt(n) {
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }
  function describe(node) {
    var lines = [node.p || node.n, "unzipped " + fmt(node.s) + " (" + node.s + " bytes)"];
    if (node.z !== undefined) {
      lines.push("zipped " + fmt(node.z) + " (" + node.z + " bytes), " +
                 (node.s ? Math.round(100 * node.z / node.s) : 100) + "% of unzipped");
    }
    if (node.c) lines.push(node.c.length + " entries inside; click to zoom in");
    if (node.w) lines.push("why: " + node.w);
    return lines.join("\n");
  }
  function ratioColour(node) {
    if (node.z === undefined || !node.s) return "";
    var r = Math.min(1, node.z / node.s);  // 0 compresses to nothing (green), 1 incompressible (red)
    return "hsl(" + Math.round(120 * (1 - r)) + ", 55%, 42%)";
  }
  function worst(row, side) {
    var s = 0, max = 0, min = Infinity;
    row.forEach(function (r) { s += r.a; max = Math.max(max, r.a); min = Math.min(min, r.a); });
    return Math.max(side * side * max / (s * s), (s * s) / (side * side * min));
  }
  function squarify(nodes, x, y, w, h) {
    var total = 0, out = [];
    nodes.forEach(function (n) { total += n.s; });
    var items = nodes.filter(function (n) { return n.s > 0; })
      .map(function (n) { return { n: n, a: n.s * w * h / total }; });
    while (items.length && w > 0 && h > 0) {
      var side = Math.min(w, h), row = [items[0]], i = 1;
      while (i < items.length && worst(row.concat([items[i]]), side) <= worst(row, side)) { row.push(items[i]); i++; }
      items = items.slice(i);
      var ra = 0;
      row.forEach(function (r) { ra += r.a; });
      if (w >= h) {
        var rw = ra / h, yy = y;
        row.forEach(function (r) { var rh = r.a / rw; out.push({ n: r.n, x: x, y: yy, w: rw, h: rh }); yy += rh; });
        x += rw; w -= rw;
      } else {
        var rh = ra / w, xx = x;
        row.forEach(function (r) { var cw = r.a / rh; out.push({ n: r.n, x: xx, y: y, w: cw, h: rh }); xx += cw; });
        y += rh; h -= rh;
      }
    }
    return out;
  }
  function box(parent, rect, node, view, depth) {
    var el = document.createElement("div");
    el.className = "box k-" + (node.k || "app") + (node.c ? " group" : "");
    el.style.left = rect.x + "px"; el.style.top = rect.y + "px";
    el.style.width = Math.max(0, rect.w) + "px"; el.style.height = Math.max(0, rect.h) + "px";
    if (colour === "ratio" && ratioColour(node)) el.style.background = ratioColour(node);
    el.title = describe(node);
    el.dataset.path = node.p || node.n; el.dataset.kind = node.k || "";
    el.dataset.bytes = node.s; if (node.z !== undefined) el.dataset.zipped = node.z;
    el.dataset.depth = depth;
    var label = document.createElement("span");
    label.className = "label";
    label.textContent = node.n + " " + fmt(node.s);
    el.appendChild(label);
    el.addEventListener("mouseover", function (ev) { ev.stopPropagation(); info(node); });
    el.addEventListener("click", function (ev) {
      ev.stopPropagation(); info(node);
      if (node.c) { view.stack.push(node); draw(view); }
    });
    parent.appendChild(el);
    if (node.c && depth < 3 && rect.w > 40 && rect.h > 34) {
      squarify(node.c, 2, 16, rect.w - 6, rect.h - 20).forEach(function (r) {
        if (r.w >= 2 && r.h >= 2) box(el, r, r.n, view, depth + 1);
      });
    }
  }
  function info(node) { document.getElementById("info").textContent = describe(node); }
  function draw(view) {
    var root = view.stack[view.stack.length - 1];
    view.el.textContent = "";
    var w = view.el.clientWidth, h = view.el.clientHeight;
    squarify(root.c || [root], 0, 0, w, h).forEach(function (r) { box(view.el, r, r.n, view, 1); });
    view.crumbs.textContent = "";
    view.stack.forEach(function (node, i) {
      if (i) view.crumbs.appendChild(document.createTextNode(" / "));
      var a = document.createElement(i < view.stack.length - 1 ? "a" : "span");
      a.textContent = node.n + " (" + fmt(node.s) + ")";
      if (i < view.stack.length - 1) a.addEventListener("click", function () { view.stack.length = i + 1; draw(view); });
      view.crumbs.appendChild(a);
    });
  }
  document.querySelectorAll(".treemap").forEach(function (el) {
    var ids = el.dataset.tree.split("."), unit = data.units[+ids[0]];
    var root = ids[1] === "pruned" ? unit.pruned : unit.artifacts[+ids[1]].tree;
    var view = { el: el, crumbs: el.previousElementSibling, stack: [root] };
    views.push(view);
    draw(view);
  });
  document.querySelectorAll("input[name=colour]").forEach(function (input) {
    input.checked = input.value === colour;
    input.addEventListener("change", function () { colour = input.value; views.forEach(draw); });
  });
  window.addEventListener("resize", function () { views.forEach(draw); });
  var loaded = performance.getEntriesByType("resource").length;
  var net = document.getElementById("network");
  net.dataset.resources = loaded;
  net.textContent = loaded ? loaded + " resource(s) were requested by this page" :
    "this page requested nothing from the network (everything is inline)";
})();
