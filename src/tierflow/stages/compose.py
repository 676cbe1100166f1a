"""What the stages after promote share: a derived asset's prompt thread, and storing a non-rendered output.

Overlay makes its pixels with Pillow, not an engine, so it has nothing for the guard to price and no
engine to run. The application service opens its generation like any other (in the same transaction
shape, without a reservation: it costs 0 credits) and :func:`run_compose_on` persists the output through
:func:`~tierflow.stages.persist.persist_output` with its parents as lineage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.errors import Cancelled
from tierflow.domain.models import Asset, JobStatus
from tierflow.stages.admit import close_generation, open_plans
from tierflow.stages.decode import require_decoded_inputs
from tierflow.stages.persist import persist_output
from tierflow.stages.plans import ComposePlan, PromptRef, StageResult

__all__ = ["ComposePlan", "prompt_for", "run_compose", "run_compose_on"]

if TYPE_CHECKING:
    from tierflow.app.ports import Services


def prompt_for(source: Asset, text: str) -> tuple[str | None, PromptRef | None]:
    """The prompt thread of a derived asset: the source's own, or an edit of it when the text changed
    (found or created when the job is opened, so planning writes nothing)."""
    if text == source.prompt and source.prompt_id:
        return source.prompt_id, None
    return None, PromptRef(text, negative=source.params.get("negative_prompt", "") or "",
                           parent_id=source.prompt_id)


def run_compose(services: Services, plan: ComposePlan) -> StageResult:
    """Open ``plan``'s generation (0 credits) and make and store its output."""
    require_decoded_inputs(services, [plan])
    return run_compose_on(services, plan, open_plans(services, [plan])[0])


def run_compose_on(services: Services, plan: ComposePlan, generation_id: str) -> StageResult:
    """Make and store ``plan``'s output onto its opened row; the job fails cleanly on error."""
    try:
        out = plan.make()
        # persist_output reads only the plan fields ComposePlan shares with RenderPlan.
        asset = persist_output(services, plan, generation_id, out, plan.info)  # type: ignore[arg-type]
    except BaseException as exc:  # noqa: BLE001 - the job row must not stay "running"
        status = JobStatus.CANCELLED if isinstance(exc, (Cancelled, KeyboardInterrupt)) else JobStatus.FAILED
        close_generation(services, generation_id, status, outputs=0, spent=0.0,
                         error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    close_generation(services, generation_id, JobStatus.SUCCEEDED, outputs=1, spent=0.0)
    return StageResult(generation_id, [asset], 0.0, [])
