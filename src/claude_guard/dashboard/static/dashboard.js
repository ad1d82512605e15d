// claude_guard dashboard: redraws the chart and swaps the server-rendered sections from the JSON endpoint.
// No library and no build step: a stacked bar chart in SVG is a few dozen lines.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const ALLOWED = "#2e7d32";
  const ERRORS = "#757575";
  const PALETTE = ["#c62828", "#ef6c00", "#6a1b9a", "#1565c0", "#ad1457", "#00838f", "#9e9d24", "#4e342e"];
  const colours = {};

  function colour(reason) {
    if (!(reason in colours)) {
      colours[reason] = PALETTE[Object.keys(colours).length % PALETTE.length];
    }
    return colours[reason];
  }

  function el(name, attrs) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function clock(epoch) {
    return new Date(epoch * 1000).toISOString().slice(11, 16) + " UTC";
  }

  function stamp(epoch) {
    return new Date(epoch * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  function drawChart(timeline) {
    const svg = document.getElementById("chart");
    if (!svg) return;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = 720, height = 180, left = 36, bottom = 20, top = 8;
    const reasons = [];
    let peak = 1;
    for (const b of timeline) {
      let total = b.allowed + b.errors;
      for (const [r, n] of Object.entries(b.refused)) {
        total += n;
        if (!reasons.includes(r)) reasons.push(r);
      }
      peak = Math.max(peak, total);
    }
    reasons.sort();
    const plotH = height - bottom - top;
    const slot = (width - left) / Math.max(timeline.length, 1);
    svg.appendChild(el("line", { x1: left, y1: top + plotH, x2: width, y2: top + plotH, class: "axis" }));
    const ticks = [
      [left - 4, top + 10, "end", String(peak)],
      [left - 4, top + plotH, "end", "0"],
      [left, height - 4, "start", timeline.length ? stamp(timeline[0].start) : ""],
      [width, height - 4, "end", "now"],
    ];
    for (const [x, y, anchor, text] of ticks) {
      const label = el("text", { x: x, y: y, "text-anchor": anchor, class: "tick" });
      label.textContent = text;
      svg.appendChild(label);
    }
    timeline.forEach((b, i) => {
      const parts = [["allowed", b.allowed, ALLOWED]];
      for (const r of reasons) parts.push(["refused: " + r, b.refused[r] || 0, colour(r)]);
      parts.push(["errors", b.errors, ERRORS]);
      let y = top + plotH;
      for (const [name, n, fill] of parts) {
        if (!n) continue;
        const h = (n / peak) * plotH;
        y -= h;
        const bar = el("rect", {
          x: left + i * slot + 1, y: y, width: Math.max(slot - 2, 1), height: h, fill: fill, class: "bar",
          "data-kind": name, "data-count": n,
        });
        const tip = el("title", {});
        tip.textContent = clock(b.start) + " · " + name + ": " + n;
        bar.appendChild(tip);
        svg.appendChild(bar);
      }
    });
    const legend = document.getElementById("legend");
    if (legend) {
      legend.textContent = "";
      const entries = [["allowed", ALLOWED]].concat(reasons.map((r) => ["refused: " + r, colour(r)]));
      entries.push(["errors", ERRORS]);
      for (const [name, fill] of entries) {
        const item = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.style.background = fill;
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(name));
        legend.appendChild(item);
      }
    }
  }

  async function refresh() {
    const live = document.getElementById("live");
    try {
      const response = await fetch(document.body.dataset.summary, {
        credentials: "same-origin", cache: "no-store", headers: { accept: "application/json" },
      });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const payload = await response.json();
      // The sections are rendered (and escaped) by the server; the page only swaps them in.
      for (const [id, html] of Object.entries(payload.html)) {
        const node = document.getElementById(id);
        if (node) node.innerHTML = html;
      }
      drawChart(payload.data.timeline);
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      if (live) live.className = "live";
    } catch (err) {
      if (live) live.className = "live stale";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const initial = document.getElementById("initial");
    if (initial) drawChart(JSON.parse(initial.textContent).timeline);
    const seconds = Number(document.body.dataset.refresh) || 5;
    setInterval(refresh, seconds * 1000);
  });
})();
