"""What the guard reads and writes about a generation's charge (kept out of the guard's SQL-free code)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from tierflow.domain.pricing import CREDIT_DIGITS
from tierflow.storage.tables import AssetRow, GenerationRow


class ChargesRepo:
    def __init__(self, session: Session) -> None:
        self.s = session

    def status(self, generation_id: str) -> str | None:
        """The generation's job status, or None when it has no row."""
        return self.s.scalar(select(GenerationRow.status).where(GenerationRow.id == generation_id))

    def reported_credits(self, generation_id: str) -> float | None:
        """Σ credits the provider reported for the generation's outputs, or None if any output has none."""
        params = list(self.s.scalars(select(AssetRow.params).where(AssetRow.generation_id == generation_id)))
        values = [(p or {}).get("credits") for p in params]
        if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values):
            return None
        return round(sum(values), CREDIT_DIGITS)

    def set_charged(self, generation_id: str, credits: float) -> None:
        """The generation's credits are what was really charged (the provider's report)."""
        row = self.s.get(GenerationRow, generation_id)
        if row is not None:
            row.credits = round(credits, CREDIT_DIGITS)
            self.s.flush()
