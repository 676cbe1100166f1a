"""/projects/{ref}/budget and /ledger: credits granted, reserved, spent; the append-only entries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import or_, select

from tierflow.delivery.api import refs
from tierflow.delivery.api.deps import ReadSessionDep, ServicesDep
from tierflow.delivery.api.schemas import BudgetPublic
from tierflow.storage.clock import aware
from tierflow.storage.tables import LedgerEntryRow, MilestoneRow

router = APIRouter(prefix="/projects/{ref}", tags=["budget"])

UNLIMITED = {"granted": 0.0, "reserved": 0.0, "spent": 0.0, "remaining": None, "unlimited": True, "warnings": []}


@router.get("/budget", response_model=BudgetPublic)
def budget(ref: str, services: ServicesDep, session: ReadSessionDep) -> dict[str, Any]:
    """The project's balance as the guard sees it; a project without a budget is unlimited."""
    project = refs.project(session, ref)
    status = services.guard.status(session, project.id) or {}
    return budget_public(status, project.id)


def budget_public(status: dict[str, Any], project_id: str) -> dict[str, Any]:
    """The project scope's balance from ``guard.status`` (flat keys, or one of its ``balances``)."""
    own = next((b for b in status.get("balances", [])
                if b.get("scope") == "project" and b.get("scope_id") == project_id), None)
    source = own if own is not None else status
    out = UNLIMITED | {k: source[k] for k in UNLIMITED if k in source and k != "warnings"}
    out["warnings"] = list(status.get("warnings", []))
    out["balances"] = list(status.get("balances", []))  # workspace and milestone scopes too
    return out


@router.get("/ledger")
def ledger(ref: str, session: ReadSessionDep, limit: int = Query(500, ge=1, le=5000)) -> dict[str, Any]:
    """Ledger entries of the project and its milestones, newest first."""
    project = refs.project(session, ref)
    milestones = select(MilestoneRow.id).where(MilestoneRow.project_id == project.id)
    rows = session.scalars(
        select(LedgerEntryRow)
        .where(or_((LedgerEntryRow.scope == "project") & (LedgerEntryRow.scope_id == project.id),
                   (LedgerEntryRow.scope == "milestone") & LedgerEntryRow.scope_id.in_(milestones)))
        .order_by(LedgerEntryRow.created_at.desc(), LedgerEntryRow.id.desc()).limit(limit)
    )
    return {"entries": [
        {"id": r.id, "scope": r.scope, "scope_id": r.scope_id, "kind": r.kind, "amount": r.amount,
         "reservation_id": r.reservation_id, "generation_id": r.generation_id, "user_id": r.user_id,
         "note": r.note, "created_at": aware(r.created_at).isoformat()}
        for r in rows
    ]}
