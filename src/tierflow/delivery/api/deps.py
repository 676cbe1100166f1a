"""Dependencies the routers share: the wired services, the job queue, and database sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from tierflow.bootstrap import Services
from tierflow.jobs.backend import JobBackend


async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_jobs(request: Request) -> JobBackend:
    return request.app.state.jobs


ServicesDep = Annotated[Services, Depends(get_services)]
JobsDep = Annotated[JobBackend, Depends(get_jobs)]


def read_session(services: ServicesDep) -> Iterator[Session]:
    """A read-only transaction (no SQLite write lock) around the route."""
    with services.db.read() as session:
        yield session


def transaction(services: ServicesDep) -> Iterator[Session]:
    """One write transaction per use case, committed before the response is sent."""
    with services.db.transaction() as session:
        yield session


# scope="function": the commit (or rollback) happens before the client sees a response.
ReadSessionDep = Annotated[Session, Depends(read_session, scope="function")]
TransactionDep = Annotated[Session, Depends(transaction, scope="function")]
