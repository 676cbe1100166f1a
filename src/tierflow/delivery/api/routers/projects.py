"""/projects: create, list and show projects."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from tierflow.delivery.api import refs
from tierflow.delivery.api.auth import PrincipalDep
from tierflow.delivery.api.deps import ReadSessionDep, TransactionDep
from tierflow.delivery.api.schemas import ProjectCreate, project_public
from tierflow.domain.access import readable
from tierflow.storage.projects_repo import ProjectsRepo

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("")
def list_projects(session: ReadSessionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Every project with its asset counts per stage."""
    repo = ProjectsRepo(session)
    return {"projects": [project_public(p, repo.counts(p.id)) for p in readable(principal, repo.list())]}


@router.post("", status_code=201)
def create_project(body: ProjectCreate, session: TransactionDep, principal: PrincipalDep) -> dict[str, Any]:
    """Create a project (names are unique in the workspace)."""
    p = ProjectsRepo(session).create(body.name, description=body.description, min_drafts=body.min_drafts,
                                     final_cap=body.final_cap, private=body.private)
    if not principal.local:  # the creator is on the new project's team (or could not see a private one)
        from tierflow.storage.users_repo import UsersRepo

        UsersRepo(session).add_member(p.id, principal.user_id)
    return {"project": project_public(p, {})}


@router.get("/{ref}")
def show_project(ref: str, session: ReadSessionDep) -> dict[str, Any]:
    """A project with asset counts per stage and its milestones."""
    p = refs.project(session, ref)
    repo = ProjectsRepo(session)
    milestones = [{"id": m.id, "name": m.name, "created_at": m.created_at.isoformat()}
                  for m in repo.milestones(p.id)]
    return {"project": project_public(p, repo.counts(p.id)) | {"milestones": milestones}}
