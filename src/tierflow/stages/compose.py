"""What the stages after promote share: a derived asset's prompt thread, and storing a non-rendered output.

Overlay makes its pixels with Pillow, not an engine, so it has nothing for the guard to price and no
engine to run. :func:`run_compose` gives it the same record as :func:`~tierflow.stages.runner.run_plan`
(a generation row, the output persisted through :func:`~tierflow.stages.persist.persist_output` with
its parents as lineage, the job finished or failed) without a reservation: it costs 0 credits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import Cancelled
from tierflow.domain.models import Asset, JobStatus, Stage
from tierflow.engines.base import EngineInfo, Rendered, RenderRequest
from tierflow.stages.persist import persist_output
from tierflow.stages.recovery import process_owner
from tierflow.stages.runner import StageResult
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


def prompt_thread_for(services: Services, source: Asset, text: str) -> str | None:
    """The prompt thread of a derived asset: the source's own, or an edit of it when the text changed."""
    if text == source.prompt and source.prompt_id:
        return source.prompt_id
    with services.db.transaction() as s:
        return ProjectsRepo(s).prompt(source.project_id, text,
                                      negative=source.params.get("negative_prompt", "") or "",
                                      parent_id=source.prompt_id).id


@dataclass
class ComposePlan:
    """A derived asset made in-process: ``make()`` returns the one output; persisted like a render."""

    project_id: str
    stage: Stage
    info: EngineInfo  # what the asset records as its maker (tool and library versions)
    request: RenderRequest  # the recorded parameters (task, prompt, size)
    make: Callable[[], Rendered]
    prompt_id: str | None = None
    milestone_id: str | None = None
    user_id: str | None = None
    parent_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    after_output: Callable[[Rendered, dict[str, Any]], None] | None = None


def run_compose(services: Services, plan: ComposePlan) -> StageResult:
    """Make and store ``plan``'s output with its job row and lineage; the job fails cleanly on error."""
    job_params = {**plan.request.params(), **plan.params, "engine": plan.info.to_dict()}
    job_params["engine"].pop("description", None)
    with services.db.transaction() as s:
        gen = GenerationsRepo(s).create(
            project_id=plan.project_id, stage=plan.stage, engine_id=plan.info.id, params=job_params,
            prompt_id=plan.prompt_id, milestone_id=plan.milestone_id, user_id=plan.user_id, credits=0.0,
        )
        GenerationsRepo(s).row(gen.id).lease_owner = process_owner()
    try:
        out = plan.make()
        # persist_output reads only the plan fields ComposePlan shares with RenderPlan.
        asset = persist_output(services, plan, gen.id, out, plan.info)  # type: ignore[arg-type]
    except BaseException as exc:  # noqa: BLE001 - the job row must not stay "running"
        status = JobStatus.CANCELLED if isinstance(exc, (Cancelled, KeyboardInterrupt)) else JobStatus.FAILED
        with services.db.transaction() as s:
            GenerationsRepo(s).finish(gen.id, status, outputs=0, credits=0.0,
                                      error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    with services.db.transaction() as s:
        GenerationsRepo(s).finish(gen.id, JobStatus.SUCCEEDED, outputs=1, credits=0.0)
    return StageResult(gen.id, [asset], 0.0, [])
