// Asset detail: every parameter, review buttons (1/2/3), the lineage tree and export.
"use strict";

(() => {
  const { api, qs, el, $, fail, toast } = tf;
  const id = $("#asset").dataset.id;
  const shownAt = performance.now();

  function value(v) {
    if (v === null || v === undefined || v === "") return el("span", { class: "muted" }, "—");
    if (typeof v === "object") return el("code", { class: "mono small" }, JSON.stringify(v));
    return String(v);
  }

  function rows(asset) {
    const top = ["id", "project_id", "stage", "kind", "format", "width", "height", "seed", "engine_id", "prompt",
                 "prompt_id", "generation_id", "parent_ids", "review", "tags", "created_at", "sha256", "size_bytes"];
    const out = top.filter((k) => k in asset).map((k) => [k, asset[k]]);
    for (const [k, v] of Object.entries(asset.params || {})) out.push([`params.${k}`, v]);
    return out.map(([k, v]) => el("tr", { dataset: { key: k } }, el("th", { scope: "row" }, k), el("td", {}, value(v))));
  }

  function treeNode(node) {
    const label = `${node.stage} · ${node.id}${node.review && node.review !== "unreviewed" ? ` · ${node.review}` : ""}`;
    const link = node.id === id ? el("span", { class: "current" }, label) : el("a", { href: `/assets/${node.id}` }, label);
    const kids = (node.children || []).map(treeNode);
    return el("li", { dataset: { id: node.id } }, link, kids.length ? el("ul", {}, kids) : null);
  }

  function show(data) {
    const a = data.asset;
    const media = a.kind === "video"
      ? el("video", { src: a.file_url, controls: true, loop: true })
      : el("img", { src: a.file_url, alt: a.prompt, width: a.width, height: a.height });
    $("#media").replaceChildren(media, el("figcaption", {}, a.prompt));
    $("#review-state").textContent = a.review;
    $("#export").href = a.export_url;
    $("#params tbody").replaceChildren(...rows(a));
    if (data.tree) $("#tree").replaceChildren(treeNode(data.tree));
    const reviews = (data.reviews || []).map((r) => el("tr", {}, el("td", {}, r.state), el("td", {}, tf.time(r.created_at)),
      el("td", {}, r.seconds === null || r.seconds === undefined ? "—" : `${r.seconds} s`)));
    $("#reviews tbody").replaceChildren(...(reviews.length ? reviews : [el("tr", {}, el("td", { class: "muted" }, "not reviewed yet"))]));
    if (a.stage === "final" && (a.parent_ids || []).length) { $("#compare").hidden = false; $("#compare").href = `/compare/${a.id}`; }
    $("#restore").href = `/${qs({ project: a.project_id, prompt: a.prompt, negative: (a.params || {}).negative_prompt })}`;
    restoreProjectName(a.project_id);
  }

  async function restoreProjectName(projectId) {
    // The studio's picker speaks names; ids work too, this only makes the link readable.
    try {
      const { project } = await api(`projects/${encodeURIComponent(projectId)}`);
      const url = new URL($("#restore").href);
      url.searchParams.set("project", project.name);
      $("#restore").href = url.pathname + url.search;
    } catch (_) { /* the id link still works */ }
  }

  async function review(act) {
    try {
      await api(`assets/${encodeURIComponent(id)}/reviews`, { method: "POST",
        body: { state: act, seconds: Math.round((performance.now() - shownAt) / 100) / 10 } });
      toast(`Marked ${act}.`, "info");
      await load();
    } catch (err) { fail(err); }
  }

  async function load() {
    try { show(await api(`assets/${encodeURIComponent(id)}`)); } catch (err) { fail(err); }
  }

  document.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", () => review(b.dataset.act)));
  document.addEventListener("keydown", (e) => {
    if (["INPUT", "TEXTAREA", "SELECT"].includes(e.target.tagName) || e.ctrlKey || e.metaKey || e.altKey) return;
    const act = { 1: "keep", 2: "discard", 3: "star" }[e.key];
    if (act) { e.preventDefault(); review(act); }
  });
  document.addEventListener("asset:changed", load); // stages.js made a child: refresh the lineage
  load();
})();
