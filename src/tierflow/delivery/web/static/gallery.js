// Gallery: filters and prompt search over the API, one keyset page at a time (never everything).
"use strict";

(() => {
  const { api, qs, el, $, fail } = tf;
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
    return el("a", { class: "tile", href: `/assets/${a.id}`, title: a.prompt, dataset: { id: a.id, stage: a.stage, review: a.review } },
      thumb,
      el("div", { class: "cap" }, el("span", { class: "prompt" }, a.prompt || "—"), el("span", {}, `${a.stage} · ${a.review}`)));
  }

  async function load(reset) {
    if (busy && !reset) return;
    const mine = reset ? ++generation : generation;
    busy = true;
    if (reset) { cursor = null; loaded = 0; }
    try {
      const data = await api(`assets${qs({ ...filters(), limit: PAGE, cursor })}`);
      if (mine !== generation) return; // a newer search replaced this one
      if (reset) $("#grid").replaceChildren();
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
  document.addEventListener("keydown", (e) => {
    if (e.key === "/" && !["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName)) { e.preventDefault(); $("#f-search").focus(); }
  });

  load(true);
  fillSelects().catch(fail);
})();
