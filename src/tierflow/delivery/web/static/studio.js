// Studio: draft N variations, watch them stream in, review from the keyboard, promote the winner.
"use strict";

(() => {
  const { api, qs, el, $, toast, fail, follow } = tf;
  const state = { cards: [], focus: -1, job: null, stream: null, policies: null, promoting: null, lastPromptId: null,
                  lastPrompt: "", threadProject: null };
  const THREAD_KEY = "tf.thread"; // the prompt thread on the board, restored from the server after a reload
  const SEEN_KEY = "tf.seen-notices"; // engine notices already shown once

  const form = $("#draft-form");
  const projectSel = $("#project");

  // ---- set-up ----------------------------------------------------------------------------------
  async function loadEngines() {
    const data = await api("engines");
    const defaults = data.defaults || {};
    const blocked = [];
    for (const [tier, sel] of [["draft", $("#draft-engine")], ["final", $("#final-engine")]]) {
      sel.replaceChildren();
      for (const e of data.engines.filter((x) => x.tier === tier)) {
        // An engine that cannot run here is listed, disabled, with why and the fix (the API refuses it too).
        const off = e.runnable === false || (e.runnable === undefined && e.available === false);
        if (off) blocked.push(e);
        sel.append(el("option", { value: e.id, disabled: off, selected: !off && e.id === defaults[tier],
                                  title: off ? `${e.reason || e.availability} — ${e.fix || ""}` : e.description || "" },
                      off ? `${e.id} — unavailable` : e.id));
      }
      if (sel.selectedOptions.length === 0 || sel.selectedOptions[0].disabled) {
        const first = [...sel.options].find((o) => !o.disabled);
        if (first) first.selected = true;
      }
    }
    const notes = $("#engines-unavailable");
    $("summary", notes).textContent = `${blocked.length} engine${blocked.length === 1 ? "" : "s"} cannot run here — why, and the fix`;
    $("ul", notes).replaceChildren(...blocked.map((e) => el("li", { dataset: { engine: e.id } },
      el("b", {}, e.id), `: ${e.reason || e.availability}`, e.fix ? el("span", { class: "fix" }, ` — ${e.fix}`) : null)));
    notes.hidden = blocked.length === 0;
    // Notices (e.g. "using the tiny preset instead") once per engine, not on every visit.
    let seen;
    try { seen = new Set(JSON.parse(localStorage.getItem(SEEN_KEY) || "[]")); } catch (_) { seen = new Set(); }
    const fresh = (data.notices || []).map((n) => (typeof n === "string" ? n : n.message || JSON.stringify(n)))
      .filter((n) => !seen.has(n));
    if (fresh.length) {
      fresh.forEach((n) => seen.add(n));
      localStorage.setItem(SEEN_KEY, JSON.stringify([...seen]));
      toast(fresh.join(" · "), "info");
    }
  }

  async function loadProjects(select) {
    const { projects } = await api("projects");
    const wanted = select || projectSel.dataset.initial || localStorage.getItem("tf.project") || "";
    projectSel.replaceChildren();
    for (const p of projects) {
      projectSel.append(el("option", { value: p.name, dataset: { id: p.id }, selected: p.name === wanted || p.id === wanted }, p.name));
    }
    if (!projects.length) {
      projectSel.append(el("option", { value: "", disabled: true, selected: true }, "no projects yet — create one"));
      $("#new-project").hidden = false;
    } else if (wanted && ![...projectSel.options].some((o) => o.selected && (o.value === wanted || o.dataset.id === wanted))) {
      toast(`No project "${wanted}" — pick one or create it.`, "error");
    }
    projectChanged();
  }

  function project() { return projectSel.value; }

  function projectChanged() {
    const ref = project();
    if (!ref) return;
    localStorage.setItem("tf.project", ref);
    $("#project-link").href = `/projects/${encodeURIComponent(ref)}`;
    refreshGuardrails();
  }

  async function createProject() {
    const name = $("#new-project-name").value.trim();
    const min = $("#new-project-min").value;
    if (!name) { $("#new-project-name").focus(); return; }
    try {
      const body = { name };
      if (min !== "") body.min_drafts = Number(min);
      const { project: p } = await api("projects", { method: "POST", body });
      $("#new-project").hidden = true;
      $("#new-project-name").value = "";
      await loadProjects(p.name);
      toast(`Project ${p.name} created.`, "info");
      $("#prompt").focus();
    } catch (err) { fail(err); }
  }

  // ---- policy and budget ------------------------------------------------------------------------
  async function quiet(path) {
    try { return await api(path); } catch (err) { if (err.status === 404 || err.status === 501) return null; throw err; }
  }

  async function refreshGuardrails() {
    const ref = project();
    if (!ref) return;
    const enc = encodeURIComponent(ref);
    try {
      const thread = state.threadProject === ref && state.lastPromptId ? qs({ prompt_id: state.lastPromptId }) : "";
      const [policies, budget] = await Promise.all([quiet(`projects/${enc}/policies${thread}`), quiet(`projects/${enc}/budget`)]);
      state.policies = policies;
      // drafts_in_thread is the count draft-first itself uses (the thread's drafts on the server)
      $("#policy").textContent = tf.policyText(policies);
      if (budget) tf.showBudget($("#budget"), $("#low-credit"), budget, policies && policies.low_credit_threshold);
    } catch (err) { fail(err); }
  }

  // ---- drafting ----------------------------------------------------------------------------------
  function markInvalid(err) {
    const field = err.body && err.body.field;
    const input = field && ($(`#${CSS.escape(field)}`) || (field === "engine" && $("#draft-engine")));
    if (input) { input.classList.add("invalid"); input.focus(); setTimeout(() => input.classList.remove("invalid"), 4000); }
  }

  function draftBody() {
    const body = { stage: "draft", project: project(), prompt: $("#prompt").value.trim(), n: Number($("#n").value || 1) };
    const opt = { seed: $("#seed").value, size: $("#size").value.trim(), engine: $("#draft-engine").value,
                  steps: $("#steps").value, negative: $("#negative").value.trim() };
    for (const [k, v] of Object.entries(opt)) if (v !== "") body[k] = ["seed", "steps"].includes(k) ? Number(v) : v;
    return body;
  }

  let priceTimer = null;
  function priceDraft() {
    clearTimeout(priceTimer);
    priceTimer = setTimeout(() => {
      const body = draftBody();
      if (!body.project || !body.prompt) { $("#draft-price").textContent = ""; return; }
      tfPrice.show($("#draft-price"), "generations", body, body.project);
    }, 250);
  }

  async function startDraft(ev) {
    if (ev) ev.preventDefault();
    const body = draftBody();
    if (state.stream) state.stream.close();
    $("#draft-btn").disabled = true;
    try {
      const job = await api("generations", { method: "POST", body });
      // The same prompt adds to the board's thread; a new prompt (or project) starts a new board.
      if (body.prompt !== state.lastPrompt || body.project !== state.threadProject) resetCards();
      state.job = job.job_id;
      state.lastPrompt = body.prompt;
      state.threadProject = body.project;
      status(`queued · ${body.n} variation${body.n > 1 ? "s" : ""}`);
      $("#cancel-btn").hidden = false;
      const bar = $("#job-progress");
      bar.hidden = false; bar.value = 0;
      let quoted = null;
      state.stream = follow(job.events_url, {
        started: (d) => { quoted = d.credits; status(`rendering · ${tf.fmtCredits(d.credits)} credits`); },
        progress: (d) => {
          const total = (d.total || 1) * (d.count || 1);
          bar.max = total; bar.value = (d.index || 0) * (d.total || 1) + (d.step || 0);
          status(`variation ${(d.index || 0) + 1}/${d.count || 1} · step ${d.step}/${d.total}`);
        },
        asset: (a) => { state.lastPromptId = a.prompt_id; saveThread(); addCard(a); },
        finished: async (d) => {
          endJob(`done · ${state.cards.length} drafts · ${tf.fmtCredits(d.credits)} credits`);
          warn(d);
          const charge = await tfPrice.charged(body.project, d.generation_id);
          status(`done · ${state.cards.length} drafts · ${tfPrice.bill(quoted ?? d.credits, charge)}`);
        },
        failed: (d) => { endJob("failed"); toast((d.error && (d.error.detail || d.error.message)) || "the job failed"); },
        lost: () => endJob("connection lost — see the gallery for results"),
      });
    } catch (err) { markInvalid(err); fail(err); }
    finally { $("#draft-btn").disabled = false; }
  }

  function warn(d) { for (const w of d.warnings || []) toast(typeof w === "string" ? w : w.message || JSON.stringify(w), "info"); }

  function status(text) { $("#job-status").textContent = text; }

  function endJob(text) {
    status(text);
    state.job = null;
    $("#cancel-btn").hidden = true;
    $("#job-progress").hidden = true;
    refreshGuardrails();
  }

  async function cancelJob() {
    if (!state.job) return;
    try { await api(`generations/${state.job}/cancel`, { method: "POST" }); status("cancelling…"); } catch (err) { fail(err); }
  }

  // ---- the board survives a reload ---------------------------------------------------------------
  function saveThread() {
    localStorage.setItem(THREAD_KEY, JSON.stringify({ project: state.threadProject, prompt_id: state.lastPromptId,
                                                      prompt: state.lastPrompt }));
  }

  async function restoreBoard() {
    let t = null;
    try { t = JSON.parse(localStorage.getItem(THREAD_KEY) || "null"); } catch (_) { t = null; }
    const typed = $("#prompt").value.trim();
    if (!t || !t.prompt_id || t.project !== project() || state.job || state.cards.length) return;
    if (typed && typed !== t.prompt) return; // the prompts page's Restore asked for another prompt
    const data = await quiet(`assets${qs({ project: t.project, stage: "draft", prompt_id: t.prompt_id, limit: 200 })}`);
    if (!data || !data.assets.length) return;
    state.lastPromptId = t.prompt_id; state.lastPrompt = t.prompt; state.threadProject = t.project;
    if (!typed) $("#prompt").value = t.prompt;
    resetCards();
    for (const a of data.assets.slice().reverse()) addCard(a); // oldest first, as they were drafted
    status(`${data.assets.length} drafts of this prompt, with their reviews`);
    refreshGuardrails();
  }

  // ---- cards and review --------------------------------------------------------------------------
  function resetCards() {
    state.cards = []; state.focus = -1;
    $("#cards").replaceChildren();
    $("#empty").hidden = true;
    closePromote();
  }

  function addCard(asset) {
    const card = el("article", { class: "card", role: "listitem", tabindex: "-1", dataset: { id: asset.id, review: asset.review } },
      el("a", { class: "thumb", href: `/assets/${asset.id}`, tabindex: "-1" },
        el("img", { src: asset.file_url, alt: `draft, seed ${asset.seed}`, width: asset.width, height: asset.height })),
      el("div", { class: "meta" },
        el("span", { class: "seed mono" }, `seed ${asset.seed ?? "—"}`),
        el("span", { class: "state badge" }, asset.review)),
      el("div", { class: "actions" },
        el("button", { type: "button", "data-act": "keep", title: "Keep (1)" }, "Keep"),
        el("button", { type: "button", "data-act": "discard", title: "Discard (2)" }, "Discard"),
        el("button", { type: "button", "data-act": "star", title: "Star (3)" }, "★"),
        el("button", { type: "button", "data-act": "promote", class: "promote-btn", title: "Promote (P)" }, "Promote")));
    const entry = { asset, card, shownAt: performance.now(), focusedAt: null };
    state.cards.push(entry);
    card.addEventListener("click", (e) => {
      const act = e.target.closest("button") && e.target.closest("button").dataset.act;
      setFocus(state.cards.indexOf(entry));
      if (act === "promote") openPromote(entry);
      else if (act) review(entry, act);
    });
    $("#cards").append(card);
    // Drafting from the form hands the keyboard to the first card, so review starts at once.
    const ae = document.activeElement;
    if (state.focus < 0) setFocus(0, !ae || ae === document.body || form.contains(ae));
  }

  function setFocus(i, move = true) {
    if (!state.cards.length) return;
    i = Math.max(0, Math.min(state.cards.length - 1, i));
    state.cards.forEach((c, j) => c.card.classList.toggle("focused", j === i));
    state.focus = i;
    const entry = state.cards[i];
    if (entry.focusedAt === null) entry.focusedAt = performance.now();
    if (move) { entry.card.focus({ preventScroll: true }); entry.card.scrollIntoView({ block: "nearest" }); }
  }

  async function review(entry, act) {
    // The human cost: seconds from when the card was first looked at to the decision.
    const since = Math.max(entry.shownAt, entry.focusedAt ?? entry.shownAt);
    const seconds = Math.round((performance.now() - since) / 100) / 10;
    try {
      const { asset } = await api(`assets/${entry.asset.id}/reviews`, { method: "POST", body: { state: act, seconds } });
      entry.asset = asset;
      entry.card.dataset.review = asset.review;
      $(".state", entry.card).textContent = asset.review;
    } catch (err) { fail(err); }
  }

  // ---- promote -----------------------------------------------------------------------------------
  function openPromote(entry) {
    const r = entry.asset.review;
    if (r !== "keep" && r !== "star") { toast("Keep (1) or star (3) a draft before promoting it.", "info"); return; }
    state.promoting = entry;
    const a = entry.asset;
    $("#promote-source").src = a.file_url;
    $("#promote-prompt").value = a.prompt || "";
    $("#promote-size").value = `${a.width}x${a.height}`;
    $("#promote-result").replaceChildren();
    $("#promote-panel").hidden = false;
    $("#promote-prompt").focus();
    pricePromote();
  }

  function promoteBody() {
    const entry = state.promoting;
    if (!entry) return null;
    const body = { stage: "final", asset_id: entry.asset.id, prompt: $("#promote-prompt").value.trim(),
                   strength: Number($("#promote-strength").value), engine: $("#final-engine").value };
    const size = $("#promote-size").value.trim(), steps = $("#promote-steps").value;
    if (size) body.size = size;
    if (steps) body.steps = Number(steps);
    return body;
  }

  function pricePromote() {
    const body = promoteBody();
    if (body) tfPrice.show($("#promote-price"), "generations", body, project());
  }

  function closePromote() {
    $("#promote-panel").hidden = true;
    state.promoting = null;
    const c = state.cards[state.focus];
    if (c) c.card.focus({ preventScroll: true });
  }

  async function promote() {
    const entry = state.promoting;
    if (!entry) return;
    const body = promoteBody();
    const bar = $("#promote-progress"), out = $("#promote-result"), go = $("#promote-go");
    go.disabled = true;
    try {
      const job = await tf.override.submit("generations", body); // a lead may override a block (override.js)
      bar.hidden = false; bar.value = 0;
      out.replaceChildren(el("span", { class: "muted small" }, "rendering final…"));
      let quoted = null;
      follow(job.events_url, {
        started: (d) => { quoted = d.credits; },
        progress: (d) => { bar.max = d.total || 1; bar.value = d.step || 0; },
        asset: (a) => out.replaceChildren(
          el("img", { src: a.file_url, alt: "final", class: "final-thumb" }),
          el("div", { class: "links" },
            el("a", { href: `/compare/${a.id}`, class: "button primary", id: "compare-link" }, "Compare draft ↔ final →"),
            el("a", { href: `/assets/${a.id}`, class: "small" }, "asset details"))),
        finished: async (d) => {
          bar.hidden = true; go.disabled = false; warn(d); refreshGuardrails();
          const charge = await tfPrice.charged(project(), d.generation_id);
          out.append(el("p", { class: "small muted bill", id: "promote-bill" }, tfPrice.bill(quoted ?? d.credits, charge)));
          pricePromote();
        },
        failed: (d) => {
          bar.hidden = true; go.disabled = false;
          out.replaceChildren(el("span", { class: "error" }, (d.error && (d.error.detail || d.error.message)) || "failed"));
        },
        lost: () => { go.disabled = false; },
      });
    } catch (err) {
      go.disabled = false;
      out.replaceChildren(el("span", { class: "error" }, err.message)); // shown once, beside the button
      if (!(err instanceof tf.ApiError) && !err.cancelled) fail(err);
    }
  }

  // ---- keyboard ----------------------------------------------------------------------------------
  const ACTS = { 1: "keep", 2: "discard", 3: "star" };

  function typing(t) { return t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)); }

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      if (!$("#promote-panel").hidden && $("#promote-panel").contains(e.target)) promote(); else startDraft();
      return;
    }
    if (e.key === "Escape") {
      if (!$("#promote-panel").hidden) closePromote(); else if (typing(e.target)) { e.target.blur(); setFocus(state.focus); }
      return;
    }
    if (typing(e.target) || e.altKey || e.ctrlKey || e.metaKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const entry = state.cards[state.focus];
    if (key === "ArrowRight" || key === "ArrowDown" || key === "j") setFocus(state.focus + 1);
    else if (key === "ArrowLeft" || key === "ArrowUp" || key === "k") setFocus(state.focus - 1);
    else if (ACTS[key] && entry) review(entry, ACTS[key]);
    else if (key === "p" && entry) openPromote(entry);
    else if (key === "Enter" && entry) location.href = `/assets/${entry.asset.id}`;
    else if (key === "/") $("#prompt").focus();
    else return;
    e.preventDefault();
  });

  // ---- wiring ------------------------------------------------------------------------------------
  form.addEventListener("submit", startDraft);
  projectSel.addEventListener("change", projectChanged);
  $("#new-project-btn").addEventListener("click", () => { $("#new-project").hidden = false; $("#new-project-name").focus(); });
  $("#create-project-btn").addEventListener("click", createProject);
  $("#new-project-name").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); createProject(); } });
  $("#cancel-btn").addEventListener("click", cancelJob);
  $("#promote-close").addEventListener("click", closePromote);
  $("#promote-go").addEventListener("click", promote);
  $("#promote-strength").addEventListener("input", (e) => { $("#promote-strength-out").textContent = Number(e.target.value).toFixed(2); });
  // Prices: the draft form re-prices as it changes (planning a draft writes nothing); the promote panel
  // on its settings' change (a changed final prompt becomes a thread edit once priced).
  form.addEventListener("input", priceDraft);
  form.addEventListener("change", priceDraft);
  for (const id of ["#promote-prompt", "#promote-strength", "#promote-size", "#promote-steps", "#final-engine"]) {
    $(id).addEventListener("change", pricePromote);
  }

  Promise.all([loadEngines(), loadProjects()]).then(restoreBoard).then(priceDraft).catch(fail);
})();
