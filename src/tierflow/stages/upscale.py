"""Upscale: an image asset to 2K, 4K or a factor, on the upscale tier's tiled ESRGAN engine.

An upscaler sharpens mistakes as faithfully as detail, so the stage warns (it does not refuse)
when the asset was never reviewed or never went through cleanup. The warnings are recorded in
the job's and the asset's parameters (``warnings``) and returned with the result. An optional
creative pass (``creative=0.25``) re-renders the upscaled image in tiles at low strength to add
detail; see :mod:`tierflow.stages.creative` for how it is priced and recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Asset, ReviewState, Stage, Tier
from tierflow.engines.base import TASK_UPSCALE, RenderRequest
from tierflow.engines.local.esrgan import parse_target
from tierflow.stages.creative import check_creative, plan_creative, run_with_creative
from tierflow.stages.runner import EventSink, RenderPlan, StageResult, run_plan
from tierflow.stages.sources import get_asset, load_image
from tierflow.storage.assets_repo import AssetsRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


def plan_upscale(services: Services, asset_id: str, to: str = "2k", *, engine: str | None = None,
                 user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan to upscale an image asset to ``to`` ("2k", "4k", "x2", "3"...)."""
    source = get_asset(services, asset_id)
    image = load_image(services, source)
    eng = services.engines.for_tier(Tier.UPSCALE, engine)
    scale, long_edge = parse_target(str(to))
    request = RenderRequest(task=TASK_UPSCALE, prompt=source.prompt, seeds=[0], width=image.width,
                            height=image.height, init_image=image, scale=scale,
                            extra={"target_long_edge": long_edge} if long_edge is not None else {})
    request = eng.prepare(request)  # errors here: a target not larger than the source, or over the maximum
    return RenderPlan(
        project_id=source.project_id, stage=Stage.UPSCALE, engine=eng, request=request,
        prompt_id=source.prompt_id, user_id=user_id, parent_ids=[source.id],
        params={"upscaled_from": source.id, "to": str(to), "source_size": [image.width, image.height],
                "warnings": readiness_warnings(services, source)},
    )


def readiness_warnings(services: Services, asset: Asset) -> list[str]:
    """Why upscaling ``asset`` now may be premature: not reviewed, discarded, or never cleaned."""
    with services.db.read() as s:
        repo = AssetsRepo(s)
        chain = [asset] + [repo.get(a) for a in repo.ancestors(asset.id)]
    warnings = []
    # A cleanup output inherits the review of what it cleaned: reviewing the fix again is not needed.
    reviewed_chain = [asset]
    for a in chain[1:]:
        if reviewed_chain[-1].stage != Stage.CLEANUP:
            break
        reviewed_chain.append(a)
    states = {a.review for a in reviewed_chain}
    if ReviewState.DISCARD in states:
        warnings.append(f"asset {asset.id} was discarded in review; upscaling it spends credits on a reject")
    elif states <= {ReviewState.UNREVIEWED}:
        warnings.append(f"asset {asset.id} was never reviewed — keep or star it first "
                        f"(`tierflow review {asset.id} --keep`)")
    if not any(a.stage == Stage.CLEANUP for a in chain):
        warnings.append(f"asset {asset.id} was never cleaned — an upscaler sharpens mistakes too; fix them "
                        f"first with `tierflow inpaint` or `tierflow outpaint`")
    return warnings


def plan_upscale_steps(services: Services, asset_id: str, to: str = "2k", *, creative: float | None = None,
                       creative_engine: str | None = None, creative_prompt: str | None = None,
                       creative_tile: int | None = None, **options) -> list[RenderPlan]:
    """The upscale plan, followed by the creative pass's plan when ``creative`` is a strength in (0, 0.5]."""
    strength = check_creative(creative)
    if strength is None:
        given = [name for name, value in (("--creative-engine", creative_engine), ("--creative-prompt",
                 creative_prompt), ("--creative-tile", creative_tile)) if value is not None]
        if given:
            raise InvalidInput(f"{', '.join(given)} without a creative strength", field="creative",
                               fix="add --creative 0.25 (a strength in (0, 0.5]) or leave those options out")
    plan = plan_upscale(services, asset_id, to, **options)
    if strength is None:
        return [plan]
    return [plan, plan_creative(services, plan, strength, engine=creative_engine, prompt=creative_prompt,
                                tile=creative_tile)]


def upscale(services: Services, asset_id: str, to: str = "2k", *, creative: float | None = None,
            creative_engine: str | None = None, creative_prompt: str | None = None,
            creative_tile: int | None = None, on_event: EventSink | None = None, **options) -> StageResult:
    """Upscale an image asset; the source is recorded as the parent; readiness warnings are returned.

    With ``creative`` (a strength in (0, 0.5]) the upscaled image then gets the creative pass
    (:mod:`tierflow.stages.creative`): the result is the pass's asset, whose parent is the plain
    upscale, and its credits are both steps'.
    """
    plans = plan_upscale_steps(services, asset_id, to, creative=creative, creative_engine=creative_engine,
                               creative_prompt=creative_prompt, creative_tile=creative_tile, **options)
    if len(plans) == 2:
        return run_with_creative(services, *plans, on_event)
    return run_plan(services, plans[0], on_event)  # the runner puts the plan's warnings first

