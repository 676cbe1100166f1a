"""/assets/{id}/reviews: keep, discard or star an asset (the time it took is the human cost)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierflow.delivery.api.deps import ServicesDep
from tierflow.delivery.api.schemas import ReviewCreate, asset_public
from tierflow.domain.ids import check_id
from tierflow.stages.review import review

router = APIRouter(prefix="/assets/{asset_id}/reviews", tags=["reviews"])


@router.post("")
def create_review(asset_id: str, body: ReviewCreate, services: ServicesDep) -> dict[str, Any]:
    """Record a review; ``seconds`` is the time the person looked (measured by the client), if known."""
    check_id(asset_id, "asset")
    return {"asset": asset_public(review(services, asset_id, body.state, seconds=body.seconds))}
