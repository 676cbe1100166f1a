"""/projects/{ref}/metrics: draft-to-final ratio, usable rates, cost per usable asset, latency.

The same computation as ``tierflow report --json`` (:func:`tierflow.guardrails.budget.project_report`);
the project dashboard draws this route's JSON, so all three doors show the same figures.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tierflow.delivery.api import refs
from tierflow.delivery.api.deps import ServicesDep
from tierflow.guardrails import budget as uc

router = APIRouter(prefix="/projects/{ref}/metrics", tags=["metrics"])


@router.get("")
def metrics(ref: str, services: ServicesDep, milestone: str | None = Query(None, max_length=200)) -> dict[str, Any]:
    """The project's (or one milestone's) metrics report (see tierflow.domain.metrics for the definitions)."""
    refs.check_ref(ref)
    return uc.project_report(services, ref, milestone).to_dict()
