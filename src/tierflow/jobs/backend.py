"""What the REST API needs from a job backend, and the choice between the two that provide it.

    inprocess  jobs/inprocess.py JobQueue: worker threads in the studio, events kept in memory
    durable    jobs/durable_queue.py DurableJobQueue: jobs queued in the database for `tierflow
               worker` processes, events rebuilt from the rows (jobs/db_events.py)

Chosen by `tierflow studio --jobs MODE` or ``TIERFLOW_JOBS`` (default ``inprocess``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from tierflow.domain.errors import InvalidInput

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.domain.models import Asset, JobStatus
    from tierflow.domain.specs import StageSpec
    from tierflow.jobs.inprocess import JobEvent

MODES = ("inprocess", "durable")


class LiveJob(Protocol):
    """One job as the routes show and stream it."""

    id: str
    generation_id: str | None
    status: JobStatus
    assets: list[Asset]
    error: dict[str, Any] | None
    warnings: list[str]
    credits: float

    @property
    def done(self) -> bool: ...

    def events_from(self, index: int = 0) -> list[JobEvent]: ...

    def live_progress(self) -> dict[str, Any] | None: ...

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]: ...


class JobBackend(Protocol):
    def submit(self, spec: StageSpec) -> LiveJob: ...

    def get(self, job_id: str) -> LiveJob: ...

    def find_by_generation(self, generation_id: str) -> LiveJob | None: ...

    def jobs(self) -> list[LiveJob]: ...

    def cancel(self, job_id: str) -> LiveJob: ...

    def shutdown(self, timeout: float = 10.0) -> None: ...


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidInput(f"{mode!r} is not a job mode", field="jobs",
                           fix=f"use {' or '.join(MODES)} (--jobs or TIERFLOW_JOBS)")
    return mode


def job_backend(services: Services, mode: str | None = None, *, workers: int = 0) -> JobBackend:
    """The backend for ``mode`` (default: the settings' ``TIERFLOW_JOBS``); ``workers``: durable only."""
    settings = getattr(services, "settings", None)  # create_app(None) builds the app for its OpenAPI schema only
    mode = check_mode(mode or (settings.jobs if settings is not None else MODES[0]))
    if workers < 0:
        raise InvalidInput(f"{workers} is not a number of workers", field="workers", fix="pass 0 or more")
    if mode == "durable":
        from tierflow.jobs.durable_queue import DurableJobQueue

        return DurableJobQueue(services, workers=workers)
    if workers:
        raise InvalidInput("--workers needs --jobs durable", field="workers",
                           fix="in-process jobs already run on the studio's own threads; drop --workers")
    from tierflow.jobs.inprocess import JobQueue

    return JobQueue(services)
