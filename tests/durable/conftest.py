from __future__ import annotations

import pytest

from tierflow.bootstrap import build, default_guard
from tierflow.config import Settings


@pytest.fixture()
def services(home, models_dir):
    """The wiring a worker uses (credits and policies on), on the test's database."""
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=default_guard())
    yield svc
    svc.close()


@pytest.fixture()
def project(services):
    from tierflow.guardrails.budget import grant
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        created = ProjectsRepo(s).create("queue", min_drafts=0)
    grant(services, created.id, 1000)
    return created
