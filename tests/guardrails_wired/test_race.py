"""Never overspent: 8 promotions race on a budget that pays for exactly 3 (threads, then processes).

Every final costs exactly 10 credits (``prices.json`` in the home prices tiny-final at a flat 10 and
drafts at 0) and the project holds 30. All 8 workers wait at a barrier and then promote at once;
a monitor samples the balance while they run. Exactly 3 must render, 5 must be refused with
BudgetExhausted, the ledger must be consistent, and remaining must never be seen below zero.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from tierflow.bootstrap import build
from tierflow.config import Settings
from tierflow.domain.errors import BudgetExhausted
from tierflow.domain.ledger import LedgerEntry, ledger_problems
from tierflow.guardrails import budget as uc
from tierflow.storage.ledger_repo import LedgerRepo
from tierflow.storage.tables import LedgerEntryRow

WORKERS, BUDGET, PRICE = 8, 30.0, 10.0
PRICES = {"engines": {"tiny-final": {"base": PRICE, "per_unit": 0}, "tiny-draft": {"base": 0, "per_unit": 0}}}


def _promote(services, asset_id: str) -> str:
    from tierflow.stages.promote import promote

    try:
        promote(services, asset_id, size="64x64", steps=1, strength=1.0)
    except BudgetExhausted:
        return "refused"
    return "ran"


def _process_worker(home: str, models: str, asset_id: str, barrier, results) -> None:
    """One separate process: its own services on the same SQLite file, then promote at the barrier."""
    os.environ["TIERFLOW_HOME"] = home  # LedgerGuard() reads prices.json from here
    services = build(Settings(home=Path(home), preset="tiny", models_path=Path(models)))
    try:
        barrier.wait(timeout=120)
        results.put(_promote(services, asset_id))
    except BaseException as e:  # noqa: BLE001 - report, do not hang the parent
        results.put(f"error: {type(e).__name__}: {e}")
    finally:
        services.close()


@pytest.fixture()
def race(home, models_dir):
    """A project with 30 credits and one draft to promote; returns (services, project name, asset id)."""
    (home / "prices.json").write_text(json.dumps(PRICES))
    services = build(Settings(home=home, preset="tiny", models_path=models_dir))
    from tierflow.stages.draft import draft
    from tierflow.storage.projects_repo import ProjectsRepo

    name = f"race-{uuid.uuid4().hex[:6]}"
    with services.db.transaction() as s:
        ProjectsRepo(s).create(name, min_drafts=0)
    asset = draft(services, name, "a red fox", n=1, seed=3, size="64x64", steps=1).assets[0]
    uc.grant(services, name, BUDGET)
    yield services, name, asset.id
    services.close()


class Monitor(threading.Thread):
    """Samples the project's balance while the race runs."""

    def __init__(self, services, project: str) -> None:
        super().__init__(daemon=True)
        self.services, self.project = services, project
        self.samples: list[dict] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append(uc.budget_status(self.services, self.project))
            time.sleep(0.02)


def _check_outcome(services, project: str, outcomes: list[str], monitor: Monitor) -> None:
    assert sorted(outcomes) == ["ran"] * 3 + ["refused"] * 5, outcomes
    final = uc.budget_status(services, project)
    assert final["spent"] == pytest.approx(3 * PRICE) and final["reserved"] == 0 and final["remaining"] == 0
    assert monitor.samples, "the monitor saw the race"
    for sample in monitor.samples:
        assert sample["remaining"] >= -1e-6, sample
        assert sample["spent"] + sample["reserved"] <= BUDGET + 1e-6, sample
    with services.db.read() as s:
        entries = [LedgerEntry.from_row(r) for r in s.query(LedgerEntryRow)]
        assert ledger_problems(entries) == []
        assert len(LedgerRepo(s).open_reservation_ids()) == 0
    report = uc.project_report(services, project)
    assert report.finals == 3


def test_threads_racing_on_one_database_never_overspend(race):
    services, project, asset_id = race
    barrier = threading.Barrier(WORKERS)
    outcomes: list[str] = []
    from tierflow.engines.catalog import build_registry

    load_lock = threading.Lock()

    def worker() -> None:
        # Shared database pool and guard; each thread its own engines, loaded one at a time before the
        # race: one diffusers pipeline is not safe to call from two threads, and two first loads at once
        # in one process fail in transformers (meta tensors) — neither is what this test is about.
        mine = replace(services, engines=build_registry(services.settings))
        with load_lock:
            mine.engines.get("tiny-final").img2img_pipe()
        barrier.wait(timeout=120)
        outcomes.append(_promote(mine, asset_id))

    monitor = Monitor(services, project)
    monitor.start()
    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    monitor.done.set()
    monitor.join()
    _check_outcome(services, project, outcomes, monitor)


def test_separate_processes_racing_on_one_sqlite_file_never_overspend(race, home, models_dir):
    services, project, asset_id = race
    # Eight processes forked from one server that imported tierflow, torch and diffusers once (eight
    # `spawn` imports of torch were most of this test's time). Each child is still its own process
    # that builds its own services and connections on the one SQLite file.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "tierflow.stages.promote", "tierflow.engines.tiny.engines", "alembic.command",
                                "diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl_img2img"])
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(str(home), str(models_dir), asset_id, barrier, results))
             for _ in range(WORKERS)]
    monitor = Monitor(services, project)
    monitor.start()
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    monitor.done.set()
    monitor.join()
    _check_outcome(services, project, outcomes, monitor)
