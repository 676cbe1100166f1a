"""Cleanup: repaint what a mask marks (inpaint), or extend the canvas and paint the border (outpaint).

Both run the cleanup tier's inpainting engine; the engine composites its output onto the source
with the mask, so pixels outside the mask come back unchanged. Each asset records how far its
unmasked pixels moved (``unmasked_max_delta``, 0 = bit for bit), so that promise is measured,
not assumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_seed
from tierflow.domain.models import Asset, Stage, Tier
from tierflow.engines.base import TASK_INPAINT, Rendered, RenderRequest
from tierflow.imaging.masks import BLACK_MAX, MAX_GREY_SHARE, WHITE_MIN, load_mask, outpaint_canvas
from tierflow.stages.compose import prompt_thread_for
from tierflow.stages.inputs import check_prompt, check_seed, check_strength
from tierflow.stages.runner import EventSink, RenderPlan, StageResult, run_plan
from tierflow.stages.sources import get_asset, load_image

if TYPE_CHECKING:
    from tierflow.bootstrap import Services

DEFAULT_OUTPAINT_FEATHER = 8  # px the outpaint mask fades into the original, so the seam blends


def plan_inpaint(services: Services, asset_id: str, mask: str | Path | Image.Image, prompt: str | None = None, *,
                 strength: float | None = None, engine: str | None = None, seed: int | None = None,
                 steps: int | None = None, user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan to repaint the white part of ``mask`` on an image asset."""
    source = get_asset(services, asset_id)
    image = load_image(services, source)
    checked = load_mask(mask, image.size)
    params = {"cleanup": "inpaint", "cleaned_from": source.id}
    return _plan(services, source, image, checked, prompt, strength=strength, engine=engine, seed=seed,
                 steps=steps, user_id=user_id, params=params)


def plan_outpaint(services: Services, asset_id: str, *, left: int = 0, right: int = 0, top: int = 0,
                  bottom: int = 0, prompt: str | None = None, feather: int = DEFAULT_OUTPAINT_FEATHER,
                  engine: str | None = None, seed: int | None = None, steps: int | None = None,
                  user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan to extend an image by the given px per side and paint the new border."""
    source = get_asset(services, asset_id)
    image = load_image(services, source)
    eng = services.engines.for_tier(Tier.CLEANUP, engine)
    canvas, mask = outpaint_canvas(image, left=left, right=right, top=top, bottom=bottom, feather=feather,
                                   max_size=eng.capabilities().max_size)
    grey = np.asarray(mask)
    if float(((grey > BLACK_MAX) & (grey < WHITE_MIN)).mean()) > MAX_GREY_SHARE:
        # The engine would call this a non-binary mask; the feather is what the user can change.
        raise InvalidInput(f"a {feather} px feather is too wide for this {image.width}x{image.height} image",
                           field="feather", fix="use a smaller --feather (e.g. 8 px or 0)")
    params = {"cleanup": "outpaint", "cleaned_from": source.id, "left": left, "right": right, "top": top,
              "bottom": bottom, "outpaint_feather": feather}
    return _plan(services, source, canvas, mask, prompt, strength=1.0, engine=eng.id, seed=seed, steps=steps,
                 user_id=user_id, params=params)


def _plan(services: Services, source: Asset, image: Image.Image, mask: Image.Image, prompt: str | None, *,
          strength: float | None, engine: str | None, seed: int | None, steps: int | None,
          user_id: str | None, params: dict) -> RenderPlan:
    eng = services.engines.for_tier(Tier.CLEANUP, engine)
    text = check_prompt(prompt) if prompt is not None else check_prompt(source.prompt)
    if strength is not None:
        strength = check_strength(strength)
    seed = check_seed(seed)
    if seed is None:
        seed = source.seed if source.seed is not None else new_seed()
    request = RenderRequest(task=TASK_INPAINT, prompt=text,
                            negative_prompt=source.params.get("negative_prompt", "") or "", seeds=[seed],
                            width=image.width, height=image.height, steps=steps, init_image=image, mask=mask,
                            strength=strength)
    request = eng.prepare(request)  # validate before anything is written or shown
    return RenderPlan(
        project_id=source.project_id, stage=Stage.CLEANUP, engine=eng, request=request,
        prompt_id=prompt_thread_for(services, source, text), user_id=user_id, parent_ids=[source.id],
        params=params, after_output=_measure_unmasked(image, request.mask),
    )


def _measure_unmasked(original: Image.Image, mask: Image.Image):
    """Record the largest change (0-255) of any pixel the mask kept."""
    keep = np.asarray(mask.convert("L")) == 0
    before = np.asarray(original.convert("RGB"), dtype=np.int16)

    def hook(out: Rendered, params: dict) -> None:
        if out.image is None or out.image.size != original.size or not keep.any():
            return
        after = np.asarray(out.image.convert("RGB"), dtype=np.int16)
        params["unmasked_max_delta"] = int(np.abs(after - before)[keep].max())
        params["mask_share"] = round(float(1.0 - keep.mean()), 4)

    return hook


def inpaint(services: Services, asset_id: str, mask, prompt: str | None = None, *,
            on_event: EventSink | None = None, **options) -> StageResult:
    """Repaint the masked part of an image asset; the source is recorded as the parent."""
    return run_plan(services, plan_inpaint(services, asset_id, mask, prompt, **options), on_event)


def outpaint(services: Services, asset_id: str, *, on_event: EventSink | None = None, **options) -> StageResult:
    """Extend an image asset's canvas and paint the new border; the source is recorded as the parent."""
    return run_plan(services, plan_outpaint(services, asset_id, **options), on_event)
