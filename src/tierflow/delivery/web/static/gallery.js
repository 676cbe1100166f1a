// Gallery: filters and prompt search over the API, one keyset page at a time (never everything),
// and review in place: keep / discard / star a tile from its buttons or the keyboard, or many at once.
"use strict";

(() => {
  const { api, qs, el, $, fail, toast } = tf;
  const PAGE = 48;
  const form = $("#filters");
  let cursor = null, loaded = 0, busy = false, generation = 0;

  function dayStart(value, addDays = 0) {
    // Dates are the user's local days; the API compares instants.
    const d = new Date(`${value}T00:00:00`);
    d.setDate(d.getDate() + addDays);
    return d.toISOString();
  }

  function filters() {
    const f = Object.fromEntries(new FormData(form).entries());
    const out = { project: f.project, stage: f.stage, state: f.state, engine: f.engine, search: (f.search || "").trim() };
    if (f.since) out.since = dayStart(f.since);
    if (f.until) out.until = dayStart(f.until, 1); // "to" includes that whole day
    return out;
  }

  function tile(a) {
    const thumb = a.kind === "video"
      ? el("video", { src: a.file_url, muted: true, preload: "metadata" })
      : el("img", { src: a.thumb_url || a.file_url, alt: a.prompt, loading: "lazy", width: a.width, height: a.height });
    return el("article", { class: "tile", title: a.prompt, tabindex: "-1", dataset: { id: a.id, stage: a.stage, review: a.review } },
      el("a", { class: "thumb", href: `/assets/${a.id}`, tabindex: "-1" }, thumb),
      el("div", { class: "cap" }, el("span", { class: "prompt" }, a.prompt || "—"),
        el("span", { class: "state" }, `${a.stage} · ${a.review}`)),
      el("div", { class: "tile-actions" },
        el("input", { type: "checkbox", class: "pick", "aria-label": "Select", title: "Select (X)" }),
        el("button", { type: "button", "data-act": "keep", title: "Keep (1)" }, "Keep"),
        el("button", { type: "button", "data-act": "discard", title: "Discard (2)" }, "Discard"),
        el("button", { type: "button", "data-act": "star", title: "Star (3)" }, "★")));
  }

  // ---- review in place ---------------------------------------------------------------------------
  const ACTS = { 1: "keep", 2: "discard", 3: "star" };
  let focus = -1;

  function tiles() { return [...document.querySelectorAll("#grid .tile")]; }
  function picked() { return tiles().filter((t) => $(".pick", t).checked); }

  function setFocus(i) {
    const all = tiles();
    if (!all.length) return;
    focus = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((t, j) => t.classList.toggle("focused", j === focus));
    all[focus].focus({ preventScroll: true });
    all[focus].scrollIntoView({ block: "nearest" });
  }

  function updateBulk() {
    const n = picked().length;
    $("#bulk").hidden = n === 0;
    $("#bulk-count").textContent = `${n} selected`;
  }

  async function review(targets, state) {
    try {
      await Promise.all(targets.map(async (t) => {
        const { asset } = await api(`assets/${t.dataset.id}/reviews`, { method: "POST", body: { state } });
        t.dataset.review = asset.review;
        $(".state", t).textContent = `${asset.stage} · ${asset.review}`;
      }));
      if (targets.length > 1) toast(`${targets.length} assets: ${state}`, "info");
    } catch (err) { fail(err); }
  }

  function clearPicks() { tiles().forEach((t) => { $(".pick", t).checked = false; }); updateBulk(); }

  async function load(reset) {
    if (busy && !reset) return;
    const mine = reset ? ++generation : generation;
    busy = true;
    if (reset) { cursor = null; loaded = 0; }
    try {
      const data = await api(`assets${qs({ ...filters(), limit: PAGE, cursor })}`);
      if (mine !== generation) return; // a newer search replaced this one
      if (reset) { $("#grid").replaceChildren(); focus = -1; updateBulk(); }
      $("#grid").append(...data.assets.map(tile));
      loaded += data.assets.length;
      cursor = data.next_cursor;
      $("#more").hidden = !cursor;
      $("#empty").hidden = loaded > 0;
      $("#count").textContent = `${loaded} shown${cursor ? " · more available" : ""}`;
    } catch (err) { fail(err); }
    finally { if (mine === generation) busy = false; }
  }

  function syncUrl() {
    const f = Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v !== ""));
    history.replaceState(null, "", `/gallery${qs(f)}`);
  }

  async function fillSelects() {
    const [{ projects }, { engines }] = await Promise.all([api("projects"), api("engines")]);
    const p = $("#f-project"), e = $("#f-engine");
    // The page arrived with the URL's choices as the only options, so the first page loads in parallel.
    const fill = (sel, items) => {
      const current = sel.value;
      sel.replaceChildren(el("option", { value: "" }, "all"), ...items.map((x) => el("option", { value: x.value }, x.value)));
      const hit = items.find((x) => x.value === current || x.id === current);
      if (!hit && current) sel.append(el("option", { value: current }, current)); // unknown yet: keep what the URL asked
      sel.value = hit ? hit.value : current;
    };
    fill(p, projects.map((x) => ({ value: x.name, id: x.id })));
    fill(e, engines.map((x) => ({ value: x.id, id: x.id })));
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); syncUrl(); load(true); });
  form.addEventListener("change", (e) => { if (e.target.name !== "search") { syncUrl(); load(true); } });
  $("#more").addEventListener("click", () => load(false));
  $("#grid").addEventListener("click", (e) => {
    const t = e.target.closest(".tile");
    if (!t) return;
    setFocus(tiles().indexOf(t));
    const act = e.target.closest("button[data-act]");
    if (act) { e.preventDefault(); review([t], act.dataset.act); }
  });
  $("#grid").addEventListener("change", (e) => { if (e.target.classList.contains("pick")) updateBulk(); });
  document.querySelectorAll("#bulk [data-bulk]").forEach((b) => b.addEventListener("click", () => review(picked(), b.dataset.bulk)));
  $("#bulk-clear").addEventListener("click", clearPicks);
  document.addEventListener("keydown", (e) => {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName) && !e.target.classList.contains("pick");
    if (typing || e.altKey || e.ctrlKey || e.metaKey) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const t = tiles()[focus];
    if (key === "/") $("#f-search").focus();
    else if (key === "ArrowRight" || key === "ArrowDown" || key === "j") setFocus(focus + 1);
    else if (key === "ArrowLeft" || key === "ArrowUp" || key === "k") setFocus(focus - 1);
    else if (key === "x" && t) { const box = $(".pick", t); box.checked = !box.checked; updateBulk(); }
    else if (ACTS[key] && (picked().length || t)) review(picked().length ? picked() : [t], ACTS[key]);
    else if (key === "Escape") clearPicks();
    else if (key === "Enter" && t) location.href = `/assets/${t.dataset.id}`;
    else return;
    e.preventDefault();
  });

  load(true);
  fillSelects().catch(fail);
})();
