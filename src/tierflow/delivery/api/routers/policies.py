"""/projects/{ref}/policies: draft-first minimum, final cap, low-credit threshold.

The door only maps the request to :func:`tierflow.guardrails.budget.set_policy`, the use case the
CLI's ``tierflow policy`` calls: the same validation, the same role rule, the same audit line.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tierflow.delivery.api import refs
from tierflow.delivery.api.auth import PrincipalDep
from tierflow.delivery.api.deps import ServicesDep
from tierflow.delivery.api.schemas import PolicyPublic, PolicyUpdate
from tierflow.domain.policies import ProjectPolicy
from tierflow.guardrails import budget as uc

router = APIRouter(prefix="/projects/{ref}/policies", tags=["policies"])


def _public(data: dict[str, Any]) -> dict[str, Any]:
    return {**data["policy"], "milestone": data.get("milestone")}


def _threshold(value: float | None) -> float:
    """``null`` puts the low-credit threshold back to the default."""
    return ProjectPolicy.low_credit_threshold if value is None else value


@router.get("", response_model=PolicyPublic, response_model_exclude_unset=True)
def get_policies(ref: str, services: ServicesDep,
                 prompt_id: str | None = Query(None, max_length=80,
                                               description="Also count this prompt thread's drafts.")) -> dict[str, Any]:
    """The project's policy settings, the milestone its finals count against now and, with
    ``prompt_id``, the drafts that thread has for draft-first."""
    refs.check_ref(ref)
    out = _public(uc.policy_status(services, ref))
    if prompt_id:
        from tierflow.domain.ids import check_id
        from tierflow.storage.policy_repo import PolicyRepo

        check_id(prompt_id, "prompt_id")
        with services.db.read() as s:
            out["drafts_in_thread"] = PolicyRepo(s).drafts_in_thread(prompt_id)
    return out


@router.put("", response_model=PolicyPublic, response_model_exclude_unset=True)
def put_policies(ref: str, body: PolicyUpdate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Change some settings (leads and admins; audited); fields left out keep their value, ``final_cap: null`` removes the cap."""
    refs.check_ref(ref)
    given = body.model_fields_set
    data = uc.set_policy(
        services, ref,
        min_drafts=body.min_drafts if "min_drafts" in given else None,
        final_cap=body.final_cap if "final_cap" in given else uc.UNSET,
        low_credit_threshold=_threshold(body.low_credit_threshold) if "low_credit_threshold" in given else None,
        user_id=principal.user_id, role=principal.role, reason=body.reason)
    return _public(data)
