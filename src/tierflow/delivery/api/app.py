"""The FastAPI app: routers under /api/v1, one error mapping, a body-size limit, the web studio pages."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse

from tierflow import __version__
from tierflow.bootstrap import Services
from tierflow.delivery.api import auth, docs, errors
from tierflow.delivery.api.routers import (
    admin,
    assets,
    budget,
    drift,
    engines,
    generations,
    metrics,
    milestones,
    policies,
    projects,
    prompts,
    reviews,
    stages,
    verify,
)
from tierflow.delivery.api.schemas import API
from tierflow.jobs.backend import JobBackend, job_backend

ROUTERS = (projects, milestones, prompts, generations, assets, stages, reviews, budget, policies, metrics, engines,
           admin, verify, drift)


def create_app(services: Services, *, jobs: JobBackend | None = None,
               max_body_bytes: int = errors.MAX_BODY_BYTES) -> FastAPI:
    """The REST API (and the web studio when installed) over ``services``; jobs per ``TIERFLOW_JOBS``."""
    queue = jobs or job_backend(services)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        queue.shutdown()

    app = FastAPI(title="tierflow", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Tiered generative image work: draft fast, review, promote the winner.")
    docs.install(app)
    app.state.services = services
    app.state.jobs = queue
    errors.install(app)
    app.add_middleware(errors.BodySizeLimit, limit=max_body_bytes)
    for module in ROUTERS:
        app.include_router(module.router, prefix=API, dependencies=[Depends(auth.authorize)])
    if not _mount_web(app):
        @app.get("/", include_in_schema=False)
        def _root() -> RedirectResponse:
            return RedirectResponse("/docs")
    return app


def _mount_web(app: FastAPI) -> bool:
    """Add the studio pages when tierflow.delivery.web is installed (an error inside it is not hidden)."""
    try:
        spec = importlib.util.find_spec("tierflow.delivery.web.pages")
    except ImportError:
        spec = None
    if spec is None:
        return False
    from tierflow.delivery.web.pages import mount

    mount(app)
    from tierflow.delivery.web.login import install as install_login

    install_login(app)
    return True
