"""Render jobs: created before the render, finished (or failed) after it; queued ones claimed under a lease.

Every method returns domain objects (:class:`~tierflow.domain.models.Generation`); callers never
see or change a row. Locking: ``lock`` (``FOR UPDATE``) before a read-check-write on one job;
``claim_next`` uses ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's ``BEGIN IMMEDIATE``
serialises claimers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, aliased

from tierflow.domain.errors import NotFound
from tierflow.domain.ids import new_id
from tierflow.domain.models import Generation, JobStatus, Stage
from tierflow.storage.clock import aware, now
from tierflow.storage.tables import AssetRow, GenerationRow

DURABLE = "durable"
INPROCESS = "inprocess"


def to_generation(row: GenerationRow) -> Generation:
    return Generation(
        id=row.id, project_id=row.project_id, stage=Stage(row.stage), engine_id=row.engine_id,
        params=dict(row.params or {}), status=JobStatus(row.status), created_at=aware(row.created_at),
        prompt_id=row.prompt_id, milestone_id=row.milestone_id, user_id=row.user_id,
        started_at=aware(row.started_at), finished_at=aware(row.finished_at), error=row.error,
        credits=row.credits, reservation_id=row.reservation_id, outputs=row.outputs or 0,
        attempts=row.attempts or 0, lease_owner=row.lease_owner, lease_expires_at=aware(row.lease_expires_at),
        spec=dict(row.spec) if row.spec else None, queue=row.queue, after_id=row.after_id,
    )


class GenerationsRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def create(self, *, project_id: str, stage: Stage, engine_id: str, params: dict[str, Any],
               prompt_id: str | None, milestone_id: str | None, user_id: str | None,
               status: JobStatus = JobStatus.RUNNING, credits: float = 0.0,
               reservation_id: str | None = None, spec: dict[str, Any] | None = None, queue: str | None = None,
               lease_owner: str | None = None, after_id: str | None = None) -> Generation:
        t = now()
        row = GenerationRow(
            id=new_id("gen"), project_id=project_id, stage=stage.value, engine_id=engine_id, params=params,
            prompt_id=prompt_id, milestone_id=milestone_id, user_id=user_id, status=status.value,
            credits=credits, reservation_id=reservation_id, created_at=t,
            started_at=t if status == JobStatus.RUNNING else None, spec=spec, queue=queue, lease_owner=lease_owner,
            after_id=after_id,
        )
        self.s.add(row)
        self.s.flush()
        return to_generation(row)

    def row(self, generation_id: str) -> GenerationRow:
        """The ORM row, for storage/ and the guardrails' repositories only."""
        row = self.s.get(GenerationRow, generation_id)
        if row is None:
            raise NotFound(f"no generation {generation_id!r}", field="generation",
                           fix="see `tierflow gallery` for generation ids")
        return row

    def get(self, generation_id: str) -> Generation:
        return to_generation(self.row(generation_id))

    def find(self, generation_id: str) -> Generation | None:
        row = self.s.get(GenerationRow, generation_id)
        return to_generation(row) if row is not None else None

    def project_of(self, generation_id: str) -> str | None:
        """The project of a generation, or None when there is no such generation."""
        return self.s.scalar(select(GenerationRow.project_id).where(GenerationRow.id == generation_id))

    def lock(self, generation_id: str) -> Generation:
        """The generation, its row locked until the transaction ends (PostgreSQL ``FOR UPDATE``)."""
        row = self.s.scalar(select(GenerationRow).where(GenerationRow.id == generation_id).with_for_update())
        if row is None:
            raise NotFound(f"no generation {generation_id!r}", field="generation",
                           fix="see `tierflow gallery` for generation ids")
        return to_generation(row)

    def update(self, generation_id: str, *, params: dict[str, Any] | None = None, **values: Any) -> Generation:
        """Set columns (``engine_id``, ``reservation_id``, ``lease_owner`` ...); ``params`` are merged in."""
        row = self.row(generation_id)
        if params:
            row.params = {**(row.params or {}), **params}
        for key, value in values.items():
            if key not in _WRITABLE:
                raise ValueError(f"{key} is not a writable generation column")
            setattr(row, key, value)
        self.s.flush()
        return to_generation(row)

    def finish(self, generation_id: str, status: JobStatus, *, outputs: int, credits: float | None = None,
               error: str | None = None) -> Generation:
        row = self.row(generation_id)
        row.status = status.value
        row.finished_at = now()
        row.outputs = outputs
        row.error = error
        row.lease_expires_at = None
        if credits is not None:
            row.credits = credits
        self.s.flush()
        return to_generation(row)

    def list(self, project_id: str | None = None, *, status: JobStatus | None = None,
             limit: int = 100) -> list[Generation]:
        q = select(GenerationRow).order_by(GenerationRow.created_at.desc()).limit(limit)
        if project_id:
            q = q.where(GenerationRow.project_id == project_id)
        if status:
            q = q.where(GenerationRow.status == status.value)
        return [to_generation(r) for r in self.s.scalars(q)]

    def asset_ids(self, generation_id: str) -> list[str]:
        """The ids of the assets stored for a generation, in stored order."""
        return list(self.s.scalars(select(AssetRow.id).where(AssetRow.generation_id == generation_id)
                                   .order_by(AssetRow.created_at, AssetRow.id)))

    def stored_seeds(self, generation_id: str) -> list[int | None]:
        return list(self.s.scalars(select(AssetRow.seed).where(AssetRow.generation_id == generation_id)))

    # -- jobs -------------------------------------------------------------------------------
    def jobs(self, *, project_id: str | None = None, status: str | None = None, queue: str | None = DURABLE,
             limit: int = 50) -> list[Generation]:
        """Jobs (first rows with a spec), newest first."""
        q = (select(GenerationRow).where(GenerationRow.spec.is_not(None), GenerationRow.after_id.is_(None))
             .order_by(GenerationRow.created_at.desc(), GenerationRow.id.desc()).limit(limit))
        if queue is not None:
            q = q.where(GenerationRow.queue == queue)
        if project_id:
            q = q.where(GenerationRow.project_id == project_id)
        if status:
            q = q.where(GenerationRow.status == status)
        return [to_generation(r) for r in self.s.scalars(q)]

    def claim_next(self, stages: Iterable[str], owner: str, lease_seconds: float) -> Generation | None:
        """The oldest queued durable job step of ``stages`` whose earlier step (if any) succeeded, now
        RUNNING under ``owner``'s lease (or None)."""
        prev = aliased(GenerationRow)
        done = exists().where(prev.id == GenerationRow.after_id, prev.status == JobStatus.SUCCEEDED.value)
        row = self.s.scalar(
            select(GenerationRow)
            .where(GenerationRow.status == JobStatus.QUEUED.value, GenerationRow.queue == DURABLE,
                   GenerationRow.spec.is_not(None), GenerationRow.stage.in_(list(stages)),
                   GenerationRow.after_id.is_(None) | done)
            .order_by(GenerationRow.created_at, GenerationRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # SQLite renders nothing here; BEGIN IMMEDIATE serialises
        )
        if row is None:
            return None
        return self._take(row, owner, lease_seconds)

    def claim(self, generation_id: str, owner: str, lease_seconds: float | None = None) -> Generation | None:
        """Take one queued job by id (the in-process queue's own rows); None when it is no longer queued."""
        row = self.s.scalar(select(GenerationRow).where(GenerationRow.id == generation_id).with_for_update())
        if row is None or row.status != JobStatus.QUEUED.value:
            return None
        return self._take(row, owner, lease_seconds)

    def _take(self, row: GenerationRow, owner: str, lease_seconds: float | None) -> Generation:
        t = now()
        row.status = JobStatus.RUNNING.value
        row.lease_owner = owner
        row.lease_expires_at = t + timedelta(seconds=lease_seconds) if lease_seconds else None
        row.attempts = (row.attempts or 0) + 1
        row.started_at = row.started_at or t
        self.s.flush()
        return to_generation(row)

    def extend_lease(self, generation_id: str, owner: str, lease_seconds: float) -> bool:
        """Push a running job's lease forward; False when it is no longer ``owner``'s."""
        result = self.s.execute(
            update(GenerationRow)
            .where(GenerationRow.id == generation_id, GenerationRow.lease_owner == owner,
                   GenerationRow.status == JobStatus.RUNNING.value)
            .values(lease_expires_at=now() + timedelta(seconds=lease_seconds))
        )
        return result.rowcount == 1

    def params_of(self, generation_id: str) -> dict[str, Any]:
        return dict(self.s.scalar(select(GenerationRow.params).where(GenerationRow.id == generation_id)) or {})

    def unfinished(self, *, leased: bool = False, lock: bool = False) -> Iterator[Generation]:
        """Queued or running generations (``leased``: running ones with a lease end), for recovery."""
        q = select(GenerationRow)
        if leased:
            q = q.where(GenerationRow.status == JobStatus.RUNNING.value, GenerationRow.lease_expires_at.is_not(None))
        else:
            q = q.where(GenerationRow.status.in_([JobStatus.RUNNING.value, JobStatus.QUEUED.value]))
        if lock:
            q = q.with_for_update(skip_locked=True)
        for row in list(self.s.scalars(q)):
            yield to_generation(row)

    def requeue(self, generation_id: str, error: str) -> None:
        self.update(generation_id, status=JobStatus.QUEUED.value, lease_owner=None, lease_expires_at=None,
                    error=error)

    def status_of(self, generation_id: str) -> str | None:
        return self.s.scalar(select(GenerationRow.status).where(GenerationRow.id == generation_id))


_WRITABLE = frozenset({"engine_id", "reservation_id", "lease_owner", "lease_expires_at", "status", "error",
                       "credits", "prompt_id", "outputs", "finished_at"})


def lease_over(gen: Generation, t: datetime | None = None) -> bool:
    return gen.lease_expires_at is not None and gen.lease_expires_at < (t or now())
