"""The access rules, one test per rule, on plain objects (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tierflow.domain import access
from tierflow.domain.access import Principal
from tierflow.domain.errors import InvalidInput, PermissionDenied
from tierflow.domain.models import Project, Role

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SECRET = Project(id="prj_0000000001", workspace_id="ws_1", name="secret", created_at=NOW, settings={"private": True})
OPEN = Project(id="prj_0000000002", workspace_id="ws_1", name="open", created_at=NOW, settings={"private": False})


def who(role: Role, *projects: Project) -> Principal:
    return Principal(user_id=f"usr_{role.value}", name=role.value, role=role, project_ids={p.id for p in projects})


def test_designer_cannot_change_caps_or_budgets():
    with pytest.raises(PermissionDenied, match="designer cannot change project caps") as e:
        access.can_change_caps_or_budget(who(Role.DESIGNER))
    assert e.value.fix and "lead" in e.value.fix and e.value.http_status == 403


def test_designer_cannot_override_a_policy():
    with pytest.raises(PermissionDenied, match="cannot override a project policy") as e:
        access.can_override_policy(who(Role.DESIGNER))
    assert e.value.field == "override"


def test_designer_cannot_read_another_teams_private_project():
    with pytest.raises(PermissionDenied, match="private to its team") as e:
        access.can_read_project(who(Role.DESIGNER), SECRET)
    assert "user member add secret designer" in e.value.fix
    with pytest.raises(PermissionDenied):
        access.can_render(who(Role.DESIGNER), SECRET)


def test_designer_reads_public_projects_and_their_own_teams_private_ones():
    access.can_read_project(who(Role.DESIGNER), OPEN)
    access.can_read_project(who(Role.DESIGNER, SECRET), SECRET)
    assert access.readable(who(Role.DESIGNER), [SECRET, OPEN]) == [OPEN]
    assert access.readable(who(Role.DESIGNER, SECRET), [SECRET, OPEN]) == [SECRET, OPEN]


@pytest.mark.parametrize("role", [Role.LEAD, Role.ADMIN])
def test_lead_and_admin_change_caps_override_and_read_every_project(role):
    p = who(role)
    access.can_change_caps_or_budget(p)
    access.can_override_policy(p)
    access.can_manage_members(p)
    access.can_read_project(p, SECRET)


def test_only_admin_manages_users():
    access.can_manage_users(who(Role.ADMIN))
    for role in (Role.DESIGNER, Role.LEAD):
        with pytest.raises(PermissionDenied, match=f"a {role.value} cannot manage users"):
            access.can_manage_users(who(role))


def test_everyone_manages_their_own_tokens_only():
    designer = who(Role.DESIGNER)
    access.can_manage_tokens_of(designer, designer.user_id)
    with pytest.raises(PermissionDenied):
        access.can_manage_tokens_of(designer, "usr_someoneelse")
    access.can_manage_tokens_of(who(Role.ADMIN), "usr_someoneelse")


def test_designer_cannot_manage_membership():
    with pytest.raises(PermissionDenied, match="membership"):
        access.can_manage_members(who(Role.DESIGNER))


def test_override_carries_the_principals_real_role():
    assert who(Role.DESIGNER).override("rush") == {"user": "usr_designer", "role": "designer", "reason": "rush"}


def test_unknown_role_is_rejected_with_the_roles_listed():
    with pytest.raises(InvalidInput, match="designer, lead, admin"):
        Principal(user_id="u", name="u", role="owner")


def test_local_admin_is_an_admin():
    assert access.LOCAL_ADMIN.role is Role.ADMIN and access.LOCAL_ADMIN.local
