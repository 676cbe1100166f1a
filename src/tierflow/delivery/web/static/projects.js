// Projects: every project, linking to its dashboard.
"use strict";

tf.api("projects").then(({ projects }) => {
  const { el, $ } = tf;
  $("#projects tbody").replaceChildren(...projects.map((p) => el("tr", {},
    el("td", {}, el("a", { href: `/projects/${encodeURIComponent(p.name)}` }, p.name)),
    el("td", { class: "muted" }, p.description || ""),
    el("td", { class: "small muted" }, tf.time(p.created_at)))));
  $("#empty").hidden = projects.length > 0;
}).catch(tf.fail);
