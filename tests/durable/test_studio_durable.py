"""The REST API in durable mode: POST queues a database job, the SSE stream follows its rows."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.sse import parse
from tierflow.config import Settings
from tierflow.domain.errors import InvalidInput
from tierflow.guardrails.budget import budget_status
from tierflow.jobs.backend import job_backend
from tierflow.jobs.durable_queue import DurableJobQueue
from tierflow.jobs.inprocess import JobQueue

API = "/api/v1"
DRAFT = {"stage": "draft", "prompt": "a lighthouse at dusk", "n": 2, "size": "64x64", "steps": 1}


def _client(services, workers: int) -> TestClient:
    from tierflow.delivery.api.app import create_app

    return TestClient(create_app(services, jobs=DurableJobQueue(services, workers=workers)))


def test_a_draft_posted_to_a_durable_studio_streams_its_assets_from_the_database(services, project):
    with _client(services, workers=1) as client:
        accepted = client.post(f"{API}/generations", json={**DRAFT, "project": project.name})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        assert job_id.startswith("gen_") and accepted.json()["events_url"] == f"{API}/generations/{job_id}/events"

        streamed = parse(client.get(f"{API}/generations/{job_id}/events").text)
        # Step progress read from the running row is live only: no id, never replayed.
        live = [e for e in streamed if e["event"] == "progress"]
        assert all(e["id"] is None and 1 <= e["data"]["step"] <= e["data"]["total"] for e in live)
        events = [e for e in streamed if e["event"] != "progress"]
        assert [e["event"] for e in events] == ["started", "asset", "asset", "finished"]
        assert [e["id"] for e in events] == [0, 1, 2, 3]
        assets = [e["data"]["asset"] for e in events[1:3]]
        for asset in assets:
            assert asset["generation_id"] == job_id and asset["width"] == 64
            assert client.get(asset["file_url"]).status_code == 200
        assert events[-1]["data"]["generation_id"] == job_id

        shown = client.get(f"{API}/generations/{job_id}").json()
        assert shown["status"] == "succeeded" and [a["id"] for a in shown["assets"]] == [a["id"] for a in assets]
        # Event ids are positions in the rows' history: a reconnect resumes after the last one it saw.
        resumed = parse(client.get(f"{API}/generations/{job_id}/events", headers={"Last-Event-ID": "1"}).text)
        assert [(e["id"], e["event"]) for e in resumed] == [(2, "asset"), (3, "finished")]
    status = budget_status(services, project.id)
    assert status["reserved"] == 0 and status["spent"] == pytest.approx(events[-1]["data"]["credits"])


def test_without_workers_a_posted_job_waits_queued_and_cancels_with_a_refund(services, project):
    before = budget_status(services, project.id)["remaining"]
    with _client(services, workers=0) as client:
        job_id = client.post(f"{API}/generations", json={**DRAFT, "project": project.name}).json()["job_id"]
        assert client.get(f"{API}/generations/{job_id}").json()["status"] == "queued"
        assert budget_status(services, project.id)["remaining"] < before
        cancelled = client.post(f"{API}/generations/{job_id}/cancel")
        assert cancelled.status_code == 202 and cancelled.json() == {"job_id": job_id, "status": "cancelled"}
        events = parse(client.get(f"{API}/generations/{job_id}/events").text)
        assert [e["event"] for e in events] == ["failed"]
        assert events[0]["data"]["error"]["error"] == "cancelled"
    assert budget_status(services, project.id)["remaining"] == pytest.approx(before)


def test_tierflow_jobs_chooses_the_backend(services, monkeypatch):
    from dataclasses import replace

    assert type(job_backend(services, "inprocess")) is JobQueue
    monkeypatch.setenv("TIERFLOW_JOBS", "durable")
    backend = job_backend(replace(services, settings=Settings(home=services.settings.home, preset="tiny")))
    assert isinstance(backend, DurableJobQueue)
    backend.shutdown()
    with pytest.raises(InvalidInput, match="job mode"):
        job_backend(services, "celery")
    with pytest.raises(InvalidInput, match="--jobs durable"):
        job_backend(services, "inprocess", workers=2)
