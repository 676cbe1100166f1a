"""The one shape every stage runs through:

    validate → price → admit (policies + reserve credits + job row, one transaction)
             → render (outputs stream one by one) → persist each (blob, then asset row + lineage)
             → settle credits (or refund on failure / cancel)

A failed or cancelled render leaves its job row (status failed/cancelled, for the audit trail),
no half-written blob and no asset row for the output that failed; outputs that were already
finished and stored stay, are charged, and the rest of the reservation is refunded.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import Cancelled, TierflowError
from tierflow.domain.models import Asset, Generation, JobStatus, Stage
from tierflow.engines.base import Engine, Progress, Rendered, RenderRequest
from tierflow.stages.guard import Reservation
from tierflow.stages.persist import encode_output, store_encoded
from tierflow.stages.recovery import process_owner
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo, to_generation
from tierflow.storage.tables import GenerationRow

if TYPE_CHECKING:
    from tierflow.bootstrap import Services

log = logging.getLogger(__name__)

# PNG compression releases the GIL: encoding output i overlaps rendering output i+1.
ENCODE_THREADS = max(2, min(8, os.cpu_count() or 2))


@dataclass
class StageEvent:
    """What a running stage reports: ``started``, ``progress``, ``asset``, ``finished`` or ``failed``."""

    kind: str
    generation_id: str | None = None
    progress: Progress | None = None
    asset: Asset | None = None
    error: TierflowError | None = None
    credits: float = 0.0
    warnings: list[str] = field(default_factory=list)


EventSink = Callable[[StageEvent], None]


@dataclass
class RenderPlan:
    """A validated request to run ``engine`` for ``stage`` on a project."""

    project_id: str
    stage: Stage
    engine: Engine
    request: RenderRequest
    prompt_id: str | None = None
    milestone_id: str | None = None
    user_id: str | None = None
    parent_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # stage-level parameters recorded on the job
    override: Any = None  # a policy override (lead role + reason), checked by the guard
    after_output: Callable[[Rendered, dict[str, Any]], None] | None = None  # adds to an asset's params


@dataclass
class StageResult:
    generation_id: str
    assets: list[Asset]
    credits: float
    warnings: list[str]


def run_plan(services: Services, plan: RenderPlan, on_event: EventSink | None = None, *,
             generation_id: str | None = None) -> StageResult:
    """Run ``plan`` through the one stage shape; raise the domain error on failure.

    ``generation_id``: a durable job's row (admitted and reserved when it was queued, claimed by a
    worker); its outputs already stored by an earlier attempt count towards this run.
    """
    emit = on_event or (lambda _e: None)
    engine = plan.engine
    plan.request = engine.prepare(plan.request)
    info = engine.describe()
    credits = services.guard.quote(plan)
    job_params = _job_params(plan, info)

    prior = 0
    if generation_id is not None:
        gen, reservation, credits, prior = _resume(services, plan, generation_id, job_params)
    else:
        with services.db.transaction() as s:
            gen, reservation = _open(services, s, plan, credits, job_params)
    emit(StageEvent("started", gen.id, credits=credits, warnings=_warnings(plan, reservation)))

    assets: list[Asset] = []
    count = prior + max(1, len(plan.request.seeds))
    started = time.perf_counter()
    pending: deque[Future] = deque()

    def store_ready(block: bool) -> None:
        # Store encoded outputs in render order, as soon as the oldest one is ready.
        while pending and (block or pending[0].done()):
            asset = store_encoded(services, plan, gen.id, pending.popleft().result(), info)
            assets.append(asset)
            emit(StageEvent("asset", gen.id, asset=asset))

    try:
        with ThreadPoolExecutor(max_workers=ENCODE_THREADS, thread_name_prefix="tierflow-encode") as pool:
            try:
                for out in engine.render(plan.request, lambda p: emit(StageEvent("progress", gen.id, progress=p))):
                    pending.append(pool.submit(encode_output, plan, gen.id, out, info))
                    store_ready(block=len(pending) > ENCODE_THREADS)
            finally:
                store_ready(block=True)  # outputs that were finished before a failure are kept
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt must refund too
        error = exc if isinstance(exc, TierflowError) else None
        status = JobStatus.CANCELLED if isinstance(exc, (Cancelled, KeyboardInterrupt)) else JobStatus.FAILED
        spent = credits * (prior + len(assets)) / count
        with services.db.transaction() as s:
            GenerationsRepo(s).finish(gen.id, status, outputs=prior + len(assets), credits=spent,
                                      error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            if prior or assets:
                services.guard.settle(s, plan, reservation, spent)
            else:
                services.guard.refund(s, plan, reservation)
        if error is None and not isinstance(exc, KeyboardInterrupt):
            log.exception("render failed")
        emit(StageEvent("failed", gen.id, error=error, credits=spent))
        raise
    with services.db.transaction() as s:
        GenerationsRepo(s).finish(gen.id, JobStatus.SUCCEEDED, outputs=prior + len(assets), credits=credits)
        services.guard.settle(s, plan, reservation, credits)
        warnings = _warnings(plan, reservation)
        status = services.guard.status(s, plan.project_id)
        warnings += [w for w in status.get("warnings", []) if w not in warnings]
    log.debug("generation %s: %d outputs in %.2fs", gen.id, len(assets), time.perf_counter() - started)
    emit(StageEvent("finished", gen.id, credits=credits, warnings=warnings))
    return StageResult(gen.id, assets, credits, warnings)


def admit_plans(services: Services, plans: list[RenderPlan]) -> tuple[list[str], list[str]]:
    """Open a generation and reserve credits for every plan in one transaction: all admitted or none.

    For a stage that renders several plans in a row (upscale, then its creative pass), so budgets
    see the whole cost before the first render starts. Run each plan with
    ``run_plan(..., generation_id=...)`` in order; close one that will not run with :func:`release`.
    Returns the generation ids and the guard's warnings.
    """
    ids: list[str] = []
    warnings: list[str] = []
    with services.db.transaction() as s:
        for plan in plans:
            plan.request = plan.engine.prepare(plan.request)
            credits = services.guard.quote(plan)
            gen, reservation = _open(services, s, plan, credits, _job_params(plan, plan.engine.describe()))
            ids.append(gen.id)
            warnings += [w for w in reservation.warnings if w not in warnings]
    return ids, warnings


def release(services: Services, plan: RenderPlan, generation_id: str, reason: str) -> None:
    """Close an admitted generation that will not run: cancelled, its whole reservation refunded."""
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        row = repo.row(generation_id)
        reservation = Reservation(row.reservation_id, row.credits)
        repo.finish(generation_id, JobStatus.CANCELLED, outputs=0, credits=0.0, error=reason)
        services.guard.refund(s, plan, reservation)


def _warnings(plan: RenderPlan, reservation: Reservation) -> list[str]:
    """The stage's own warnings (found while planning, e.g. "never reviewed"), then the guard's."""
    return list(dict.fromkeys([*plan.params.get("warnings", []), *reservation.warnings]))


def _job_params(plan: RenderPlan, info: Any) -> dict[str, Any]:
    job_params = {**plan.request.params(), **plan.params, "engine": info.to_dict()}
    job_params["engine"].pop("description", None)
    return job_params


def _open(services: Services, s: Any, plan: RenderPlan, credits: float,
          job_params: dict[str, Any]) -> tuple[Generation, Reservation]:
    """The generation row and its credit reservation, in the caller's transaction."""
    repo = GenerationsRepo(s)
    gen = repo.create(
        project_id=plan.project_id, stage=plan.stage, engine_id=plan.engine.id, params=job_params,
        prompt_id=plan.prompt_id, milestone_id=plan.milestone_id, user_id=plan.user_id, credits=credits,
    )
    reservation: Reservation = services.guard.admit(s, plan, credits, gen.id)
    row = repo.row(gen.id)
    row.reservation_id = reservation.id
    row.lease_owner = process_owner()
    return gen, reservation


def _resume(services: Services, plan: RenderPlan, generation_id: str,
            job_params: dict[str, Any]) -> tuple[Generation, Reservation, float, int]:
    """A claimed job's row, its reservation (taken at enqueue), its price and its stored outputs."""
    with services.db.transaction() as s:
        # Locked: `tierflow jobs cancel` may be adding its request to these params right now.
        s.get(GenerationRow, generation_id, with_for_update=True)
        row = GenerationsRepo(s).row(generation_id)
        row.params = {**(row.params or {}), **job_params}
        row.engine_id = plan.engine.id
        prior = AssetsRepo(s).count(generation_id=generation_id)
        return to_generation(row), Reservation(row.reservation_id, row.credits), row.credits, prior


def plan_assets(services: Services, asset_ids: list[str]) -> list[Asset]:
    with services.db.read() as s:
        repo = AssetsRepo(s)
        return [repo.get(a) for a in asset_ids]
