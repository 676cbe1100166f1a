"""Promote: a kept draft's prompt, seed and image re-rendered on a final engine.

Within one engine family the seed carries the composition over exactly; across families (or to a
hosted engine, whose seeds are best-effort) the draft image is what carries it, as the init /
reference image at the chosen strength.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import ReviewState, Stage, Tier
from tierflow.engines.base import TASK_IMG2IMG, RenderRequest
from tierflow.stages.decode import full_quality, latent_handoff
from tierflow.stages.inputs import check_prompt, check_strength, parse_size
from tierflow.stages.runner import EventSink, RenderPlan, StageResult, run_plan
from tierflow.stages.sources import fit_to, get_asset, load_image
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services

DEFAULT_STRENGTH = 0.65


def plan_promote(services: Services, asset_id: str, *, prompt: str | None = None,
                 strength: float = DEFAULT_STRENGTH, engine: str | None = None, steps: int | None = None,
                 size: str | tuple[int, int] | None = None, milestone: str | None = None,
                 user_id: str | None = None, override: Any = None) -> RenderPlan:
    draft = get_asset(services, asset_id)
    if draft.review == ReviewState.DISCARD:
        raise InvalidInput(f"asset {draft.id} was discarded", field="asset",
                           fix=f"keep it first (`tierflow review {draft.id} --keep`) or promote another draft")
    strength = check_strength(strength)
    draft = full_quality(services, draft)  # decode-on-promote: the draft's pixels at full quality
    image = load_image(services, draft)
    eng = services.engines.for_tier(Tier.FINAL, engine)
    caps = eng.capabilities()
    width, height = parse_size(size) or fit_to(image.size, max(caps.default_size), caps.size_multiple)
    source_engine = None
    try:
        source_engine = services.engines.get(draft.engine_id)
    except InvalidInput:
        pass
    same_family = bool(source_engine and caps.family and source_engine.capabilities().family == caps.family)
    text = check_prompt(prompt) if prompt is not None else draft.prompt
    with services.db.transaction() as s:
        repo = ProjectsRepo(s)
        thread = repo.prompt(draft.project_id, text, negative=draft.params.get("negative_prompt", "") or "",
                             parent_id=draft.prompt_id if text != draft.prompt else None)
        ms_id = repo.milestone(draft.project_id, milestone).id if milestone else None
    request = RenderRequest(
        task=TASK_IMG2IMG, prompt=text, negative_prompt=draft.params.get("negative_prompt", "") or "",
        seeds=[draft.seed if draft.seed is not None else 0], width=width, height=height, steps=steps,
        init_image=image, strength=strength,
    )
    handoff = latent_handoff(services, draft, source_engine, eng, request)  # same latent space: no re-encode
    request = eng.prepare(request)  # validate before anything is written or shown
    return RenderPlan(
        project_id=draft.project_id, stage=Stage.FINAL, engine=eng, request=request, prompt_id=thread.id,
        milestone_id=ms_id, user_id=user_id, parent_ids=[draft.id], override=override,
        params={
            "promoted_from": draft.id,
            "prompt_edited": text != draft.prompt,
            "seed_handoff": "exact" if same_family and caps.seeded else ("best-effort" if caps.seeded else "reference-image"),
            "handoff": handoff,
        },
        after_output=_with_drift(image),
    )


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
    return run_plan(services, plan_promote(services, asset_id, **options), on_event)
