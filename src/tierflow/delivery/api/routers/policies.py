"""/projects/{ref}/policies: draft-first minimum, final cap, low-credit threshold."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tierflow.delivery.api import refs
from tierflow.delivery.api.auth import PrincipalDep
from tierflow.delivery.api.deps import ReadSessionDep, TransactionDep
from tierflow.delivery.api.schemas import PolicyPublic, PolicyUpdate
from tierflow.domain.access import can_change_caps_or_budget
from tierflow.domain.policies import ProjectPolicy
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import ProjectRow

router = APIRouter(prefix="/projects/{ref}/policies", tags=["policies"])


def policy_public(row: ProjectRow) -> dict[str, Any]:
    return {"min_drafts": row.min_drafts, "final_cap": row.final_cap, "low_credit_threshold": row.low_credit_threshold}


@router.get("", response_model=PolicyPublic, response_model_exclude_unset=True)
def get_policies(ref: str, session: ReadSessionDep,
                 prompt_id: str | None = Query(None, max_length=80,
                                               description="Also count this prompt thread's drafts.")) -> dict[str, Any]:
    """The project's policy settings (and, with ``prompt_id``, the drafts its thread has for draft-first)."""
    out = policy_public(ProjectsRepo(session).row(refs.project(session, ref).id))
    if prompt_id:
        from tierflow.domain.ids import check_id
        from tierflow.guardrails.policy_repo import PolicyRepo

        check_id(prompt_id, "prompt_id")
        out["drafts_in_thread"] = PolicyRepo(session).drafts_in_thread(prompt_id)
    return out


@router.put("", response_model=PolicyPublic, response_model_exclude_unset=True)
def put_policies(ref: str, body: PolicyUpdate, session: TransactionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Change some settings (leads and admins); fields left out keep their value, ``final_cap: null`` removes the cap."""
    can_change_caps_or_budget(principal)
    row = ProjectsRepo(session).row(refs.project(session, ref).id)
    merged = policy_public(row) | body.model_dump(include=body.model_fields_set)
    if merged["min_drafts"] is None:
        merged["min_drafts"] = row.min_drafts
    # the domain policy is the one validator (a null threshold means "the default")
    threshold = merged["low_credit_threshold"]
    ProjectPolicy(min_drafts=merged["min_drafts"], final_cap=merged["final_cap"],
                  low_credit_threshold=0.1 if threshold is None else threshold)
    row.min_drafts, row.final_cap, row.low_credit_threshold = (merged["min_drafts"], merged["final_cap"], threshold)
    session.flush()
    return policy_public(row)
