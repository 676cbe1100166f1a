"""A durable job seen from the studio: its events rebuilt from the database, followed by polling.

    started   once a worker has claimed it (the row's started_at is set)
    asset     one per asset stored for the job's generations (its chain, e.g. upscale then the
              creative pass), in stored order
    finished  every step succeeded  |  failed  a step failed or was cancelled

The events are a function of the rows, appended in order, so their positions (the SSE ids) are the
same for every follower and ``Last-Event-ID`` resumes across reconnects and studio processes.
Step progress is written to the running row by the worker (``params["progress"]``, at most twice a
second) and shown as ``progress`` events without an id (``live_progress``): they are not replayed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tierflow.app.service import chain_status
from tierflow.domain.models import Asset, JobStatus
from tierflow.jobs.inprocess import TERMINAL, JobEvent
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo

if TYPE_CHECKING:
    from tierflow.app.ports import Services

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25


class DbJob:
    """The live view of one durable job (generation id = job id), refreshed from its rows."""

    def __init__(self, services: Services, generation_id: str, stop: threading.Event | None = None) -> None:
        self.services = services
        self.id = self.generation_id = generation_id
        self.assets: list[Asset] = []
        self.error: dict[str, Any] | None = None
        self.warnings: list[str] = []
        self.credits = 0.0
        self.progress: dict[str, Any] | None = None  # the running step's latest progress (not an indexed event)
        self._stop = stop or threading.Event()
        self._events: list[JobEvent] = []
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()  # one reader at a time: assets are appended once
        self._poller: threading.Thread | None = None
        self.refresh()  # raises NotFound for an unknown id

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def live_progress(self) -> dict[str, Any] | None:
        """The running step's latest progress (sent as an SSE event without an id)."""
        return self.progress

    def events_from(self, index: int = 0) -> list[JobEvent]:
        with self._lock:
            return self._events[max(0, index):]

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` after new events; polls the database while anyone listens."""
        with self._lock:
            self._listeners.append(wake)
            if self._poller is None or not self._poller.is_alive():
                self._poller = threading.Thread(target=self._poll, name=f"follow-{self.id}", daemon=True)
                self._poller.start()

        def unsubscribe() -> None:
            with self._lock:
                if wake in self._listeners:
                    self._listeners.remove(wake)

        return unsubscribe

    def refresh(self) -> bool:
        """Read the row and its assets; append the events they add. True when there were new ones."""
        with self._refreshing:
            return self._refresh()

    def _refresh(self) -> bool:
        with self.services.db.read() as s:
            repo = GenerationsRepo(s)
            head = repo.get(self.generation_id)  # the rows first: their assets are committed before they end
            steps = [head] + [repo.get(g) for g in head.chain[1:]]
            self.stage, self.engine_id, self.project_id = head.stage.value, head.engine_id, head.project_id
            ids = [a for step in steps for a in repo.asset_ids(step.id)]
            seen = {a.id for a in self.assets}
            assets = AssetsRepo(s)
            new_assets = [assets.get(i) for i in ids if i not in seen]
        status = chain_status(steps)
        credits = round(sum(step.credits for step in steps), 6)
        warnings = list(dict.fromkeys(w for step in steps for w in [*step.params.get("warnings", []),
                                                                     *step.params.get("admit_warnings", [])]))
        failed = next((step for step in steps if step.status in (JobStatus.FAILED, JobStatus.CANCELLED)), None)
        running = next((step for step in steps if step.status is JobStatus.RUNNING), None)
        progress = running.params.get("progress") if running is not None else None
        fresh_progress = progress is not None and progress != self.progress
        self.progress = progress
        with self._lock:
            before = len(self._events)
            kinds = {e.kind for e in self._events}
            ended = status in TERMINAL
            if "started" not in kinds and (head.started_at is not None or new_assets or status is JobStatus.SUCCEEDED):
                self._add("started", {"generation_id": self.id, "credits": credits, "warnings": warnings})
            for asset in new_assets:
                self.assets.append(asset)
                self._add("asset", {"asset": asset})
            if ended and not kinds & {"finished", "failed"}:
                if status is JobStatus.SUCCEEDED:
                    self._add("finished", {"generation_id": self.id, "credits": credits, "warnings": warnings})
                else:
                    error = failed.error if failed is not None else None
                    self.error = {"error": status.value, "message": error, "field": None, "fix": None,
                                  "detail": error}
                    self._add("failed", {"generation_id": self.id, "error": self.error})
            self.status = status
            return len(self._events) > before or fresh_progress

    def _add(self, kind: str, data: dict[str, Any]) -> None:
        self._events.append(JobEvent(len(self._events), kind, data))

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            with self._lock:
                listeners = list(self._listeners)
            if not listeners or self.done:
                return
            try:
                fresh = self.refresh()
            except Exception:  # noqa: BLE001 - a DB hiccup must not end the stream; the next poll retries
                log.warning("could not read job %s", self.id, exc_info=True)
                continue
            if fresh or self.done:
                for wake in listeners:
                    try:
                        wake()
                    except Exception:  # noqa: BLE001 - a gone subscriber must not stop the others
                        log.debug("job listener failed", exc_info=True)

