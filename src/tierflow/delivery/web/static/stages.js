// Asset page, production stages: inpaint (painted mask), outpaint, upscale, video and overlay.
// Each posts to /api/v1/assets/{id}/{stage}; render stages answer a job whose events drive the
// progress bar, overlay answers the new asset at once. Each render's price (the same route with
// ?quote=true) shows beside its button with the budget left after it, and the job shows its charge.
"use strict";

(() => {
  const { api, $, fail, toast, follow, fmtCredits, ApiError, API } = tf;
  const id = $("#asset").dataset.id;
  const painter = maskPainter($("#mask-canvas"));
  let source = null;

  async function postForm(path, formData) {
    const res = await fetch(`${API}/${path}`, { method: "POST", body: formData, headers: { Accept: "application/json" } });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    if (res.status === 401) tf.toLogin();
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  function num(form, name) {
    const v = form.elements[name].value.trim();
    return v === "" ? undefined : Number(v);
  }

  /** The JSON body of a stage's form (inpaint sends multipart, see submit). */
  function bodyOf(stage, form) {
    const text = (name) => form.elements[name].value.trim() || undefined;
    switch (stage) {
      case "outpaint":
        return { left: num(form, "left") || 0, right: num(form, "right") || 0, top: num(form, "top") || 0,
                 bottom: num(form, "bottom") || 0, prompt: text("prompt") };
      case "upscale":
        return { to: form.elements.to.value, creative: num(form, "creative") || undefined };
      case "video":
        return { prompt: text("prompt"), seconds: num(form, "seconds"), fps: num(form, "fps") };
      case "overlay": {
        const offset = Math.max(1, Math.round(Math.max(source.width, source.height) / 150));
        return { text: form.elements.text.value, size: num(form, "size"), color: form.elements.color.value,
                 position: form.elements.position.value, stroke: num(form, "stroke") || 0,
                 shadow: form.elements.shadow.checked ? [offset, offset] : undefined };
      }
      default:
        throw new Error(`unknown stage ${stage}`);
    }
  }

  /** What the stage's route takes: JSON, or for inpaint a multipart form with the painted mask. */
  async function payload(stage, form) {
    if (stage !== "inpaint") return bodyOf(stage, form);
    if (painter.isEmpty()) {
      $("#mask-canvas").classList.add("invalid");
      throw new Error("Paint the area to repaint on the image first.");
    }
    const data = new FormData();
    data.append("prompt", form.elements.prompt.value.trim());
    data.append("mask", await painter.toBlob(), "mask.png");
    return data;
  }

  async function send(stage, form) {
    const path = `assets/${encodeURIComponent(id)}/${stage}`;
    const body = await payload(stage, form);
    return body instanceof FormData ? postForm(path, body) : api(path, { method: "POST", body });
  }

  /** The price beside the form's button ("1.2 credits · 48.8 left after"), and the output size it makes. */
  async function price(form) {
    const stage = form.dataset.stage, target = $("[data-price]", form);
    if (!target || !source || form.hidden) return;
    if (stage === "inpaint" && painter.isEmpty()) { target.textContent = "paint the area to see the price"; return; }
    if (stage === "inpaint" && !form.elements.prompt.value.trim()) { target.textContent = ""; return; }
    const answer = await tfPrice.show(target, `assets/${encodeURIComponent(id)}/${stage}`,
                                      () => payload(stage, form), source.project_id);
    if (answer && answer.width && answer.height) {
      // Said before the render: e.g. a video comes out at the engine's resolution in the source's aspect.
      const same = answer.width === source.width && answer.height === source.height;
      target.textContent += ` · makes ${answer.width}×${answer.height}${same ? "" : ` (source ${source.width}×${source.height})`}`;
    }
  }

  function markInvalid(form, err) {
    const field = err instanceof ApiError ? err.body.field : null;
    const target = field === "mask" ? $("#mask-canvas") : field && form.elements[field];
    if (target && target.classList) target.classList.add("invalid");
  }

  async function submit(form) {
    const stage = form.dataset.stage;
    form.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
    $("#mask-canvas").classList.remove("invalid");
    const button = $("button[type=submit]", form);
    button.disabled = true;
    let running = false;
    try {
      const answer = await send(stage, form);
      if (stage === "overlay") { showJob("Text added.", 1, answer.warnings); showResult(answer.asset); }
      else { running = true; track(answer, () => { button.disabled = false; }); }
    } catch (err) {
      markInvalid(form, err);
      fail(err);
    } finally {
      if (!running) button.disabled = false;
    }
  }

  function showJob(status, progress, warnings = []) {
    $("#stage-job").hidden = false;
    $("#stage-status").textContent = [status, ...warnings].join(" · ");
    $("#stage-progress").value = progress;
  }

  function showResult(asset) {
    const link = $("#stage-result");
    link.href = `/assets/${asset.id}`;
    link.dataset.assetId = asset.id;
    link.textContent = `Open the new ${asset.stage} asset (${asset.width}×${asset.height})`;
    link.hidden = false;
    document.dispatchEvent(new CustomEvent("asset:changed")); // the lineage tree shows the child
  }

  function track(job, done) {
    $("#stage-result").hidden = true;
    const warnings = job.warnings || [];
    showJob("Queued…", 0, warnings);
    let quoted = null;
    follow(job.events_url, {
      started: (d) => { quoted = d.credits; showJob("Running…", 0, warnings); },
      progress: (p) => { $("#stage-progress").value = (p.index + p.step / Math.max(1, p.total)) / Math.max(1, p.count); },
      asset: showResult,
      finished: async (d) => {
        showJob(`Finished · ${fmtCredits(d.credits)} credits`, 1, warnings);
        done();
        const charge = await tfPrice.charged(source.project_id, d.generation_id);
        showJob(`Finished · ${tfPrice.bill(quoted ?? d.credits, charge)}`, 1, warnings);
      },
      failed: (d) => {
        const message = (d.error && (d.error.detail || d.error.message)) || "the job failed";
        showJob(`Failed: ${message}`, 0);
        toast(message, "error");
        done();
      },
      lost: () => { showJob("Lost the connection to the job; reload to see its result.", 0); done(); },
    });
  }

  function selectTab(name) {
    document.querySelectorAll("#stages [data-tab]").forEach((b) => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
    document.querySelectorAll("#stages form[data-stage]").forEach((f) => { f.hidden = f.dataset.stage !== name; });
    const painting = name === "inpaint";
    $("#mask-editor").hidden = !painting; // the canvas lies where the image was, at the same size
    $("#media").hidden = painting;
    const form = $(`#stages form[data-stage='${name}']`);
    if (form) price(form).catch(() => {});
  }

  function setTool(mode) {
    painter.setMode(mode);
    $("#tool-paint").setAttribute("aria-pressed", String(mode === "paint"));
    $("#tool-erase").setAttribute("aria-pressed", String(mode === "erase"));
  }

  function setBrush(px) {
    painter.setBrush(px);
    $("#brush-px").textContent = `${px} px`;
  }

  function setUp(asset) {
    source = asset;
    if (asset.kind !== "image") return; // every stage here starts from an image
    $("#mask-image").src = asset.file_url;
    painter.setSize(asset.width, asset.height);
    const long = Math.max(asset.width, asset.height);
    const brush = $("#brush-size");
    brush.max = String(Math.max(8, Math.round(long / 4)));
    brush.value = String(Math.max(2, Math.round(long / 16)));
    setBrush(Number(brush.value));
    $("#inpaint-prompt").value = asset.prompt || "";
    $("#stages").hidden = false;
    selectTab("inpaint");
  }

  document.querySelectorAll("#stages [data-tab]").forEach((b) => b.addEventListener("click", () => selectTab(b.dataset.tab)));
  document.querySelectorAll("#stages form[data-stage]").forEach((form) => {
    form.addEventListener("submit", (e) => { e.preventDefault(); submit(form); });
    const button = $("[data-quote]", form);
    if (button) button.addEventListener("click", () => price(form));
    form.addEventListener("change", () => price(form));
  });
  $("#brush-size").addEventListener("input", (e) => setBrush(Number(e.target.value)));
  $("#tool-paint").addEventListener("click", () => setTool("paint"));
  $("#tool-erase").addEventListener("click", () => setTool("erase"));
  $("#mask-clear").addEventListener("click", () => { painter.clear(); price($("#form-inpaint")); });
  $("#mask-canvas").addEventListener("pointerup", () => price($("#form-inpaint")));

  api(`assets/${encodeURIComponent(id)}`).then((data) => setUp(data.asset)).catch(fail);
})();
