"""/projects/{ref}/milestones: the milestones finals are capped per; create, list, close, reopen."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path

from tierflow.delivery.api import refs
from tierflow.delivery.api.auth import PrincipalDep
from tierflow.delivery.api.deps import ServicesDep
from tierflow.delivery.api.schemas import MilestoneClose, MilestoneCreate
from tierflow.guardrails import budget as uc

router = APIRouter(prefix="/projects/{ref}/milestones", tags=["milestones"])
MilestoneRef = Path(min_length=1, max_length=200)


@router.get("")
def list_milestones(ref: str, services: ServicesDep) -> dict[str, Any]:
    """The project's milestones, oldest first (closed or not; ``current``: where renders count now)."""
    refs.check_ref(ref)
    return uc.list_milestones(services, ref)


@router.post("", status_code=201)
def create_milestone(ref: str, body: MilestoneCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Add a milestone (unique name in the project); it becomes the current one."""
    refs.check_ref(ref)
    return uc.create_milestone(services, ref, body.name, user_id=principal.user_id)


@router.post("/{milestone}/close")
def close_milestone(ref: str, body: MilestoneClose, services: ServicesDep, principal: PrincipalDep,
                    milestone: str = MilestoneRef) -> dict[str, Any]:
    """Close a milestone (leads and admins; audited): renders count against the next open one."""
    refs.check_ref(ref)
    return uc.close_milestone(services, ref, milestone, closed=True, user_id=principal.user_id, role=principal.role,
                              reason=body.reason)


@router.post("/{milestone}/reopen")
def reopen_milestone(ref: str, body: MilestoneClose, services: ServicesDep, principal: PrincipalDep,
                     milestone: str = MilestoneRef) -> dict[str, Any]:
    """Open a closed milestone again (leads and admins; audited)."""
    refs.check_ref(ref)
    return uc.close_milestone(services, ref, milestone, closed=False, user_id=principal.user_id,
                              role=principal.role, reason=body.reason)
