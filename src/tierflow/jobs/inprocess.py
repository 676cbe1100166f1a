"""In-process render jobs: a queue and worker thread(s) per tier, and each job's events kept in order.

    route: a stage spec → JobQueue.submit → app.service.submit(spec, queue="inprocess"): the rows
           opened QUEUED and the credits reserved (bad input, a policy, a budget answer now) → 202
    worker thread of the spec's tier: claims its row → app.service.run_job(on_event=job.record)
    SSE: job.events_from(i) replays what a late subscriber missed, then job.subscribe() wakes it for more

One pool per tier, so a slow final render never holds up the drafts queued behind it. The database
stays the source of truth (generation rows, credits); a job here is only the live view of one run.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import Cancelled, NotFound, TierflowError
from tierflow.domain.ids import check_id, new_id
from tierflow.domain.models import Asset, JobStatus
from tierflow.domain.specs import StageSpec, stage_def
from tierflow.storage.clock import now

INPROCESS = "inprocess"

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.stages.runner import StageEvent

log = logging.getLogger(__name__)

DEFAULT_WORKERS = {"draft": 1, "final": 1}
TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class JobEvent:
    """One event of a job: ``index`` is its position (the SSE id), ``data`` its payload."""

    index: int
    kind: str  # started | progress | asset | finished | failed
    data: dict[str, Any]


@dataclass
class Job:
    """The live view of one render: status, its generation (the job's first row), assets, ordered events."""

    id: str
    spec: StageSpec
    tier: str
    stage: str = ""
    engine_id: str = ""
    project_id: str = ""
    credits: float = 0.0
    warnings: list[str] = field(default_factory=list)
    generation_ids: list[str] = field(default_factory=list)
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    created_at: datetime = field(default_factory=now)
    status: JobStatus = JobStatus.QUEUED
    generation_id: str | None = None
    assets: list[Asset] = field(default_factory=list)
    error: dict[str, Any] | None = None
    _events: list[JobEvent] = field(default_factory=list, repr=False)
    _listeners: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def live_progress(self) -> dict[str, Any] | None:
        """None: an in-process job's progress is in its events (replayable, with ids)."""
        return None

    def events_from(self, index: int = 0) -> list[JobEvent]:
        """Events from position ``index`` on (a copy; safe while the job runs)."""
        with self._lock:
            return self._events[max(0, index):]

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` (from the worker thread) after each new event; returns the unsubscribe."""
        with self._lock:
            self._listeners.append(wake)

        def unsubscribe() -> None:
            with self._lock:
                if wake in self._listeners:
                    self._listeners.remove(wake)

        return unsubscribe

    def publish(self, kind: str, data: dict[str, Any], *, status: JobStatus | None = None) -> None:
        """Append an event (and set the status with it, atomically), then wake the subscribers."""
        with self._lock:
            if self.status in TERMINAL:
                return  # a cancelled-while-queued job must not report anything after its end
            if status is not None:
                self.status = status
            self._events.append(JobEvent(len(self._events), kind, data))
            listeners = list(self._listeners)
        for wake in listeners:
            try:
                wake()
            except Exception:  # noqa: BLE001 - a gone subscriber must not break the render
                log.debug("job listener failed", exc_info=True)

    # -- the stage runner's event sink ----------------------------------------------------
    def record(self, event: StageEvent) -> None:
        if event.kind == "started":
            self.generation_id = event.generation_id
            self.publish("started", {"generation_id": event.generation_id, "credits": event.credits,
                                     "warnings": list(event.warnings)}, status=JobStatus.RUNNING)
        elif event.kind == "progress" and event.progress is not None:
            p = event.progress
            self.publish("progress", {"step": p.step, "total": p.total, "index": p.index, "count": p.count})
        elif event.kind == "asset" and event.asset is not None:
            with self._lock:
                self.assets.append(event.asset)
            self.publish("asset", {"asset": event.asset})
        elif event.kind == "finished":
            self.publish("finished", {"generation_id": event.generation_id, "credits": event.credits,
                                      "warnings": list(event.warnings)}, status=JobStatus.SUCCEEDED)
        # "failed" is published by the worker, which holds the exception (the event may not).

    def fail(self, exc: BaseException) -> None:
        status = JobStatus.CANCELLED if isinstance(exc, Cancelled) else JobStatus.FAILED
        self.error = error_dict(exc)
        self.publish("failed", {"generation_id": self.generation_id, "error": self.error}, status=status)


def error_dict(exc: BaseException) -> dict[str, Any]:
    """The public body of an error; unexpected ones are named without their internals."""
    if isinstance(exc, TierflowError):
        return exc.to_dict()
    message = f"the render failed unexpectedly ({type(exc).__name__})"
    return {"error": "internal", "message": message, "field": None, "fix": "see the server log and retry",
            "detail": message}


class JobQueue:
    """Runs render plans on worker threads, one pool per tier; keeps the last ``keep`` finished jobs."""

    def __init__(self, services: Services, workers_per_tier: dict[str, int] | None = None, *,
                 keep: int = 1000) -> None:
        self.services = services
        self.workers_per_tier = {**DEFAULT_WORKERS, **(workers_per_tier or {})}
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._queues: dict[str, queue.Queue[Job | None]] = {}
        self._threads: dict[str, list[threading.Thread]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, spec: StageSpec) -> Job:
        """Open the job's rows (admitted, credits reserved; raising the domain error), then queue it on its
        tier's workers."""
        from tierflow.app import service

        if self._closed:
            raise TierflowError("the job queue is shut down", fix="restart `tierflow studio`")
        tier = stage_def(spec).tier.value
        sub = service.submit(self.services, spec, queue=INPROCESS)
        job = Job(id=new_id("job"), spec=spec, tier=tier, stage=sub.stage, engine_id=sub.engine_id,
                  project_id=sub.project_id, credits=sub.credits, warnings=sub.warnings,
                  generation_ids=sub.generation_ids, generation_id=sub.job_id)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
            q = self._tier_queue(tier)
        q.put(job)
        return job

    def get(self, job_id: str) -> Job:
        check_id(job_id, "job_id")
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id!r}", field="job_id",
                           fix="jobs are kept while the studio runs; see GET /api/v1/generations for stored ones")
        return job

    def find_by_generation(self, generation_id: str) -> Job | None:
        with self._lock:
            return next((j for j in reversed(self._jobs.values())
                         if generation_id == j.generation_id or generation_id in j.generation_ids), None)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop: a queued one ends now, a running one at the engine's next step."""
        job = self.get(job_id)
        job.cancel_event.set()
        if job.status == JobStatus.QUEUED:
            self._cancel_queued(job, "cancelled before it started")
        return job

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel everything, stop the workers and wait for them (up to ``timeout`` s each)."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
            queues = dict(self._queues)
            threads = [t for ts in self._threads.values() for t in ts]
        for job in jobs:
            if not job.done:
                job.cancel_event.set()
                if job.status == JobStatus.QUEUED:
                    self._cancel_queued(job, "the studio is shutting down")
        for tier, q in queues.items():
            for _ in self._threads.get(tier, []):
                q.put(None)
        for t in threads:
            t.join(timeout)

    # -- internals ----------------------------------------------------------------------
    def _tier_queue(self, tier: str) -> queue.Queue[Job | None]:
        q = self._queues.get(tier)
        if q is None:
            q = self._queues[tier] = queue.Queue()
            count = max(1, int(self.workers_per_tier.get(tier, 1)))
            self._threads[tier] = [
                threading.Thread(target=self._work, args=(q,), name=f"tierflow-{tier}-{i}", daemon=True)
                for i in range(count)
            ]
            for t in self._threads[tier]:
                t.start()
        return q

    def _cancel_queued(self, job: Job, reason: str) -> None:
        """A job still waiting for its thread: its rows closed and refunded now, its stream ended."""
        from tierflow.app import service

        try:
            service.cancel(self.services, job.generation_id)
        except TierflowError:
            log.debug("job %s was no longer queued", job.id, exc_info=True)
        job.fail(Cancelled(reason, field="job_id"))

    def _work(self, q: queue.Queue[Job | None]) -> None:
        from tierflow.app import service
        from tierflow.stages.recovery import process_owner
        from tierflow.storage.generations_repo import GenerationsRepo

        while True:
            job = q.get()
            if job is None:
                return
            if job.done:  # cancelled while queued
                continue
            try:
                with self.services.db.transaction() as s:
                    claimed = GenerationsRepo(s).claim(job.generation_id, process_owner())
                if claimed is None:  # cancelled from elsewhere (`tierflow jobs cancel`) while queued
                    job.fail(Cancelled("cancelled before it started", field="job_id"))
                    continue
                service.run_job(self.services, job.generation_id, job.record, cancel=job.cancel_event)
            except BaseException as exc:  # noqa: BLE001 - a worker thread must survive every render
                job.fail(exc)

    def _forget_old(self) -> None:
        """Drop the oldest finished jobs beyond ``keep`` (memory stays bounded on a long-running studio)."""
        finished = [jid for jid, j in self._jobs.items() if j.done]
        for jid in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[jid]
