// Price before every render: ask the render's own route with ?quote=true (nothing is queued or
// reserved), show the credits beside its button with the budget left after it, and after the job,
// the credits really charged (the provider's usage) beside the quote.
"use strict";

const tfPrice = (() => {
  const { api, qs, fmtCredits } = tf;

  /** The quote answer ({credits, engine_id, stage}) for POST ``path`` with ``body`` (JSON or FormData). */
  async function quote(path, body) {
    const sep = path.includes("?") ? "&" : "?";
    if (body instanceof FormData) {
      const res = await fetch(`${tf.API}/${path}${sep}quote=true`, { method: "POST", body, headers: { Accept: "application/json" } });
      let answer = null;
      try { answer = await res.json(); } catch (_) { answer = null; }
      if (!res.ok) throw new tf.ApiError(res.status, answer);
      return answer;
    }
    return api(`${path}${sep}quote=true`, { method: "POST", body });
  }

  /** "1.2 credits · 48.8 left after" (or "· unlimited budget") from a quote and /projects/{ref}/budget. */
  function text(answer, budget) {
    let out = `${fmtCredits(answer.credits)} credits`;
    if (budget && !budget.unlimited && budget.remaining !== null && budget.remaining !== undefined) {
      out += ` · ${fmtCredits(Number(budget.remaining) - Number(answer.credits))} left after`;
    } else if (budget) {
      out += " · unlimited budget";
    }
    return out;
  }

  async function budgetOf(project) {
    if (!project) return null;
    try { return await api(`projects/${encodeURIComponent(project)}/budget`); } catch (_) { return null; }
  }

  /** Fill ``target`` with the price of POST ``path`` (a stale answer never overwrites a newer one). */
  async function show(target, path, body, project) {
    const seq = (target.dataset.seq = String(Number(target.dataset.seq || 0) + 1));
    target.classList.remove("error");
    target.textContent = "pricing…";
    try {
      const [answer, budget] = await Promise.all([quote(path, typeof body === "function" ? await body() : body), budgetOf(project)]);
      if (target.dataset.seq !== seq) return null;
      target.textContent = text(answer, budget);
      target.dataset.credits = String(answer.credits);
      return answer;
    } catch (err) {
      if (target.dataset.seq !== seq) return null;
      target.textContent = err.message;
      target.classList.add("error");
      return null;
    }
  }

  /** What a finished generation was charged (the stored generation's credits), or null. */
  async function charged(project, generationId) {
    if (!generationId) return null;
    try {
      const data = await api(`generations${qs({ project, limit: 50 })}`);
      const gen = data.generations.find((g) => g.id === generationId);
      return gen ? gen.credits : null;
    } catch (_) { return null; }
  }

  /** "quoted 13.5 · charged 13.4 credits" */
  function bill(quoted, charge) {
    const c = charge === null || charge === undefined ? "—" : fmtCredits(charge);
    return `quoted ${fmtCredits(quoted)} · charged ${c} credits`;
  }

  return { quote, text, show, charged, bill };
})();
