"""Cancelling durable jobs: a queued one ends now and is refunded; a running one stops at its worker."""

from __future__ import annotations

import threading

import pytest

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.guardrails.budget import budget_status
from tierflow.jobs import durable
from tierflow.storage.generations_repo import GenerationsRepo

DRAFT = {"op": "draft", "prompt": "a lighthouse at dusk", "n": 2, "size": "64x64", "steps": 1}


def _budget(services, project) -> tuple[float, float, float]:
    status = budget_status(services, project.id)
    return status["remaining"], status["reserved"], status["spent"]


def test_jobs_cancel_of_a_queued_job_refunds_its_reservation(cli, services, project):
    before = _budget(services, project)
    job = cli("draft", "a fox", "-p", project.name, "-n", "2", "--size", "64x64", "--queue")["job"]
    assert _budget(services, project) != before  # reserved
    assert cli("jobs", "cancel", job["id"])["job"] == {"id": job["id"], "status": "cancelled",
                                                       "cancel_requested": False}
    assert _budget(services, project) == pytest.approx(before)
    shown = cli("jobs", "show", job["id"])["job"]
    assert shown["status"] == "cancelled" and shown["finished_at"] is not None
    assert cli("worker", "--once")["jobs"] == []  # nothing left to claim
    with pytest.raises(InvalidInput, match="already ended"):
        durable.cancel(services, job["id"])


def test_a_running_job_stops_at_its_worker_when_cancelled(services, project):
    before = _budget(services, project)
    gen_id = durable.enqueue(services, {**DRAFT, "project": project.name})
    job = durable.claim(services, "w:1", ["draft"])
    assert durable.cancel(services, gen_id) == "running"  # a request: the worker holds the job
    with pytest.raises(Cancelled):
        durable.run_claimed(services, job)
    with services.db.read() as s:
        row = GenerationsRepo(s).row(gen_id)
        assert row.status == "cancelled" and row.outputs == 0
    assert _budget(services, project) == pytest.approx(before)


def test_a_cancel_request_reaches_the_render_in_progress(services, project, monkeypatch):
    from tests.api.gate import install_gated
    from tierflow.domain.models import Tier

    monkeypatch.setattr(durable.Heartbeat, "CANCEL_POLL_SECONDS", 0.05)
    gated = install_gated(services, Tier.DRAFT, "tiny-draft", "gated-draft")
    requests = []
    held_render = gated.render

    def render(request, progress=None):
        requests.append(request)
        yield from held_render(request, progress)

    gated.render = render
    before = _budget(services, project)
    gen_id = durable.enqueue(services, {**DRAFT, "project": project.name, "engine": "gated-draft"})
    job = durable.claim(services, "w:1", ["draft"])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            durable.run_claimed(services, job)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert gated.entered.wait(30)
        assert durable.cancel(services, gen_id) == "running"
        assert requests[0].cancel.wait(10), "the heartbeat never passed the request on"
    finally:
        gated.gate.set()
        worker.join(30)
    assert len(errors) == 1 and isinstance(errors[0], Cancelled)
    with services.db.read() as s:
        assert GenerationsRepo(s).row(gen_id).status == "cancelled"
    assert _budget(services, project) == pytest.approx(before)
