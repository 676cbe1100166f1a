"""Cleanup: repaint what a mask marks (inpaint), or extend the canvas and paint the border (outpaint).

Both run the cleanup tier's inpainting engine; the engine composites its output onto the source
with the mask, so pixels outside the mask come back unchanged. Each asset records how far its
unmasked pixels moved (``unmasked_max_delta``, 0 = bit for bit), so that promise is measured,
not assumed.
"""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_seed
from tierflow.domain.models import Asset, Stage, Tier
from tierflow.engines.base import TASK_INPAINT, Rendered, RenderRequest
from tierflow.imaging.masks import BLACK_MAX, MAX_GREY_SHARE, WHITE_MIN, load_mask, outpaint_canvas
from tierflow.domain.specs import DEFAULT_FEATHER, InpaintSpec, OutpaintSpec
from tierflow.stages.compose import prompt_for
from tierflow.stages.inputs import check_prompt, check_seed, check_strength
from tierflow.stages.runner import EventSink, RenderPlan, StageResult
from tierflow.stages.sources import get_asset, stored_image

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services

DEFAULT_OUTPAINT_FEATHER = DEFAULT_FEATHER  # px the outpaint mask fades into the original, so the seam blends


def mask_png(mask: str | Path | Image.Image | bytes) -> str:
    """A mask (a PNG path, bytes or an image) as the base64 PNG an :class:`InpaintSpec` carries."""
    if isinstance(mask, Image.Image):
        buf = io.BytesIO()
        mask.save(buf, format="PNG")
        data = buf.getvalue()
    elif isinstance(mask, bytes):
        data = mask
    else:
        path = Path(mask)
        if not path.is_file():
            raise InvalidInput(f"{path} does not exist", field="mask", fix="pass the path of a PNG mask")
        data = path.read_bytes()
    return base64.b64encode(data).decode("ascii")


def _mask_image(spec: InpaintSpec) -> Image.Image:
    try:
        data = base64.b64decode(spec.mask_png, validate=True)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            return im.copy()
    except (ValueError, OSError) as e:
        raise InvalidInput("the mask cannot be read as an image", field="mask",
                           fix="save the mask as a PNG and try again") from None


def plan_inpaint_spec(services: Services, spec: InpaintSpec) -> StagePlan:
    """Validate and build the plan to repaint the white part of the mask on an image asset."""
    from tierflow.app.service import StagePlan

    source = get_asset(services, spec.asset_id)
    image = stored_image(services, source)
    checked = load_mask(_mask_image(spec), image.size)
    params = {"cleanup": "inpaint", "cleaned_from": source.id}
    plan = _plan(services, source, image, checked, spec.prompt, strength=spec.strength, engine=spec.engine,
                 seed=spec.seed, steps=spec.steps, user_id=spec.user_id, params=params)
    return StagePlan(replace(spec, engine=plan.engine.id, seed=plan.request.seeds[0], steps=plan.request.steps),
                     [plan])


def plan_outpaint_spec(services: Services, spec: OutpaintSpec) -> StagePlan:
    """Validate and build the plan to extend an image by the given px per side and paint the new border."""
    from tierflow.app.service import StagePlan

    source = get_asset(services, spec.asset_id)
    image = stored_image(services, source)
    eng = services.engines.for_tier(Tier.CLEANUP, spec.engine)
    feather = spec.feather
    canvas, mask = outpaint_canvas(image, left=spec.left, right=spec.right, top=spec.top, bottom=spec.bottom,
                                   feather=feather, max_size=eng.capabilities().max_size)
    grey = np.asarray(mask)
    if float(((grey > BLACK_MAX) & (grey < WHITE_MIN)).mean()) > MAX_GREY_SHARE:
        # The engine would call this a non-binary mask; the feather is what the user can change.
        raise InvalidInput(f"a {feather} px feather is too wide for this {image.width}x{image.height} image",
                           field="feather", fix="use a smaller --feather (e.g. 8 px or 0)")
    params = {"cleanup": "outpaint", "cleaned_from": source.id, "left": spec.left, "right": spec.right,
              "top": spec.top, "bottom": spec.bottom, "outpaint_feather": feather}
    plan = _plan(services, source, canvas, mask, spec.prompt, strength=1.0, engine=eng.id, seed=spec.seed,
                 steps=spec.steps, user_id=spec.user_id, params=params)
    return StagePlan(replace(spec, engine=plan.engine.id, seed=plan.request.seeds[0], steps=plan.request.steps),
                     [plan])


def inpaint_spec(asset_id: str, mask: str | Path | Image.Image | bytes, prompt: str | None = None,
                 **options) -> InpaintSpec:
    return InpaintSpec(asset_id, mask_png(mask), prompt, **options)


def plan_inpaint(services: Services, asset_id: str, mask: str | Path | Image.Image, prompt: str | None = None,
                 **options) -> RenderPlan:
    """Validate and build the plan to repaint the white part of ``mask`` on an image asset."""
    return plan_inpaint_spec(services, inpaint_spec(asset_id, mask, prompt, **options)).plans[0]  # type: ignore


def plan_outpaint(services: Services, asset_id: str, **options) -> RenderPlan:
    """Validate and build the plan to extend an image and paint the new border."""
    return plan_outpaint_spec(services, OutpaintSpec(asset_id, **options)).plans[0]  # type: ignore[return-value]


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
    prompt_id, new_prompt = prompt_for(source, text)
    return RenderPlan(
        project_id=source.project_id, stage=Stage.CLEANUP, engine=eng, request=request,
        prompt_id=prompt_id, new_prompt=new_prompt, user_id=user_id, parent_ids=[source.id],
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
    from tierflow.app import service

    return service.run(services, inpaint_spec(asset_id, mask, prompt, **options), on_event)


def outpaint(services: Services, asset_id: str, *, on_event: EventSink | None = None, **options) -> StageResult:
    """Extend an image asset's canvas and paint the new border; the source is recorded as the parent."""
    from tierflow.app import service

    return service.run(services, OutpaintSpec(asset_id, **options), on_event)
