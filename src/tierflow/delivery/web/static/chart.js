// Dashboard chart, drawn here in SVG from /api/v1/projects/{ref}/metrics (no chart library, no CDN):
// the draft-to-final ratio over time against its healthy band, spend per day with its running total,
// and the usable rate per tier. Text goes in as text nodes only.
"use strict";

(() => {
  const box = document.getElementById("trend-chart");
  const page = document.getElementById("project");
  if (!box || !page) return;
  const NS = "http://www.w3.org/2000/svg";
  const W = 420, H = 200, PAD = { l: 40, r: 12, t: 12, b: 34 };

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function frame(title, legend) {
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
    const fig = document.createElement("figure");
    const cap = document.createElement("h3");
    cap.textContent = title;
    fig.append(cap);
    if (legend) {
      const p = document.createElement("p");
      p.className = "small muted";
      for (const [cls, text] of legend) {
        const s = document.createElement("span");
        s.className = cls; s.textContent = `■ ${text}  `;
        p.append(s);
      }
      fig.append(p);
    }
    fig.append(root);
    return { fig, root };
  }

  function fmt(v) { return Math.abs(v) >= 100 ? Math.round(v).toString() : Number(v.toPrecision(2)).toString(); }

  /** Axes with a few y ticks from 0..max and x labels (every k-th, so they never overlap). */
  function axes(root, max, labels) {
    const x0 = PAD.l, x1 = W - PAD.r, y0 = H - PAD.b, y1 = PAD.t;
    root.append(svg("line", { class: "axis", x1: x0, y1: y0, x2: x1, y2: y0 }), svg("line", { class: "axis", x1: x0, y1: y0, x2: x0, y2: y1 }));
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4, y = y0 - ((y0 - y1) * i) / 4;
      root.append(svg("text", { class: "label", x: x0 - 4, y: y + 3, "text-anchor": "end" }, fmt(v)));
    }
    const step = Math.max(1, Math.ceil(labels.length / 6));
    labels.forEach((label, i) => {
      if (i % step) return;
      root.append(svg("text", { class: "label", x: xAt(i, labels.length), y: y0 + 14, "text-anchor": "middle" }, label));
    });
  }

  function xAt(i, n) { return PAD.l + ((W - PAD.l - PAD.r) * (n === 1 ? 0.5 : i / (n - 1))); }
  function slot(i, n) { const w = (W - PAD.l - PAD.r) / n; return { x: PAD.l + w * i + w * 0.15, w: w * 0.7 }; }
  function yAt(v, max) { return H - PAD.b - ((H - PAD.b - PAD.t) * v) / (max || 1); }
  function empty(root, text) { root.append(svg("text", { class: "label", x: W / 2, y: H / 2, "text-anchor": "middle" }, text)); }

  function ratioChart(m) {
    const { fig, root } = frame("Draft-to-final ratio over time (cumulative)", [["legend-a", "ratio"], ["band-key muted", `healthy band ${(m.band || [3, 300]).join("–")} : 1`]]);
    fig.dataset.chart = "ratio";
    const points = (m.ratio_over_time || []).filter((p) => p.ratio !== null && p.ratio !== undefined);
    if (!points.length) { empty(root, "no finals yet"); return fig; }
    const [lo, hi] = m.band || [3, 300];
    const max = Math.max(...points.map((p) => p.ratio), lo) * 1.15;
    axes(root, max, points.map((p) => p.day.slice(5)));
    const top = yAt(Math.min(hi, max), max), bottom = yAt(lo, max);
    root.append(svg("rect", { class: "band", x: PAD.l, y: top, width: W - PAD.l - PAD.r, height: Math.max(0, bottom - top) }));
    const d = points.map((p, i) => `${i ? "L" : "M"}${xAt(i, points.length).toFixed(1)},${yAt(p.ratio, max).toFixed(1)}`).join(" ");
    root.append(svg("path", { class: "line-a", d }));
    points.forEach((p, i) => root.append(svg("circle", { cx: xAt(i, points.length), cy: yAt(p.ratio, max), r: 3, fill: "currentColor", class: "legend-a", "data-day": p.day })));
    return fig;
  }

  function spendChart(m) {
    const { fig, root } = frame("Spend over time (credits)", [["legend-b", "per day"], ["legend-a", "running total"]]);
    fig.dataset.chart = "spend";
    const days = m.spend_over_time || [];
    if (!days.length) { empty(root, "nothing spent yet"); return fig; }
    const max = Math.max(...days.map((d) => d.total), 1) * 1.1;
    axes(root, max, days.map((d) => d.day.slice(5)));
    days.forEach((d, i) => {
      const s = slot(i, days.length);
      root.append(svg("rect", { class: "bar", x: s.x, width: s.w, y: yAt(d.credits, max), height: H - PAD.b - yAt(d.credits, max), style: "fill: var(--star)", "data-day": d.day }));
    });
    const mid = (i) => { const s = slot(i, days.length); return s.x + s.w / 2; };
    root.append(svg("path", { class: "line-a", d: days.map((d, i) => `${i ? "L" : "M"}${mid(i).toFixed(1)},${yAt(d.total, max).toFixed(1)}`).join(" ") }));
    return fig;
  }

  function usableChart(m) {
    const { fig, root } = frame("Usable rate per tier (kept + starred / made)");
    fig.dataset.chart = "usable";
    const tiers = Object.entries(m.usable_rate || {});
    if (!tiers.length) { empty(root, "nothing made yet"); return fig; }
    axes(root, 1, tiers.map(([t]) => t));
    tiers.forEach(([tier, rate], i) => {
      const s = slot(i, tiers.length);
      root.append(svg("rect", { class: "bar", x: s.x, width: s.w, y: yAt(rate, 1), height: H - PAD.b - yAt(rate, 1), "data-tier": tier }));
      root.append(svg("text", { class: "label", x: s.x + s.w / 2, y: yAt(rate, 1) - 3, "text-anchor": "middle" }, `${Math.round(rate * 100)}%`));
    });
    // the x labels were placed by index on a line scale; put them under the bars instead
    root.querySelectorAll("text.label[text-anchor='middle']").forEach((t) => {
      const i = tiers.findIndex(([tier]) => tier === t.textContent);
      if (i >= 0) { const s = slot(i, tiers.length); t.setAttribute("x", s.x + s.w / 2); }
    });
    return fig;
  }

  async function draw() {
    const ref = encodeURIComponent(page.dataset.ref);
    const res = await fetch(`/api/v1/projects/${ref}/metrics`, { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const m = await res.json();
    box.className = "trend";
    box.replaceChildren(ratioChart(m), spendChart(m), usableChart(m));
    box.dataset.ready = "true";
  }

  draw().catch((err) => console.error(err));
})();
