"""The seam where credits and policies plug into every stage run.

The runner calls these hooks inside its transactions; the guardrails implementation prices the
request, checks the project's policies, reserves credits together with the job row, and settles
or refunds afterwards. :class:`OpenGuard` counts nothing and blocks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from tierflow.stages.runner import RenderPlan


@dataclass(frozen=True)
class ProjectScoped:
    """What settling or refunding needs to know of a render: its project (the ledger's lock scope)."""

    project_id: str


@dataclass
class Reservation:
    """Credits held for one generation until it is settled or refunded."""

    id: str | None
    credits: float
    warnings: list[str] = field(default_factory=list)


class Guard(Protocol):
    def quote(self, plan: RenderPlan) -> float:
        """Credits the plan will cost (nothing is reserved)."""

    def admit(self, session: Session, plan: RenderPlan, credits: float, generation_id: str) -> Reservation:
        """Check policies and budgets and reserve ``credits`` in the caller's transaction, or raise."""

    def settle(self, session: Session, plan: RenderPlan | ProjectScoped, reservation: Reservation,
               spent: float) -> None:
        """Commit ``spent`` credits of the reservation and release the rest."""

    def refund(self, session: Session, plan: RenderPlan | ProjectScoped, reservation: Reservation) -> None:
        """Release the whole reservation."""

    def status(self, session: Session, project_id: str) -> dict[str, Any]:
        """Budget and policy state for a project (for warnings and dashboards)."""

    def refund_reservation(self, session: Session, reservation_id: str) -> bool:
        """Release an open reservation by id (crash recovery); False when it is unknown or closed."""

    def refund_orphaned(self, session: Session) -> list[str]:
        """Release open reservations whose job is gone or ended; returns their ids."""

    def price_info(self, engine: Any) -> dict[str, Any]:
        """How an engine is priced, with an example (for `tierflow engines` and GET /engines)."""


class OpenGuard:
    """No prices, no limits: every render admitted, nothing reserved."""

    def quote(self, plan: RenderPlan) -> float:
        return 0.0

    def admit(self, session: Session, plan: RenderPlan, credits: float, generation_id: str) -> Reservation:
        return Reservation(id=None, credits=credits)

    def settle(self, session: Session, plan: RenderPlan, reservation: Reservation, spent: float) -> None:
        return None

    def refund(self, session: Session, plan: RenderPlan, reservation: Reservation) -> None:
        return None

    def status(self, session: Session, project_id: str) -> dict[str, Any]:
        return {}

    def refund_reservation(self, session: Session, reservation_id: str) -> bool:
        return False

    def refund_orphaned(self, session: Session) -> list[str]:
        return []

    def price_info(self, engine: Any) -> dict[str, Any]:
        return {"source": "free", "example": {"credits": 0.0}}
