// The asset page's Content Credentials badge: the asset's export is signed and verified on the
// server (GET /assets/{id}/credentials) and the badge shows the result, with the chain as tooltip.
"use strict";

(() => {
  const COLOURS = { valid: "var(--keep)", untrusted: "var(--warn)", unsigned: "var(--warn)",
                    tampered: "var(--discard)", unreadable: "var(--discard)" };

  async function show() {
    const badge = document.getElementById("credentials");
    if (!badge) return;
    try {
      const r = await tf.api(`assets/${encodeURIComponent(badge.dataset.asset)}/credentials`);
      const mark = r.ok ? "✓" : "!";
      badge.textContent = `C2PA ${r.status} ${mark}`;
      badge.dataset.status = r.status;
      badge.style.color = COLOURS[r.status] || "";
      const chain = (r.chain || []).map((link) => `${"  ".repeat(link.depth)}${link.status}: ${link.title}`);
      badge.title = [r.message, ...chain].join("\n");
    } catch (e) {
      badge.textContent = "C2PA: not checked";
      badge.dataset.status = "error";
      badge.title = e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", show);
})();
