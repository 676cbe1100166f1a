// Project dashboard: budget, policy state, draft-to-final ratio and the other metrics.
"use strict";

(async () => {
  const { api, el, $, fail } = tf;
  const ref = $("#project").dataset.ref;
  const enc = encodeURIComponent(ref);
  const num = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
  const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(100 * v)}%`);

  async function optional(path) {
    try { return await api(path); } catch (err) { if ([404, 501].includes(err.status)) return null; throw err; }
  }

  function stat(key, value, label, cls = "") { return el("div", { class: `stat ${cls}`, dataset: { metric: key } }, el("b", {}, value), el("span", {}, label)); }

  function showMetrics(m) {
    const [lo, hi] = m.band || [3, 300];
    const r = m.draft_to_final_ratio;
    const ratioCls = r === null || r === undefined ? "" : r < lo || r > hi ? "warn" : "ok";
    $("#metrics").replaceChildren(
      stat("draft_to_final_ratio", r === null || r === undefined ? "—" : `${num(r)} : 1`, `draft-to-final (healthy ${lo}–${hi})`, ratioCls),
      stat("drafts", m.drafts ?? "—", "drafts"),
      stat("finals", m.finals ?? "—", "finals"),
      stat("usable_assets", m.usable_assets ?? "—", "usable assets"),
      stat("total_credits", tf.fmtCredits(m.total_credits), "credits spent"),
      stat("cost_credits", num(m.cost_per_usable_asset && m.cost_per_usable_asset.credits, 2), "credits per usable asset"),
      stat("cost_seconds", num(m.cost_per_usable_asset && m.cost_per_usable_asset.human_seconds), "review s per usable asset"),
      stat("high_credit_discard_share", pct(m.high_credit_discard_share), "high-credit renders discarded"));
    $("#metric-warnings").replaceChildren(...(m.warnings || []).map((w) => el("div", { class: "banner warn" }, w)));
    const spend = m.spend_by_tier || {};
    $("#stages tbody").replaceChildren(...Object.entries(m.counts || {}).map(([stage, c]) => el("tr", {},
      el("td", {}, stage), el("td", {}, c.made), el("td", {}, `${c.usable} (${pct((m.usable_rate || {})[stage])})`),
      el("td", {}, c.discarded), el("td", {}, c.unreviewed), el("td", {}, tf.fmtCredits(spend[stage])))));
    $("#latency tbody").replaceChildren(...Object.entries(m.latency || {}).map(([engine, l]) => el("tr", {},
      el("td", {}, engine), el("td", {}, l.n), el("td", {}, num(l.p50, 2)), el("td", {}, num(l.p95, 2)))));
  }

  async function showChart() {
    // Only when the API offers a chart route for projects (discovered from its OpenAPI, not assumed).
    const spec = await optional("/openapi.json");
    const path = spec && Object.keys(spec.paths || {}).find((p) => p.startsWith("/api/v1/projects/{") && p.includes("chart"));
    if (!path) return;
    const url = path.replace(/\{[^}]+\}/, enc);
    $("#chart").replaceChildren(el("h3", { style: "margin-top:16px" }, "Chart"),
      el("a", { href: url, id: "chart-link" }, el("img", { src: url, alt: "metrics chart", class: "chart", loading: "lazy" })));
  }

  try {
    const [{ project }, policies, budget, metrics] = await Promise.all([
      api(`projects/${enc}`), optional(`projects/${enc}/policies`), optional(`projects/${enc}/budget`), optional(`projects/${enc}/metrics`)]);
    $("#name").textContent = project.name;
    $("#desc").textContent = project.description || "";
    $("#policy").textContent = tf.policyText(policies);
    if (budget) tf.showBudget($("#budget"), $("#low-credit"), budget, policies && policies.low_credit_threshold);
    if (metrics) showMetrics(metrics);
    await showChart();
  } catch (err) { fail(err); }
})();
