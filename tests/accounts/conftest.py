from __future__ import annotations

import pytest

from tierflow.config import Settings
from tierflow.storage.database import Database


@pytest.fixture()
def db(home):
    """A migrated database in the test's TIERFLOW_HOME (SQLite, or PostgreSQL when the suite runs on it)."""
    database = Database(Settings().db_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture()
def projects(db):
    """A public project and a private one, ``open`` and ``secret``."""
    from tierflow.storage.projects_repo import ProjectsRepo

    with db.transaction() as s:
        repo = ProjectsRepo(s)
        return {"open": repo.create("open"), "secret": repo.create("secret", private=True)}
