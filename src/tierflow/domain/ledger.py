"""The credit ledger: append-only entries, and balances derived from them.

Nothing is ever updated in place. A render touches every scope it counts against (workspace,
project, milestone, the user's UTC day) with one entry per scope, all sharing a reservation id::

    grant    +budget           a lead sets or tops up a budget (no grant: the scope is unlimited)
    adjust   ±amount           a manual correction, with a note
    reserve  amount            before the render runs (checked with check_can_reserve)
    commit   spent ≤ reserved  the render succeeded; the unused part of the reservation is released
    refund   reserved          the render failed or was cancelled; all of it is released

A reservation is open until exactly one commit or refund closes it. Per scope::

    reserved  = Σ amounts of open reservations
    spent     = Σ commits
    remaining = granted + adjusted − spent − reserved        (None when unlimited)

Reservations alone never push ``remaining`` below zero. It can go negative only when a budget is
set or lowered below what is already counted (an unlimited project still counts its spend); that
is shown as is, and every further reservation is refused until credits are granted.

Storage keeps these rows and, inside one transaction that serialises writers of the same scopes,
calls :func:`derive_balance` → :func:`check_can_reserve` → :func:`reserve`, then later
:func:`commit` or :func:`refund` with the reservation's rows.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime

from tierflow.domain.errors import BudgetExhausted, InvalidInput
from tierflow.domain.ids import new_id

# Credits are floats rounded to 6 digits (see pricing); this absorbs float summation noise.
EPSILON = 1e-6


class EntryKind(str, enum.Enum):
    GRANT = "grant"
    RESERVE = "reserve"
    COMMIT = "commit"
    REFUND = "refund"
    ADJUST = "adjust"


class Scope(str, enum.Enum):
    WORKSPACE = "workspace"
    PROJECT = "project"
    MILESTONE = "milestone"
    USER_DAY = "user-day"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LedgerEntry:
    """One append-only ledger row."""

    id: str
    scope: Scope
    scope_id: str
    kind: EntryKind
    amount: float
    reservation_id: str | None = None
    generation_id: str | None = None
    user_id: str | None = None
    created_at: datetime = field(default_factory=_utcnow)
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _enum(Scope, self.scope, "scope"))
        object.__setattr__(self, "kind", _enum(EntryKind, self.kind, "kind"))
        if not self.scope_id:
            raise InvalidInput("a ledger entry needs a scope id", field="scope_id", fix="pass the scope's id")
        if not isinstance(self.amount, (int, float)) or isinstance(self.amount, bool) or not math.isfinite(self.amount):
            raise InvalidInput(f"{self.amount!r} is not an amount", field="amount", fix="use a finite number")
        if self.kind is not EntryKind.ADJUST and self.amount < 0:
            raise InvalidInput(
                f"a {self.kind.value} of {self.amount:g} credits", field="amount", fix="amounts are ≥ 0; use adjust"
            )
        if self.kind in (EntryKind.RESERVE, EntryKind.COMMIT, EntryKind.REFUND) and not self.reservation_id:
            raise InvalidInput(
                f"a {self.kind.value} entry needs a reservation id", field="reservation_id", fix="pass the reservation"
            )

    @classmethod
    def from_row(cls, row: object) -> LedgerEntry:
        """Read any object with the entry's attributes (a storage row)."""
        return cls(**{name: getattr(row, name) for name in _ENTRY_FIELDS})

    def to_row(self) -> dict:
        """Plain column values (enums as strings, datetimes kept) for a storage row."""
        row = {name: getattr(self, name) for name in _ENTRY_FIELDS}
        return {**row, "scope": self.scope.value, "kind": self.kind.value}

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "scope": self.scope.value,
            "scope_id": self.scope_id,
            "kind": self.kind.value,
            "amount": self.amount,
            "reservation_id": self.reservation_id,
            "generation_id": self.generation_id,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "note": self.note,
        }


_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))


@dataclass(frozen=True)
class ScopeKey:
    """Which budget an entry counts against."""

    scope: Scope
    scope_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", _enum(Scope, self.scope, "scope"))

    @classmethod
    def user_day(cls, user_id: str, when: datetime) -> ScopeKey:
        """The user's daily-limit scope for the UTC date of ``when``."""
        return cls(Scope.USER_DAY, user_day_id(user_id, when))

    def __str__(self) -> str:
        return f"{self.scope.value} {self.scope_id}"


def user_day_id(user_id: str, when: datetime | date) -> str:
    """``user:YYYY-MM-DD`` with the UTC date (naive datetimes are taken as UTC)."""
    if isinstance(when, datetime):
        when = (when.astimezone(UTC) if when.tzinfo else when).date()
    return f"{user_id}:{when.isoformat()}"


@dataclass(frozen=True)
class Balance:
    """A scope's credits as derived from its entries."""

    scope: Scope
    scope_id: str
    granted: float = 0.0
    adjusted: float = 0.0
    reserved: float = 0.0
    spent: float = 0.0
    unlimited: bool = True

    @property
    def key(self) -> ScopeKey:
        return ScopeKey(self.scope, self.scope_id)

    @property
    def budget(self) -> float | None:
        """Granted plus adjustments; None when unlimited."""
        return None if self.unlimited else round(self.granted + self.adjusted, 6)

    @property
    def remaining(self) -> float | None:
        """Credits that can still be reserved; None when unlimited."""
        if self.unlimited:
            return None
        return round(self.granted + self.adjusted - self.spent - self.reserved, 6)

    def to_dict(self) -> dict:
        return {
            "scope": self.scope.value,
            "scope_id": self.scope_id,
            "granted": self.granted,
            "adjusted": self.adjusted,
            "reserved": self.reserved,
            "spent": self.spent,
            "remaining": self.remaining,
            "unlimited": self.unlimited,
        }


def derive_balance(
    entries: Iterable[LedgerEntry], scope: Scope | str, scope_id: str, *, limit: float | None = None
) -> Balance:
    """The balance of one scope; entries of other scopes are skipped.

    ``limit`` adds a budget that is not stored as grants (a user's daily limit from settings);
    a scope with neither grants nor a limit is unlimited but still counted.
    """
    scope = _enum(Scope, scope, "scope")
    mine = [e for e in entries if e.scope is scope and e.scope_id == scope_id]
    grants = [e.amount for e in mine if e.kind is EntryKind.GRANT]
    if limit is not None and (not isinstance(limit, (int, float)) or limit < 0):
        raise InvalidInput(f"{limit!r} is not a limit", field="limit", fix="use a number ≥ 0 or None for no limit")
    return Balance(
        scope=scope,
        scope_id=scope_id,
        granted=_sum([*grants, limit or 0.0]),
        adjusted=_sum(e.amount for e in mine if e.kind is EntryKind.ADJUST),
        reserved=_sum(open_reservations(mine).values()),
        spent=_sum(e.amount for e in mine if e.kind is EntryKind.COMMIT),
        unlimited=not grants and limit is None,
    )


def open_reservations(entries: Iterable[LedgerEntry]) -> dict[str, float]:
    """Reservation id → reserved amount, for reservations with no commit or refund yet (one scope)."""
    reserved: dict[str, float] = {}
    closed: set[str] = set()
    for e in entries:
        if e.kind is EntryKind.RESERVE:
            reserved[e.reservation_id] = reserved.get(e.reservation_id, 0.0) + e.amount
        elif e.kind in (EntryKind.COMMIT, EntryKind.REFUND):
            closed.add(e.reservation_id)
    return {rid: amount for rid, amount in reserved.items() if rid not in closed}


def check_can_reserve(balances: Sequence[Balance], amount: float) -> None:
    """Raise BudgetExhausted naming the tightest scope that cannot cover ``amount``."""
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount) or amount < 0:
        raise InvalidInput(f"{amount!r} is not an amount of credits", field="amount", fix="use a number ≥ 0")
    short = [b for b in balances if not b.unlimited and amount > b.remaining + EPSILON]
    if not short:
        return
    b = min(short, key=lambda b: b.remaining)
    raise BudgetExhausted(
        f"{b.scope.value} {b.scope_id} has {_fmt(max(b.remaining, 0.0))} credits left, this needs {_fmt(amount)}",
        field="credits",
        fix=_fix_for(b),
    )


def reserve(
    scopes: Sequence[ScopeKey],
    amount: float,
    *,
    reservation_id: str | None = None,
    generation_id: str | None = None,
    user_id: str | None = None,
    now: datetime | None = None,
    note: str = "",
) -> list[LedgerEntry]:
    """One reserve entry per scope, sharing a reservation id (check_can_reserve first)."""
    if not scopes:
        raise InvalidInput("a reservation needs at least one scope", field="scopes", fix="pass the project's scopes")
    if len(set(scopes)) != len(scopes):
        raise InvalidInput("a scope is named twice", field="scopes", fix="pass each scope once")
    rid = reservation_id or new_id("rsv")
    now = now or _utcnow()
    kind = EntryKind.RESERVE
    return [
        LedgerEntry(new_id("led"), k.scope, k.scope_id, kind, amount, rid, generation_id, user_id, now, note)
        for k in scopes
    ]


def commit(
    reservation: Sequence[LedgerEntry], amount: float, *, now: datetime | None = None, note: str = ""
) -> list[LedgerEntry]:
    """One commit entry per reserved scope; ``amount`` ≤ the reservation, the rest is released."""
    reserves = _open_reserves(reservation)
    for r in reserves:
        if amount > r.amount + EPSILON:
            raise InvalidInput(
                f"commit of {_fmt(amount)} credits exceeds reservation {r.reservation_id} of {_fmt(r.amount)}",
                field="amount",
                fix="reserve the full price before rendering; commit at most what was reserved",
            )
    return [_closing(r, EntryKind.COMMIT, amount, now, note) for r in reserves]


def refund(reservation: Sequence[LedgerEntry], *, now: datetime | None = None, note: str = "") -> list[LedgerEntry]:
    """One refund entry per reserved scope, releasing all of it (failed or cancelled render)."""
    return [_closing(r, EntryKind.REFUND, r.amount, now, note) for r in _open_reserves(reservation)]


def grant(
    scope: ScopeKey, amount: float, *, user_id: str | None = None, note: str = "", now: datetime | None = None
) -> LedgerEntry:
    """A grant entry: the scope's budget grows by ``amount`` (its first grant makes it limited)."""
    return LedgerEntry(
        new_id("led"), scope.scope, scope.scope_id, EntryKind.GRANT, amount,
        user_id=user_id, created_at=now or _utcnow(), note=note,
    )


def adjust(
    scope: ScopeKey, amount: float, *, note: str, user_id: str | None = None, now: datetime | None = None
) -> LedgerEntry:
    """A signed manual correction; the note saying why is required."""
    if not note.strip():
        raise InvalidInput("an adjustment needs a note", field="note", fix="say why the credits change")
    return LedgerEntry(
        new_id("led"), scope.scope, scope.scope_id, EntryKind.ADJUST, amount,
        user_id=user_id, created_at=now or _utcnow(), note=note,
    )


def ledger_problems(entries: Iterable[LedgerEntry]) -> list[str]:
    """Broken invariants, one line each: closes without a reserve, double closes, over-commits."""
    problems: list[str] = []
    reserved: dict[tuple, float] = {}
    closes: dict[tuple, list[LedgerEntry]] = {}
    for e in entries:
        key = (e.scope, e.scope_id, e.reservation_id)
        if e.kind is EntryKind.RESERVE:
            if key in reserved:
                problems.append(f"reservation {e.reservation_id} reserved twice in {e.scope.value} {e.scope_id}")
            reserved[key] = e.amount
        elif e.kind in (EntryKind.COMMIT, EntryKind.REFUND):
            closes.setdefault(key, []).append(e)
    for (scope, scope_id, rid), closing in closes.items():
        where = f"{scope.value} {scope_id}"
        if (scope, scope_id, rid) not in reserved:
            problems.append(f"reservation {rid} closed in {where} but never reserved there")
            continue
        if len(closing) > 1:
            problems.append(f"reservation {rid} closed {len(closing)} times in {where}")
        amount = reserved[(scope, scope_id, rid)]
        for c in closing:
            if c.kind is EntryKind.COMMIT and c.amount > amount + EPSILON:
                problems.append(f"reservation {rid} committed {_fmt(c.amount)} of {_fmt(amount)} in {where}")
            if c.kind is EntryKind.REFUND and abs(c.amount - amount) > EPSILON:
                problems.append(f"reservation {rid} refunded {_fmt(c.amount)} of {_fmt(amount)} in {where}")
    return problems


def warnings_for(
    balance: Balance, threshold_fraction: float = 0.1, threshold_absolute: float | None = None
) -> list[str]:
    """Low-credit warnings: remaining under a fraction of the budget, or under an absolute amount."""
    if balance.unlimited:
        return []
    budget, remaining = balance.budget, balance.remaining
    where = f"{balance.scope.value} {balance.scope_id}"
    if remaining <= EPSILON:
        return [f"{where}: no credits left ({_fmt(max(remaining, 0.0))} of {_fmt(budget)}) — {_fix_for(balance)}"]
    low = remaining < threshold_fraction * budget
    if threshold_absolute is not None:
        low = low or remaining < threshold_absolute
    if not low:
        return []
    share = f" ({remaining / budget:.0%})" if budget > 0 else ""
    return [f"{where}: low credits — {_fmt(remaining)} of {_fmt(budget)} left{share}"]


def _open_reserves(reservation: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    """The reserve entries of one reservation, checked to be open (one per scope)."""
    rids = {e.reservation_id for e in reservation}
    if len(rids) != 1 or None in rids:
        raise InvalidInput(
            "pass the entries of exactly one reservation", field="reservation_id", fix="select entries by reservation"
        )
    rid = rids.pop()
    reserves = [e for e in reservation if e.kind is EntryKind.RESERVE]
    if not reserves:
        raise InvalidInput(f"reservation {rid} has no reserve entry", field="reservation_id", fix="reserve first")
    closed = [e for e in reservation if e.kind in (EntryKind.COMMIT, EntryKind.REFUND)]
    if closed:
        raise InvalidInput(
            f"reservation {rid} is already closed by a {closed[0].kind.value}",
            field="reservation_id",
            fix="a reservation is committed or refunded exactly once",
        )
    return reserves


def _closing(r: LedgerEntry, kind: EntryKind, amount: float, now: datetime | None, note: str) -> LedgerEntry:
    return LedgerEntry(
        new_id("led"), r.scope, r.scope_id, kind, amount, r.reservation_id, r.generation_id, r.user_id,
        now or _utcnow(), note,
    )


def _fix_for(b: Balance) -> str:
    if b.scope is Scope.USER_DAY:
        return "the daily limit resets at 00:00 UTC, or ask a lead to raise it"
    return f"render fewer, smaller or with fewer steps, or ask a lead to grant more credits to the {b.scope.value}"


def _sum(values: Iterable[float]) -> float:
    return round(math.fsum(values), 6)


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _enum(cls, value, name: str):
    try:
        return cls(value)
    except ValueError:
        raise InvalidInput(
            f"unknown {name} {value!r}", field=name, fix=f"use one of {', '.join(m.value for m in cls)}"
        ) from None
