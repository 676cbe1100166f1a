"""The upscale stage's optional creative pass: a tiled low-strength img2img over the upscaled image.

ESRGAN sharpens what is there; the creative pass re-renders the upscaled image tile by tile on an
img2img engine (default: the final tier's) at a low strength, with the source's prompt and seed,
so the model adds detail while the composition stays the upscaler's
(:class:`tierflow.engines.tiled_img2img.TiledImg2ImgEngine`).

Pricing and lineage — two plans, two generations, one admission:

    source ──upscale plan (ESRGAN)──▶ upscaled ──creative plan (tiled img2img)──▶ creative

Each plan stays what the runner knows, one engine render priced at its own engine's rate: the
upscale at the upscale tier's, the pass at the img2img engine's for every tile (tiles × one
tile-sized img2img at ``int(steps × strength)`` steps). Both generations are opened and both
reservations taken in one transaction before anything renders (:func:`app.service.open_plans`), so
``--quote`` shows the sum and a budget that cannot pay for both refuses up front. When the upscale
fails, the pass's generation is closed as cancelled and its credits refunded. The plain upscale
stays an asset (the pass's parent), so a pass can be compared with it or redone at another
strength without paying for the upscale again. A single plan on a composed engine would have hidden
the intermediate image and mixed two engines' rates in one generation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Stage, Tier
from tierflow.domain.pricing import CREDIT_DIGITS
from tierflow.engines.base import TASK_IMG2IMG, RenderRequest
from tierflow.engines.tiled_img2img import TiledImg2ImgEngine
from tierflow.domain.specs import MAX_CREATIVE, creative_pass
from tierflow.stages.inputs import check_prompt
from tierflow.stages.runner import EventSink, PromptRef, RenderPlan, StageResult
from tierflow.stages.sources import get_asset

if TYPE_CHECKING:
    from tierflow.app.ports import Services

MAX_STRENGTH = MAX_CREATIVE  # above it the pass re-imagines the picture instead of adding detail


def check_creative(strength: Any) -> float | None:
    """The pass's strength, or None when it is off (absent or 0); out of (0, 0.5] is an error."""
    spec = creative_pass(strength)
    return spec.strength if spec is not None else None


def plan_creative(services: Services, upscale_plan: RenderPlan, strength: float, *, engine: str | None = None,
                  prompt: str | None = None, tile: int | None = None) -> RenderPlan:
    """The pass over ``upscale_plan``'s output; the service binds that output as its image and parent."""
    source = get_asset(services, upscale_plan.parent_ids[0])
    try:
        inner = services.engines.for_tier(Tier.FINAL, engine)
    except InvalidInput as e:
        raise InvalidInput(e.message, field="creative_engine", fix=e.fix) from None
    caps = inner.capabilities()
    if TASK_IMG2IMG not in caps.tasks:
        raise InvalidInput(f"engine {inner.id!r} cannot do img2img", field="creative_engine",
                           fix="choose an engine with img2img (see `tierflow engines`)")
    tiled = TiledImg2ImgEngine(inner, _check_tile(tile, caps, inner.id))
    negative = source.params.get("negative_prompt", "") or ""
    text, prompt_id, new_prompt = source.prompt, source.prompt_id, None
    if prompt is not None and check_prompt(prompt, "creative_prompt") != source.prompt:
        text = check_prompt(prompt, "creative_prompt")
        prompt_id, new_prompt = None, PromptRef(text, negative=negative, parent_id=source.prompt_id)
    request = RenderRequest(
        task=TASK_IMG2IMG, prompt=text, negative_prompt=negative,
        seeds=[source.seed if source.seed is not None else 0],
        width=upscale_plan.request.width, height=upscale_plan.request.height, strength=strength,
    )
    request = tiled.prepare(request)  # tile sizes, steps and limits checked before anything is reserved
    return RenderPlan(
        project_id=source.project_id, stage=Stage.UPSCALE, engine=tiled, request=request, prompt_id=prompt_id,
        new_prompt=new_prompt, milestone_id=upscale_plan.milestone_id, user_id=upscale_plan.user_id,
        input_from=0, input_param="creative_of",  # the upscale's output is this pass's image and parent
        params={"creative": {"strength": strength, "engine": inner.id, "tile": tiled.tile,
                             "overlap": tiled.overlap, "tiles": len(tiled.boxes(request))},
                "upscaled_from": source.id, "to": upscale_plan.params.get("to")},
    )


def _check_tile(tile: int | None, caps: Any, engine_id: str) -> int:
    if tile is None:
        return max(caps.default_size)  # the engine's native size: 1024 for SDXL
    if isinstance(tile, bool) or not isinstance(tile, int) or not caps.min_size <= tile <= caps.max_size \
            or tile % caps.size_multiple:
        raise InvalidInput(f"{tile!r} px is not a tile {engine_id} can render", field="creative_tile",
                           fix=f"use a multiple of {caps.size_multiple} between {caps.min_size} and {caps.max_size}")
    return tile


def run_with_creative(services: Services, upscale_plan: RenderPlan, creative_plan: RenderPlan,
                      on_event: EventSink | None = None) -> StageResult:
    """Reserve both, upscale, then the pass; the result is the pass's asset and both steps' credits."""
    from tierflow.app.service import open_plans, run_chain
    from tierflow.stages.decode import require_decoded_inputs

    plans = [upscale_plan, creative_plan]
    require_decoded_inputs(services, plans)
    return run_chain(services, plans, open_plans(services, plans), on_event)
