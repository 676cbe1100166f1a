"""Reservations left open by a crashed process are refunded at the next start."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from tierflow.bootstrap import build
from tierflow.domain.models import JobStatus
from tierflow.guardrails import budget as uc
from tierflow.guardrails.guard import LedgerGuard
from tierflow.storage.ledger_repo import LedgerRepo
from tierflow.stages.draft import plan_draft
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.tables import GenerationRow, LedgerEntryRow

from .conftest import SMALL, make_project

DEAD = f"{socket.gethostname()}:999999999"  # no such pid: the process is gone


def _crashed_job(services, project: str, credits: float, owner: str = DEAD, n: int = 1) -> tuple[str, str]:
    """What a process that died mid-render leaves: a running job row holding a reservation."""
    plan = plan_draft(services, project, "a fox", n=n, size=SMALL, steps=1)
    with services.db.transaction() as s:
        gen = GenerationsRepo(s).create(project_id=plan.project_id, stage=plan.stage, engine_id=plan.engine.id,
                                        params={"n": n}, prompt_id=plan.prompt_id, milestone_id=None, user_id=None,
                                        credits=credits)
        reservation = services.guard.admit(s, plan, credits, gen.id)
        row = GenerationsRepo(s).row(gen.id)
        row.reservation_id, row.lease_owner = reservation.id, owner
    return gen.id, reservation.id


def test_a_dead_process_reservation_is_refunded_at_the_next_start(services):
    p = make_project(services, budget=10.0)
    gen_id, rid = _crashed_job(services, p.name, 4.0)
    assert uc.budget_status(services, p.name)["reserved"] == 4.0
    restarted = build(services.settings)  # the default guard, as the CLI gets it
    try:
        assert isinstance(restarted.guard, LedgerGuard)
        status = uc.budget_status(restarted, p.name)
        assert status["reserved"] == 0 and status["remaining"] == 10.0 and status["spent"] == 0
        with restarted.db.read() as s:
            assert s.get(GenerationRow, gen_id).status == JobStatus.FAILED.value
            kinds = sorted(s.scalars(select(LedgerEntryRow.kind).where(LedgerEntryRow.reservation_id == rid)))
        assert kinds == ["refund", "refund", "reserve", "reserve"]  # workspace and project scopes
        with restarted.db.transaction() as s:  # a second close is refused, not double-counted
            assert restarted.guard.refund_reservation(s, rid) is False
    finally:
        restarted.close()


def test_a_live_process_keeps_its_reservation_and_orphans_are_swept(services):
    from tierflow.stages.recovery import process_owner

    p = make_project(services, budget=10.0)
    live_gen, live_rid = _crashed_job(services, p.name, 3.0, owner=process_owner())
    orphan_gen, orphan_rid = _crashed_job(services, p.name, 2.0)
    with services.db.transaction() as s:  # its job row was closed without settling (e.g. by hand)
        s.get(GenerationRow, orphan_gen).status = JobStatus.FAILED.value
    with services.db.read() as s:
        assert {live_rid, orphan_rid} <= set(LedgerRepo(s).open_reservation_ids())
    restarted = build(services.settings)  # the start sweeps the orphan and leaves the live job's hold
    try:
        assert uc.budget_status(restarted, p.name)["reserved"] == pytest.approx(3.0)
        with restarted.db.read() as s:
            kinds = sorted(s.scalars(select(LedgerEntryRow.kind).where(LedgerEntryRow.reservation_id == orphan_rid)))
            assert kinds == ["refund", "refund", "reserve", "reserve"]
            assert s.get(GenerationRow, live_gen).status == JobStatus.RUNNING.value
        with restarted.db.transaction() as s:
            assert restarted.guard.refund_orphaned(s) == []  # nothing left to sweep
    finally:
        restarted.close()


def test_outputs_a_dead_process_stored_are_charged_and_the_rest_refunded(services):
    """A job killed after 2 of its 4 outputs were stored closes like a failed render: 2/4 charged."""
    from tierflow.domain.models import Stage
    from tierflow.storage.assets_repo import AssetsRepo

    p = make_project(services, budget=10.0)
    gen_id, rid = _crashed_job(services, p.name, 4.0, n=4)
    with services.db.transaction() as s:
        for i in range(2):
            AssetsRepo(s).add(project_id=p.id, generation_id=gen_id, stage=Stage.DRAFT, kind="image", fmt="jpg",
                              width=64, height=64, sha256=f"{i:064x}", size_bytes=10, seed=i, engine_id="tiny-draft",
                              prompt_id=None, prompt_text="a fox", params={}, parent_ids=[])
    restarted = build(services.settings)
    try:
        status = uc.budget_status(restarted, p.name)
        assert status["reserved"] == 0 and status["spent"] == pytest.approx(2.0) and status["remaining"] == pytest.approx(8.0)
        with restarted.db.read() as s:
            row = s.get(GenerationRow, gen_id)
            assert row.status == JobStatus.FAILED.value and row.outputs == 2 and row.credits == pytest.approx(2.0)
            assert "after 2 of 4 output(s)" in row.error
            kinds = sorted(s.scalars(select(LedgerEntryRow.kind).where(LedgerEntryRow.reservation_id == rid)))
        assert kinds == ["commit", "commit", "reserve", "reserve"]  # settled, not refunded whole
    finally:
        restarted.close()
