"""What the application and the stages need from the wiring, declared here (not found by ``getattr``).

:class:`Services` is the shape of :class:`tierflow.bootstrap.Services` as the use cases see it; the
stages, jobs and the service import it from here, so nothing below the doors imports ``bootstrap``
(and ``bootstrap`` imports nothing of theirs but these protocols): no import cycle.

    Guard        prices, admits (policies + credit reservation), settles and refunds renders
    BlobStore    content-addressed bytes (storage/blobs.py)
    EngineSource the engine registry (engines/registry.py)
    Store        the database: one transaction per use case (storage/database.py)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tierflow.storage.blob_store import BlobStore  # noqa: F401 - the store's interface is storage's own

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tierflow.config import Settings
    from tierflow.domain.models import Stage, Tier
    from tierflow.engines.base import Engine, EngineInfo, RenderRequest


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


class GuardedPlan(Protocol):
    """The parts of a render plan the guard reads (stages.runner.RenderPlan has them)."""

    project_id: str
    stage: Stage
    engine: Engine
    request: RenderRequest
    prompt_id: str | None
    milestone_id: str | None
    user_id: str | None
    override: Any


class Guard(Protocol):
    def quote(self, plan: GuardedPlan) -> float:
        """Credits the plan will cost (nothing is reserved)."""

    def admit(self, session: Session, plan: GuardedPlan, credits: float, generation_id: str) -> Reservation:
        """Check policies and budgets and reserve ``credits`` in the caller's transaction, or raise."""

    def settle(self, session: Session, plan: GuardedPlan | ProjectScoped, reservation: Reservation,
               spent: float) -> None:
        """Commit ``spent`` credits of the reservation and release the rest."""

    def refund(self, session: Session, plan: GuardedPlan | ProjectScoped, reservation: Reservation) -> None:
        """Release the whole reservation."""

    def status(self, session: Session, project_id: str) -> dict[str, Any]:
        """Budget and policy state for a project (for warnings and dashboards)."""

    def refund_reservation(self, session: Session, reservation_id: str) -> bool:
        """Release an open reservation by id (crash recovery); False when it is unknown or closed."""

    def refund_orphaned(self, session: Session) -> list[str]:
        """Release open reservations whose job is gone or ended; returns their ids."""

    def price_info(self, engine: Engine) -> dict[str, Any]:
        """How an engine is priced, with an example (for `tierflow engines` and GET /engines)."""


class EngineSource(Protocol):
    notices: list[str]

    def get(self, engine_id: str) -> Engine: ...

    def for_tier(self, tier: Tier, engine_id: str | None = None) -> Engine: ...

    def ids(self) -> list[str]: ...

    def describe_all(self) -> list[EngineInfo]: ...

    def close(self) -> None: ...


class Store(Protocol):
    url: str

    def transaction(self) -> AbstractContextManager[Session]: ...

    def read(self) -> AbstractContextManager[Session]: ...

    def migrate(self) -> None: ...

    def dispose(self) -> None: ...


class Services(Protocol):
    """The wired services every use case runs on (built by :func:`tierflow.bootstrap.build`)."""

    settings: Settings
    db: Store
    blobs: BlobStore
    engines: EngineSource
    guard: Guard
    extras: dict[str, Any]

    def close(self) -> None: ...


__all__ = ["BlobStore", "EngineSource", "Guard", "GuardedPlan", "ProjectScoped", "Reservation", "Services",
           "Store"]
