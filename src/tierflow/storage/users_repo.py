"""Users, API tokens and project membership, stored with SQLAlchemy.

Tokens are ``tf_`` + 32 random bytes (urlsafe base64), shown once and stored only as their
SHA-256. A fast unsalted hash is enough here, unlike for passwords: a 256-bit random token cannot
be guessed or brute-forced from its hash, so a slow KDF would buy nothing, and an unsalted digest
lets a token be found by an indexed lookup (``token_hash`` is unique) instead of trying every row.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from tierflow.domain.access import NotSignedIn, Principal, role_of
from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.domain.ids import new_id
from tierflow.domain.models import Role
from tierflow.domain.names import check_name
from tierflow.storage.clock import aware, now
from tierflow.storage.projects_repo import ProjectsRepo
from tierflow.storage.tables import ApiTokenRow, ProjectMemberRow, ProjectRow, UserRow

TOKEN_PREFIX = "tf_"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
# last_used_at is a hint for people, not an audit trail: write it at most once a minute per token,
# so authenticated reads do not all queue for SQLite's write lock.
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    created_at: datetime
    project_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "role": self.role.value,
                "created_at": self.created_at.isoformat(), "project_ids": list(self.project_ids)}


@dataclass(frozen=True)
class ApiToken:
    """A token's record; the secret itself is never stored."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def to_dict(self) -> dict:
        iso = lambda d: d.isoformat() if d else None  # noqa: E731
        return {"id": self.id, "user_id": self.user_id, "name": self.name, "created_at": iso(self.created_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at)}


def hash_token(plain: str) -> str:
    """The stored form of a token (see the module docstring for why SHA-256 suffices)."""
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def _token(row: ApiTokenRow) -> ApiToken:
    return ApiToken(id=row.id, user_id=row.user_id, name=row.name, created_at=aware(row.created_at),
                    last_used_at=aware(row.last_used_at), revoked_at=aware(row.revoked_at))


class UsersRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    # -- users ------------------------------------------------------------------------------
    def any_users(self) -> bool:
        """False on a single-user install where no account was created yet."""
        return bool(self.s.scalar(select(exists().where(UserRow.id.is_not(None)))))

    def create(self, name: str, role: Role | str) -> User:
        """A new user; the first user must be an admin, or nobody could manage accounts afterwards."""
        role = role_of(role)
        name = check_name(name, "user name", max_length=80, id_prefix="usr_")
        if not _NAME_RE.match(name):  # user names also go into tokens' notes and sign-in forms: plain ASCII
            raise InvalidInput(f"{name!r} is not a usable user name", field="name",
                               fix="use 1-80 letters, digits, '.', '_' or '-', not starting with 'usr_'")
        if self.s.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
            raise InvalidInput(f"a user named {name!r} already exists", field="name",
                               fix="pick another name, or issue a token with `tierflow user token NAME`")
        if role is not Role.ADMIN and not self.any_users():
            raise InvalidInput(f"the first user must be an admin, not a {role.value}", field="role",
                               fix=f"create an admin first: `tierflow user create NAME --role admin`")
        row = UserRow(id=new_id("usr"), workspace_id=ProjectsRepo(self.s).workspace().id, name=name,
                      role=role.value, created_at=now())
        self.s.add(row)
        self.s.flush()
        return self._user(row)

    def row(self, ref: str) -> UserRow:
        """A user by id (``usr_…``) or name."""
        row = self.s.get(UserRow, ref) if ref.startswith("usr_") else None
        if row is None:
            row = self.s.scalar(select(UserRow).where(UserRow.name == ref))
        if row is None:
            raise NotFound(f"no user {ref!r}", field="user", fix="see `tierflow user list`")
        return row

    def get(self, ref: str) -> User:
        return self._user(self.row(ref))

    def list(self) -> list[User]:
        return [self._user(r) for r in self.s.scalars(select(UserRow).order_by(UserRow.created_at, UserRow.name))]

    def principal(self, ref: str) -> Principal:
        """The user as a :class:`Principal` (role and project memberships) for the access rules."""
        user = self.get(ref)
        return Principal(user_id=user.id, name=user.name, role=user.role, project_ids=frozenset(user.project_ids))

    def _user(self, row: UserRow) -> User:
        ids = self.s.scalars(select(ProjectMemberRow.project_id).where(ProjectMemberRow.user_id == row.id)
                             .order_by(ProjectMemberRow.project_id))
        return User(id=row.id, name=row.name, role=Role(row.role), created_at=aware(row.created_at),
                    project_ids=tuple(ids))

    # -- membership -------------------------------------------------------------------------
    def add_member(self, project: str, user: str) -> bool:
        """Put ``user`` on ``project``'s team; False when they already were."""
        p, u = ProjectsRepo(self.s).row(project), self.row(user)
        if self.s.get(ProjectMemberRow, (p.id, u.id)) is not None:
            return False
        self.s.add(ProjectMemberRow(project_id=p.id, user_id=u.id))
        self.s.flush()
        return True

    def remove_member(self, project: str, user: str) -> bool:
        """Take ``user`` off ``project``'s team; False when they were not on it."""
        p, u = ProjectsRepo(self.s).row(project), self.row(user)
        gone = self.s.execute(delete(ProjectMemberRow).where(ProjectMemberRow.project_id == p.id,
                                                             ProjectMemberRow.user_id == u.id))
        return bool(gone.rowcount)

    def members(self, project: str) -> list[User]:
        p: ProjectRow = ProjectsRepo(self.s).row(project)
        rows = self.s.scalars(select(UserRow).join(ProjectMemberRow, ProjectMemberRow.user_id == UserRow.id)
                              .where(ProjectMemberRow.project_id == p.id).order_by(UserRow.name))
        return [self._user(r) for r in rows]

    # -- tokens -----------------------------------------------------------------------------
    def create_token(self, user: str, name: str = "") -> tuple[ApiToken, str]:
        """Issue a token for ``user``: returns its record and the plain token, which is never shown again."""
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidInput("a token label is at most 200 characters", field="name", fix="use a shorter --name")
        u = self.row(user)
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(id=new_id("tok"), user_id=u.id, token_hash=hash_token(plain), name=name,
                          created_at=now())
        self.s.add(row)
        self.s.flush()
        return _token(row), plain

    def tokens(self, user: str) -> list[ApiToken]:
        u = self.row(user)
        rows = self.s.scalars(select(ApiTokenRow).where(ApiTokenRow.user_id == u.id)
                              .order_by(ApiTokenRow.created_at))
        return [_token(r) for r in rows]

    def token(self, token_id: str) -> ApiToken:
        row = self.s.get(ApiTokenRow, token_id) if isinstance(token_id, str) else None
        if row is None:
            raise NotFound(f"no token {token_id!r}", field="token_id",
                           fix="pass a token id (tok_…) as shown by `tierflow user token` or `user list --json`")
        return _token(row)

    def revoke(self, token_id: str) -> ApiToken:
        """Revoke a token (idempotent: the first revocation time is kept)."""
        self.token(token_id)
        row = self.s.get(ApiTokenRow, token_id)
        if row.revoked_at is None:
            row.revoked_at = now()
            self.s.flush()
        return _token(row)

    def verify(self, plain: str | None, *, touch: bool = True) -> Principal:
        """The principal a plain token belongs to; NotSignedIn when it is unknown or revoked."""
        if not plain or not isinstance(plain, str) or not plain.startswith(TOKEN_PREFIX) or len(plain) > 200:
            raise NotSignedIn("that is not a tierflow API token", field="token",
                              fix="pass a token from `tierflow user token NAME` (it starts with 'tf_')")
        row = self.s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(plain)))
        if row is None:
            raise NotSignedIn("unknown API token", field="token",
                              fix="check for a typo, or ask an admin for a new one with `tierflow user token NAME`")
        if row.revoked_at is not None:
            raise NotSignedIn(f"API token {row.id} was revoked", field="token",
                              fix="ask an admin for a new one with `tierflow user token NAME`")
        if touch and needs_touch(row.last_used_at):
            row.last_used_at = now()
            self.s.flush()
        return self.principal(row.user_id)

    def touch(self, plain: str) -> None:
        """Record that a token was just used (call in a write transaction)."""
        row = self.s.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(plain)))
        if row is not None and needs_touch(row.last_used_at):
            row.last_used_at = now()


def needs_touch(last_used_at: datetime | None) -> bool:
    last = aware(last_used_at)
    return last is None or now() - last >= TOUCH_EVERY


def authenticate(db, plain: str | None) -> Principal:
    """Verify ``plain`` in a read transaction; take the write lock only when last_used_at is stale."""
    with db.read() as s:
        principal = UsersRepo(s).verify(plain, touch=False)
        row = s.scalar(select(ApiTokenRow.last_used_at).where(ApiTokenRow.token_hash == hash_token(plain)))
    if needs_touch(row):
        with db.transaction() as s:
            UsersRepo(s).touch(plain)
    return principal
