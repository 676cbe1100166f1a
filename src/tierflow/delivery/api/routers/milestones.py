"""/projects/{ref}/milestones: the milestones finals are capped per."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierflow.delivery.api import refs
from tierflow.delivery.api.deps import ReadSessionDep, TransactionDep
from tierflow.delivery.api.schemas import MilestoneCreate
from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.domain.models import Milestone
from tierflow.storage.projects_repo import ProjectsRepo

router = APIRouter(prefix="/projects/{ref}/milestones", tags=["milestones"])


def milestone_public(m: Milestone) -> dict[str, Any]:
    return {"id": m.id, "name": m.name, "created_at": m.created_at.isoformat(),
            "due": m.due.isoformat() if m.due else None}


@router.get("")
def list_milestones(ref: str, session: ReadSessionDep) -> dict[str, Any]:
    """The project's milestones, oldest first."""
    p = refs.project(session, ref)
    return {"milestones": [milestone_public(m) for m in ProjectsRepo(session).milestones(p.id)]}


@router.post("", status_code=201)
def create_milestone(ref: str, body: MilestoneCreate, session: TransactionDep) -> dict[str, Any]:
    """Add a milestone; its name is unique in the project."""
    p = refs.project(session, ref)
    repo = ProjectsRepo(session)
    name = body.name.strip()
    try:
        repo.milestone(p.id, name)
    except NotFound:
        return {"milestone": milestone_public(repo.milestone(p.id, name, create=True))}
    raise InvalidInput(f"milestone {name!r} already exists in {p.name}", field="name", fix="pick another name")
