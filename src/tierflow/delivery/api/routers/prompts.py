"""/prompts: every prompt ever run, newest first (restorable into a new draft)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tierflow.delivery.api import auth, refs
from tierflow.delivery.api.deps import ReadSessionDep
from tierflow.storage.projects_repo import ProjectsRepo

router = APIRouter(prefix="/prompts", tags=["prompts"])


@router.get("")
def list_prompts(session: ReadSessionDep, principal: auth.PrincipalDep, project: str | None = Query(None, max_length=200),
                 limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    """Prompt threads, newest first; ``parent_id`` links an edited prompt to the one it came from."""
    project_id = refs.project(session, project).id if project else None
    ids = auth.readable_ids(session, principal)
    return {"prompts": [
        {"id": p.id, "project_id": p.project_id, "text": p.text, "negative": p.negative, "parent_id": p.parent_id,
         "created_at": p.created_at.isoformat()}
        for p in ProjectsRepo(session).prompts(project_id, limit=limit) if auth.visible(ids, p.project_id)
    ]}
