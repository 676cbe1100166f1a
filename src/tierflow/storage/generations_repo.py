"""Render jobs: created before the render, finished (or failed) after it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tierflow.domain.errors import NotFound
from tierflow.domain.ids import new_id
from tierflow.domain.models import Generation, JobStatus, Stage
from tierflow.storage.clock import aware, now
from tierflow.storage.tables import GenerationRow


def to_generation(row: GenerationRow) -> Generation:
    return Generation(
        id=row.id, project_id=row.project_id, stage=Stage(row.stage), engine_id=row.engine_id,
        params=dict(row.params or {}), status=JobStatus(row.status), created_at=aware(row.created_at),
        prompt_id=row.prompt_id, milestone_id=row.milestone_id, user_id=row.user_id,
        started_at=aware(row.started_at), finished_at=aware(row.finished_at), error=row.error,
        credits=row.credits,
    )


class GenerationsRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def create(self, *, project_id: str, stage: Stage, engine_id: str, params: dict[str, Any],
               prompt_id: str | None, milestone_id: str | None, user_id: str | None,
               status: JobStatus = JobStatus.RUNNING, credits: float = 0.0,
               reservation_id: str | None = None) -> Generation:
        t = now()
        row = GenerationRow(
            id=new_id("gen"), project_id=project_id, stage=stage.value, engine_id=engine_id, params=params,
            prompt_id=prompt_id, milestone_id=milestone_id, user_id=user_id, status=status.value,
            credits=credits, reservation_id=reservation_id, created_at=t,
            started_at=t if status == JobStatus.RUNNING else None,
        )
        self.s.add(row)
        self.s.flush()
        return to_generation(row)

    def row(self, generation_id: str) -> GenerationRow:
        row = self.s.get(GenerationRow, generation_id)
        if row is None:
            raise NotFound(f"no generation {generation_id!r}", field="generation",
                           fix="see `tierflow gallery` for generation ids")
        return row

    def get(self, generation_id: str) -> Generation:
        return to_generation(self.row(generation_id))

    def finish(self, generation_id: str, status: JobStatus, *, outputs: int, credits: float | None = None,
               error: str | None = None) -> Generation:
        row = self.row(generation_id)
        row.status = status.value
        row.finished_at = now()
        row.outputs = outputs
        row.error = error
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
