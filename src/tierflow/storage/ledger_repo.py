"""The credit ledger in SQL: append entries, load them by scope or reservation, derive balances."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from tierflow.domain.errors import InvalidInput, NotFound
from tierflow.domain.ledger import Balance, EntryKind, LedgerEntry, Scope, ScopeKey, derive_balance, grant
from tierflow.domain.models import Project
from tierflow.storage.clock import aware
from tierflow.storage.projects_repo import to_project
from tierflow.storage.tables import LedgerEntryRow, MilestoneRow, ProjectRow, WorkspaceRow


def _entry(row: LedgerEntryRow) -> LedgerEntry:
    # SQLite hands back naive datetimes; the ledger's user-day scope needs UTC.
    return replace(LedgerEntry.from_row(row), created_at=aware(row.created_at))


class LedgerRepo:
    """Ledger rows of one session; callers hold the project lock (:meth:`lock`) around check → reserve."""

    def __init__(self, session: Session) -> None:
        self.s = session

    def lock(self, project_id: str) -> Project:
        """Serialise credit writers of a project and its workspace until the transaction ends.

        PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` on the workspace row, then the project row
        (always in that order). NO KEY UPDATE conflicts with itself, so credit writers queue up, but
        not with the KEY SHARE lock that inserting a row referencing the project takes: the job row
        that the same transaction inserted before reserving cannot deadlock against another
        writer's lock (a plain FOR UPDATE did, in the process race test). SQLite: the dialect
        renders no lock clause, and none is needed, since every write transaction is BEGIN IMMEDIATE.
        """
        project = self.s.scalar(select(ProjectRow).where(ProjectRow.id == project_id))
        if project is None:
            raise NotFound(f"no project {project_id!r}", field="project", fix="see `tierflow project list`")
        self.s.scalar(select(WorkspaceRow.id).where(WorkspaceRow.id == project.workspace_id)
                      .with_for_update(key_share=True))
        locked = self.s.scalar(select(ProjectRow).where(ProjectRow.id == project_id).with_for_update(key_share=True))
        assert locked is not None
        return to_project(locked)

    def project(self, project_id: str) -> Project:
        """The project (no lock)."""
        row = self.s.get(ProjectRow, project_id)
        if row is None:
            raise NotFound(f"no project {project_id!r}", field="project", fix="see `tierflow project list`")
        return to_project(row)

    def append(self, entries: Iterable[LedgerEntry]) -> None:
        """Add entries; the ledger is append-only, nothing here updates or deletes."""
        for e in entries:
            self.s.add(LedgerEntryRow(**e.to_row()))
        self.s.flush()

    def for_scopes(self, keys: Sequence[ScopeKey]) -> list[LedgerEntry]:
        if not keys:
            return []
        cond = or_(*[(LedgerEntryRow.scope == k.scope.value) & (LedgerEntryRow.scope_id == k.scope_id)
                     for k in keys])
        rows = self.s.scalars(select(LedgerEntryRow).where(cond).order_by(LedgerEntryRow.created_at))
        return [_entry(r) for r in rows]

    def for_reservation(self, reservation_id: str) -> list[LedgerEntry]:
        rows = self.s.scalars(select(LedgerEntryRow).where(LedgerEntryRow.reservation_id == reservation_id)
                              .order_by(LedgerEntryRow.created_at))
        return [_entry(r) for r in rows]

    def balance(self, key: ScopeKey, *, limit: float | None = None) -> Balance:
        """One scope's balance, derived from its rows (``limit``: a daily limit not stored as grants)."""
        return derive_balance(self.for_scopes([key]), key.scope, key.scope_id, limit=limit)

    def balances(self, keys: Sequence[ScopeKey], limits: dict[ScopeKey, float] | None = None) -> list[Balance]:
        entries = self.for_scopes(keys)
        limits = limits or {}
        return [derive_balance(entries, k.scope, k.scope_id, limit=limits.get(k)) for k in keys]

    def grant(self, key: ScopeKey, amount: float, *, user_id: str | None = None, note: str = "") -> LedgerEntry:
        """Append a grant of ``amount`` > 0 credits to ``key``."""
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
            raise InvalidInput(f"{amount!r} is not a grant", field="grant",
                               fix="grant a positive number of credits, e.g. --grant 500")
        entry = grant(key, float(amount), user_id=user_id, note=note)
        self.append([entry])
        return entry

    def scope_ids(self, scope: Scope) -> list[str]:
        """Every scope id of ``scope`` that has ledger rows."""
        return list(self.s.scalars(select(LedgerEntryRow.scope_id).where(LedgerEntryRow.scope == scope.value)
                                   .distinct()))

    def open_reservation_ids(self) -> list[str]:
        """Reservations with a reserve entry and no commit or refund yet (any scope)."""
        # One grouped query (every start runs it through the guard's orphan sweep): the database
        # aggregates the ledger instead of this process loading every reservation id ever made.
        closing = case((LedgerEntryRow.kind.in_([EntryKind.COMMIT.value, EntryKind.REFUND.value]), 1), else_=0)
        reserving = case((LedgerEntryRow.kind == EntryKind.RESERVE.value, 1), else_=0)
        query = (select(LedgerEntryRow.reservation_id)
                 .where(LedgerEntryRow.reservation_id.is_not(None))
                 .group_by(LedgerEntryRow.reservation_id)
                 .having(func.sum(reserving) > 0, func.sum(closing) == 0)
                 .order_by(LedgerEntryRow.reservation_id))
        return list(self.s.scalars(query))

    def project_entries(self, project_id: str, *, limit: int = 500) -> list[LedgerEntry]:
        """Entries of the project's scope and its milestones' scopes, newest first (the ledger page)."""
        milestones = select(MilestoneRow.id).where(MilestoneRow.project_id == project_id)
        rows = self.s.scalars(
            select(LedgerEntryRow)
            .where(or_((LedgerEntryRow.scope == Scope.PROJECT.value) & (LedgerEntryRow.scope_id == project_id),
                       (LedgerEntryRow.scope == Scope.MILESTONE.value) & LedgerEntryRow.scope_id.in_(milestones)))
            .order_by(LedgerEntryRow.created_at.desc(), LedgerEntryRow.id.desc()).limit(limit))
        return [_entry(r) for r in rows]
