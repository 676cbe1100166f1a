// Shared helpers of every page: JSON calls, DOM building (text only, never innerHTML), toasts,
// job streams and the budget / policy widgets.
"use strict";

const tf = (() => {
  const API = "/api/v1";

  class ApiError extends Error {
    constructor(status, body) {
      const text = (body && (body.detail || body.message)) || `HTTP ${status}`;
      super(text);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(path, options = {}) {
    const init = { method: options.method || "GET", headers: { Accept: "application/json" } };
    if (options.body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    const res = await fetch(path.startsWith("/") ? path : `${API}/${path}`, init);
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (res.status === 401) toLogin(); // the sign-in expired or was revoked while the page was open
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  function toLogin() {
    if (location.pathname === "/login") return;
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }

  /** Query string from an object, leaving out empty values. */
  function qs(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    const s = q.toString();
    return s ? `?${s}` : "";
  }

  /** el("a", {href, class: "x", onclick}, "text", child) — strings become text nodes. */
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
      else if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k in node && typeof v !== "string") node[k] = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function $(sel, root = document) { return root.querySelector(sel); }

  let toastTimer = null;
  function toast(message, kind = "error") {
    const box = $("#toast");
    if (!box) return;
    box.textContent = message;
    box.className = `toast ${kind}`;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, kind === "error" ? 9000 : 3500);
  }

  function fail(err) {
    console.error(err);
    toast(err instanceof ApiError ? err.message : String(err.message || err), "error");
  }

  /** Follow a job's event stream; handlers per event name get the parsed data. Closes itself. */
  function follow(eventsUrl, handlers) {
    const source = new EventSource(eventsUrl);
    const seen = new Set();
    const on = (name, fn) => source.addEventListener(name, (e) => {
      let data = {};
      try { data = JSON.parse(e.data || "{}"); } catch (_) { data = {}; }
      fn(data);
    });
    on("started", (d) => handlers.started && handlers.started(d));
    on("progress", (d) => handlers.progress && handlers.progress(d));
    on("asset", (d) => {
      const a = d.asset || d;
      if (seen.has(a.id)) return; // a reconnect replays what was already shown
      seen.add(a.id);
      handlers.asset && handlers.asset(a);
    });
    on("finished", (d) => { source.close(); handlers.finished && handlers.finished(d); });
    on("failed", (d) => { source.close(); handlers.failed && handlers.failed(d); });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED && handlers.lost) handlers.lost();
    };
    return source;
  }

  function fmtCredits(x) {
    if (x === null || x === undefined) return "—";
    return Number(x).toLocaleString(undefined, { maximumFractionDigits: 2 });
  }

  /** Fill a .budget widget and the low-credit banner from /projects/{ref}/budget (+ the threshold). */
  function showBudget(box, banner, budget, threshold) {
    if (!box || !budget) return;
    box.hidden = false;
    const text = $(".budget-text", box);
    const spent = $(".spent", box), reserved = $(".reserved", box);
    if (budget.unlimited || !budget.granted) {
      box.classList.add("unlimited");
      spent.style.width = "0%"; reserved.style.width = "0%";
      text.textContent = `unlimited · ${fmtCredits(budget.spent)} spent`;
    } else {
      const g = Number(budget.granted) || 1;
      box.classList.remove("unlimited");
      spent.style.width = `${Math.min(100, (100 * budget.spent) / g)}%`;
      reserved.style.width = `${Math.min(100, (100 * (budget.reserved || 0)) / g)}%`;
      text.textContent = `${fmtCredits(budget.remaining)} of ${fmtCredits(budget.granted)} credits left`;
    }
    if (!banner) return;
    const warnings = (budget.warnings || []).map((w) => (typeof w === "string" ? w : w.message || JSON.stringify(w)));
    const low = !budget.unlimited && threshold !== null && threshold !== undefined
      && budget.remaining !== null && Number(budget.remaining) <= Number(threshold);
    if (low && !warnings.length) warnings.push(`Low credit: ${fmtCredits(budget.remaining)} left (threshold ${fmtCredits(threshold)}).`);
    banner.textContent = warnings.join(" · ");
    banner.hidden = warnings.length === 0;
    box.classList.toggle("low", warnings.length > 0);
  }

  /** "7 of 10 drafts before the first final" from the policies (+ a thread's draft count if known). */
  function policyText(policies, draftsInThread) {
    if (!policies) return "policy: —";
    const k = Number(policies.min_drafts || 0);
    const have = policies.drafts_in_thread ?? draftsInThread;
    const parts = [];
    if (k > 0 && have !== undefined && have !== null) {
      parts.push(have >= k ? `draft-first met: ${have} of ${k} drafts` : `${have} of ${k} drafts before the first final`);
    } else if (k > 0) {
      parts.push(`draft-first: ${k} drafts before the first final`);
    } else {
      parts.push("draft-first: off");
    }
    if (policies.final_cap !== null && policies.final_cap !== undefined) parts.push(`final cap ${policies.final_cap}/milestone`);
    return parts.join(" · ");
  }

  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  return { api, qs, el, $, toast, fail, follow, showBudget, policyText, fmtCredits, time, toLogin, ApiError, API };
})();
