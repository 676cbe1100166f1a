"""Inpainting engines (SD and SDXL families): repaint the white part of a mask, keep the rest.

The diffusers inpainting pipelines round-trip the *whole* image through the VAE, which shifts every
pixel a little. So after the pipeline the result is composited onto the original with the mask,
feathered inward only: pixels where the mask is black come back bit for bit. The same engine does
outpainting: the stage pads the canvas with ``tierflow.imaging.masks.outpaint_canvas`` first.

The pipeline is loaded from an inpainting checkpoint (9-channel UNet) through ``loading``, or shares
the weights of a loaded text-to-image engine of the same family through ``from_pipe``
(:meth:`StableDiffusionInpaintEngine.from_engine`), where diffusers blends the known latents back in
at every step instead.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

from tierflow.domain.errors import Cancelled, EngineFailed, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import (
    TASK_INPAINT,
    Capabilities,
    ProgressCallback,
    Progress,
    Rendered,
    RenderRequest,
    check_size,
)
from tierflow.engines.local import loading
from tierflow.engines.local.diffusers_base import DiffusersImageEngine, LocalPreset

DEFAULT_FEATHER = 4  # px of inward blend at the mask's edge; request.extra["feather"] overrides
LATENT_MULTIPLE = 8  # the VAE's spatial factor: the pipeline needs sizes divisible by it


class StableDiffusionInpaintEngine(DiffusersImageEngine):
    """``StableDiffusionInpaintPipeline``: init image + mask (white = repaint) + prompt, per seed."""

    pipeline_class = "StableDiffusionInpaintPipeline"
    latent_drafts = False
    fast_modules = False
    family = "sd"

    def __init__(self, preset: LocalPreset, *, offline: bool = False, device: str | None = None) -> None:
        super().__init__(preset, offline=offline, device=device)
        self._source: DiffusersImageEngine | None = None

    @classmethod
    def from_engine(cls, engine: DiffusersImageEngine, engine_id: str | None = None) -> StableDiffusionInpaintEngine:
        """An inpaint engine (tier cleanup) sharing a text-to-image engine's weights (no second copy)."""
        if engine.family != cls.family:
            raise InvalidInput(
                f"{engine.id} is a {engine.family or 'different'} engine, not {cls.family}",
                field="engine",
                fix=f"pick a {cls.family} engine to inpaint with",
            )
        preset = dataclasses.replace(engine.preset, id=engine_id or f"{engine.id}-inpaint", tier=Tier.CLEANUP)
        out = cls(preset, offline=engine.offline, device=engine._device_pref)
        out._source = engine
        return out

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        base = super().capabilities()
        return Capabilities(
            tasks=(TASK_INPAINT,),
            min_size=base.min_size,
            max_size=base.max_size,
            size_multiple=1,  # any size: the engine pads to the VAE's multiple and crops back
            default_size=base.default_size,
            default_steps=base.default_steps,
            max_steps=base.max_steps,
            default_guidance=base.default_guidance,
            max_batch=base.max_batch,
            seeded=True,
            family=self.family,
        )

    # -- loading ----------------------------------------------------------------------------
    def load(self) -> Any:
        if self._source is None:
            return super().load()
        with self._lock:
            if self._pipe is None:
                text_pipe = self._source.load()
                pipe = loading.from_pipe(self.pipeline_class, text_pipe)
                pipe.set_progress_bar_config(disable=True)
                self._pipe = pipe
                self.device = self._source.device
                self.batch_size = self._source.batch_size
            return self._pipe

    # -- validation -------------------------------------------------------------------------
    def prepare(self, request: RenderRequest) -> RenderRequest:
        """Inpainting renders at the init image's own size; the mask must match it."""
        from tierflow.imaging.masks import check_mask

        if request.task == TASK_INPAINT and request.init_image is not None:
            request.width, request.height = request.init_image.size
        request = super().prepare(request)
        if request.mask is None:
            raise InvalidInput("a mask is required", field="mask", fix="pass a mask image (white = repaint)")
        request.mask = check_mask(request.mask, request.init_image.size)
        feather = request.extra.get("feather", DEFAULT_FEATHER)
        if not isinstance(feather, (int, float)) or isinstance(feather, bool) or feather < 0:
            raise InvalidInput(f"{feather!r} is not a radius in px", field="feather", fix="use 0 or more px")
        # The pipeline works on the size padded to a multiple of 8; that must fit the engine too.
        check_size(_padded(request.width), _padded(request.height), self.capabilities(), self.id)
        return request

    # -- rendering --------------------------------------------------------------------------
    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import torch

        from tierflow.imaging.masks import composite_keep_unmasked, inward_feather

        request = self.prepare(request)
        pipe = self.load()
        original = request.init_image.convert("RGB")
        mask = request.mask
        image_in, mask_in = _pad_to_multiple(original, mask)
        blend = inward_feather(mask, float(request.extra.get("feather", DEFAULT_FEATHER)))
        strength = request.strength if request.strength is not None else 1.0
        steps = request.steps or 1
        # diffusers runs int(steps * strength) steps; report what really runs.
        effective = max(1, int(steps * strength))
        count = len(request.seeds)
        batch = max(1, self.batch_size or 1)
        for start in range(0, count, batch):
            seeds = request.seeds[start : start + batch]
            base_index = start

            def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                if request.cancel.is_set():
                    raise Cancelled("the render was cancelled", field="job")
                if progress:
                    progress(Progress(min(step + 1, effective), effective, base_index, count))
                return kwargs

            args: dict[str, Any] = {
                "prompt": [request.prompt] * len(seeds),
                "image": [image_in] * len(seeds),
                "mask_image": [mask_in] * len(seeds),
                "width": image_in.width,
                "height": image_in.height,
                "strength": strength,
                "num_inference_steps": steps,
                "guidance_scale": float(request.guidance or 0.0),
                "generator": [torch.Generator("cpu").manual_seed(int(s)) for s in seeds],
                "callback_on_step_end": on_step,
                "output_type": "pil",
            }
            if request.negative_prompt and (request.guidance or 0) > 1:
                args["negative_prompt"] = [request.negative_prompt] * len(seeds)
            args.update(self.pipeline_kwargs(request))
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    images = pipe(**args).images
            except Cancelled:
                raise
            except (RuntimeError, ValueError) as e:
                raise EngineFailed(f"{self.id} failed: {e}".splitlines()[0], field="engine") from e
            seconds = (time.perf_counter() - t0) / len(seeds)
            for offset, (seed, image) in enumerate(zip(seeds, images)):
                generated = image.crop((0, 0, original.width, original.height))
                yield Rendered(
                    index=start + offset,
                    seed=int(seed),
                    image=composite_keep_unmasked(original, generated, blend),
                    seconds=seconds,
                    metadata={
                        "sampler": type(pipe.scheduler).__name__,
                        "device": self.device,
                        "pipeline": type(pipe).__name__,
                        "unet_in_channels": int(pipe.unet.config.in_channels),
                        "mask_share": round(_white_share(mask), 4),
                    },
                )


class StableDiffusionXLInpaintEngine(StableDiffusionInpaintEngine):
    """``StableDiffusionXLInpaintPipeline``: two text encoders and size conditioning."""

    pipeline_class = "StableDiffusionXLInpaintPipeline"
    family = "sdxl"

    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        size = (_padded(request.height), _padded(request.width))
        return {"original_size": size, "target_size": size}


def _padded(value: int) -> int:
    return -(-value // LATENT_MULTIPLE) * LATENT_MULTIPLE


def _pad_to_multiple(image, mask):
    """Pad right/bottom to a multiple of 8 with edge pixels (mask: keep), so nothing is resized."""
    import numpy as np
    from PIL import Image

    w, h = image.size
    pw, ph = _padded(w) - w, _padded(h) - h
    if not pw and not ph:
        return image, mask
    rgb = np.pad(np.asarray(image), ((0, ph), (0, pw), (0, 0)), mode="edge")
    m = np.pad(np.asarray(mask), ((0, ph), (0, pw)), mode="constant")
    return Image.fromarray(rgb, mode="RGB"), Image.fromarray(m, mode="L")


def _white_share(mask) -> float:
    import numpy as np

    return float((np.asarray(mask) >= 128).mean())
