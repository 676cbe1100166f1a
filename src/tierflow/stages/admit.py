"""Opening and closing generations: the one transaction that opens a job's rows and reserves its
credits, and the one way a generation ends (settled when outputs were stored, refunded when none).

    open_plans        prompt thread row + one generation per plan + policies + reservations, all or none
    close_generation  the row finished and its reservation settled or refunded
    release           opened generations that will not run: cancelled and refunded
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tierflow.app.ports import ProjectScoped, Reservation
from tierflow.domain.models import JobStatus
from tierflow.stages.recovery import process_owner
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import DURABLE, GenerationsRepo
from tierflow.storage.projects_repo import ProjectsRepo

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.domain.specs import StageSpec
    from tierflow.stages.plans import ComposePlan, RenderPlan

    Plan = RenderPlan | ComposePlan


def price(services: Services, p: Plan) -> float:
    return services.guard.quote(p) if p.renders else 0.0  # type: ignore[arg-type]


def open_plans(services: Services, plans: list[Plan], *, spec: StageSpec | None = None,
               status: JobStatus = JobStatus.RUNNING, queue: str | None = None) -> list[str]:
    """Open a generation per plan and reserve its credits, all in one transaction (all or none)."""
    owner = None if queue == DURABLE else process_owner()
    ids: list[str] = []
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        for i, p in enumerate(plans):
            if p.new_prompt is not None:
                p.prompt_id = ProjectsRepo(s).prompt(p.project_id, p.new_prompt.text, negative=p.new_prompt.negative,
                                                     parent_id=p.new_prompt.parent_id).id
            credits = price(services, p)
            gen = repo.create(project_id=p.project_id, stage=p.stage, engine_id=p.engine_id, params=job_params(p),
                              prompt_id=p.prompt_id, milestone_id=p.milestone_id, user_id=p.user_id, status=status,
                              credits=credits, spec=spec.to_dict() if spec is not None else None,
                              queue=queue, lease_owner=owner, after_id=ids[-1] if ids else None)
            if p.renders:
                reservation: Reservation = services.guard.admit(s, p, credits, gen.id)
                repo.update(gen.id, reservation_id=reservation.id, params={"admit_warnings": reservation.warnings})
            ids.append(gen.id)
        if len(ids) > 1:
            repo.update(ids[0], params={"chain": ids})
            for step, gid in enumerate(ids[1:], start=1):
                repo.update(gid, params={"chain_of": ids[0], "step": step})
    return ids


def close_generation(services: Services, generation_id: str, status: JobStatus, *, outputs: int, spent: float,
                     error: str | None = None) -> None:
    """End a generation: the row finished, its credits settled (outputs stored) or refunded (none)."""
    with services.db.transaction() as s:
        close_in(services, s, generation_id, status, outputs=outputs, spent=spent, error=error)


def close_in(services: Services, s: Any, generation_id: str, status: JobStatus, *, outputs: int, spent: float,
             error: str | None, refund: bool = False) -> None:
    """:func:`close_generation` in the caller's transaction (``refund``: release all, whatever was stored)."""
    repo = GenerationsRepo(s)
    gen = repo.lock(generation_id)
    repo.finish(generation_id, status, outputs=outputs, credits=spent, error=error)
    owner = ProjectScoped(gen.project_id)
    reservation = Reservation(gen.reservation_id, gen.credits)
    if not refund and (status is JobStatus.SUCCEEDED or outputs):
        services.guard.settle(s, owner, reservation, spent)
    else:
        services.guard.refund(s, owner, reservation)


def release(services: Services, generation_ids: list[str], reason: str) -> None:
    """Close opened generations that will not run (cancelled, whole reservation refunded)."""
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        for gid in generation_ids:
            gen = repo.lock(gid)
            if gen.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                stored = AssetsRepo(s).count(generation_id=gid)
                close_in(services, s, gid, JobStatus.CANCELLED, outputs=stored,
                         spent=gen.credits * stored / count_of(gen) if stored else 0.0,
                         error=reason if not stored else f"{reason} (after {stored} of {count_of(gen)} output(s))")


def count_of(gen: Any) -> int:
    return max(1, int(gen.params.get("n") or 1))


def job_params(p: Plan) -> dict[str, Any]:
    out = {**p.request.params(), **p.params, "engine": p.describe().to_dict()}
    out["engine"].pop("description", None)
    return out
