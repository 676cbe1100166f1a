"""Fixtures: one wired service set (credit guard, tiny engines) and one source image for the folder."""

from __future__ import annotations

import uuid

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.stages.draft import draft
from tierflow.stages.review import review


@pytest.fixture(scope="package")
def services(tmp_path_factory, models_dir, shared_database):
    """The CLI's wiring on a temporary SQLite file; shared so the tiny pipelines load once."""
    from tierflow.guardrails.guard import LedgerGuard

    root = tmp_path_factory.mktemp("production-home")
    svc = build(Settings(home=root, database_url=shared_database(), preset="tiny", models_path=models_dir),
                guard=LedgerGuard(home=root))
    yield svc
    svc.close()


@pytest.fixture()
def project(services):
    """A fresh project per test, so tests sharing the database do not see each other's assets."""
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        return ProjectsRepo(s).create(f"launch-{uuid.uuid4().hex[:8]}", min_drafts=0)


@pytest.fixture(scope="package")
def kept(services):
    """A kept 64x64 draft, the source image of the production stages (they never modify it)."""
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        home = ProjectsRepo(s).create("sources", min_drafts=0)
    asset = draft(services, home.id, "a lighthouse on a cliff", n=1, seed=7, size="64x64").assets[0]
    return review(services, asset.id, "keep", seconds=2)
