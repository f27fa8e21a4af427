// A small SVG line chart: segments (one per job of a restart chain), threshold lines,
// NaN/Inf marks, restart marks; drag to zoom, hover for values, log scale. No dependencies.
"use strict";
(function (root) {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2"];

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(v) {
    if (typeof v !== "number") return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : String(+v.toPrecision(4));
  }

  // opts: {title, segments:[{points:[[x,y]], non_finite:[{step,value}], label}],
  //        thresholds:[{value,label}], restarts:[{step,label}], width, height}
  // Zoom and scale per chart key survive a re-render (a live page redraws when data changes).
  const kept = {};

  function Chart(container, opts) {
    this.opts = opts;
    const state = (opts.key && kept[opts.key]) || {};
    this.log = !!state.log;
    this.zoom = state.zoom || null; // [x0, x1] when zoomed
    this.box = document.createElement("div");
    this.box.className = "chart";
    const bar = document.createElement("div");
    bar.className = "chart-bar";
    const title = document.createElement("span");
    title.className = "chart-title";
    title.textContent = opts.title || "";
    const logButton = button("log scale", () => {
      this.log = !this.log;
      logButton.classList.toggle("on", this.log);
      this.draw();
    });
    logButton.dataset.role = "log";
    logButton.classList.toggle("on", this.log);
    const reset = button("reset zoom", () => {
      this.zoom = null;
      this.draw();
    });
    reset.dataset.role = "reset";
    bar.append(title, logButton, reset);
    this.tip = document.createElement("div");
    this.tip.className = "chart-tip";
    this.box.append(bar);
    this.svgHolder = document.createElement("div");
    this.svgHolder.className = "chart-svg";
    this.box.append(this.svgHolder, this.tip);
    container.appendChild(this.box);
    this.draw();
  }

  function button(text, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  Chart.prototype.domain = function () {
    const xs = [], ys = [];
    for (const seg of this.opts.segments) {
      for (const [x, y] of seg.points) {
        if (this.zoom && (x < this.zoom[0] || x > this.zoom[1])) continue;
        if (this.log && !(y > 0)) continue;
        xs.push(x);
        ys.push(y);
      }
    }
    for (const t of this.opts.thresholds || []) if (!this.log || t.value > 0) ys.push(t.value);
    if (!xs.length) return null;
    // NaN/Inf steps widen the x range so their marks show where the curve stops.
    const steps = xs.concat(...this.opts.segments.map((s) => (s.non_finite || []).map((b) => b.step)));
    let [x0, x1] = this.zoom || [Math.min(...steps), Math.max(...steps)];
    let y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (this.log) { y0 = Math.log10(y0); y1 = Math.log10(y1); }
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const pad = (y1 - y0) * 0.05;
    return { x0, x1, y0: y0 - pad, y1: y1 + pad };
  };

  Chart.prototype.draw = function () {
    if (this.opts.key) kept[this.opts.key] = { log: this.log, zoom: this.zoom };
    const W = this.opts.width || 640, H = this.opts.height || 240;
    const m = { l: 56, r: 12, t: 8, b: 24 };
    this.svgHolder.textContent = "";
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img" }, this.svgHolder);
    const d = this.domain();
    if (!d) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, svg).textContent =
        this.log ? "no positive values for a log scale" : "no finite points";
      this.svg = svg;
      return;
    }
    const ty = (y) => (this.log ? Math.log10(y) : y);
    const sx = (x) => m.l + ((x - d.x0) / (d.x1 - d.x0)) * (W - m.l - m.r);
    const sy = (y) => H - m.b - ((ty(y) - d.y0) / (d.y1 - d.y0)) * (H - m.t - m.b);
    this.scale = { sx, d, m, W, H };
    // axes with 4 ticks each
    for (let i = 0; i <= 4; i++) {
      const yv = d.y0 + ((d.y1 - d.y0) * i) / 4;
      const py = H - m.b - ((H - m.t - m.b) * i) / 4;
      el("line", { x1: m.l, x2: W - m.r, y1: py, y2: py, class: "grid" }, svg);
      el("text", { x: m.l - 4, y: py + 3, "text-anchor": "end", class: "tick" }, svg).textContent =
        fmt(this.log ? Math.pow(10, yv) : yv);
      const xv = d.x0 + ((d.x1 - d.x0) * i) / 4;
      el("text", { x: sx(xv), y: H - 6, "text-anchor": "middle", class: "tick x-tick" }, svg)
        .textContent = fmt(Math.round(xv));
    }
    const inX = (x) => x >= d.x0 && x <= d.x1;
    (this.opts.thresholds || []).forEach((t) => {
      if (this.log && !(t.value > 0)) return;
      const py = sy(t.value);
      el("line", { x1: m.l, x2: W - m.r, y1: py, y2: py, class: "threshold" }, svg);
      el("text", { x: W - m.r - 2, y: py - 3, "text-anchor": "end", class: "threshold-label" }, svg)
        .textContent = `${t.label || "threshold"} ${fmt(t.value)}`;
    });
    (this.opts.restarts || []).forEach((r) => {
      if (r.step == null || !inX(r.step)) return;
      const px = sx(r.step);
      el("line", { x1: px, x2: px, y1: m.t, y2: H - m.b, class: "restart" }, svg);
      const label = el("text", { x: px + 3, y: m.t + 10, class: "restart-label" }, svg);
      label.textContent = "restart";
      el("title", {}, label).textContent = r.label || "";
    });
    this.opts.segments.forEach((seg, i) => {
      const pts = seg.points.filter(([x, y]) => inX(x) && (!this.log || y > 0));
      if (pts.length) {
        const path = pts.map(([x, y], j) => `${j ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`);
        el("path", { d: path.join(""), class: "line", stroke: COLORS[i % COLORS.length] }, svg);
      }
      for (const bad of seg.non_finite || []) {
        if (!inX(bad.step)) continue;
        const mark = el("text", { x: sx(bad.step), y: m.t + 22, class: "nan-mark", "text-anchor": "middle" }, svg);
        mark.textContent = "✕";
        el("title", {}, mark).textContent = `${bad.value} at step ${bad.step}`;
      }
    });
    this.cursor = el("line", { y1: m.t, y2: H - m.b, class: "cursor", visibility: "hidden" }, svg);
    this.band = el("rect", { y: m.t, height: H - m.t - m.b, class: "band", visibility: "hidden" }, svg);
    this.svg = svg;
    this.listen(svg);
  };

  Chart.prototype.toStep = function (evt) {
    const r = this.svg.getBoundingClientRect();
    const { d, m, W } = this.scale;
    const px = ((evt.clientX - r.left) / r.width) * W;
    const frac = Math.min(1, Math.max(0, (px - m.l) / (W - m.l - m.r)));
    return { px: Math.min(W - m.r, Math.max(m.l, px)), step: d.x0 + frac * (d.x1 - d.x0) };
  };

  Chart.prototype.nearest = function (step) {
    const rows = [];
    this.opts.segments.forEach((seg) => {
      let best = null;
      for (const p of seg.points) if (!best || Math.abs(p[0] - step) < Math.abs(best[0] - step)) best = p;
      if (best) rows.push(`${seg.label || ""} step ${best[0]}: ${fmt(best[1])}`);
    });
    return rows;
  };

  Chart.prototype.listen = function (svg) {
    let start = null;
    svg.addEventListener("mousedown", (e) => { start = this.toStep(e); e.preventDefault(); });
    svg.addEventListener("mousemove", (e) => {
      const at = this.toStep(e);
      this.cursor.setAttribute("x1", at.px);
      this.cursor.setAttribute("x2", at.px);
      this.cursor.setAttribute("visibility", "visible");
      this.tip.textContent = this.nearest(at.step).join("  ·  ");
      if (start) {
        this.band.setAttribute("x", Math.min(start.px, at.px));
        this.band.setAttribute("width", Math.abs(at.px - start.px));
        this.band.setAttribute("visibility", "visible");
      }
    });
    svg.addEventListener("mouseleave", () => this.cursor.setAttribute("visibility", "hidden"));
    root.addEventListener("mouseup", (e) => {
      if (!start) return;
      const end = this.toStep(e);
      const [a, b] = [start.step, end.step].sort((p, q) => p - q);
      start = null;
      if (b - a > (this.scale.d.x1 - this.scale.d.x0) / 200) { this.zoom = [a, b]; this.draw(); }
      else this.band.setAttribute("visibility", "hidden");
    }, { once: false });
  };

  function sparkline(container, points) {
    const W = 160, H = 32;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: "spark" }, container);
    if (!points.length) return svg;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (x) => (x1 === x0 ? W / 2 : ((x - x0) / (x1 - x0)) * (W - 2) + 1);
    const sy = (y) => (y1 === y0 ? H / 2 : H - 1 - ((y - y0) / (y1 - y0)) * (H - 2));
    el("path", { d: points.map(([x, y], i) => `${i ? "L" : "M"}${sx(x)},${sy(y)}`).join(""), class: "line" }, svg);
    return svg;
  }

  root.MLChart = { Chart, sparkline, fmt };
})(window);
