"""/projects/{ref}/drift-check: re-render a project's kept prompt + seed pairs and report their drift.

The same use case as `tierflow drift-check` (:func:`tierflow.stages.drift_check.drift_check`); it
renders in the request (on the current engines or a candidate ``engine``), so keep ``limit`` small.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from tierflow.delivery.api import auth
from tierflow.delivery.api.deps import ServicesDep
from tierflow.delivery.api.schemas import DriftCheckCreate

router = APIRouter(prefix="/projects", tags=["drift"])


@router.post("/{ref}/drift-check")
async def drift_check(ref: str, body: DriftCheckCreate, services: ServicesDep,
                      principal: auth.PrincipalDep) -> dict[str, Any]:
    """Re-render kept/starred pairs; each item has its drift, a flag above ``threshold`` and version changes."""
    from tierflow.stages.drift_check import drift_check as run_check

    auth.check_refs(services, principal, ref)
    return await run_in_threadpool(run_check, services, ref, threshold=body.threshold, engine=body.engine,
                                   limit=body.limit)
