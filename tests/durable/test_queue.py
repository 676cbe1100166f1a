"""Durable jobs in one process: enqueue → claim → run onto the same row; leases; requeue; no double claims."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import JobStatus
from tierflow.guardrails.budget import budget_status
from tierflow.jobs.durable import claim, enqueue, extend_lease, requeue_expired, run_claimed, work
from tierflow.storage.clock import now
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.tables import GenerationRow

DRAFT = {"op": "draft", "prompt": "a lighthouse at dusk", "n": 2, "size": "64x64", "steps": 1}


def _row(services, gen_id) -> GenerationRow:
    with services.db.read() as s:
        return GenerationsRepo(s).row(gen_id)


def test_enqueue_stores_a_queued_job_with_a_resolved_spec_and_reserves_its_credits(services, project):
    gen_id = enqueue(services, {**DRAFT, "project": project.name})
    row = _row(services, gen_id)
    assert row.status == JobStatus.QUEUED.value and row.attempts == 0 and row.lease_owner is None
    spec = row.spec
    assert spec["op"] == "draft" and row.queue == "durable"
    # The random base seed and the engine default are fixed at enqueue, so a retry renders the same images.
    assert spec["seed"] == row.params["base_seed"] and isinstance(spec["seed"], int)
    assert spec["engine"] == "tiny-draft" and spec["project"] == project.id and spec["size"] == "64x64"
    assert row.reservation_id and row.credits > 0
    assert budget_status(services, project.id)["reserved"] == pytest.approx(row.credits)


def test_enqueue_rejects_unknown_options_and_stages(services, project):
    with pytest.raises(InvalidInput, match="colour"):
        enqueue(services, {**DRAFT, "project": project.name, "colour": "red"})
    with pytest.raises(InvalidInput, match="is not a stage"):
        enqueue(services, {"op": "sculpt", "project": project.name})
    with pytest.raises(InvalidInput, match="asset_id"):  # every stage can be queued; its spec is checked
        enqueue(services, {"op": "video", "project": project.name})


def test_claim_takes_the_oldest_job_of_its_tiers_once(services, project):
    first = enqueue(services, {**DRAFT, "project": project.name})
    second = enqueue(services, {**DRAFT, "project": project.name})
    assert claim(services, "w:1", ["final"]) is None  # tiers filter
    job = claim(services, "w:1", ["draft"], lease_seconds=30)
    assert job is not None and job.generation_id == first and job.attempts == 1
    row = _row(services, first)
    assert row.status == "running" and row.lease_owner == "w:1" and row.lease_expires_at is not None
    assert claim(services, "w:2", ["draft"]).generation_id == second
    assert claim(services, "w:3", ["draft"]) is None


def test_run_claimed_renders_onto_the_queued_row_and_settles(services, project):
    gen_id = enqueue(services, {**DRAFT, "project": project.name})
    job = claim(services, "w:1", ["draft"])
    result = run_claimed(services, job)
    assert result.generation_id == gen_id and len(result.assets) == 2
    assert {a.generation_id for a in result.assets} == {gen_id}
    assert sorted(a.params["variation"] for a in result.assets) == [0, 1]
    row = _row(services, gen_id)
    assert row.status == "succeeded" and row.outputs == 2
    with services.db.read() as s:
        assert s.query(GenerationRow).count() == 1  # no second generation row
    status = budget_status(services, project.id)
    assert status["reserved"] == 0 and status["spent"] == pytest.approx(row.credits)


def test_a_job_whose_worker_keeps_dying_fails_and_is_refunded_after_max_attempts(services, project):
    gen_id = enqueue(services, {**DRAFT, "project": project.name})
    claim(services, "other-host:1", ["draft"], lease_seconds=0.05)
    time.sleep(0.1)
    assert requeue_expired(services, max_attempts=2) == {"requeued": [gen_id], "failed": []}
    assert claim(services, "other-host:2", ["draft"], lease_seconds=0.05).attempts == 2
    time.sleep(0.1)
    assert requeue_expired(services, max_attempts=2) == {"requeued": [], "failed": [gen_id]}
    row = _row(services, gen_id)
    assert row.status == "failed" and "2 times" in row.error and row.finished_at is not None
    status = budget_status(services, project.id)
    assert status["reserved"] == 0 and status["spent"] == 0 and status["remaining"] == pytest.approx(1000)


def test_a_lapsed_lease_goes_back_to_the_queue(services, project):
    gen_id = enqueue(services, {**DRAFT, "project": project.name})
    held = claim(services, "other-host:1", ["draft"], lease_seconds=30)
    assert requeue_expired(services) == {"requeued": [], "failed": []}  # a live lease on another host stays
    with services.db.transaction() as s:
        GenerationsRepo(s).row(gen_id).lease_expires_at = now() - timedelta(seconds=1)
    job = held
    assert requeue_expired(services) == {"requeued": [gen_id], "failed": []}
    row = _row(services, gen_id)
    assert row.status == "queued" and row.lease_owner is None and row.attempts == 1
    assert not extend_lease(services, job)  # the old worker's heartbeat learns it lost the job
    assert claim(services, "w:2", ["draft"]).attempts == 2


def test_concurrent_claimers_never_share_a_job(services, project):
    ids = {enqueue(services, {**DRAFT, "project": project.name, "n": 1}) for _ in range(8)}
    got: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while (job := claim(services, name, ["draft"])) is not None:
            with lock:
                got.append(job.generation_id)

    threads = [threading.Thread(target=claimer, args=(f"w:{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(ids)  # each job exactly once


def test_work_once_drains_the_queue(services, project):
    ids = [enqueue(services, {**DRAFT, "project": project.name, "n": 1}) for _ in range(2)]
    outcomes = work(services, ["draft"], threading.Event(), 0.05, once=True, lease_seconds=10)
    assert sorted(o.generation_id for o in outcomes) == sorted(ids)
    assert all(o.status == "succeeded" and o.outputs == 1 and o.attempts == 1 for o in outcomes)
