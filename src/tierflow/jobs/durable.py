"""Durable render jobs: queued in the database, claimed by worker processes under a lease.

    submit       app.service.submit(spec, queue="durable"): QUEUED generation row(s) + credit
                 reservation in one transaction; the first row carries the typed spec (``spec``)
    claim        the oldest QUEUED durable job of the worker's tiers → RUNNING, lease owner and
                 expiry, attempts + 1 (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the
                 BEGIN IMMEDIATE of every write transaction serialises claimers)
    run_claimed  app.service.run_job: the spec planned again → the one stage shape onto the same
                 rows, while a heartbeat thread extends the lease; outputs an earlier attempt
                 stored are kept
    requeue_expired  a lease that ran out (worker killed) → QUEUED again, or FAILED and refunded
                 after ``max_attempts``; stored outputs are complete assets and are never deleted
    cancel       app.service.cancel: a QUEUED job → CANCELLED and refunded now; a RUNNING one gets
                 a cancel request that its worker's heartbeat turns into the engine's cancel

Every stage can be queued (the stage table, :data:`tierflow.domain.specs.STAGES`); a worker takes
the jobs of its ``--tiers``. The database is the source of truth for jobs and credits; a worker
holds nothing that a crash could lose except the render in progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.app import service
from tierflow.domain.errors import InvalidInput, NotFound, TierflowError
from tierflow.domain.models import JobStatus
from tierflow.domain.specs import STAGES, StageSpec, spec_from_dict
from tierflow.stages.recovery import _owner_alive, process_owner
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.clock import now
from tierflow.storage.generations_repo import DURABLE, GenerationsRepo, lease_over

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.stages.runner import EventSink, StageResult

log = logging.getLogger(__name__)

# stage (as recorded on the rows) → the tier whose workers take it, from the one stage table
QUEUEABLE: dict[str, str] = {}
for _d in STAGES:
    QUEUEABLE.setdefault(_d.stage.value, _d.tier.value)
TIERS: tuple[str, ...] = tuple(dict.fromkeys(QUEUEABLE.values()))
EngineFor = service.EngineFor


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease on."""

    generation_id: str
    stage: str
    spec: dict[str, Any]
    attempts: int
    owner: str
    lease_seconds: float


@dataclass
class JobOutcome:
    """What one worker did with one job (for `tierflow worker --json`)."""

    generation_id: str
    stage: str
    status: str
    outputs: int = 0
    attempts: int = 0
    error: str | None = None
    asset_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- enqueue --------------------------------------------------------------------------------
def enqueue(services: Services, spec: StageSpec | dict[str, Any]) -> str:
    """Validate, price and queue a job (a spec, or its ``to_dict()``); credits are reserved now. Returns its id."""
    typed = spec_from_dict(spec) if isinstance(spec, dict) else spec
    return service.submit(services, typed, queue=DURABLE).job_id


# -- claim and lease ------------------------------------------------------------------------
def check_tiers(tiers: Iterable[str]) -> list[str]:
    out = []
    for tier in tiers:
        if tier not in TIERS:
            raise InvalidInput(f"{tier!r} is not a queued tier", field="tiers", fix=f"use {', '.join(TIERS)}")
        out.append(tier)
    if not out:
        raise InvalidInput("no tiers given", field="tiers", fix=f"pass --tiers {','.join(TIERS)}")
    return out


def claim(services: Services, worker_id: str, tiers: Iterable[str], lease_seconds: float = 60.0) -> ClaimedJob | None:
    """Take the oldest queued job of ``tiers`` (or None); concurrent workers never get the same one."""
    wanted = check_tiers(tiers)
    stages = [s for s, t in QUEUEABLE.items() if t in wanted]
    with services.db.transaction() as s:
        gen = GenerationsRepo(s).claim_next(stages, worker_id, lease_seconds)
    if gen is None:
        return None
    return ClaimedJob(gen.id, gen.stage.value, dict(gen.spec or {}), gen.attempts, worker_id, lease_seconds)


def extend_lease(services: Services, job: ClaimedJob) -> bool:
    """Push the lease forward; False when the job is no longer this worker's (it was requeued)."""
    with services.db.transaction() as s:
        return GenerationsRepo(s).extend_lease(job.generation_id, job.owner, job.lease_seconds)


def cancel_requested(services: Services, generation_id: str) -> bool:
    """Whether someone asked the running job ``generation_id`` to stop (``tierflow jobs cancel``)."""
    with services.db.read() as s:
        return bool(GenerationsRepo(s).params_of(generation_id).get("cancel_requested"))


class Heartbeat:
    """Extends a claimed job's lease every third of its length while the render runs, and passes a
    cancel request on to ``cancel`` (looked for every ``CANCEL_POLL_SECONDS``)."""

    CANCEL_POLL_SECONDS = 1.0

    def __init__(self, services: Services, job: ClaimedJob, cancel: threading.Event | None = None) -> None:
        self.services, self.job, self.cancel = services, job, cancel
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.generation_id}", daemon=True)

    def _run(self) -> None:
        interval = max(0.2, self.job.lease_seconds / 3)
        tick = min(interval, self.CANCEL_POLL_SECONDS) if self.cancel is not None else interval
        since_beat = 0.0
        while not self._stop.wait(tick):
            since_beat += tick
            try:
                if self.cancel is not None and not self.cancel.is_set() and \
                        cancel_requested(self.services, self.job.generation_id):
                    self.cancel.set()  # the engine raises Cancelled at its next step; the runner refunds
                if since_beat < interval:
                    continue
                since_beat = 0.0
                if not extend_lease(self.services, self.job):
                    self.lost = True
                    log.warning("lost the lease on %s; another worker may take it over", self.job.generation_id)
                    return
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the render; the next beat retries
                log.warning("could not extend the lease on %s", self.job.generation_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- run ------------------------------------------------------------------------------------
def run_claimed(services: Services, job: ClaimedJob, on_event: EventSink | None = None, *,
                engine_for: EngineFor | None = None) -> StageResult:
    """Render the job's spec onto its own rows; only outputs not stored yet are rendered."""
    stop = threading.Event()
    if cancel_requested(services, job.generation_id):
        stop.set()  # asked to stop while an earlier attempt ran: end as cancelled now
    record = ProgressRecorder(services, job.generation_id, on_event)
    with Heartbeat(services, job, stop):
        return service.run_job(services, job.generation_id, record, engine_for=engine_for, cancel=stop,
                               step_only=True)


class ProgressRecorder:
    """Passes a worker's stage events on, and writes the latest step progress into the job's row (at most
    every ``EVERY_SECONDS``), so studios following the job from the database can show it."""

    EVERY_SECONDS = 0.5

    def __init__(self, services: Services, generation_id: str, on_event: EventSink | None = None) -> None:
        self.services, self.generation_id, self.on_event = services, generation_id, on_event
        self._last = 0.0

    def __call__(self, event) -> None:
        import time

        if self.on_event is not None:
            self.on_event(event)
        p = event.progress
        if event.kind != "progress" or p is None:
            return
        t = time.monotonic()
        if t - self._last < self.EVERY_SECONDS and p.step < p.total:
            return
        self._last = t
        try:
            with self.services.db.transaction() as s:
                repo = GenerationsRepo(s)
                repo.lock(self.generation_id)  # `tierflow jobs cancel` may be writing these params too
                repo.update(self.generation_id, params={"progress": {"step": p.step, "total": p.total,
                                                                     "index": p.index, "count": p.count}})
        except Exception:  # noqa: BLE001 - progress is best effort; the render must go on
            log.debug("could not record progress of %s", self.generation_id, exc_info=True)


# -- cancel ---------------------------------------------------------------------------------
def cancel(services: Services, generation_id: str) -> str:
    """Cancel a durable job: a queued one now (refunded, stored outputs charged), a running one by
    request (its worker stops at the engine's next step). Returns the status after the call
    (``running`` for a request its worker has yet to act on)."""
    with services.db.read() as s:
        gen = GenerationsRepo(s).find(generation_id)
    if gen is None or not gen.is_job or gen.queue != DURABLE:
        raise NotFound(f"no durable job {generation_id!r}", field="job_id", fix="see `tierflow jobs list` for job ids")
    return service.cancel(services, generation_id)


# -- recovery -------------------------------------------------------------------------------
def requeue_expired(services: Services, max_attempts: int = 3) -> dict[str, list[str]]:
    """Put jobs whose worker stopped (lease over, or its process gone) back in the queue.

    After ``max_attempts`` claims a job is failed instead and its reservations refunded. Assets an
    attempt stored stay: they are complete (blob, then row) and the next attempt skips their seeds.
    """
    t = now()
    out: dict[str, list[str]] = {"requeued": [], "failed": []}
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        for gen in repo.unfinished(leased=True, lock=True):
            if gen.spec is None or gen.queue != DURABLE:
                continue  # an in-process run: stages.recovery handles it
            if not lease_over(gen, t) and _owner_alive(gen.lease_owner):
                continue
            if gen.attempts >= max_attempts:
                reason = f"the worker stopped {gen.attempts} times; the job was given up and its credits refunded"
                head = repo.get(gen.head_id)
                for gid in head.chain[head.chain.index(gen.id):]:
                    step = repo.get(gid)
                    if step.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                        stored = AssetsRepo(s).count(generation_id=gid)
                        service.close_in(services, s, gid, JobStatus.FAILED, outputs=stored, spent=0.0, error=reason,
                                         refund=True)
                out["failed"].append(gen.id)
            else:
                repo.requeue(gen.id, f"attempt {gen.attempts} stopped before it finished; queued again")
                out["requeued"].append(gen.id)
    for key, ids in out.items():
        if ids:
            log.info("%s %d job(s): %s", key, len(ids), ", ".join(ids))
    return out


# -- the worker loop ------------------------------------------------------------------------
def work(services: Services, tiers: Iterable[str], stop_event: threading.Event, poll_interval: float = 1.0, *,
         lease_seconds: float = 60.0, once: bool = False, threads: dict[str, int] | None = None,
         engine_for: EngineFor | None = None, worker_id: str | None = None,
         max_attempts: int = 3, on_outcome: Callable[[JobOutcome], None] | None = None) -> list[JobOutcome]:
    """Claim and run jobs of ``tiers`` until ``stop_event`` is set (``once``: until the queue is empty).

    One loop thread per tier (``threads`` sizes each tier, e.g. to its Ray pool), so a long final
    never holds up the drafts queued behind it.
    """
    tiers = check_tiers(tiers)
    owner = worker_id or process_owner()  # host:pid, so a dead worker's jobs can be requeued at once
    outcomes: list[JobOutcome] = []
    lock = threading.Lock()
    requeue_expired(services, max_attempts)

    def record(outcome: JobOutcome) -> None:
        with lock:
            outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    def loop(tier: str) -> None:
        while not stop_event.is_set():
            try:
                job = claim(services, owner, [tier], lease_seconds)
            except Exception:  # noqa: BLE001 - the database may come back; keep the worker alive
                log.exception("claiming a %s job failed", tier)
                job = None
            if job is None:
                if once:
                    return
                requeue_expired(services, max_attempts)
                stop_event.wait(poll_interval)
                continue
            record(_run_one(services, job, engine_for))

    workers = [threading.Thread(target=loop, args=(tier,), name=f"worker-{tier}-{i}", daemon=True)
               for tier in tiers for i in range(max(1, (threads or {}).get(tier, 1)))]
    for w in workers:
        w.start()
    for w in workers:
        while w.is_alive():
            w.join(timeout=0.5)  # short joins let the main thread handle SIGINT / SIGTERM
    return outcomes


def _run_one(services: Services, job: ClaimedJob, engine_for: EngineFor | None) -> JobOutcome:
    try:
        result = run_claimed(services, job, engine_for=engine_for)
    except TierflowError as e:
        return _outcome(services, job, error=str(e))
    except Exception as e:  # noqa: BLE001 - the runner marked the row failed; the worker carries on
        log.exception("job %s failed", job.generation_id)
        return _outcome(services, job, error=f"{type(e).__name__}: {e}")
    outcome = _outcome(services, job)
    outcome.asset_ids = [a.id for a in result.assets]
    return outcome


def _outcome(services: Services, job: ClaimedJob, error: str | None = None) -> JobOutcome:
    with services.db.read() as s:
        gen = GenerationsRepo(s).get(job.generation_id)
    return JobOutcome(gen.id, gen.stage.value, gen.status.value, gen.outputs, gen.attempts, error or gen.error)
