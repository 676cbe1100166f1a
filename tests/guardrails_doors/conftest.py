"""Guardrails through every door: the REST app and the `tierflow` CLI on one database, credits and policies on."""

from __future__ import annotations

import sys

import pytest
from fastapi.testclient import TestClient

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.guardrails.guard import LedgerGuard

SMALL = "64x64"


@pytest.fixture()
def services(home, models_dir):
    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=LedgerGuard(home=home))
    yield svc
    svc.close()


@pytest.fixture()
def client(services):
    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(services)) as c:
        yield c


@pytest.fixture()
def cli(home, monkeypatch, capsys):
    """``cli(*args, code=0)`` runs `tierflow ARGS` through its console entry point in this process: (stdout, stderr)."""
    from tierflow.delivery.cli.app import main
    from tierflow.delivery.cli.context import services as cli_services

    cli_services.cache_clear()

    def run(*args: str, code: int = 0) -> tuple[str, str]:
        monkeypatch.setattr(sys, "argv", ["tierflow", *args])
        with pytest.raises(SystemExit) as exit_:
            main()
        out, err = capsys.readouterr()
        assert exit_.value.code == code, (exit_.value.code, out, err)
        return out, err

    yield run
    if cli_services.cache_info().currsize:
        cli_services().close()
    cli_services.cache_clear()


def make_project(services, name: str, **settings):
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        return ProjectsRepo(s).create(name, **settings)
