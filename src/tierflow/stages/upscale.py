"""Upscale: an image asset to 2K, 4K or a factor, on the upscale tier's tiled ESRGAN engine.

An upscaler sharpens mistakes as faithfully as detail, so the stage warns (it does not refuse)
when the asset was never reviewed or never went through cleanup. The warnings are recorded in
the job's and the asset's parameters (``warnings``) and returned with the result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.models import Asset, ReviewState, Stage, Tier
from tierflow.engines.base import TASK_UPSCALE, RenderRequest
from tierflow.engines.local.esrgan import parse_target
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


def upscale(services: Services, asset_id: str, to: str = "2k", *, on_event: EventSink | None = None,
            **options) -> StageResult:
    """Upscale an image asset; the source is recorded as the parent; readiness warnings are returned."""
    plan = plan_upscale(services, asset_id, to, **options)
    return with_plan_warnings(plan, run_plan(services, plan, on_event))


def with_plan_warnings(plan: RenderPlan, result: StageResult) -> StageResult:
    """Put the warnings a stage found while planning ahead of the guard's warnings."""
    ahead = [w for w in plan.params.get("warnings", []) if w not in result.warnings]
    result.warnings = ahead + result.warnings
    return result
