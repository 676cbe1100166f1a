"""The application service: every door (CLI, REST, web, workers) runs a stage through these functions.

    quote(spec)             plan (validate against the engines) → price every plan; writes nothing (not
                            even the full decode of a draft preview it reads: that is stored when it runs)
    submit(spec, queue=…)   plan → ONE transaction: the prompt thread row, a QUEUED generation row per
                            plan (the first carries the spec), policies checked and credits reserved
                            for all of them → a job id (the first row's generation id)
    run(spec)               the same transaction with RUNNING rows, then render here (``open_run``:
                            everything before the render, for a door that shows the plan first)
    run_job(job_id)         render a queued job onto its rows (a durable worker, the studio's threads):
                            the typed spec in the row is planned again; outputs an earlier attempt
                            stored are kept and their seeds skipped
    cancel(job_id)          a queued job ends now (refunded); a running one is asked to stop

A stage whose input is a latent draft's preview (stages/decode.py) is planned on the preview; once
its job is admitted, ``run`` and ``run_job`` store the input's full decode (once, as keep does) and
plan it again on those pixels, so what renders is what planning on a kept draft would have given.

Chained plans (an upscale, then its creative pass) are opened and reserved together; the later plan
takes the earlier one's first output as its input, and when a step fails the steps after it are
closed and refunded. ``close_generation`` is the one way a generation ends: its row finished and its
reservation settled (outputs were stored) or refunded (none were).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow.domain.errors import Cancelled, InvalidInput, NotFound
from tierflow.domain.models import Asset, JobStatus
from tierflow.domain.pricing import CREDIT_DIGITS
from tierflow.domain.specs import StageSpec, spec_from_dict, stage_def
from tierflow.stages.admit import close_generation, close_in, count_of, open_plans, price, release
from tierflow.stages.compose import run_compose_on
from tierflow.stages.decode import decode_inputs
from tierflow.stages.plans import ComposePlan, EventSink, RenderPlan, StageEvent, StageResult
from tierflow.stages.recovery import process_owner
from tierflow.stages.runner import render
from tierflow.stages.sources import load_image
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import DURABLE, GenerationsRepo
from tierflow.storage.milestones_repo import MilestonesRepo

__all__ = ["Quote", "StagePlan", "Submitted", "cancel", "chain_status", "close_generation", "close_in", "open_plans",
           "open_run", "plan", "price", "quote", "release", "run", "run_chain", "run_job", "submit"]

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.engines.base import Engine

log = logging.getLogger(__name__)

Plan = RenderPlan | ComposePlan
EngineFor = Callable[[RenderPlan], "Engine"]
QUEUES = (DURABLE, "inprocess")


@dataclass
class StagePlan:
    """A spec with its random choices fixed (seeds, engine), and the render plans that carry it out."""

    spec: StageSpec
    plans: list[Plan]

    @property
    def stage(self) -> str:
        return self.plans[0].stage.value

    @property
    def engine_id(self) -> str:
        return self.plans[0].engine_id


@dataclass
class Quote:
    credits: float
    parts: list[dict[str, Any]]  # one per plan: engine_id, stage, credits
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"credits": self.credits, "parts": self.parts, "warnings": self.warnings}


@dataclass
class Submitted:
    """A job opened by :func:`submit`: its id (= first generation id), its rows, price and warnings."""

    job_id: str
    generation_ids: list[str]
    stage: str
    engine_id: str
    project_id: str
    credits: float
    warnings: list[str]
    queue: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.job_id, "status": JobStatus.QUEUED.value, "stage": self.stage,
                "engine_id": self.engine_id, "credits": self.credits, "generation_ids": self.generation_ids,
                "warnings": self.warnings, "queue": self.queue}


# -- planning ---------------------------------------------------------------------------------
def plan(services: Services, spec: StageSpec) -> StagePlan:
    """Validate ``spec`` against the engines and build its plans; nothing is written."""
    module, _, name = stage_def(spec).planner.partition(":")
    return getattr(importlib.import_module(module), name)(services, spec)


def quote(services: Services, spec: StageSpec) -> Quote:
    """The price of ``spec`` in credits (each plan's part too); nothing is written or reserved."""
    staged = plan(services, spec)
    parts = [{"engine_id": p.engine_id, "stage": p.stage.value, "credits": price(services, p),
              "width": p.request.width, "height": p.request.height}  # the size it will make, said before
             for p in staged.plans]
    warnings = list(dict.fromkeys(w for p in staged.plans for w in p.params.get("warnings", [])))
    return Quote(round(sum(p["credits"] for p in parts), CREDIT_DIGITS), parts, warnings)


# -- the use cases --------------------------------------------------------------------------
def submit(services: Services, spec: StageSpec, *, queue: str = DURABLE) -> Submitted:
    """Plan, then open the job's rows as QUEUED and reserve its credits (one transaction)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    staged = plan(services, spec)
    ids = open_plans(services, staged.plans, spec=staged.spec, status=JobStatus.QUEUED, queue=queue)
    with services.db.read() as s:
        gens = [GenerationsRepo(s).get(g) for g in ids]
    warnings = list(dict.fromkeys([*(w for p in staged.plans for w in p.params.get("warnings", [])),
                                   *(w for g in gens for w in g.params.get("admit_warnings", []))]))
    return Submitted(ids[0], ids, staged.stage, staged.engine_id, gens[0].project_id,
                     round(sum(g.credits for g in gens), CREDIT_DIGITS), warnings, queue)


def run(services: Services, spec: StageSpec, on_event: EventSink | None = None) -> StageResult:
    """Plan, open (admitted and reserved) and render ``spec`` in this process."""
    staged, ids = open_run(services, spec)
    return run_chain(services, staged.plans, ids, on_event)


def open_run(services: Services, spec: StageSpec) -> tuple[StagePlan, list[str]]:
    """What :func:`run` does before rendering (for a door that shows the plan first): plan, open the
    rows RUNNING (admitted, reserved), then the inputs at full quality (a draft preview's decode stored,
    the spec planned again on it). Render with :func:`run_chain` onto the returned ids."""
    staged = plan(services, spec)
    ids = open_plans(services, staged.plans, spec=staged.spec)
    try:
        again = _on_decoded_inputs(services, staged)
    except BaseException as exc:
        _fail_all(services, ids, exc)
        raise
    if again is not staged:
        for before, after in zip(staged.plans, again.plans, strict=True):
            after.prompt_id = before.prompt_id  # the thread found or created when the rows were opened
    return again, ids


def run_job(services: Services, job_id: str, on_event: EventSink | None = None, *,
            engine_for: EngineFor | None = None, cancel: threading.Event | None = None,
            step_only: bool = False) -> StageResult:
    """Render a queued (claimed) job onto its rows from the typed spec it was submitted with.

    ``job_id`` may name a chained step (a durable worker claims each step once the one before it
    succeeded); ``step_only`` renders just that step, otherwise every step not finished yet.
    """
    with services.db.read() as s:
        repo = GenerationsRepo(s)
        gen = repo.get(job_id)
        head = gen if gen.head_id == gen.id else repo.get(gen.head_id)
    if head.spec is None:
        raise NotFound(f"no job {job_id!r}", field="job_id", fix="see `tierflow jobs list` for job ids")
    chain = head.chain
    upto = chain.index(gen.id) + 1 if step_only else len(chain)
    try:
        staged = _on_decoded_inputs(services, plan(services, spec_from_dict(head.spec)))
    except BaseException as exc:
        _fail_all(services, chain[chain.index(gen.id):], exc)
        raise
    with services.db.read() as s:
        gens = [GenerationsRepo(s).get(g) for g in chain]
        # the milestone each step was admitted against (the guard resolved it when the job was opened)
        milestones = {g.milestone_id: MilestonesRepo(s).get(g.project_id, g.milestone_id)
                      for g in gens if g.milestone_id}
    for p, gen in zip(staged.plans, gens, strict=True):
        p.prompt_id = gen.prompt_id  # the thread chosen when the job was opened
        if gen.milestone_id:
            m = milestones[gen.milestone_id]
            p.milestone_id = m.id
            p.params = {**p.params, "milestone": {"id": m.id, "name": m.name}}
        if isinstance(p, RenderPlan):
            if engine_for is not None:
                p.engine = engine_for(p)
            if cancel is not None:
                p.request.cancel = cancel
    return run_chain(services, staged.plans[:upto], chain[:upto], on_event, rest=chain[upto:])


def cancel(services: Services, job_id: str) -> str:
    """Cancel a job: a queued one now (refunded; stored outputs charged), a running one by request (its
    worker stops at the engine's next step). Returns the status after the call."""
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        head = repo.find(job_id)
        if head is None or not head.is_job:
            raise NotFound(f"no job {job_id!r}", field="job_id", fix="see `tierflow jobs list` for job ids")
        steps = [repo.lock(g) for g in head.chain]
        open_steps = [g for g in steps if g.status in (JobStatus.QUEUED, JobStatus.RUNNING)]
        if not open_steps:
            raise InvalidInput(f"job {job_id} already ended ({chain_status(steps).value})", field="job_id",
                               fix="only queued or running jobs can be cancelled")
        running = [g for g in open_steps if g.status is JobStatus.RUNNING]
        if running:
            repo.update(running[0].id, params={"cancel_requested": True})
            return JobStatus.RUNNING.value
    release(services, [g.id for g in open_steps], "cancelled before it started")
    return JobStatus.CANCELLED.value


def chain_status(steps: list[Any]) -> JobStatus:
    """A job's status from its steps: the first that did not succeed decides; all succeeded = succeeded."""
    for step in steps:
        if step.status is not JobStatus.SUCCEEDED:
            if step.status is JobStatus.QUEUED and step is not steps[0]:
                return JobStatus.RUNNING  # the step before it finished: the job is between steps
            return step.status
    return JobStatus.SUCCEEDED


# -- internals ---------------------------------------------------------------------------------
def _on_decoded_inputs(services: Services, staged: StagePlan) -> StagePlan:
    """``staged`` once its inputs are at full quality: a latent draft preview it reads (a plan's parent)
    gets its full decode stored now, and the spec (its choices fixed) is planned again on those pixels."""
    if not decode_inputs(services, [pid for p in staged.plans for pid in p.parent_ids]):
        return staged
    return plan(services, staged.spec)


def run_chain(services: Services, plans: list[Plan], ids: list[str], on_event: EventSink | None, *,
              rest: list[str] | None = None) -> StageResult:
    """Render opened plans in order onto ``ids``; a chained plan takes its input from an earlier step.
    When a step fails, the steps after it (and ``rest``, steps another claim would run) are released."""
    emit = on_event or (lambda _e: None)
    rest = list(rest or [])
    last = len(plans) - 1
    results: list[StageResult] = []
    for i, (p, gid) in enumerate(zip(plans, ids, strict=True)):
        sink = _chain_sink(emit, i, last, results)
        try:
            with services.db.read() as s:
                gen = GenerationsRepo(s).get(gid)
            if gen.status is JobStatus.SUCCEEDED:  # a resumed chain: this step finished before
                results.append(_stored_result(services, gid))
                continue
            if p.input_from is not None:
                _bind(services, p, results[p.input_from].assets[0])
            if isinstance(p, ComposePlan):
                result = run_compose_on(services, p, gid)
            else:
                result = _render_remaining(services, p, gid, sink)
        except BaseException:
            if ids[i + 1:] + rest:
                release(services, ids[i + 1:] + rest, f"the {p.stage.value} step before this one did not finish")
            raise
        results.append(result)
    final = results[-1]
    if len(results) > 1:
        final.credits = round(sum(r.credits for r in results), CREDIT_DIGITS)
        final.warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
        emit(StageEvent("finished", ids[0], credits=final.credits, warnings=final.warnings))
    return final


def _chain_sink(emit: EventSink, index: int, last: int, results: list[StageResult]) -> EventSink:
    """One job's events for a chain: one ``started`` (the first step), one ``finished`` (after the last)."""
    if last == 0:
        return emit

    def sink(event: StageEvent) -> None:
        if event.kind == "started" and index > 0:
            return
        if event.kind == "finished":
            return  # the chain's own finished event follows the last step
        emit(event)

    return sink


def _render_remaining(services: Services, p: RenderPlan, gid: str, on_event: EventSink) -> StageResult:
    """Render the seeds an earlier attempt did not store (all of them on a first run)."""
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        repo.claim(gid, process_owner())  # a chained step still queued starts now (no-op when running)
        stored = repo.stored_seeds(gid)
        requested = bool(repo.params_of(gid).get("cancel_requested"))
    all_seeds = list(p.request.seeds)
    remaining = list(all_seeds)
    for seed in stored:
        if seed in remaining:
            remaining.remove(seed)
    if stored and not remaining:
        close_generation(services, gid, JobStatus.SUCCEEDED, outputs=len(stored), spent=_credits(services, gid))
        return _stored_result(services, gid)
    if len(remaining) != len(all_seeds):
        p.request.seeds = remaining
        p.after_output = _keep_variation(p.after_output, all_seeds)
    if requested:
        p.request.cancel.set()  # asked to stop while an earlier attempt ran: end as cancelled now
    return render(services, p, gid, on_event)


def _keep_variation(hook, all_seeds: list[int]):
    """A resumed draft renders a subset of seeds; record each output's index in the full batch."""
    index = {seed: i for i, seed in enumerate(all_seeds)}

    def wrapped(out, params: dict) -> None:
        if hook is not None:
            hook(out, params)
        if "variation" in params and out.seed in index:
            params["variation"] = index[out.seed]

    return wrapped


def _bind(services: Services, p: Plan, source: Asset) -> None:
    """Point a chained plan at the earlier step's output: its pixels are the input, it is the parent."""
    p.request.init_image = load_image(services, source)
    p.parent_ids = [source.id]
    p.params[p.input_param] = source.id


def _stored_result(services: Services, gid: str) -> StageResult:
    with services.db.read() as s:
        gen = GenerationsRepo(s).get(gid)
        repo = AssetsRepo(s)
        assets = [repo.get(a) for a in GenerationsRepo(s).asset_ids(gid)]
    return StageResult(gid, assets, gen.credits, [])


def _credits(services: Services, gid: str) -> float:
    with services.db.read() as s:
        return GenerationsRepo(s).get(gid).credits


def _fail_all(services: Services, ids: list[str], exc: BaseException) -> None:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    status = JobStatus.CANCELLED if isinstance(exc, (Cancelled, KeyboardInterrupt)) else JobStatus.FAILED
    with services.db.transaction() as s:
        repo = GenerationsRepo(s)
        for gid in ids:
            gen = repo.lock(gid)
            if gen.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                stored = AssetsRepo(s).count(generation_id=gid)
                close_in(services, s, gid, status, outputs=stored, spent=gen.credits * stored / count_of(gen),
                       error=reason)


