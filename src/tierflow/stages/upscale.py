"""Upscale: an image asset to 2K, 4K or a factor, on the upscale tier's tiled ESRGAN engine.

An upscaler sharpens mistakes as faithfully as detail, so the stage warns (it does not refuse)
when the asset was never reviewed or never went through cleanup. The warnings are recorded in
the job's and the asset's parameters (``warnings``) and returned with the result. An optional
creative pass (``creative=0.25``) re-renders the upscaled image in tiles at low strength to add
detail; see :mod:`tierflow.stages.creative` for how it is priced and recorded.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tierflow.domain.models import Asset, ReviewState, Stage, Tier
from tierflow.domain.specs import UpscaleSpec, creative_pass
from tierflow.engines.base import TASK_UPSCALE, RenderRequest
from tierflow.engines.local.esrgan import parse_target
from tierflow.stages.creative import plan_creative
from tierflow.stages.runner import EventSink, RenderPlan, StageResult
from tierflow.stages.sources import get_asset, stored_image
from tierflow.storage.assets_repo import AssetsRepo

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services


def plan_upscale(services: Services, asset_id: str, to: str = "2k", *, engine: str | None = None,
                 user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan to upscale an image asset to ``to`` ("2k", "4k", "x2", "3"...)."""
    source = get_asset(services, asset_id)
    image = stored_image(services, source)
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


def plan_upscale_spec(services: Services, spec: UpscaleSpec) -> StagePlan:
    """The upscale plan, followed by the creative pass's plan when the spec asks for one."""
    from tierflow.app.service import StagePlan

    plan = plan_upscale(services, spec.asset_id, spec.to, engine=spec.engine, user_id=spec.user_id)
    plans = [plan]
    if spec.creative is not None:
        c = spec.creative
        plans.append(plan_creative(services, plan, c.strength, engine=c.engine, prompt=c.prompt, tile=c.tile))
    return StagePlan(replace(spec, engine=plan.engine.id), plans)


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


def upscale_spec(asset_id: str, to: str = "2k", *, creative: float | None = None,
                 creative_engine: str | None = None, creative_prompt: str | None = None,
                 creative_tile: int | None = None, **options) -> UpscaleSpec:
    """An upscale spec from door options (``creative``: the pass's strength, absent or 0 = off)."""
    return UpscaleSpec(asset_id, str(to), creative=creative_pass(creative, engine=creative_engine,
                                                                 prompt=creative_prompt, tile=creative_tile),
                       **options)


def plan_upscale_steps(services: Services, asset_id: str, to: str = "2k", **options) -> list[RenderPlan]:
    """The upscale plan, followed by the creative pass's plan when ``creative`` is a strength in (0, 0.5]."""
    return plan_upscale_spec(services, upscale_spec(asset_id, to, **options)).plans  # type: ignore[return-value]


def upscale(services: Services, asset_id: str, to: str = "2k", *, on_event: EventSink | None = None,
            **options) -> StageResult:
    """Upscale an image asset; the source is recorded as the parent; readiness warnings are returned.

    With ``creative`` (a strength in (0, 0.5]) the upscaled image then gets the creative pass
    (:mod:`tierflow.stages.creative`): the result is the pass's asset, whose parent is the plain
    upscale, and its credits are both steps'.
    """
    from tierflow.app import service

    return service.run(services, upscale_spec(asset_id, to, **options), on_event)
