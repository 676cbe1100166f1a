"""The seam where credits and policies plug into every stage run.

The runner calls these hooks inside its transactions; the guardrails implementation prices the
request, checks the project's policies, reserves credits together with the job row, and settles
or refunds afterwards. :class:`OpenGuard` counts nothing and blocks nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tierflow.app.ports import Guard, GuardedPlan, ProjectScoped, Reservation

__all__ = ["Guard", "OpenGuard", "ProjectScoped", "Reservation"]


class OpenGuard:
    """No prices, no limits: every render admitted, nothing reserved."""

    def quote(self, plan: GuardedPlan) -> float:
        return 0.0

    def admit(self, session: Session, plan: GuardedPlan, credits: float, generation_id: str) -> Reservation:
        return Reservation(id=None, credits=credits)

    def settle(self, session: Session, plan: GuardedPlan, reservation: Reservation, spent: float) -> None:
        return None

    def refund(self, session: Session, plan: GuardedPlan, reservation: Reservation) -> None:
        return None

    def status(self, session: Session, project_id: str) -> dict[str, Any]:
        return {}

    def refund_reservation(self, session: Session, reservation_id: str) -> bool:
        return False

    def refund_orphaned(self, session: Session) -> list[str]:
        return []

    def price_info(self, engine: Any) -> dict[str, Any]:
        return {"source": "free", "example": {"credits": 0.0}}
