from __future__ import annotations

import uuid

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.guardrails.guard import LedgerGuard
from tierflow.stages.draft import draft
from tierflow.storage.projects_repo import ProjectsRepo

SMALL = "64x64"


@pytest.fixture(scope="session")
def services(tmp_path_factory, models_dir, shared_database):
    """The CLI's wiring on one temporary SQLite file, shared so the tiny pipelines load once.

    Tests stay independent because each makes its own project in its own workspace.
    """
    root = tmp_path_factory.mktemp("wired-home")
    (root / "models").symlink_to(models_dir, target_is_directory=True)
    svc = build(Settings(home=root, database_url=shared_database(), preset="tiny", models_path=models_dir),
                guard=LedgerGuard(home=root))
    yield svc
    svc.close()


def make_project(services, name: str = "poster", *, budget: float | None = None, min_drafts: int = 0,
                 final_cap: int | None = None):
    from tierflow.guardrails.budget import grant_in_session

    with services.db.transaction() as s:
        repo = ProjectsRepo(s)
        unique = f"{name}-{uuid.uuid4().hex[:8]}"
        p = repo.create(unique, workspace=unique, min_drafts=min_drafts, final_cap=final_cap)
        if budget is not None:
            grant_in_session(s, repo.row(p.id), budget, user_id="lead")
    return p


def small_drafts(services, project: str, prompt: str = "a red fox", n: int = 1, **kw):
    return draft(services, project, prompt, n=n, seed=kw.pop("seed", 1), size=SMALL, steps=1, **kw)
