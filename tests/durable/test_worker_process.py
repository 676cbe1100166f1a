"""A real `tierflow worker` process, SIGKILLed mid-render: the job goes back to the queue, nothing
half-written is left, and a second worker finishes it on the same generation row."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tierflow.guardrails.budget import budget_status
from tierflow.jobs.durable import enqueue, requeue_expired
from tierflow.stages.recovery import sweep_orphan_blobs
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.tables import AssetRow

ROOT = Path(__file__).resolve().parents[2]
N = 4


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)  # TIERFLOW_HOME / _PRESET / _DATABASE_URL come from the `home` fixture
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def _assets(services, gen_id: str) -> list[AssetRow]:
    with services.db.read() as s:
        return list(s.scalars(select(AssetRow).where(AssetRow.generation_id == gen_id)))


def _named(rows: list[AssetRow]) -> set[str]:
    """The blobs asset rows name: each file, its thumbnail, and a draft's latent (stages/decode.py)."""
    latents = {a.params["latent"]["sha256"] for a in rows if isinstance(a.params.get("latent"), dict)}
    return {a.sha256 for a in rows} | {a.thumb_sha256 for a in rows if a.thumb_sha256} | latents


def _blob_shas(services) -> set[str]:
    return {p.name.split(".")[0] for p in services.blobs.all_blobs()}


def test_a_killed_worker_s_job_is_requeued_and_finished_by_another(services, project, tmp_path):
    gen_id = enqueue(services, {"op": "draft", "project": project.name, "prompt": "a harbour at night",
                                "n": N, "size": "64x64", "steps": 1})
    log = open(tmp_path / "worker1.log", "wb")
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.durable.slow_worker", "worker", "--tiers", "draft", "--lease", "2",
         "--poll", "0.2"],
        cwd=ROOT, env=_env(TIERFLOW_TEST_SLOW_STEP_SECONDS="1.5"), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while not _assets(services, gen_id):  # wait for the first stored output, then kill mid-batch
            assert first.poll() is None, (tmp_path / "worker1.log").read_text()
            assert time.monotonic() < deadline, "the worker stored nothing in 90 s"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()

    with services.db.read() as s:
        row = GenerationsRepo(s).row(gen_id)
        assert row.status == "running" and row.attempts == 1
    partial = _assets(services, gen_id)
    assert 1 <= len(partial) < N
    # Its owner process is gone (same host): no need to wait out the lease; `jobs show` puts it back.
    shown = subprocess.run([sys.executable, "-m", "tierflow", "jobs", "show", gen_id, "--json"], cwd=ROOT,
                           env=_env(), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)["job"]
    assert (job["status"], job["attempts"], job["lease_owner"]) == ("queued", 1, None)
    assert job["outputs"] == len(partial) and "queued again" in job["error"]
    with services.db.read() as s:
        assert GenerationsRepo(s).row(gen_id).status == "queued"
    assert requeue_expired(services) == {"requeued": [], "failed": []}  # nothing left to recover
    # Finished outputs are complete assets with their blobs. A SIGKILL between a blob's write and
    # its row's commit can leave one complete, unreferenced blob: the orphan sweep removes it (the
    # grace period, waived here, is what spares other processes' renders in flight).
    blobs = _blob_shas(services)
    assert _named(partial) <= blobs and len(blobs - _named(partial)) <= 3  # a preview, its thumbnail and latent
    assert all(services.blobs.exists(a.sha256, a.format) for a in partial)
    assert sweep_orphan_blobs(services, older_than=0) == len(blobs - _named(partial))
    assert _named(partial) == _blob_shas(services)

    second = subprocess.run([sys.executable, "-m", "tierflow", "worker", "--tiers", "draft", "--once", "--json"],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    jobs = json.loads(second.stdout)["jobs"]
    assert [(j["generation_id"], j["status"], j["outputs"], j["attempts"]) for j in jobs] == [
        (gen_id, "succeeded", N, 2)]

    final = _assets(services, gen_id)
    assert len(final) == N
    assert {a.id for a in partial} <= {a.id for a in final}  # the first attempt's outputs were kept
    assert sorted(a.params["variation"] for a in final) == list(range(N))  # and not rendered twice
    assert len({a.seed for a in final}) == N
    assert _named(final) == _blob_shas(services)  # no blob without a row, no row without a blob
    status = budget_status(services, project.id)
    with services.db.read() as s:
        assert status["reserved"] == 0 and status["spent"] == GenerationsRepo(s).row(gen_id).credits


def test_a_killed_worker_s_queued_upscale_is_finished_by_another_without_redoing_the_upscale(
        services, project, tmp_path):
    """A queued upscale with its creative pass: the worker is killed during the pass; the stored upscale
    stays (not rendered again), the pass is queued again and another worker finishes it."""
    from tierflow.app import service
    from tierflow.domain.specs import CreativeSpec, DraftSpec, UpscaleSpec
    from tierflow.stages.review import review

    source = service.run(services, DraftSpec(project.name, "a lighthouse", n=1, seed=3, size="64x64", steps=1))
    kept = review(services, source.assets[0].id, "keep", seconds=1)
    job_id = enqueue(services, UpscaleSpec(kept.id, "x2", creative=CreativeSpec(0.25, tile=64)))
    with services.db.read() as s:
        upscale_id, creative_id = GenerationsRepo(s).get(job_id).chain
    log = open(tmp_path / "worker1.log", "wb")
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.durable.slow_worker", "worker", "--tiers", "upscale", "--lease", "2",
         "--poll", "0.2"],
        cwd=ROOT, env=_env(TIERFLOW_TEST_SLOW_STEP_SECONDS="3"), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:  # the upscale is stored and the pass has been claimed: kill it mid-pass
            with services.db.read() as s:
                step = GenerationsRepo(s).get(creative_id)
            if step.status.value == "running":
                break
            assert first.poll() is None, (tmp_path / "worker1.log").read_text()
            assert time.monotonic() < deadline, "the worker did not reach the creative pass in 90 s"
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()

    upscaled = _assets(services, upscale_id)
    assert len(upscaled) == 1 and _assets(services, creative_id) == []
    shown = subprocess.run([sys.executable, "-m", "tierflow", "jobs", "show", job_id, "--json"], cwd=ROOT,
                           env=_env(), capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)["job"]
    assert job["status"] == "running" and job["generation_ids"] == [upscale_id, creative_id]  # between steps
    with services.db.read() as s:
        assert GenerationsRepo(s).get(creative_id).status.value == "queued"  # requeued by `jobs show`

    second = subprocess.run([sys.executable, "-m", "tierflow", "worker", "--tiers", "upscale", "--once", "--json"],
                            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    ran = json.loads(second.stdout)["jobs"]
    assert [(j["generation_id"], j["status"], j["attempts"]) for j in ran] == [(creative_id, "succeeded", 2)]
    assert [a.id for a in _assets(services, upscale_id)] == [upscaled[0].id]  # the upscale was not redone
    creative = _assets(services, creative_id)
    assert len(creative) == 1 and creative[0].params["creative_of"] == upscaled[0].id
    assert {a.sha256 for a in [kept, *upscaled, *creative]} <= _blob_shas(services)  # kept: its full decode
    status = budget_status(services, project.id)
    with services.db.read() as s:
        spent = sum(GenerationsRepo(s).get(g).credits for g in (source.generation_id, upscale_id, creative_id))
    assert status["reserved"] == 0 and status["spent"] == pytest.approx(spent)
