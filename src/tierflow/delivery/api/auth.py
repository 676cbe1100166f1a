"""Who is calling, and may they touch this project: the REST API's authentication and authorization.

Credentials, in order: ``Authorization: Bearer tf_…``, then the studio's ``tierflow_token`` cookie
(set by ``/login``). Single-user mode: while the database has no users at all, every request is the
local admin, so a fresh install works with no set-up; once the first user exists, a request without
a valid token is 401 with the usual JSON error body.

:func:`authorize` is a router-wide dependency: it checks every project a URL names (path ``ref``,
``asset_id`` or ``job_id``, query ``project``) with :func:`tierflow.domain.access.can_read_project`.
Routes that list across projects filter with :func:`readable_ids`; role rules (caps, budgets,
overrides) are checked in their routes with the principal from :data:`PrincipalDep`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from tierflow.storage.users_repo import UsersRepo, authenticate
from tierflow.delivery.api.deps import ServicesDep
from tierflow.domain.access import LEAD_ROLES, LOCAL_ADMIN, NotSignedIn, Principal, can_read_project, readable
from tierflow.domain.models import Project
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo

COOKIE = "tierflow_token"


# Declared so OpenAPI (/docs) shows the bearer scheme and its "Authorize" button; parsing stays ours.
bearer_scheme = HTTPBearer(auto_error=False, description="An API token from `tierflow user token NAME`.")


def credentials(request: Request) -> str | None:
    """The token the request carries (bearer header first, then the studio cookie), or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE) or None


def signed_in(services, token: str | None) -> Principal:
    """The principal for ``token``; the local admin while no users exist; else NotSignedIn (401)."""
    with services.db.read() as s:
        if not UsersRepo(s).any_users():
            return LOCAL_ADMIN
    if not token:
        raise NotSignedIn("this tierflow has user accounts: the request needs an API token", field="authorization",
                          fix="send 'Authorization: Bearer <token>' (from `tierflow user token NAME`) "
                              "or sign in at /login")
    return authenticate(services.db, token)


def current_principal(request: Request, services: ServicesDep,
                      _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
                      ) -> Principal:
    """FastAPI dependency: the signed-in principal (also left on ``request.state.principal``)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = signed_in(services, credentials(request))
        request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def check_project(session: Session, principal: Principal, ref: str) -> Project:
    """The project ``ref`` (id or name) when ``principal`` may read it; PermissionDenied otherwise."""
    project = ProjectsRepo(session).get(ref)
    can_read_project(principal, project)
    return project


def readable_ids(session: Session, principal: Principal) -> set[str] | None:
    """Ids of the projects ``principal`` may read, or None when they may read every project."""
    if principal.role in LEAD_ROLES:
        return None
    return {p.id for p in readable(principal, ProjectsRepo(session).list())}


def _project_id_of(request: Request, session: Session) -> str | None:
    params = request.path_params
    if "ref" in params:
        return params["ref"]
    if "asset_id" in params:
        return AssetsRepo(session).project_of(params["asset_id"])
    if "job_id" in params:
        job_id = params["job_id"]
        jobs = getattr(request.app.state, "jobs", None)
        job = next((j for j in (jobs.jobs() if jobs else []) if job_id in (j.id, j.generation_id)), None)
        if job is not None:
            return job.project_id
        return GenerationsRepo(session).project_of(job_id)
    return None


def check_refs(services, principal: Principal, *refs: str | None, asset_id: str | None = None) -> None:
    """``principal`` may read each project named (id or name), and the project of ``asset_id``.

    Unknown references pass: the route answers the 404 with its own message.
    """
    if principal.role in LEAD_ROLES:
        return  # leads and admins read every project: no lookups needed
    from tierflow.domain.errors import NotFound

    with services.db.read() as s:
        if asset_id:
            refs = (*refs, AssetsRepo(s).project_of(asset_id))
        for ref in refs:
            if not ref:
                continue
            try:
                check_project(s, principal, ref)
            except NotFound:
                continue


def visible(ids: set[str] | None, project_id: str) -> bool:
    """Whether a row of ``project_id`` may be listed, given :func:`readable_ids`."""
    return ids is None or project_id in ids


async def authorize(request: Request, principal: PrincipalDep, services: ServicesDep) -> Principal:
    """Router dependency: the caller may read every project the URL names (path or ``?project=``).

    Async so that a lead or admin (no lookups) costs no hop to the thread pool; the lookups for
    everyone else run there.
    """
    if principal.role not in LEAD_ROLES:
        await run_in_threadpool(_authorize_refs, request, principal, services)
    return principal


def _authorize_refs(request: Request, principal: Principal, services) -> None:
    with services.db.read() as s:
        named = _project_id_of(request, s)
    check_refs(services, principal, named, request.query_params.get("project"))


AuthorizedDep = Annotated[Principal, Depends(authorize)]
