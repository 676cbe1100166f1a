"""Who may do what: pure rules over a signed-in :class:`Principal` (no database, no web framework).

    rule                          designer            lead     admin
    read / render in a project    public or member    all      all
    change caps or budgets        no                  yes      yes
    override a blocking policy    no                  yes      yes
    add / remove project members  no                  yes      yes
    manage users and tokens       own tokens only     own      all

A private project's members form its team: a designer sees a private project only when they are
a member of it. Leads own the studio's compute budget, so they see every project. Each check
returns None when allowed and raises :class:`PermissionDenied` naming the rule and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tierflow.domain.errors import InvalidInput, PermissionDenied
from tierflow.domain.models import Project, Role

LEAD_ROLES = (Role.LEAD, Role.ADMIN)


class NotSignedIn(PermissionDenied):
    """No valid credentials at all (HTTP 401), as opposed to a role that may not act (403)."""

    http_status = 401
    kind = "unauthorized"


def role_of(value: Role | str) -> Role:
    """A Role from its name, or a one-line error listing the roles."""
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}", field="role",
                           fix=f"use one of {', '.join(r.value for r in Role)}") from None


@dataclass(frozen=True)
class Principal:
    """The signed-in user: who they are, their role and the projects they are a member of."""

    user_id: str
    name: str
    role: Role
    project_ids: frozenset[str] = field(default_factory=frozenset)
    local: bool = False  # the built-in admin of a single-user install (no accounts created yet)

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", role_of(self.role))
        object.__setattr__(self, "project_ids", frozenset(self.project_ids))

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "name": self.name, "role": self.role.value,
                "project_ids": sorted(self.project_ids), "local": self.local}

    def override(self, reason: str) -> dict[str, str]:
        """The ``plan.override`` the guard reads: this user's real role, never one the client claims."""
        return {"user": self.user_id, "role": self.role.value, "reason": reason}


# The single-user install: until the first account exists, the person at the machine is the admin.
LOCAL_ADMIN = Principal(user_id="local", name="local", role=Role.ADMIN, local=True)


def is_private(project: Project) -> bool:
    return bool(project.settings.get("private"))


def may_read_project(principal: Principal, project: Project) -> bool:
    """True when ``principal`` may see ``project`` (the filter form of :func:`can_read_project`)."""
    if principal.role in LEAD_ROLES or not is_private(project):
        return True
    return project.id in principal.project_ids


def can_read_project(principal: Principal, project: Project) -> None:
    """A designer reads public projects and the private projects of their own team (its members)."""
    if not may_read_project(principal, project):
        raise PermissionDenied(
            f"project {project.name!r} is private to its team and {principal.name!r} is not a member",
            field="project",
            fix=f"ask a lead to run `tierflow user member add {project.name} {principal.name}`",
        )


def readable(principal: Principal, projects: Iterable[Project]) -> list[Project]:
    """The projects ``principal`` may see, in the given order."""
    return [p for p in projects if may_read_project(principal, p)]


def can_render(principal: Principal, project: Project) -> None:
    """Rendering, reviewing and adding milestones need read access to the project (any role)."""
    can_read_project(principal, project)


def can_change_caps_or_budget(principal: Principal) -> None:
    """Only leads and admins change policies (draft-first minimum, final cap) or grant credits."""
    if principal.role not in LEAD_ROLES:
        raise PermissionDenied(
            f"a {principal.role.value} cannot change project caps, policies or budgets",
            field="role", fix="ask a lead or admin to make the change",
        )


def can_override_policy(principal: Principal) -> None:
    """Only leads and admins may lift a blocking policy (draft-first, final cap) for one request."""
    if principal.role not in LEAD_ROLES:
        raise PermissionDenied(
            f"a {principal.role.value} cannot override a project policy",
            field="override", fix="ask a lead or admin to render it with an override and a reason",
        )


def override_for(principal: Principal, reason: str | None) -> dict[str, str] | None:
    """The ``plan.override`` for a render request's ``override_reason`` (None: no override asked).

    Every door maps its override this way: only a lead or admin may ask, and the role is the
    principal's own, never one the client claims.
    """
    if reason is None or not str(reason).strip():
        return None
    can_override_policy(principal)
    return principal.override(str(reason).strip())


def can_manage_members(principal: Principal) -> None:
    """Leads and admins decide who is on a project's team."""
    if principal.role not in LEAD_ROLES:
        raise PermissionDenied(
            f"a {principal.role.value} cannot change project membership",
            field="role", fix="ask a lead or admin to add or remove the member",
        )


def can_manage_users(principal: Principal) -> None:
    """Only admins create users and issue or revoke other people's tokens."""
    if principal.role is not Role.ADMIN:
        raise PermissionDenied(
            f"a {principal.role.value} cannot manage users",
            field="role", fix="ask an admin (run the command with an admin's TIERFLOW_TOKEN)",
        )


def can_manage_tokens_of(principal: Principal, user_id: str) -> None:
    """Everyone manages their own tokens; only admins manage someone else's."""
    if principal.user_id != user_id:
        can_manage_users(principal)


def can_maintain(principal: Principal) -> None:
    """Only admins check and repair the whole install (fsck reads every project's assets)."""
    if principal.role is not Role.ADMIN:
        raise PermissionDenied(
            f"a {principal.role.value} cannot check or repair the install",
            field="role", fix="ask an admin (run it with an admin's TIERFLOW_TOKEN, or as the admin in the studio)",
        )
