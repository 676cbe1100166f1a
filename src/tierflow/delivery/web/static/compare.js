// Compare: a final next to its parent draft, a before/after slider and the recorded drift score.
"use strict";

(async () => {
  const { api, el, $, fail } = tf;
  const finalId = $("#compare").dataset.final;

  function caption(a) { return `${a.engine_id} · seed ${a.seed ?? "—"} · ${a.width}×${a.height}`; }

  function showDrift(drift) {
    if (!drift) { $("#no-drift").hidden = false; return; }
    const box = $("#drift");
    box.hidden = false;
    const label = drift.label ? ` (${drift.label})` : "";
    const metric = (name, v, extra = "") =>
      el("div", { class: "metric", dataset: { metric: name } }, el("b", {}, v === undefined ? "—" : Number(v).toFixed(1) + extra), el("span", { class: "small muted" }, name));
    box.replaceChildren(metric("overall", drift.overall, label), metric("colour", drift.colour), metric("structure", drift.structure), metric("texture", drift.texture));
  }

  function setDivider(pct) {
    $("#slider .after").style.clipPath = `inset(0 0 0 ${pct}%)`;
    $("#slider .handle").style.left = `${pct}%`;
  }

  try {
    const { asset: final } = await api(`assets/${encodeURIComponent(finalId)}`);
    const draftId = (final.parent_ids || [])[0];
    $("#final-img").src = $("#slider-after").src = final.file_url;
    $("#final-cap").textContent = `final · ${caption(final)}`;
    $("#export-link").href = final.export_url;
    $("#prompt").textContent = final.prompt;
    showDrift(final.params && final.params.drift);
    if (!draftId) { $("#draft-cap").textContent = "this asset has no parent draft"; return; }
    const { asset: draft } = await api(`assets/${encodeURIComponent(draftId)}`);
    $("#draft-img").src = $("#slider-before").src = draft.file_url;
    $("#draft-cap").replaceChildren(el("a", { href: `/assets/${draft.id}` }, `draft · ${caption(draft)}`));
  } catch (err) { fail(err); }

  $("#slider-range").addEventListener("input", (e) => setDivider(e.target.value));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    const r = $("#slider-range");
    if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      r.value = Number(r.value) + (e.key === "ArrowLeft" ? -5 : 5);
      setDivider(r.value);
    }
  });
})();
