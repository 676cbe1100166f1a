"""/engines: every engine with its tier, capabilities, availability (runnable here, or why not and the fix)
and which one is each tier's default."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierflow.delivery.api.deps import ServicesDep
from tierflow.domain.errors import TierflowError
from tierflow.domain.models import Tier

router = APIRouter(prefix="/engines", tags=["engines"])


@router.get("")
def list_engines(services: ServicesDep) -> dict[str, Any]:
    """The same listing as `tierflow engines --json`."""
    defaults = {}
    for tier in Tier:
        try:
            defaults[tier.value] = services.engines.default_id(tier)
        except TierflowError:  # a tier without engines has no default
            continue
    price = getattr(services.guard, "price_info", None)
    rows = []
    for engine_id in services.engines.ids():
        engine = services.engines.get(engine_id)
        info = engine.describe().to_dict()
        info["capabilities"] = engine.capabilities().to_dict()
        info["default"] = defaults.get(info["tier"]) == engine_id
        info["price"] = price(engine) if price else None
        info.update(services.engines.readiness(engine_id).to_dict())  # runnable, reason, fix
        rows.append(info)
    return {"engines": rows, "defaults": defaults, "notices": list(services.engines.notices)}
