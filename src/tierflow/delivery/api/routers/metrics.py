"""/projects/{ref}/metrics: draft-to-final ratio, usable rates, cost per usable asset, latency."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tierflow.delivery.api import refs
from tierflow.delivery.api.deps import ReadSessionDep
from tierflow.domain.models import Project
from tierflow.storage.clock import aware
from tierflow.storage.tables import AssetRow, GenerationRow, ReviewRow

router = APIRouter(prefix="/projects/{ref}/metrics", tags=["metrics"])


@router.get("")
def metrics(ref: str, session: ReadSessionDep) -> dict[str, Any]:
    """The project's metrics report (see tierflow.domain.metrics for the definitions)."""
    return project_metrics(session, refs.project(session, ref))


def project_metrics(session: Session, project: Project) -> dict[str, Any]:
    """The one call site of the metrics domain: stored rows → records → report."""
    records = _records(session, project.id)
    try:
        from tierflow.domain.metrics import project_report
    except ImportError:  # pragma: no cover - the domain module ships with tierflow
        drafts = sum(r["stage"] == "draft" for r in records)
        finals = sum(r["stage"] == "final" for r in records)
        return {"drafts": drafts, "finals": finals, "draft_to_final_ratio": drafts / finals if finals else None}
    return project_report(records, started_at=project.created_at).to_dict()


def _records(session: Session, project_id: str) -> list[dict[str, Any]]:
    """One record per asset: its share of the generation's credits and render time, and its review."""
    review_seconds = (select(ReviewRow.asset_id, func.sum(ReviewRow.seconds).label("seconds"))
                      .group_by(ReviewRow.asset_id).subquery())
    rows = session.execute(
        select(AssetRow.stage, AssetRow.review, AssetRow.engine_id, AssetRow.created_at, AssetRow.reviewed_at,
               GenerationRow.credits, GenerationRow.outputs, GenerationRow.started_at, GenerationRow.finished_at,
               GenerationRow.user_id, review_seconds.c.seconds)
        .join(GenerationRow, GenerationRow.id == AssetRow.generation_id)
        .outerjoin(review_seconds, review_seconds.c.asset_id == AssetRow.id)
        .where(AssetRow.project_id == project_id)
    )
    out = []
    for r in rows:
        outputs = max(1, r.outputs or 0)
        started, finished = aware(r.started_at), aware(r.finished_at)
        seconds = (finished - started).total_seconds() / outputs if started and finished else None
        out.append({"stage": r.stage, "review": r.review, "engine_id": r.engine_id,
                    "created_at": aware(r.created_at), "reviewed_at": aware(r.reviewed_at),
                    "credits": (r.credits or 0.0) / outputs, "seconds": seconds, "user_id": r.user_id,
                    "review_seconds": r.seconds})
    return out
