// Project page: the prompt-drift check — re-render the kept prompt + seed pairs and show their drift
// (the same use case as `tierflow drift-check` and POST /projects/{ref}/drift-check).
"use strict";

(() => {
  const { api, el, $ } = tf;
  const root = $("#project");
  if (!root) return;
  const ref = root.dataset.ref;

  async function run(ev) {
    ev.preventDefault();
    const button = $("#drift-check-go");
    const engine = $("#drift-engine").value.trim() || undefined;
    const threshold = Number($("#drift-threshold").value) || 10;
    button.disabled = true;
    $("#drift-status").textContent = "re-rendering the saved pairs…";
    try {
      const report = await api(`projects/${encodeURIComponent(ref)}/drift-check`,
        { method: "POST", body: { threshold, engine, limit: 20 } });
      const items = report.items || [];
      $("#drift-status").textContent = `${items.length} pair(s) checked, ${report.flagged ?? items.filter((i) => i.flagged).length} above ${threshold}`;
      $("#drift-results tbody").replaceChildren(...items.map((i) => el("tr", { class: i.flagged ? "warn" : "" },
        el("td", {}, el("a", { href: `/assets/${i.asset_id}` }, i.asset_id)),
        el("td", {}, (i.current && i.current.engine_id) || ""),
        el("td", {}, i.drift && i.drift.overall !== undefined ? String(i.drift.overall) : "—"),
        el("td", {}, i.flagged ? "yes" : "no"))));
    } catch (err) {
      $("#drift-status").textContent = err.message;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = $("#drift-form");
    if (form) form.addEventListener("submit", run);
  });
})();
