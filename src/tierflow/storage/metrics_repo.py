"""The records :func:`tierflow.domain.metrics.project_report` reads, built once from the stored rows.

Every door (``tierflow report``, ``GET /projects/{ref}/metrics``, the project dashboard) gets its
figures through :func:`tierflow.guardrails.budget.project_report`, which calls this: one query,
one set of definitions. Per asset:

* credits: what the provider reported for the output, else its share of the generation's
  committed credits;
* seconds: the output's own render time (``render_seconds`` the runner records), else its share
  of the generation's wall time — a batch's wall time is never counted once per output;
* reviews: every review row of the asset (time, duration, reviewer), oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tierflow.domain.models import Stage
from tierflow.storage.clock import aware
from tierflow.storage.tables import AssetRow, GenerationRow, ReviewRow


def report_records(s: Session, project_id: str, milestone_id: str | None = None) -> list[dict[str, Any]]:
    """One record per asset of the project (or of one milestone's generations), oldest first."""
    q = (select(AssetRow.id, AssetRow.stage, AssetRow.review, AssetRow.engine_id, AssetRow.params,
                AssetRow.created_at, GenerationRow.credits, GenerationRow.outputs, GenerationRow.started_at,
                GenerationRow.finished_at, GenerationRow.user_id)
         .join(GenerationRow, AssetRow.generation_id == GenerationRow.id)
         .where(AssetRow.project_id == project_id).order_by(AssetRow.created_at, AssetRow.id))
    if milestone_id is not None:
        q = q.where(GenerationRow.milestone_id == milestone_id)
    rows = list(s.execute(q))
    reviews: dict[str, list[dict[str, Any]]] = {}
    ids = [r.id for r in rows]
    for chunk in range(0, len(ids), 500):
        for v in s.execute(select(ReviewRow.asset_id, ReviewRow.created_at, ReviewRow.seconds, ReviewRow.user_id)
                           .where(ReviewRow.asset_id.in_(ids[chunk:chunk + 500]))
                           .order_by(ReviewRow.created_at, ReviewRow.id)):
            reviews.setdefault(v.asset_id, []).append(
                {"at": aware(v.created_at), "seconds": v.seconds, "user_id": v.user_id})
    out = []
    for r in rows:
        params = r.params or {}
        outputs = max(1, r.outputs or 0)
        reported = params.get("credits")
        if _non_negative(reported):
            credits = float(reported)
        else:
            credits = (r.credits or 0.0) / outputs
        out.append({
            "stage": r.stage,
            "created_at": aware(r.created_at),
            "review": r.review,
            "credits": round(credits, 6),
            "engine_id": r.engine_id,
            "seconds": _seconds(params, aware(r.started_at), aware(r.finished_at), outputs),
            "reviews": [{**v, "user_id": v["user_id"] or r.user_id} for v in reviews.get(r.id, [])],
            "user_id": r.user_id,
        })
    return out


def prompts_and_reviews(s: Session, project_id: str, stage: Stage) -> list[tuple[str, str]]:
    """(prompt text, review state) of each asset of ``stage`` in the project (for prompt DNA)."""
    return [(p, r) for p, r in s.execute(select(AssetRow.prompt_text, AssetRow.review).where(
        AssetRow.project_id == project_id, AssetRow.stage == stage.value))]


def _seconds(params: dict[str, Any], started: datetime | None, finished: datetime | None,
             outputs: int) -> float | None:
    own = params.get("render_seconds")
    if _non_negative(own):
        return float(own)
    if started and finished:
        return max(0.0, (finished - started).total_seconds()) / outputs
    return None


def _non_negative(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
