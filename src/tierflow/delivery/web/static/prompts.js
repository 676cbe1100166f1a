// Prompts: every prompt run, each restorable into the studio (project + prompt filled in) in one click.
"use strict";

(() => {
  const { api, qs, el, $, fail } = tf;
  const select = $("#p-project");
  let names = {};

  function row(p, byId) {
    const project = names[p.project_id] || p.project_id;
    const restore = `/${qs({ project, prompt: p.text, negative: p.negative })}`;
    const parent = p.parent_id && byId[p.parent_id];
    return el("tr", { dataset: { id: p.id } },
      el("td", {},
        el("div", { class: "prompt-text" }, p.text),
        p.negative ? el("div", { class: "small muted" }, `negative: ${p.negative}`) : null,
        parent ? el("div", { class: "small muted" }, `edited from: ${parent.text}`) : null),
      el("td", {}, el("a", { href: `/projects/${encodeURIComponent(project)}` }, project)),
      el("td", { class: "small muted" }, tf.time(p.created_at)),
      el("td", {}, el("a", { class: "button restore", href: restore, title: "Open the studio with this prompt" }, "Restore")));
  }

  async function load() {
    try {
      const { prompts } = await api(`prompts${qs({ project: select.value, limit: 500 })}`);
      const byId = Object.fromEntries(prompts.map((p) => [p.id, p]));
      $("#prompts tbody").replaceChildren(...prompts.map((p) => row(p, byId)));
      $("#empty").hidden = prompts.length > 0;
    } catch (err) { fail(err); }
  }

  async function init() {
    const { projects } = await api("projects");
    names = Object.fromEntries(projects.map((p) => [p.id, p.name]));
    for (const p of projects) select.append(el("option", { value: p.name, selected: p.name === select.dataset.initial || p.id === select.dataset.initial }, p.name));
  }

  select.addEventListener("change", () => { history.replaceState(null, "", `/prompts${qs({ project: select.value })}`); load(); });
  init().catch(fail).finally(load);
})();
