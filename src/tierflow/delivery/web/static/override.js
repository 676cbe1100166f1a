// Policy overrides in the browser. A render that meets a policy block (HTTP 409, e.g. draft-first or
// the final cap) asks a lead or admin for a reason in a dialog and is sent again with
// `override_reason`; the server checks the role and writes the audit line. A designer gets the
// block itself (shown once by the caller), with what to do.
"use strict";

(() => {
  const { el, $ } = tf;
  const role = () => document.body.dataset.role || "designer";
  const mayOverride = () => role() === "lead" || role() === "admin";

  function dialog() {
    let box = $("#override-dialog");
    if (box) return box;
    box = el("dialog", { id: "override-dialog", "aria-labelledby": "override-title" },
      el("form", { method: "dialog" },
        el("h3", { id: "override-title" }, "Blocked by a project policy"),
        el("p", { id: "override-message" }),
        el("p", { id: "override-fix", class: "muted small" }),
        el("label", { for: "override-reason" }, "Override it for this render — reason (kept in the audit log)"),
        el("textarea", { id: "override-reason", rows: 3, maxlength: 2000, required: true }),
        el("div", { class: "row" },
          el("button", { type: "button", id: "override-cancel" }, "Cancel"),
          el("button", { type: "submit", id: "override-go", class: "primary", value: "override" }, "Override and render"))));
    document.body.append(box);
    return box;
  }

  /** Ask for a reason; resolves to the trimmed reason, or null when the lead cancels. */
  function askReason(body) {
    const box = dialog();
    $("#override-message", box).textContent = body.message || body.detail || "This render is blocked.";
    $("#override-fix", box).textContent = body.fix ? `Or instead: ${body.fix}` : "";
    const reason = $("#override-reason", box);
    reason.value = "";
    return new Promise((resolve) => {
      const done = (value) => { box.removeEventListener("close", onClose); resolve(value); };
      const onClose = () => done(box.returnValue === "override" && reason.value.trim() ? reason.value.trim() : null);
      box.addEventListener("close", onClose);
      $("#override-cancel", box).onclick = () => box.close("cancel");
      box.returnValue = "";
      box.showModal();
      reason.focus();
    });
  }

  class OverrideCancelled extends Error {
    constructor(original) { super(original.message); this.original = original; this.cancelled = true; }
  }

  /** POST ``body`` to ``path``; on a policy block a lead is asked for a reason and it is sent again with it. */
  async function submit(path, body) {
    try {
      return await tf.api(path, { method: "POST", body });
    } catch (err) {
      const blocked = err instanceof tf.ApiError && err.status === 409 && err.body.error === "policy_blocked";
      if (!blocked || !mayOverride()) throw err;
      const reason = await askReason(err.body);
      if (!reason) throw new OverrideCancelled(err);
      return tf.api(path, { method: "POST", body: { ...body, override_reason: reason } });
    }
  }

  tf.override = { submit, mayOverride, askReason };
})();
