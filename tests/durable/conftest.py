from __future__ import annotations

import json
import signal

import pytest
from typer.testing import CliRunner

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


@pytest.fixture()
def cli(home, services):
    """The `tierflow` app in this process (tiny pipelines load once): ``cli(*args)`` → its ``--json`` output."""
    from tierflow.delivery.cli.app import app
    from tierflow.delivery.cli.context import services as cli_services

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}  # `worker` installs its own
    cli_services.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> dict:
        result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    yield run
    if cli_services.cache_info().currsize:
        cli_services().close()
    cli_services.cache_clear()
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
