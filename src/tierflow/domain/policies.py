"""Project policies that make tiered work a discipline: draft-first, a cap on finals, overrides.

* **Draft-first** — a prompt thread needs ``min_drafts`` drafts before its first final render.
* **Final cap** — at most ``final_cap`` final renders per milestone (None: no cap).
* **Override** — a lead or admin may lift a block for one request, with a reason; the caller
  stores the :class:`AuditRecord` built by :func:`override_audit`.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tierflow.domain.errors import InvalidInput, PermissionDenied, PolicyBlocked
from tierflow.domain.ids import new_id
from tierflow.domain.models import Role

OVERRIDE_ROLES = (Role.LEAD, Role.ADMIN)
RULE_DRAFT_FIRST = "draft-first"
RULE_FINAL_CAP = "final-cap"
# How a lead lifts a block, in every door's words (the CLI flag and the REST field).
OVERRIDE_HINT = 'a lead runs it with --override "REASON" (REST: "override_reason"; written to the audit log)'


MAX_COUNT = 1_000_000  # draft minimums and final caps: far above any real project, inside every INTEGER


@dataclass(frozen=True)
class ProjectPolicy:
    """Per-project rules; ``low_credit_threshold`` is a fraction of the budget (0.1 = warn under 10%)."""

    min_drafts: int = 10
    final_cap: int | None = None
    low_credit_threshold: float = 0.1

    def __post_init__(self) -> None:
        if not _is_int(self.min_drafts) or not 0 <= self.min_drafts <= MAX_COUNT:
            raise InvalidInput(
                f"{self.min_drafts!r} is not a draft count", field="min_drafts",
                fix=f"use a whole number 0..{MAX_COUNT:,} (0: off)"
            )
        if self.final_cap is not None and (not _is_int(self.final_cap) or not 0 <= self.final_cap <= MAX_COUNT):
            raise InvalidInput(
                f"{self.final_cap!r} is not a cap", field="final_cap",
                fix=f"use a whole number 0..{MAX_COUNT:,}, or none: no cap"
            )
        t = self.low_credit_threshold
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or not 0 <= t < 1:
            raise InvalidInput(
                f"{t!r} is not a fraction", field="low_credit_threshold", fix="use a fraction of the budget, e.g. 0.1"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProjectPolicy:
        """Read stored or submitted settings; unknown keys are an error."""
        known = {"min_drafts", "final_cap", "low_credit_threshold"}
        unknown = set(data) - known
        if unknown:
            raise InvalidInput(
                f"unknown policy setting(s) {sorted(unknown)}", field="policy", fix=f"use {', '.join(sorted(known))}"
            )
        return cls(**dict(data))

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_drafts": self.min_drafts,
            "final_cap": self.final_cap,
            "low_credit_threshold": self.low_credit_threshold,
        }


@dataclass(frozen=True)
class Override:
    """A lead's or admin's permission to lift a policy block once, with the reason why."""

    user_id: str
    role: Role
    reason: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", _role(self.role))
        if self.role not in OVERRIDE_ROLES:
            raise PermissionDenied(
                f"a {self.role.value} cannot override a project policy",
                field="override",
                fix="ask a lead or admin to run it with --override --reason",
            )
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise InvalidInput("an override needs a reason", field="reason", fix='add --reason "why this is needed"')


@dataclass(frozen=True)
class AuditRecord:
    """One line of the audit log (the same fields as its storage row): who did what, and why."""

    id: str
    action: str
    user_id: str | None
    reason: str
    project_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "user_id": self.user_id,
            "reason": self.reason,
            "project_id": self.project_id,
            "detail": dict(self.detail),
            "created_at": self.created_at.isoformat(),
        }


def check_final_allowed(
    policy: ProjectPolicy,
    drafts_in_thread: int,
    finals_in_milestone: int | None,
    override: Override | None = None,
    *,
    finals_in_thread: int = 0,
    count: int = 1,
    milestone: str | None = None,
    project: str | None = None,
) -> list[str]:
    """Raise PolicyBlocked unless ``count`` finals may render; returns the rules an override lifted.

    ``finals_in_milestone``: finals already counted in the milestone the render counts against
    (the guard always resolves one: a render outside any milestone counts against the project's
    current one, so a cap that is set always holds); None only when no milestone is known at all.
    ``finals_in_thread`` > 0 means the thread already had its first final (draft-first is past).
    ``milestone`` and ``project`` are names for the message and the commands of the fix.
    """
    for name, value in (
        ("drafts_in_thread", drafts_in_thread),
        ("finals_in_thread", finals_in_thread),
        ("finals_in_milestone", finals_in_milestone),
    ):
        if value is not None and (not _is_int(value) or value < 0):
            raise InvalidInput(f"{value!r} is not a count", field=name, fix="use a whole number ≥ 0")
    if not _is_int(count) or count < 1:
        raise InvalidInput(f"{count!r} is not a count", field="count", fix="use a whole number ≥ 1")

    p = f" -p {shell_quote(project)}" if project else ""
    blocked: list[tuple[str, str, str, str]] = []
    if policy.min_drafts and finals_in_thread == 0 and drafts_in_thread < policy.min_drafts:
        missing = policy.min_drafts - drafts_in_thread
        blocked.append((
            RULE_DRAFT_FIRST, "min_drafts",
            f"draft-first: {drafts_in_thread} of {policy.min_drafts} drafts in this prompt thread",
            f"draft {missing} more (`tierflow draft{p} PROMPT -n {missing}`)",
        ))
    if policy.final_cap is not None and finals_in_milestone is not None:
        if finals_in_milestone + count > policy.final_cap:
            where = f"milestone {milestone!r}" if milestone else "this milestone"
            blocked.append((
                RULE_FINAL_CAP, "final_cap",
                f"final cap: {finals_in_milestone} of {policy.final_cap} finals used in {where}"
                + (f", {count} more requested" if count > 1 else ""),
                f"start a new milestone (`tierflow milestone create NAME{p}`) or raise the cap "
                f"(`tierflow policy{p} --final-cap {finals_in_milestone + count}`)",
            ))
    if not blocked or override is not None:
        return [rule for rule, _, _, _ in blocked]
    raise PolicyBlocked(
        "; ".join(message for _, _, message, _ in blocked),
        field=blocked[0][1],
        fix=" or ".join(fix for _, _, _, fix in blocked) + f", or {OVERRIDE_HINT}",
    )


def shell_quote(value: str) -> str:
    """``value`` as one shell word, so a command shown in a message runs when pasted."""
    return shlex.quote(value)


def override_audit(
    override: Override,
    rules: list[str],
    *,
    project_id: str | None = None,
    target_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditRecord:
    """The audit record for an override that lifted ``rules`` (from check_final_allowed)."""
    return AuditRecord(
        id=new_id("aud"),
        action="policy.override",
        user_id=override.user_id,
        reason=override.reason.strip(),
        project_id=project_id,
        detail={"role": override.role.value, "rules": list(rules), "target_id": target_id, **dict(details or {})},
        created_at=now or datetime.now(UTC),
    )


def check_can_edit_policy(role: Role | str) -> None:
    """Only leads and admins change a project's policy or budget (a designer cannot raise a cap)."""
    role = _role(role)
    if role not in OVERRIDE_ROLES:
        raise PermissionDenied(
            f"a {role.value} cannot change project caps, policies or budgets", field="role",
            fix="ask a lead or admin to make the change"
        )


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(
            f"unknown role {value!r}", field="role", fix=f"use one of {', '.join(r.value for r in Role)}"
        ) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
