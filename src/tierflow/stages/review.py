"""Review: keep, discard or star an asset; the time it took is recorded as human cost."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Asset, ReviewState
from tierflow.stages.decode import full_quality_quietly
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.clock import now

if TYPE_CHECKING:
    from tierflow.app.ports import Services

# A review that took longer than this was interrupted: count only this much human time.
REVIEW_IDLE_CAP_SECONDS = 120.0


def measured_seconds(at: datetime, shown_at: datetime | None, last_action_at: datetime | None) -> float | None:
    """Human time of a review when the client did not measure it.

    The time since the later of (the asset appearing, this person's previous review), capped
    at :data:`REVIEW_IDLE_CAP_SECONDS` so a coffee break is not billed as review work.
    """
    start = max([t for t in (shown_at, last_action_at) if t is not None], default=None)
    if start is None:
        return None
    return round(min(max((at - start).total_seconds(), 0.0), REVIEW_IDLE_CAP_SECONDS), 3)


def review(services: Services, asset_id: str, state: ReviewState | str, *, seconds: float | None = None,
           user_id: str | None = None) -> Asset:
    """Record a review action and return the updated asset."""
    try:
        state = ReviewState(state)
    except ValueError:
        raise InvalidInput(f"{state!r} is not a review state", field="state",
                           fix="use keep, discard or star") from None
    if state == ReviewState.UNREVIEWED:
        raise InvalidInput("a review must keep, discard or star", field="state", fix="use keep, discard or star")
    if seconds is not None and not 0 <= seconds <= 86400:
        raise InvalidInput(f"{seconds} s is not a review time", field="seconds", fix="pass 0..86400 seconds")
    with services.db.transaction() as s:
        repo = AssetsRepo(s)
        asset = repo.get(asset_id)
        if seconds is None:
            seconds = measured_seconds(now(), asset.created_at, repo.last_review_at(user_id))
        repo.review(asset.id, state, seconds=seconds, user_id=user_id)
        asset = repo.get(asset.id)
    if state in (ReviewState.KEEP, ReviewState.STAR):
        asset = full_quality_quietly(services, asset)  # decode-on-keep: a preview becomes the full decode
    return asset


def unreviewed_count(services: Services, project_id: str) -> int:
    with services.db.read() as s:
        return AssetsRepo(s).count(project_id=project_id, review=ReviewState.UNREVIEWED.value)
