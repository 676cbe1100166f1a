"""The studio's job backend in durable mode (`tierflow studio --jobs durable`).

    submit   any stage spec → app.service.submit(spec, queue="durable") (rows + reservations, one
             transaction); the job id is the job's first generation id
    follow   find_by_generation → a DbJob that rebuilds the events from the rows and polls them
    cancel   durable.cancel: a queued job now (refunded), a running one at its worker's next step
    workers  optional worker threads in this process (``workers`` per tier); separate
             `tierflow worker` processes are the crash-safe deployment

Any process that shares the database can render the jobs, and any studio can follow them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from tierflow.domain.errors import NotFound
from tierflow.domain.ids import check_id
from tierflow.jobs import durable
from tierflow.jobs.db_events import DbJob
from tierflow.jobs.inprocess import Job, JobQueue
from tierflow.storage.generations_repo import DURABLE, GenerationsRepo

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.domain.specs import StageSpec

WORKER_POLL_SECONDS = 1.0  # as `tierflow worker`: an idle look is a write transaction (claim, requeue)


class DurableJobQueue(JobQueue):
    """Queues every stage's jobs in the database; follows any durable job by polling its rows."""

    def __init__(self, services: Services, *, workers: int = 0, lease_seconds: float = 60.0) -> None:
        super().__init__(services)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        if workers > 0:
            tiers = list(durable.TIERS)
            self._worker = threading.Thread(
                target=durable.work, name="tierflow-durable-worker", daemon=True,
                args=(services, tiers, self._stop, WORKER_POLL_SECONDS),
                kwargs={"lease_seconds": lease_seconds, "threads": {t: workers for t in tiers}})
            self._worker.start()

    def submit(self, spec: StageSpec) -> DbJob:
        """Queued in the database (admitted and reserved now) for any worker that shares it."""
        from tierflow.app import service

        sub = service.submit(self.services, spec, queue=DURABLE)
        job = DbJob(self.services, sub.job_id, self._stop)
        job.warnings, job.credits = sub.warnings, sub.credits
        return job

    def find_by_generation(self, generation_id: str) -> Job | DbJob | None:
        """The in-process job, or a durable job followed from the database (None for other rows)."""
        job = super().find_by_generation(generation_id)
        if job is not None or not self._is_durable(generation_id):
            return job
        return DbJob(self.services, generation_id, self._stop)

    def cancel(self, job_id: str) -> Job | DbJob:
        check_id(job_id, "job_id")
        if not job_id.startswith("gen_"):
            return super().cancel(job_id)
        durable.cancel(self.services, job_id)
        return DbJob(self.services, job_id, self._stop)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop following and claiming; a render in progress finishes, or its lease ends and it is re-queued."""
        self._stop.set()
        super().shutdown(timeout)
        if self._worker is not None:
            self._worker.join(timeout)

    def _is_durable(self, generation_id: str) -> bool:
        with self.services.db.read() as s:
            gen = GenerationsRepo(s).find(generation_id)
        if gen is None:
            raise NotFound(f"no generation {generation_id!r}", field="generation",
                           fix="see GET /api/v1/generations for generation ids")
        return gen.is_job and gen.queue == DURABLE
