"""Users, hashed tokens and membership on a real migrated database."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from tierflow.accounts.local import cli_principal
from tierflow.storage.users_repo import UsersRepo, authenticate
from tierflow.domain.access import LOCAL_ADMIN, NotSignedIn, can_read_project
from tierflow.domain.errors import InvalidInput, NotFound, PermissionDenied
from tierflow.domain.models import Role
from tierflow.storage.tables import ApiTokenRow


@pytest.fixture()
def team(db):
    """An admin, a lead and a designer, with one token each: {name: plain token}."""
    tokens = {}
    with db.transaction() as s:
        repo = UsersRepo(s)
        for name, role in (("ada", "admin"), ("lee", "lead"), ("dee", "designer")):
            repo.create(name, role)
            tokens[name] = repo.create_token(name, "test")[1]
    return tokens


def test_tokens_are_hashed_at_rest(db, team):
    with db.read() as s:
        stored = list(s.scalars(select(ApiTokenRow.token_hash)))
        raw = "\n".join(str(v) for row in s.execute(text("SELECT * FROM api_tokens")) for v in row)
    assert len(stored) == 3
    for plain in team.values():
        assert plain.startswith("tf_") and len(plain) > 40
        assert plain not in raw  # no column holds the secret
        assert hashlib.sha256(plain.encode()).hexdigest() in stored


def test_a_token_verifies_as_its_user_and_records_its_use(db, team):
    principal = authenticate(db, team["dee"])
    assert principal.name == "dee" and principal.role is Role.DESIGNER and not principal.local
    with db.read() as s:
        used = s.scalar(select(ApiTokenRow.last_used_at).where(ApiTokenRow.token_hash == hashlib.sha256(
            team["dee"].encode()).hexdigest()))
    assert used is not None


def test_revoked_token_is_rejected(db, team):
    with db.transaction() as s:
        repo = UsersRepo(s)
        token_id = repo.tokens("dee")[0].id
        first = repo.revoke(token_id).revoked_at
        assert repo.revoke(token_id).revoked_at == first  # idempotent
    with pytest.raises(NotSignedIn, match="was revoked") as e:
        authenticate(db, team["dee"])
    assert e.value.http_status == 401
    assert authenticate(db, team["lee"]).name == "lee"  # other tokens still work


@pytest.mark.parametrize("wrong", ["", "tf_" + "x" * 43, "not-a-token", None])
def test_wrong_token_is_rejected(db, team, wrong):
    with pytest.raises(NotSignedIn):
        authenticate(db, wrong)


def test_a_user_can_hold_several_tokens_each_shown_once(db, team):
    with db.transaction() as s:
        repo = UsersRepo(s)
        _, second = repo.create_token("dee", "laptop")
        assert [t.name for t in repo.tokens("dee")] == ["test", "laptop"]
    assert second != team["dee"] and authenticate(db, second).name == "dee"


def test_first_user_must_be_an_admin(db):
    with db.transaction() as s, pytest.raises(InvalidInput, match="first user must be an admin"):
        UsersRepo(s).create("dee", Role.DESIGNER)


def test_user_names_are_unique_and_checked(db, team):
    with db.transaction() as s:
        repo = UsersRepo(s)
        with pytest.raises(InvalidInput, match="already exists"):
            repo.create("dee", "designer")
        for bad in ("", "a b", "../x", "usr_1234567", "x" * 81):
            with pytest.raises(InvalidInput, match="user name"):
                repo.create(bad, "designer")
        with pytest.raises(InvalidInput, match="unknown role"):
            repo.create("zed", "owner")
        with pytest.raises(NotFound, match="no user 'nobody'"):
            repo.get("nobody")


def test_membership_makes_a_private_project_readable(db, team, projects):
    secret = projects["secret"]
    with pytest.raises(PermissionDenied):
        can_read_project(authenticate(db, team["dee"]), secret)
    with db.transaction() as s:
        assert UsersRepo(s).add_member("secret", "dee") is True
        assert UsersRepo(s).add_member("secret", "dee") is False
    can_read_project(authenticate(db, team["dee"]), secret)
    with db.transaction() as s:
        assert [u.name for u in UsersRepo(s).members("secret")] == ["dee"]
        assert UsersRepo(s).remove_member(secret.id, "dee") is True
        assert UsersRepo(s).remove_member(secret.id, "dee") is False
    with pytest.raises(PermissionDenied):
        can_read_project(authenticate(db, team["dee"]), secret)


def test_last_used_is_written_at_most_once_a_minute(db, team):
    import tierflow.storage.users_repo as users_repo

    authenticate(db, team["lee"])
    with db.read() as s:
        first = s.scalar(select(ApiTokenRow.last_used_at).where(ApiTokenRow.name == "test",
                                                                ApiTokenRow.token_hash == users_repo.hash_token(team["lee"])))
    authenticate(db, team["lee"])
    with db.read() as s:
        again = s.scalar(select(ApiTokenRow.last_used_at).where(ApiTokenRow.token_hash == users_repo.hash_token(team["lee"])))
    assert first == again and users_repo.TOUCH_EVERY == timedelta(seconds=60)


def test_cli_principal_local_admin_until_the_first_user_then_token(db):
    assert cli_principal(db, {}) is LOCAL_ADMIN
    with db.transaction() as s:
        UsersRepo(s).create("ada", "admin")
        _, plain = UsersRepo(s).create_token("ada")
    with pytest.raises(NotSignedIn, match="TIERFLOW_TOKEN"):
        cli_principal(db, {})
    assert cli_principal(db, {"TIERFLOW_TOKEN": plain}).name == "ada"
    with pytest.raises(NotSignedIn):
        cli_principal(db, {"TIERFLOW_TOKEN": plain + "x"})
