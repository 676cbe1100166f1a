"""/projects/{ref}/budget, /budget/grants, /daily-limits/{user}, /ledger and /audit.

Each route maps its request to the use case the CLI's ``tierflow budget``, ``ledger`` and
``audit`` call (:mod:`tierflow.guardrails.budget`): the same checks, the same audit lines.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query

from tierflow.delivery.api import refs
from tierflow.delivery.api.auth import PrincipalDep
from tierflow.delivery.api.deps import ServicesDep
from tierflow.delivery.api.schemas import BudgetPublic, DailyLimitUpdate, GrantCreate
from tierflow.guardrails import budget as uc

router = APIRouter(prefix="/projects/{ref}", tags=["budget"])


@router.get("/budget", response_model=BudgetPublic)
def budget(ref: str, services: ServicesDep,
           scope: str | None = Query(None, pattern="^(project|workspace|milestone)$"),
           milestone: str | None = Query(None, max_length=200),
           user: str | None = Query(None, max_length=200, description="Today's spend of this user.")) -> dict[str, Any]:
    """A budget (the project's by default) as the guard sees it; a budget never granted is unlimited."""
    refs.check_ref(ref)
    return budget_public(uc.budget_status(services, ref, scope=scope, milestone=milestone, user=user))


@router.post("/budget/grants", response_model=BudgetPublic, status_code=201)
def grant(ref: str, body: GrantCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Add credits to the project's, its workspace's or a milestone's budget (leads and admins; audited)."""
    refs.check_ref(ref)
    return budget_public(uc.grant(services, ref, body.amount, scope=body.scope, milestone=body.milestone,
                                  user_id=principal.user_id, role=principal.role, note=body.reason))


@router.put("/daily-limits/{user}", response_model=BudgetPublic)
def daily_limit(ref: str, body: DailyLimitUpdate, services: ServicesDep, principal: PrincipalDep,
                user: str = Path(min_length=1, max_length=200)) -> dict[str, Any]:
    """Cap what ``user`` may spend per UTC day (null lifts it; leads and admins; audited)."""
    refs.check_ref(ref)
    return budget_public(uc.set_daily_limit(services, ref, user, body.limit, user_id=principal.user_id,
                                            role=principal.role))


def budget_public(status: dict[str, Any]) -> dict[str, Any]:
    """The use case's status with every scope's balance as ``balances``."""
    return {**status, "balances": list(status.get("scopes", []))}


@router.get("/ledger")
def ledger(ref: str, services: ServicesDep, limit: int = Query(500, ge=1, le=5000)) -> dict[str, Any]:
    """Ledger entries of the project and its milestones, newest first."""
    refs.check_ref(ref)
    return uc.ledger_entries(services, ref, limit=limit)


@router.get("/audit")
def audit(ref: str, services: ServicesDep) -> dict[str, Any]:
    """Who granted credits, changed a policy, closed a milestone or overrode a block, and why (oldest first)."""
    refs.check_ref(ref)
    return {"audit": uc.audit_log(services, ref)}
