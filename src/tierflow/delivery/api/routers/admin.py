"""/admin: whole-install upkeep for admins — fsck (check with GET, repair with POST)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierflow.delivery.api import auth
from tierflow.delivery.api.deps import ServicesDep
from tierflow.domain.access import can_maintain

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get("/fsck")
def check(services: ServicesDep, principal: auth.PrincipalDep) -> dict[str, Any]:
    """Missing, corrupt and orphan blobs, dangling lineage and each budget's ledger (`tierflow fsck --json`)."""
    from tierflow.maintenance.fsck import fsck

    can_maintain(principal)
    return fsck(services).to_dict()


@router.post("/fsck")
def repair(services: ServicesDep, principal: auth.PrincipalDep) -> dict[str, Any]:
    """The same check, then re-render damaged assets bit-identically where possible (`tierflow fsck --repair`)."""
    from tierflow.maintenance.fsck import fsck

    can_maintain(principal)
    return fsck(services, repair=True).to_dict()
