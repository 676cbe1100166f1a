from __future__ import annotations

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.stages.guard import OpenGuard


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
