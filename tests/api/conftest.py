from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.stages.guard import OpenGuard

SMALL = "64x64"


@pytest.fixture()
def services(home, models_dir):
    """The wiring the CLI uses, on a temporary SQLite file, with the open guard (no credits)."""
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=OpenGuard())
    yield svc
    svc.close()


@pytest.fixture()
def project(services):
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        return ProjectsRepo(s).create("poster", min_drafts=0)


@pytest.fixture()
def client(services):
    """The real app over the real services; the context runs the lifespan (the job queue's shutdown)."""
    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(services)) as c:
        yield c


@pytest.fixture()
def drafts(services, project):
    """Two stored 64 px drafts (rendered through the stage, not the API, to keep tests fast)."""
    from tierflow.stages.draft import draft

    return draft(services, project.id, "a red fox in snow", n=2, seed=7, size=SMALL, steps=1).assets
