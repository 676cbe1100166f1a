"""Submitting durable jobs from the CLI: `draft|promote --queue`, `tierflow worker --once`, `tierflow jobs`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tierflow.guardrails.budget import budget_status
from tierflow.storage.tables import AssetRow

ROOT = Path(__file__).resolve().parents[2]
SMALL = ("--size", "64x64", "--steps", "1")


def _stored_asset_ids(services, gen_id: str) -> list[str]:
    with services.db.read() as s:
        return list(s.scalars(select(AssetRow.id).where(AssetRow.generation_id == gen_id)
                              .order_by(AssetRow.created_at, AssetRow.id)))


def test_a_queued_draft_is_rendered_by_a_worker_and_reported_by_jobs_show(cli, services, project):
    queued = cli("draft", "a lighthouse at dusk", "-p", project.name, "-n", "2", *SMALL, "--queue")["job"]
    assert queued["status"] == "queued" and queued["id"].startswith("gen_") and queued["credits"] > 0
    assert budget_status(services, project.id)["reserved"] == pytest.approx(queued["credits"])
    shown = cli("jobs", "show", queued["id"])["job"]
    assert (shown["status"], shown["attempts"], shown["outputs"], shown["asset_ids"]) == ("queued", 0, 0, [])
    assert not _stored_asset_ids(services, queued["id"])  # --queue rendered nothing

    ran = cli("worker", "--tiers", "draft", "--once")["jobs"]
    assert [(j["generation_id"], j["status"], j["outputs"]) for j in ran] == [(queued["id"], "succeeded", 2)]

    shown = cli("jobs", "show", queued["id"])["job"]
    assert (shown["status"], shown["stage"], shown["engine_id"], shown["attempts"]) == (
        "succeeded", "draft", "tiny-draft", 1)
    assert shown["outputs"] == 2 and shown["asset_ids"] == _stored_asset_ids(services, queued["id"])
    assert shown["error"] is None and shown["credits"] == pytest.approx(queued["credits"])
    status = budget_status(services, project.id)
    assert status["reserved"] == 0 and status["spent"] == pytest.approx(queued["credits"])
    listed = cli("jobs", "list", "-p", project.name, "--status", "succeeded")["jobs"]
    assert [j["id"] for j in listed] == [queued["id"]]
    assert cli("jobs", "list", "--status", "queued")["jobs"] == []


def test_promote_queue_enqueues_a_final_of_the_kept_draft(cli, services, project):
    from tierflow.stages.draft import draft

    source = draft(services, project.id, "a red fox", n=1, seed=3, size="64x64", steps=1).assets[0]
    cli("review", source.id, "--keep")
    queued = cli("promote", source.id, "--strength", "0.5", "--size", "64x64", "--steps", "2", "--queue")["job"]
    shown = cli("jobs", "show", queued["id"])["job"]
    assert (shown["status"], shown["stage"], shown["engine_id"]) == ("queued", "final", "tiny-final")
    # An in-process render shares the generations table but is not a job.
    assert [j["id"] for j in cli("jobs", "list")["jobs"]] == [queued["id"]]


def test_bad_job_ids_and_statuses_are_one_line_errors(home):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "ignore"}
    cases = [(("jobs", "show", "gen_00000000000000ff"), 3, "no durable job"),
             (("jobs", "cancel", "../etc/passwd"), 2, "job_id"),
             (("jobs", "list", "--status", "done"), 2, "status")]
    for args, code, needle in cases:
        proc = subprocess.run([sys.executable, "-m", "tierflow", *args], capture_output=True, text=True, env=env,
                              timeout=120)
        assert proc.returncode == code, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr


def test_a_worker_with_default_tiers_takes_every_queued_stage(cli, services, project):
    # A new user queues a draft and an overlay of it and runs plain `tierflow worker`: both render.
    draft = cli("draft", "a red kite", "-p", project.name, "-n", "1", *SMALL)["assets"][0]
    queued = cli("overlay", draft["id"], "--text", "LAUNCH", "--queue")["job"]
    assert queued["status"] == "queued" and queued["stage"] == "overlay"
    ran = cli("worker", "--once")["jobs"]
    assert [(j["generation_id"], j["status"]) for j in ran] == [(queued["id"], "succeeded")]
    assert len(_stored_asset_ids(services, queued["id"])) == 1
