"""Promote: a kept draft's prompt, seed and image re-rendered on a final engine.

Within one engine family the seed carries the composition over exactly; across families (or to a
hosted engine, whose seeds are best-effort) the draft image is what carries it, as the init /
reference image at the chosen strength.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import ReviewState, Stage, Tier
from tierflow.engines.base import TASK_IMG2IMG, RenderRequest
from tierflow.domain.specs import DEFAULT_STRENGTH, OverrideRequest, PromoteSpec
from tierflow.stages.decode import latent_handoff
from tierflow.stages.inputs import check_prompt, parse_size
from tierflow.stages.runner import EventSink, PromptRef, RenderPlan, StageResult
from tierflow.stages.sources import fit_to, get_asset, stored_image
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services

__all__ = ["DEFAULT_STRENGTH", "plan_promote", "plan_promote_spec", "promote", "promote_spec"]


def plan_promote_spec(services: Services, spec: PromoteSpec) -> StagePlan:
    """Validate a promotion against the final engine and build its plan; nothing is written."""
    from tierflow.app.service import StagePlan

    draft = get_asset(services, spec.asset_id)
    if draft.review == ReviewState.DISCARD:
        raise InvalidInput(f"asset {draft.id} was discarded", field="asset",
                           fix=f"keep it first (`tierflow review {draft.id} --keep`) or promote another draft")
    # A latent draft not decoded yet: its preview here (same size; a quote writes nothing); the
    # service stores its full decode when the promotion runs and plans it again on those pixels.
    image = stored_image(services, draft)
    eng = services.engines.for_tier(Tier.FINAL, spec.engine)
    caps = eng.capabilities()
    width, height = parse_size(spec.size) or fit_to(image.size, max(caps.default_size), caps.size_multiple)
    source_engine = None
    try:
        source_engine = services.engines.get(draft.engine_id)
    except InvalidInput:
        pass
    same_family = bool(source_engine and caps.family and source_engine.capabilities().family == caps.family)
    text = check_prompt(spec.prompt) if spec.prompt is not None else draft.prompt
    negative = draft.params.get("negative_prompt", "") or ""
    ms_id = None
    if spec.milestone:
        with services.db.read() as s:
            ms_id = ProjectsRepo(s).milestone(draft.project_id, spec.milestone).id
    request = RenderRequest(
        task=TASK_IMG2IMG, prompt=text, negative_prompt=negative,
        seeds=[draft.seed if draft.seed is not None else 0], width=width, height=height, steps=spec.steps,
        init_image=image, strength=spec.strength,
    )
    handoff = latent_handoff(services, draft, source_engine, eng, request)  # same latent space: no re-encode
    request = eng.prepare(request)  # validate before anything is written or shown
    prompt_id, new_prompt = (draft.prompt_id, None) if text == draft.prompt and draft.prompt_id else (
        None, PromptRef(text, negative=negative, parent_id=draft.prompt_id if text != draft.prompt else None))
    plan = RenderPlan(
        project_id=draft.project_id, stage=Stage.FINAL, engine=eng, request=request, prompt_id=prompt_id,
        new_prompt=new_prompt, milestone_id=ms_id, user_id=spec.user_id, parent_ids=[draft.id],
        override=asdict(spec.override) if spec.override is not None else None,
        params={
            "promoted_from": draft.id,
            "prompt_edited": text != draft.prompt,
            "seed_handoff": "exact" if same_family and caps.seeded else ("best-effort" if caps.seeded else "reference-image"),
            "handoff": handoff,
        },
        after_output=_with_drift(image),
    )
    resolved = replace(spec, engine=eng.id, size=f"{width}x{height}", steps=request.steps, milestone=ms_id)
    return StagePlan(resolved, [plan])


def promote_spec(asset_id: str, *, size: str | tuple[int, int] | None = None, override: Any = None,
                 **options) -> PromoteSpec:
    """A promote spec from keyword options (``override``: an OverrideRequest or ``{user, role, reason}``)."""
    if isinstance(size, tuple):
        size = f"{size[0]}x{size[1]}"
    if isinstance(override, dict):
        override = OverrideRequest(str(override.get("user") or override.get("user_id") or ""),
                                   str(override.get("role") or "designer"), str(override.get("reason") or ""))
    return PromoteSpec(asset_id, size=size, override=override, **options)


def plan_promote(services: Services, asset_id: str, **options) -> RenderPlan:
    """Validate and build the plan to promote a kept draft (nothing is written)."""
    return plan_promote_spec(services, promote_spec(asset_id, **options)).plans[0]  # type: ignore[return-value]


def _with_drift(source):
    """Record draft → final drift on the asset when the drift module is installed."""

    def hook(out, params: dict) -> None:
        try:
            from tierflow.analysis.drift import drift
        except ImportError:  # pragma: no cover - analysis ships with tierflow
            return
        if out.image is not None:
            params["drift"] = drift(source, out.image).to_dict()

    return hook


def promote(services: Services, asset_id: str, *, on_event: EventSink | None = None, **options) -> StageResult:
    """Re-render a kept draft on the final engine; the draft is recorded as the parent."""
    from tierflow.app import service

    return service.run(services, promote_spec(asset_id, **options), on_event)
