"""Draft: N variations of a prompt on the fast engine; variation i gets a seed derived from a base seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.ids import new_seed, variation_seed
from tierflow.domain.models import Stage, Tier
from tierflow.engines.base import TASK_TXT2IMG, RenderRequest
from tierflow.stages.inputs import check_count, check_prompt, check_seed, parse_size
from tierflow.stages.runner import EventSink, RenderPlan, StageResult, run_plan
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


def plan_draft(services: Services, project: str, prompt: str, *, n: int = 4, seed: int | None = None,
               size: str | tuple[int, int] | None = None, engine: str | None = None, steps: int | None = None,
               negative: str = "", milestone: str | None = None, user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan for a draft batch (nothing is written)."""
    text = check_prompt(prompt)
    n = check_count(n)
    base_seed = check_seed(seed)
    base_seed = new_seed() if base_seed is None else base_seed
    eng = services.engines.for_tier(Tier.DRAFT, engine)
    width, height = parse_size(size) or eng.capabilities().default_size
    with services.db.transaction() as s:
        repo = ProjectsRepo(s)
        proj = repo.get(project)
        ms = repo.milestone(proj.id, milestone) if milestone else None
        thread = repo.prompt(proj.id, text, negative=negative)
    request = RenderRequest(
        task=TASK_TXT2IMG, prompt=text, negative_prompt=negative,
        seeds=[variation_seed(base_seed, i) for i in range(n)], width=width, height=height, steps=steps,
        preview=True,  # latent drafts: tiny-decoder preview now, full decode on keep (stages/decode.py)
    )
    request = eng.prepare(request)  # validate before anything is written or shown
    return RenderPlan(
        project_id=proj.id, stage=Stage.DRAFT, engine=eng, request=request, prompt_id=thread.id,
        milestone_id=ms.id if ms else None, user_id=user_id, params={"base_seed": base_seed, "n": n},
        after_output=lambda out, params: params.update(variation=out.index),
    )


def draft(services: Services, project: str, prompt: str, *, on_event: EventSink | None = None,
          **options) -> StageResult:
    """Render N draft variations; each asset is stored and reported as it finishes."""
    return run_plan(services, plan_draft(services, project, prompt, **options), on_event)
