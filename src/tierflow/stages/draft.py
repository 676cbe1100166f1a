"""Draft: N variations of a prompt on the fast engine; variation i gets a seed derived from a base seed."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from tierflow.domain.ids import new_seed, variation_seed
from tierflow.domain.models import Stage, Tier
from tierflow.domain.specs import DraftSpec
from tierflow.engines.base import TASK_TXT2IMG, RenderRequest
from tierflow.stages.inputs import parse_size
from tierflow.stages.runner import EventSink, PromptRef, RenderPlan, StageResult
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services


def plan_draft_spec(services: Services, spec: DraftSpec) -> StagePlan:
    """Validate a draft spec against the engine and build its plan; nothing is written.

    The returned spec has the random choices fixed (base seed, engine, size, project and milestone
    ids), so a queued job renders exactly these variations.
    """
    from tierflow.app.service import StagePlan

    base_seed = new_seed() if spec.seed is None else spec.seed
    eng = services.engines.for_tier(Tier.DRAFT, spec.engine)
    width, height = parse_size(spec.size) or eng.capabilities().default_size
    with services.db.read() as s:
        repo = ProjectsRepo(s)
        proj = repo.get(spec.project)
        ms = repo.milestone(proj.id, spec.milestone) if spec.milestone else None
    request = RenderRequest(
        task=TASK_TXT2IMG, prompt=spec.prompt.strip(), negative_prompt=spec.negative,
        seeds=[variation_seed(base_seed, i) for i in range(spec.n)], width=width, height=height, steps=spec.steps,
        preview=True,  # latent drafts: tiny-decoder preview now, full decode on keep (stages/decode.py)
    )
    request = eng.prepare(request)  # validate before anything is written or shown
    plan = RenderPlan(
        project_id=proj.id, stage=Stage.DRAFT, engine=eng, request=request,
        new_prompt=PromptRef(request.prompt, negative=spec.negative),
        milestone_id=ms.id if ms else None, user_id=spec.user_id, params={"base_seed": base_seed, "n": spec.n},
        after_output=lambda out, params: params.update(variation=out.index),
    )
    resolved = replace(spec, project=proj.id, seed=base_seed, engine=eng.id, size=f"{width}x{height}",
                       steps=request.steps, milestone=plan.milestone_id)
    return StagePlan(resolved, [plan])


def draft_spec(project: str, prompt: str, *, size: str | tuple[int, int] | None = None, **options) -> DraftSpec:
    """A draft spec from keyword options (a ``(w, h)`` size is accepted too)."""
    if isinstance(size, tuple):
        size = f"{size[0]}x{size[1]}"
    return DraftSpec(project, prompt, size=size, **options)


def plan_draft(services: Services, project: str, prompt: str, **options) -> RenderPlan:
    """Validate and build the plan for a draft batch (nothing is written)."""
    return plan_draft_spec(services, draft_spec(project, prompt, **options)).plans[0]  # type: ignore[return-value]


def draft(services: Services, project: str, prompt: str, *, on_event: EventSink | None = None,
          **options) -> StageResult:
    """Render N draft variations; each asset is stored and reported as it finishes."""
    from tierflow.app import service

    return service.run(services, draft_spec(project, prompt, **options), on_event)
