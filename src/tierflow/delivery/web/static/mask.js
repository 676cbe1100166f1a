// The inpaint mask: paint / erase on a canvas the image's size (in image px, however it is shown),
// exported as a black-and-white PNG: white = repaint, black = keep.
"use strict";

const maskPainter = (canvas) => {
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const state = { brush: 8, mode: "paint", drawing: false, last: null, painted: false };

  function setSize(width, height) {
    canvas.width = width;
    canvas.height = height;
    clear();
  }

  function clear() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    state.painted = false;
  }

  /** A pointer position in image px (the canvas is scaled by CSS to the shown image). */
  function at(e) {
    const r = canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * canvas.width) / r.width, y: ((e.clientY - r.top) * canvas.height) / r.height };
  }

  function stroke(from, to) {
    ctx.globalCompositeOperation = state.mode === "erase" ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = "#ff3b3b";
    ctx.lineWidth = state.brush;
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
    ctx.beginPath(); // a click without a drag still leaves a dot
    ctx.arc(to.x, to.y, state.brush / 2, 0, Math.PI * 2);
    ctx.fill();
    if (state.mode === "paint") state.painted = true;
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    canvas.setPointerCapture(e.pointerId);
    state.drawing = true;
    state.last = at(e);
    stroke(state.last, state.last);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!state.drawing) return;
    const p = at(e);
    stroke(state.last, p);
    state.last = p;
  });
  const stop = () => { state.drawing = false; state.last = null; };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  /** Whether any pixel is marked (erasing everything counts as empty). */
  function isEmpty() {
    if (!state.painted) return true;
    const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
    for (let i = 3; i < data.length; i += 4) if (data[i] >= 128) return false;
    return true;
  }

  /** The mask as a PNG Blob: each pixel pure white (painted) or pure black, no anti-aliased greys. */
  function toBlob() {
    const { width, height } = canvas;
    const src = ctx.getImageData(0, 0, width, height).data;
    const out = new ImageData(width, height);
    for (let i = 0; i < src.length; i += 4) {
      const v = src[i + 3] >= 128 ? 255 : 0;
      out.data[i] = out.data[i + 1] = out.data[i + 2] = v;
      out.data[i + 3] = 255;
    }
    const flat = document.createElement("canvas");
    flat.width = width;
    flat.height = height;
    flat.getContext("2d").putImageData(out, 0, 0);
    return new Promise((resolve, reject) => flat.toBlob((b) => (b ? resolve(b) : reject(new Error("the mask could not be encoded"))), "image/png"));
  }

  return {
    setSize, clear, isEmpty, toBlob,
    setBrush(px) { state.brush = Math.max(1, Number(px) || 1); },
    setMode(mode) { state.mode = mode; },
  };
};
