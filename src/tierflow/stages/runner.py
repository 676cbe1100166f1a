"""The one shape every stage runs through:

    validate → price → admit (policies + reserve credits + job row, one transaction: app/service.py)
             → render (outputs stream one by one)
             → persist each: encode + write its blobs (thread pool, stages/persist.py),
               then its asset row + lineage (this thread, in output order)
             → settle credits (or refund on failure / cancel)

A failed or cancelled render leaves its job row (status failed/cancelled, for the audit trail),
no half-written blob and no asset row for the output that failed; outputs that were already
finished and stored stay, are charged, and the rest of the reservation is refunded. After the
first output that cannot be stored, no later one is: their blobs are deleted (those no row names)
once the pool has stopped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tierflow.app.ports import Reservation
from tierflow.domain.errors import Cancelled, TierflowError
from tierflow.domain.models import Asset, Generation, JobStatus
from tierflow.stages.admit import close_generation, open_plans
from tierflow.stages.decode import require_decoded_inputs
from tierflow.stages.persist import discard, encode_and_write, store_encoded
from tierflow.stages.plans import EventSink, PromptRef, RenderPlan, StageEvent, StageResult

__all__ = ["EventSink", "PromptRef", "RenderPlan", "StageEvent", "StageResult", "plan_assets", "render", "run_plan"]
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo

if TYPE_CHECKING:
    from tierflow.app.ports import Services

log = logging.getLogger(__name__)

# PNG compression, hashing, fsync and S3 round trips release the GIL: encoding and writing output i
# overlaps rendering output i+1. More threads than cores: a thread waiting on an fsync or a PUT
# leaves its core to another (as ThreadPoolExecutor's own default, cpu + 4).
ENCODE_THREADS = min(8, (os.cpu_count() or 2) + 4)


def run_plan(services: Services, plan: RenderPlan, on_event: EventSink | None = None, *,
             generation_id: str | None = None) -> StageResult:
    """Open ``plan``'s generation (admitted, credits reserved) and render it; raise the domain error on failure.

    ``generation_id``: a row the application service already opened for this plan (a job's);
    its outputs already stored by an earlier attempt count towards this run. A plan whose input is
    still a latent draft's preview is refused: it was planned on the preview's pixels, and only the
    application service (app/service.py ``run``) stores the full decode and plans it again.
    """
    require_decoded_inputs(services, [plan])
    if generation_id is None:
        generation_id = open_plans(services, [plan])[0]
    return render(services, plan, generation_id, on_event)


def render(services: Services, plan: RenderPlan, generation_id: str, on_event: EventSink | None = None) -> StageResult:
    """Render an opened generation: outputs stored one by one, then settled — or closed and refunded on failure."""
    emit = on_event or (lambda _e: None)
    engine = plan.engine
    info = engine.describe()
    gen, reservation, credits, prior = _resume(services, plan, generation_id, _job_params(plan, info))
    emit(StageEvent("started", gen.id, credits=credits, warnings=_warnings(plan, reservation)))

    assets: list[Asset] = []
    count = prior + max(1, len(plan.request.seeds))
    started = time.perf_counter()
    pending: deque[Future] = deque()  # outputs being encoded and written, in render order
    unstored: list[Future] = []  # outputs that will not be stored after a failure

    def store_ready(block: bool) -> None:
        # Store written outputs in render order, as soon as the oldest one is ready.
        while pending and (block or pending[0].done()):
            future = pending.popleft()
            try:
                asset = store_encoded(services, plan, gen.id, future.result(), info)
            except BaseException:
                unstored.extend([future, *pending])  # store_encoded undid its own; these are discarded
                pending.clear()
                for f in unstored:
                    f.cancel()
                raise
            assets.append(asset)
            emit(StageEvent("asset", gen.id, asset=asset))

    try:
        with _exclusive(engine), \
                ThreadPoolExecutor(max_workers=ENCODE_THREADS, thread_name_prefix="tierflow-encode") as pool:
            try:
                for out in engine.render(plan.request, lambda p: emit(StageEvent("progress", gen.id, progress=p))):
                    pending.append(pool.submit(encode_and_write, services, plan, gen.id, out, info))
                    store_ready(block=len(pending) > ENCODE_THREADS)
            finally:
                store_ready(block=True)  # outputs that were finished before a failure are kept
    except BaseException as exc:  # noqa: BLE001 - KeyboardInterrupt must refund too
        _discard(services, unstored)  # the pool has stopped: no write is in flight any more
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


def _discard(services: Services, futures: list[Future]) -> None:
    """Delete the blobs of written outputs that will not be stored; a failure here is left to the orphan sweep."""
    for future in futures:
        if future.cancelled() or future.exception() is not None:
            continue  # never written, or its encode failed before a write
        try:
            discard(services, future.result())
        except Exception:  # noqa: BLE001 - the generation must still be closed and refunded
            log.exception("could not delete the blobs of an output that was not stored")


_LOCKS: dict[int, threading.Lock] = {}  # by id(): engines live as long as their registry (the process)
_LOCKS_GUARD = threading.Lock()


@contextmanager
def _exclusive(engine: Any) -> Iterator[None]:
    """Render on each loaded pipeline from one thread at a time: two tiers' workers may share one (the
    creative pass, an upscale job, renders on the final tier's engine while a final renders)."""
    with _LOCKS_GUARD:
        locks = [_LOCKS.setdefault(id(m), threading.Lock()) for m in sorted(engine.models(), key=id)]
    with ExitStack() as stack:
        for lock in locks:
            stack.enter_context(lock)
        yield


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
