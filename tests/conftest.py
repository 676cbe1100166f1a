"""Shared fixtures: every test runs on a temporary TIERFLOW_HOME; tiny models are built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of tiny models for the whole test session (built on first use, ~10 s)."""
    shared = os.environ.get("TIERFLOW_TEST_MODELS")
    if shared:
        Path(shared).mkdir(parents=True, exist_ok=True)
        return Path(shared)
    return tmp_path_factory.mktemp("models")


@pytest.fixture()
def home(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    """A fresh TIERFLOW_HOME whose models/ points at the shared tiny models."""
    root = tmp_path / "home"
    root.mkdir()
    (root / "models").symlink_to(models_dir, target_is_directory=True)
    monkeypatch.setenv("TIERFLOW_HOME", str(root))
    monkeypatch.setenv("TIERFLOW_PRESET", "tiny")
    if database_url:
        monkeypatch.setenv("TIERFLOW_DATABASE_URL", database_url)
    else:
        monkeypatch.delenv("TIERFLOW_DATABASE_URL", raising=False)
    return root


# -- PostgreSQL (opt-in: TIERFLOW_TEST_POSTGRES=1 runs every `home` test on its own PG database) --
@pytest.fixture(scope="session")
def postgres_server():
    """The session's PostgreSQL server (tests/pg.py), or None when the suite runs on SQLite."""
    from tests import pg

    if not pg.enabled():
        yield None
        return
    server = pg.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture()
def database_url(postgres_server) -> str | None:
    """A fresh migrated PostgreSQL database for this test, or None (SQLite file in TIERFLOW_HOME)."""
    if postgres_server is None:
        yield None
        return
    name = postgres_server.new_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def shared_database(postgres_server):
    """For fixtures wider than one test: ``shared_database()`` is a fresh PG database URL, or None (SQLite)."""
    made: list[str] = []

    def new() -> str | None:
        if postgres_server is None:
            return None
        made.append(postgres_server.new_database())
        return postgres_server.url(made[-1])

    yield new
    for name in made:
        postgres_server.drop_database(name)
