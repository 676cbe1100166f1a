"""Durable render jobs: queued in the database, claimed by worker processes under a lease.

    enqueue      validate → plan → QUEUED generation row + credit reservation (one transaction);
                 the row's params["job"] holds everything a worker needs to rebuild the plan
    claim        the oldest QUEUED job of the worker's tiers → RUNNING, lease owner and expiry,
                 attempts + 1 (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED; SQLite: the
                 BEGIN IMMEDIATE of every write transaction serialises claimers)
    run_claimed  rebuild the plan → the one stage shape (run_plan) onto the same row, while a
                 heartbeat thread extends the lease; outputs an earlier attempt stored are kept
    requeue_expired  a lease that ran out (worker killed) → QUEUED again, or FAILED and refunded
                 after ``max_attempts``; stored outputs are complete assets and are never deleted
    cancel       a QUEUED job → CANCELLED and refunded now; a RUNNING one gets a cancel request
                 (params["cancel_requested"]) that its worker's heartbeat turns into the engine's
                 cancel at the next step

The database is the source of truth for jobs and credits; a worker holds nothing that a crash
could lose except the render in progress.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from tierflow.domain.errors import InvalidInput, NotFound, TierflowError
from tierflow.domain.models import JobStatus, Stage, Tier
from tierflow.stages.recovery import _owner_alive, process_owner
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.clock import aware, now
from tierflow.storage.generations_repo import GenerationsRepo
from tierflow.storage.tables import AssetRow, GenerationRow

if TYPE_CHECKING:
    from tierflow.bootstrap import Services
    from tierflow.engines.base import Engine
    from tierflow.stages.runner import EventSink, RenderPlan, StageResult

log = logging.getLogger(__name__)

QUEUEABLE = {Stage.DRAFT.value: Tier.DRAFT.value, Stage.FINAL.value: Tier.FINAL.value}
DRAFT_OPTIONS = ("project", "prompt", "n", "seed", "size", "engine", "steps", "negative", "milestone", "user_id")
FINAL_OPTIONS = ("asset_id", "prompt", "strength", "engine", "size", "steps", "milestone", "user_id")
EngineFor = Callable[["RenderPlan"], "Engine"]


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease on."""

    generation_id: str
    stage: str
    spec: dict[str, Any]
    attempts: int
    owner: str
    lease_seconds: float


@dataclass
class JobOutcome:
    """What one worker did with one job (for `tierflow worker --json`)."""

    generation_id: str
    stage: str
    status: str
    outputs: int = 0
    attempts: int = 0
    error: str | None = None
    asset_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# -- enqueue --------------------------------------------------------------------------------
def plan_from_spec(services: Services, spec: dict[str, Any]) -> RenderPlan:
    """Validate a job spec (``{"stage": "draft" | "final", ...options}``) and build its plan."""
    from tierflow.stages.draft import plan_draft
    from tierflow.stages.promote import plan_promote

    stage = spec.get("stage")
    allowed = {Stage.DRAFT.value: DRAFT_OPTIONS, Stage.FINAL.value: FINAL_OPTIONS}.get(stage)
    if allowed is None:
        raise InvalidInput(f"{stage!r} cannot be queued", field="stage", fix="queue a 'draft' or 'final' job")
    options = {k: v for k, v in spec.items() if k != "stage" and v is not None}
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidInput(f"unknown option(s) {', '.join(unknown)} for a {stage} job", field=unknown[0],
                           fix=f"use only: {', '.join(allowed)}")
    if stage == Stage.DRAFT.value:
        for key in ("project", "prompt"):
            if key not in options:
                raise InvalidInput(f"a draft job needs {key!r}", field=key, fix=f"pass {key}")
        return plan_draft(services, options.pop("project"), options.pop("prompt"), **options)
    if "asset_id" not in options:
        raise InvalidInput("a final job needs 'asset_id'", field="asset_id", fix="pass the kept draft's asset id")
    return plan_promote(services, options.pop("asset_id"), **options)


def resolved_spec(plan: RenderPlan) -> dict[str, Any]:
    """The spec that rebuilds exactly ``plan``: defaults filled in, the random base seed fixed."""
    r = plan.request
    common = {"engine": plan.engine.id, "size": f"{r.width}x{r.height}", "steps": r.steps,
              "milestone": plan.milestone_id, "user_id": plan.user_id, "prompt": r.prompt}
    if plan.stage is Stage.DRAFT:
        return {"stage": "draft", "project": plan.project_id, "n": plan.params["n"],
                "seed": plan.params["base_seed"], "negative": r.negative_prompt, **common}
    return {"stage": "final", "asset_id": plan.parent_ids[0], "strength": r.strength, **common}


def enqueue(services: Services, plan_spec: dict[str, Any]) -> str:
    """Validate, price and queue a job; its credits are reserved now, with the row. Returns its generation id."""
    return enqueue_plan(services, plan_from_spec(services, plan_spec))


def queueable(plan: RenderPlan) -> bool:
    """Whether ``plan``'s stage can be queued as a durable job (drafts and finals)."""
    return plan.stage.value in QUEUEABLE


def enqueue_plan(services: Services, plan: RenderPlan) -> str:
    """Queue an already validated draft or final plan (the guard admits it now, with its override)."""
    if not queueable(plan):
        raise InvalidInput(f"{plan.stage.value!r} cannot be queued", field="stage",
                           fix="queue a 'draft' or 'final' job; other stages render in the studio or the CLI")
    spec = resolved_spec(plan)
    info = plan.engine.describe().to_dict()
    info.pop("description", None)
    credits = services.guard.quote(plan)
    params = {**plan.request.params(), **plan.params, "engine": info, "job": spec}
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        gen = repo.create(project_id=plan.project_id, stage=plan.stage, engine_id=plan.engine.id, params=params,
                          prompt_id=plan.prompt_id, milestone_id=plan.milestone_id, user_id=plan.user_id,
                          status=JobStatus.QUEUED, credits=credits)
        reservation = services.guard.admit(s, plan, credits, gen.id)
        repo.row(gen.id).reservation_id = reservation.id
    return gen.id


# -- claim and lease ------------------------------------------------------------------------
def check_tiers(tiers: Iterable[str]) -> list[str]:
    out = []
    for tier in tiers:
        if tier not in QUEUEABLE.values():
            raise InvalidInput(f"{tier!r} is not a queued tier", field="tiers",
                               fix=f"use {', '.join(sorted(QUEUEABLE.values()))}")
        out.append(tier)
    if not out:
        raise InvalidInput("no tiers given", field="tiers", fix="pass --tiers draft,final")
    return out


def claim(services: Services, worker_id: str, tiers: Iterable[str], lease_seconds: float = 60.0) -> ClaimedJob | None:
    """Take the oldest queued job of ``tiers`` (or None); concurrent workers never get the same one."""
    wanted = check_tiers(tiers)
    stages = [s for s, t in QUEUEABLE.items() if t in wanted]
    with services.db.transaction() as s:
        row = s.scalar(
            select(GenerationRow)
            .where(GenerationRow.status == JobStatus.QUEUED.value, GenerationRow.stage.in_(stages))
            .order_by(GenerationRow.created_at, GenerationRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)  # SQLite renders nothing here; BEGIN IMMEDIATE serialises
        )
        if row is None:
            return None
        t = now()
        row.status = JobStatus.RUNNING.value
        row.lease_owner = worker_id
        row.lease_expires_at = t + timedelta(seconds=lease_seconds)
        row.attempts = (row.attempts or 0) + 1
        row.started_at = row.started_at or t
        return ClaimedJob(row.id, row.stage, dict((row.params or {}).get("job") or {}), row.attempts, worker_id,
                          lease_seconds)


def extend_lease(services: Services, job: ClaimedJob) -> bool:
    """Push the lease forward; False when the job is no longer this worker's (it was requeued)."""
    with services.db.transaction() as s:
        result = s.execute(
            update(GenerationRow)
            .where(GenerationRow.id == job.generation_id, GenerationRow.lease_owner == job.owner,
                   GenerationRow.status == JobStatus.RUNNING.value)
            .values(lease_expires_at=now() + timedelta(seconds=job.lease_seconds))
        )
        return result.rowcount == 1


def cancel_requested(services: Services, generation_id: str) -> bool:
    """Whether someone asked the running job ``generation_id`` to stop (``tierflow jobs cancel``)."""
    with services.db.read() as s:
        params = s.scalar(select(GenerationRow.params).where(GenerationRow.id == generation_id)) or {}
    return bool(params.get("cancel_requested"))


class Heartbeat:
    """Extends a claimed job's lease every third of its length while the render runs, and passes a
    cancel request on to ``cancel`` (looked for every ``CANCEL_POLL_SECONDS``)."""

    CANCEL_POLL_SECONDS = 1.0

    def __init__(self, services: Services, job: ClaimedJob, cancel: threading.Event | None = None) -> None:
        self.services, self.job, self.cancel = services, job, cancel
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.generation_id}", daemon=True)

    def _run(self) -> None:
        interval = max(0.2, self.job.lease_seconds / 3)
        tick = min(interval, self.CANCEL_POLL_SECONDS) if self.cancel is not None else interval
        since_beat = 0.0
        while not self._stop.wait(tick):
            since_beat += tick
            try:
                if self.cancel is not None and not self.cancel.is_set() and \
                        cancel_requested(self.services, self.job.generation_id):
                    self.cancel.set()  # the engine raises Cancelled at its next step; the runner refunds
                if since_beat < interval:
                    continue
                since_beat = 0.0
                if not extend_lease(self.services, self.job):
                    self.lost = True
                    log.warning("lost the lease on %s; another worker may take it over", self.job.generation_id)
                    return
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the render; the next beat retries
                log.warning("could not extend the lease on %s", self.job.generation_id, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# -- run ------------------------------------------------------------------------------------
def run_claimed(services: Services, job: ClaimedJob, on_event: EventSink | None = None, *,
                engine_for: EngineFor | None = None) -> StageResult:
    """Rebuild the job's plan and run it onto its own row; only outputs not stored yet are rendered."""
    from tierflow.stages.runner import StageResult, run_plan

    plan = plan_from_spec(services, job.spec)
    if engine_for is not None:
        plan.engine = engine_for(plan)
    all_seeds = list(plan.request.seeds)
    with services.db.read() as s:
        stored = list(s.scalars(select(AssetRow.seed).where(AssetRow.generation_id == job.generation_id)))
    remaining = list(all_seeds)
    for seed in stored:
        if seed in remaining:
            remaining.remove(seed)
    if stored and not remaining:
        return _finish_stored(services, job, len(stored))
    plan.request.seeds = remaining
    if len(remaining) != len(all_seeds):
        plan.after_output = _keep_variation(plan.after_output, all_seeds)
    if cancel_requested(services, job.generation_id):
        plan.request.cancel.set()  # asked to stop while an earlier attempt ran: end as cancelled now
    with Heartbeat(services, job, plan.request.cancel):
        return run_plan(services, plan, on_event, generation_id=job.generation_id)


def _keep_variation(hook, all_seeds: list[int]):
    """A resumed draft renders a subset of seeds; record each output's index in the full batch."""
    index = {seed: i for i, seed in enumerate(all_seeds)}

    def wrapped(out, params: dict) -> None:
        if hook is not None:
            hook(out, params)
        if "variation" in params and out.seed in index:
            params["variation"] = index[out.seed]

    return wrapped


def _finish_stored(services: Services, job: ClaimedJob, outputs: int) -> StageResult:
    """Every output was stored before the last worker stopped: only the bookkeeping is left."""
    from types import SimpleNamespace

    from tierflow.stages.guard import Reservation
    from tierflow.stages.runner import StageResult

    with services.db.transaction() as s:
        row = GenerationsRepo(s).row(job.generation_id)
        GenerationsRepo(s).finish(job.generation_id, JobStatus.SUCCEEDED, outputs=outputs, credits=row.credits)
        # The guard's settle needs only the plan's project id.
        services.guard.settle(s, SimpleNamespace(project_id=row.project_id),
                              Reservation(row.reservation_id, row.credits), row.credits)
        assets = _assets_of(s, job.generation_id)
    return StageResult(job.generation_id, assets, row.credits, [])


def _assets_of(s, generation_id: str):
    repo = AssetsRepo(s)
    ids = s.scalars(select(AssetRow.id).where(AssetRow.generation_id == generation_id).order_by(AssetRow.created_at))
    return [repo.get(i) for i in ids]


# -- cancel ---------------------------------------------------------------------------------
def cancel(services: Services, generation_id: str) -> str:
    """Cancel a durable job: a queued one now (refunded, stored outputs charged), a running one by
    request (its worker stops at the engine's next step). Returns the status after the call
    (``running`` for a request its worker has yet to act on)."""
    from types import SimpleNamespace

    from tierflow.stages.guard import Reservation

    with services.db.transaction() as s:
        row = s.scalar(select(GenerationRow).where(GenerationRow.id == generation_id).with_for_update())
        if row is None or not (row.params or {}).get("job"):
            raise NotFound(f"no durable job {generation_id!r}", field="job_id",
                           fix="see `tierflow jobs list` for job ids")
        if row.status == JobStatus.RUNNING.value:
            row.params = {**row.params, "cancel_requested": True}
            return JobStatus.RUNNING.value
        if row.status != JobStatus.QUEUED.value:
            raise InvalidInput(f"job {generation_id} already ended ({row.status})", field="job_id",
                               fix="only queued or running jobs can be cancelled")
        stored = AssetsRepo(s).count(generation_id=generation_id)
        count = max(1, int(row.params["job"].get("n") or 1))
        spent = row.credits * stored / count
        reservation = Reservation(row.reservation_id, row.credits)
        GenerationsRepo(s).finish(generation_id, JobStatus.CANCELLED, outputs=stored, credits=spent,
                                  error="cancelled before it started" if not stored else
                                  f"cancelled after {stored} of {count} output(s)")
        row.lease_owner = row.lease_expires_at = None
        owner = SimpleNamespace(project_id=row.project_id)  # the guard's settle and refund need only this
        if stored:
            services.guard.settle(s, owner, reservation, spent)
        else:
            services.guard.refund(s, owner, reservation)
        return JobStatus.CANCELLED.value


# -- recovery -------------------------------------------------------------------------------
def requeue_expired(services: Services, max_attempts: int = 3) -> dict[str, list[str]]:
    """Put jobs whose worker stopped (lease over, or its process gone) back in the queue.

    After ``max_attempts`` claims a job is failed instead and its reservation refunded. Assets an
    attempt stored stay: they are complete (blob, then row) and the next attempt skips their seeds.
    """
    t = now()
    out: dict[str, list[str]] = {"requeued": [], "failed": []}
    with services.db.transaction() as s:
        rows = s.scalars(
            select(GenerationRow)
            .where(GenerationRow.status == JobStatus.RUNNING.value, GenerationRow.lease_expires_at.is_not(None))
            .with_for_update(skip_locked=True)
        )
        for row in rows:
            if not (row.params or {}).get("job"):
                continue  # an in-process run: stages.recovery handles it
            expired = aware(row.lease_expires_at) < t
            if not expired and _owner_alive(row.lease_owner):
                continue
            attempt = row.attempts or 0
            row.lease_owner = None
            row.lease_expires_at = None
            if attempt >= max_attempts:
                row.status = JobStatus.FAILED.value
                row.finished_at = t
                row.outputs = AssetsRepo(s).count(generation_id=row.id)
                row.error = f"the worker stopped {attempt} times; the job was given up and its credits refunded"
                refund = getattr(services.guard, "refund_reservation", None)
                if row.reservation_id and refund is not None:
                    refund(s, row.reservation_id)
                out["failed"].append(row.id)
            else:
                row.status = JobStatus.QUEUED.value
                row.error = f"attempt {attempt} stopped before it finished; queued again"
                out["requeued"].append(row.id)
    for key, ids in out.items():
        if ids:
            log.info("%s %d job(s): %s", key, len(ids), ", ".join(ids))
    return out


# -- the worker loop ------------------------------------------------------------------------
def work(services: Services, tiers: Iterable[str], stop_event: threading.Event, poll_interval: float = 1.0, *,
         lease_seconds: float = 60.0, once: bool = False, threads: dict[str, int] | None = None,
         engine_for: EngineFor | None = None, worker_id: str | None = None,
         max_attempts: int = 3, on_outcome: Callable[[JobOutcome], None] | None = None) -> list[JobOutcome]:
    """Claim and run jobs of ``tiers`` until ``stop_event`` is set (``once``: until the queue is empty).

    One loop thread per tier (``threads`` sizes each tier, e.g. to its Ray pool), so a long final
    never holds up the drafts queued behind it.
    """
    tiers = check_tiers(tiers)
    owner = worker_id or process_owner()  # host:pid, so a dead worker's jobs can be requeued at once
    outcomes: list[JobOutcome] = []
    lock = threading.Lock()
    requeue_expired(services, max_attempts)

    def record(outcome: JobOutcome) -> None:
        with lock:
            outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    def loop(tier: str) -> None:
        while not stop_event.is_set():
            try:
                job = claim(services, owner, [tier], lease_seconds)
            except Exception:  # noqa: BLE001 - the database may come back; keep the worker alive
                log.exception("claiming a %s job failed", tier)
                job = None
            if job is None:
                if once:
                    return
                requeue_expired(services, max_attempts)
                stop_event.wait(poll_interval)
                continue
            record(_run_one(services, job, engine_for))

    workers = [threading.Thread(target=loop, args=(tier,), name=f"worker-{tier}-{i}", daemon=True)
               for tier in tiers for i in range(max(1, (threads or {}).get(tier, 1)))]
    for w in workers:
        w.start()
    for w in workers:
        while w.is_alive():
            w.join(timeout=0.5)  # short joins let the main thread handle SIGINT / SIGTERM
    return outcomes


def _run_one(services: Services, job: ClaimedJob, engine_for: EngineFor | None) -> JobOutcome:
    try:
        result = run_claimed(services, job, engine_for=engine_for)
    except TierflowError as e:
        return _outcome(services, job, error=str(e))
    except Exception as e:  # noqa: BLE001 - the runner marked the row failed; the worker carries on
        log.exception("job %s failed", job.generation_id)
        return _outcome(services, job, error=f"{type(e).__name__}: {e}")
    outcome = _outcome(services, job)
    outcome.asset_ids = [a.id for a in result.assets]
    return outcome


def _outcome(services: Services, job: ClaimedJob, error: str | None = None) -> JobOutcome:
    with services.db.read() as s:
        row = GenerationsRepo(s).row(job.generation_id)
        return JobOutcome(row.id, row.stage, row.status, row.outputs or 0, row.attempts or 0, error or row.error)
