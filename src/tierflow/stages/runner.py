"""The one shape every stage runs through:

    validate → price → admit (policies + reserve credits + job row, one transaction: app/service.py)
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
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo

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
    new_prompt: PromptRef | None = None  # a prompt thread entry to find or create when the job is opened
    input_from: int | None = None  # a chained plan: the first output of plans[input_from] is its input
    input_param: str = "input_of"  # the parameter that records which asset that input was


@dataclass(frozen=True)
class PromptRef:
    """A prompt thread entry a plan records, found or created in the transaction that opens its job."""

    text: str
    negative: str = ""
    parent_id: str | None = None


@dataclass
class StageResult:
    generation_id: str
    assets: list[Asset]
    credits: float
    warnings: list[str]
    spec: Any = None  # the spec as run (random choices fixed), when the service ran one


def run_plan(services: Services, plan: RenderPlan, on_event: EventSink | None = None, *,
             generation_id: str | None = None) -> StageResult:
    """Open ``plan``'s generation (admitted, credits reserved) and render it; raise the domain error on failure.

    ``generation_id``: a row the application service already opened for this plan (a job's);
    its outputs already stored by an earlier attempt count towards this run.
    """
    from tierflow.app.service import open_plans

    if generation_id is None:
        generation_id = open_plans(services, [plan])[0]
    return render(services, plan, generation_id, on_event)


def render(services: Services, plan: RenderPlan, generation_id: str, on_event: EventSink | None = None) -> StageResult:
    """Render an opened generation: outputs stored one by one, then settled — or closed and refunded on failure."""
    from tierflow.app.service import close_generation

    emit = on_event or (lambda _e: None)
    engine = plan.engine
    info = engine.describe()
    gen, reservation, credits, prior = _resume(services, plan, generation_id, _job_params(plan, info))
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
        close_generation(services, gen.id, status, outputs=prior + len(assets), spent=spent,
                         error=str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        if error is None and not isinstance(exc, KeyboardInterrupt):
            log.exception("render failed")
        emit(StageEvent("failed", gen.id, error=error, credits=spent))
        raise
    close_generation(services, gen.id, JobStatus.SUCCEEDED, outputs=prior + len(assets), spent=credits)
    with services.db.read() as s:
        warnings = _warnings(plan, reservation)
        status = services.guard.status(s, plan.project_id)
        warnings += [w for w in status.get("warnings", []) if w not in warnings]
    log.debug("generation %s: %d outputs in %.2fs", gen.id, len(assets), time.perf_counter() - started)
    emit(StageEvent("finished", gen.id, credits=credits, warnings=warnings))
    return StageResult(gen.id, assets, credits, warnings)


def _warnings(plan: RenderPlan, reservation: Reservation) -> list[str]:
    """The stage's own warnings (found while planning, e.g. "never reviewed"), then the guard's."""
    return list(dict.fromkeys([*plan.params.get("warnings", []), *reservation.warnings]))


def _job_params(plan: RenderPlan, info: Any) -> dict[str, Any]:
    job_params = {**plan.request.params(), **plan.params, "engine": info.to_dict()}
    job_params["engine"].pop("description", None)
    return job_params


def _resume(services: Services, plan: RenderPlan, generation_id: str,
            job_params: dict[str, Any]) -> tuple[Generation, Reservation, float, int]:
    """An opened row, its reservation (taken when it was opened), its price and its stored outputs."""
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        # Locked: `tierflow jobs cancel` may be adding its request to these params right now.
        gen = repo.lock(generation_id)
        gen = repo.update(generation_id, params=job_params, engine_id=plan.engine.id)
        prior = AssetsRepo(s).count(generation_id=generation_id)
        warnings = list(gen.params.get("admit_warnings", []))
        return gen, Reservation(gen.reservation_id, gen.credits, warnings), gen.credits, prior


def plan_assets(services: Services, asset_ids: list[str]) -> list[Asset]:
    with services.db.read() as s:
        repo = AssetsRepo(s)
        return [repo.get(a) for a in asset_ids]
