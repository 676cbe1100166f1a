// Project page: guardrails (budget, daily limits, policies, milestones, audit log) and the metrics dashboard.
// Every figure and every change goes through the same REST routes as any client, which call the same
// use cases as the CLI: a lead or admin changes them here, a designer sees them read-only.
"use strict";

(async () => {
  const { api, el, $, fail, toast } = tf;
  const root = $("#project");
  const ref = root.dataset.ref;
  const enc = encodeURIComponent(ref);
  const lead = ["lead", "admin"].includes(root.dataset.role);
  const num = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toFixed(digits));
  const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(100 * v)}%`);
  let project = null, milestones = [];

  async function optional(path) {
    try { return await api(path); } catch (err) { if ([404, 501].includes(err.status)) return null; throw err; }
  }

  // ---- metrics --------------------------------------------------------------------------------------
  function stat(key, value, label, cls = "") { return el("div", { class: `stat ${cls}`, dataset: { metric: key } }, el("b", {}, value), el("span", {}, label)); }

  function showMetrics(m) {
    const [lo, hi] = m.band || [3, 300];
    const r = m.draft_to_final_ratio;
    const ratioCls = r === null || r === undefined ? "" : r < lo || r > hi ? "warn" : "ok";
    const cost = m.cost_per_usable_asset || {};
    $("#metrics").replaceChildren(
      stat("draft_to_final_ratio", r === null || r === undefined ? "—" : `${num(r)} : 1`, `draft-to-final (healthy ${lo}–${hi})`, ratioCls),
      stat("drafts", m.drafts ?? "—", "drafts"),
      stat("finals", m.finals ?? "—", "finals"),
      // usable_assets counts deliverables (final and later stages): usable drafts are in the table below
      stat("usable_assets", m.usable_assets ?? "—", "usable deliverables (final and later)"),
      stat("total_credits", tf.fmtCredits(m.total_credits), "credits spent"),
      stat("cost_credits", num(cost.credits, 2), "credits per usable deliverable"),
      stat("cost_seconds", num(cost.human_seconds), "human s per usable deliverable (reviews + time at the desk)"),
      stat("review_seconds", num(m.review_seconds), "review s recorded"),
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

  // ---- guardrails -----------------------------------------------------------------------------------
  function scopeName(b) {
    if (b.scope === "project") return `project ${project.name}`;
    if (b.scope === "workspace") return "workspace";
    const m = milestones.find((x) => x.id === b.scope_id);
    return `milestone ${m ? m.name : b.scope_id}`;
  }

  function showBalances(budget) {
    const rows = (budget.balances && budget.balances.length ? budget.balances : [budget]).map((b) => el("tr", { dataset: { scope: b.scope } },
      el("td", {}, scopeName(b)), el("td", {}, b.unlimited ? "unlimited" : tf.fmtCredits(b.granted)),
      el("td", {}, tf.fmtCredits(b.spent)), el("td", {}, tf.fmtCredits(b.reserved)),
      el("td", {}, b.unlimited ? "—" : tf.fmtCredits(b.remaining))));
    $("#balances tbody").replaceChildren(...rows);
  }

  function showCounted(policy) {
    const box = $("#counted"), m = policy && policy.milestone;
    box.hidden = !m;
    if (m) box.textContent = `finals count against milestone ${m.name}: ${m.finals}${m.final_cap === null ? "" : ` of ${m.final_cap}`}`;
  }

  function showPolicy(policy) {
    $("#policy").textContent = tf.policyText(policy);
    $("#policy-min-drafts").value = policy.min_drafts ?? "";
    $("#policy-final-cap").value = policy.final_cap ?? "";
    $("#policy-low-credit").value = policy.low_credit_threshold ?? "";
    showCounted(policy);
  }

  function showMilestones(data) {
    milestones = data.milestones || [];
    $("#milestones").replaceChildren(...(milestones.length ? milestones.map((m) => el("li", { dataset: { milestone: m.name } },
      el("b", {}, m.name),
      el("span", { class: `pill ${m.closed ? "muted" : "ok"}` }, m.closed ? "closed" : m.current ? "current" : "open"),
      lead ? el("button", { type: "button", class: "link small", "data-act": m.closed ? "reopen" : "close",
                            onclick: () => closeMilestone(m, !m.closed) }, m.closed ? "Reopen" : "Close") : null))
      : [el("li", { class: "muted" }, "none yet: the first final makes the implicit milestone “main”")]));
    const pick = $("#grant-milestone");
    pick.replaceChildren(...milestones.filter((m) => !m.closed).map((m) => el("option", { value: m.name }, m.name)));
  }

  /** The few facts of an audit line a person reads (the full record is in `tierflow audit --json`). */
  function auditDetail(a) {
    const d = a.detail || {};
    if (a.action === "policy.change" && d.before && d.after) {
      return Object.keys(d.after).filter((k) => d.before[k] !== d.after[k])
        .map((k) => `${k}: ${d.before[k] ?? "none"} → ${d.after[k] ?? "none"}`).join(", ");
    }
    if (a.action === "policy.override") return `lifted ${(d.rules || []).join(", ")} · ${d.role || ""} · milestone ${d.milestone ?? "—"}`;
    if (a.action === "budget.grant") return `${tf.fmtCredits(d.amount)} credits to the ${d.scope} budget`;
    if (a.action === "budget.daily_limit") return `${d.user_id}: ${d.limit === null ? "no limit" : `${tf.fmtCredits(d.limit)} credits/day`}`;
    if (a.action.startsWith("milestone.")) return `milestone ${d.name || d.milestone_id || ""}`;
    return Object.entries(d).filter(([, v]) => v !== null && typeof v !== "object").map(([k, v]) => `${k}=${v}`).join(", ");
  }

  function showAudit(lines) {
    $("#audit tbody").replaceChildren(...lines.slice().reverse().map((a) => {
      const detail = auditDetail(a);
      return el("tr", { dataset: { action: a.action } }, el("td", {}, tf.time(a.created_at)), el("td", {}, a.action),
        el("td", {}, a.user_id || "—"), el("td", { class: "reason" }, a.reason || ""), el("td", { class: "small muted" }, detail));
    }));
  }

  async function showLedger() {
    const { entries } = await api(`projects/${enc}/ledger${tf.qs({ limit: 50 })}`);
    $("#ledger tbody").replaceChildren(...entries.map((e) => el("tr", { dataset: { kind: e.kind } },
      el("td", {}, tf.time(e.created_at)), el("td", {}, scopeName(e)), el("td", {}, e.kind),
      el("td", {}, tf.fmtCredits(e.amount)), el("td", {}, e.note || ""))));
  }
  $("#ledger-box").addEventListener("toggle", (e) => { if (e.target.open) showLedger().catch(fail); });

  async function refresh() {
    const [{ project: p }, policy, budget, metrics, ms, audit] = await Promise.all([
      api(`projects/${enc}`), optional(`projects/${enc}/policies`), optional(`projects/${enc}/budget`),
      optional(`projects/${enc}/metrics`), optional(`projects/${enc}/milestones`), optional(`projects/${enc}/audit`)]);
    project = p;
    $("#name").textContent = p.name;
    $("#desc").textContent = p.description || "";
    if (ms) showMilestones(ms);
    if (policy) showPolicy(policy);
    if (budget) {
      tf.showBudget($("#budget"), $("#low-credit"), budget, policy && policy.low_credit_threshold);
      showBalances(budget);
    }
    if (audit) showAudit(audit.audit || []);
    if (metrics) showMetrics(metrics);
  }

  async function act(fn, done) {
    try { await fn(); if (done) toast(done, "ok"); await refresh(); } catch (err) { fail(err); }
  }

  function closeMilestone(m, close) {
    const reason = close ? (prompt(`Close milestone “${m.name}”? Reason (kept in the audit log):`, "") ?? null) : "";
    if (reason === null) return;
    act(() => api(`projects/${enc}/milestones/${encodeURIComponent(m.name)}/${close ? "close" : "reopen"}`,
                  { method: "POST", body: { reason } }), `milestone ${m.name} ${close ? "closed" : "reopened"}`);
  }

  $("#grant-scope").addEventListener("change", (e) => { $("#grant-milestone").hidden = e.target.value !== "milestone"; });
  $("#budget-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const scope = $("#grant-scope").value;
    const body = { amount: Number($("#grant-amount").value), scope, reason: $("#grant-reason").value.trim() };
    if (scope === "milestone") body.milestone = $("#grant-milestone").value;
    act(() => api(`projects/${enc}/budget/grants`, { method: "POST", body }), `granted ${body.amount} credits`)
      .then(() => { $("#grant-amount").value = ""; $("#grant-reason").value = ""; });
  });
  async function showLimit() {
    const user = $("#limit-user").value.trim();
    if (!user) return;
    const b = await api(`projects/${enc}/budget${tf.qs({ user })}`);
    $("#limit-status").textContent = b.unlimited ? `${user}: no daily limit · ${tf.fmtCredits(b.spent)} spent today`
      : `${user}: ${tf.fmtCredits(b.remaining)} of ${tf.fmtCredits(b.granted)} credits left today`;
  }
  $("#limit-show").addEventListener("click", () => showLimit().catch(fail));
  $("#limit-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const user = $("#limit-user").value.trim(), raw = $("#limit-amount").value;
    act(() => api(`projects/${enc}/daily-limits/${encodeURIComponent(user)}`,
                  { method: "PUT", body: { limit: raw === "" ? null : Number(raw) } }), `daily limit set for ${user}`)
      .then(() => showLimit().catch(fail));
  });
  $("#policy-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const cap = $("#policy-final-cap").value, low = $("#policy-low-credit").value;
    const body = { min_drafts: Number($("#policy-min-drafts").value || 0), final_cap: cap === "" ? null : Number(cap),
                   reason: $("#policy-reason").value.trim() };
    if (low !== "") body.low_credit_threshold = Number(low);
    act(() => api(`projects/${enc}/policies`, { method: "PUT", body }), "policy saved")
      .then(() => { $("#policy-reason").value = ""; });
  });
  $("#milestone-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#milestone-name").value.trim();
    act(() => api(`projects/${enc}/milestones`, { method: "POST", body: { name } }), `milestone ${name} created`)
      .then(() => { $("#milestone-name").value = ""; });
  });

  if (!lead) {
    document.querySelectorAll("#guardrails .lead-only").forEach((x) => { x.hidden = true; });
    document.querySelectorAll("#guardrails .lead-only-inputs input").forEach((x) => { x.disabled = true; });
    $("#guardrails-readonly").hidden = false;
  }

  try {
    await refresh();
    await showChart();
  } catch (err) { fail(err); }
})();
