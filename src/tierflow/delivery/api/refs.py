"""Resolving the references a URL carries (project by id or name) with the same checks everywhere."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import check_id
from tierflow.domain.models import Project
from tierflow.storage.projects_repo import ProjectsRepo


def project(session: Session, ref: str) -> Project:
    """A project by id (``prj_…``, validated) or by name."""
    if ref.startswith("prj_"):
        check_id(ref, "project")
    elif not ref.strip() or len(ref) > 200 or "/" in ref or "\\" in ref:
        raise InvalidInput(f"{ref[:60]!r} is not a project id or name", field="project",
                           fix="pass a project id (prj_…) or its name")
    return ProjectsRepo(session).get(ref)


def check_ref(ref: str) -> str:
    """``ref`` is shaped like a project id or name (the use case then looks it up); returns it."""
    if ref.startswith("prj_"):
        check_id(ref, "project")
    elif not ref.strip() or len(ref) > 200 or "/" in ref or "\\" in ref:
        raise InvalidInput(f"{ref[:60]!r} is not a project id or name", field="project",
                           fix="pass a project id (prj_…) or its name")
    return ref
