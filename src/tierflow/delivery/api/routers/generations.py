"""/generations: renders run as jobs; progress and finished assets stream as server-sent events.

POST maps the body to a stage spec and submits it to the job backend (app.service.submit: the
rows opened and the credits reserved in one transaction, so bad input, a blocking policy or an
empty budget answer 4xx right away), and answers 202 with the job's events URL. The stream
replays what a late subscriber missed (SSE ids are event positions, so ``Last-Event-ID`` resumes
without duplicates), then follows the job live until ``finished`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from tierflow.delivery.api import auth, refs
from tierflow.delivery.api.deps import JobsDep, ReadSessionDep, ServicesDep
from tierflow.delivery.api.schemas import API, GenerationCreate, JobAccepted, JobPublic, asset_public
from tierflow.domain.access import override_for
from tierflow.domain.errors import NotFound
from tierflow.domain.ids import check_id
from tierflow.domain.models import Generation, JobStatus
from tierflow.jobs.inprocess import Job, JobEvent, JobQueue
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.generations_repo import GenerationsRepo

router = APIRouter(prefix="/generations", tags=["generations"])

KEEPALIVE_SECONDS = 15.0
TERMINAL_EVENTS = ("finished", "failed")


@router.post("", status_code=202, response_model=JobAccepted,
             responses={200: {"description": "with ?quote=true: {credits, engine_id, stage, width, height}; nothing queued"}})
def create_generation(body: GenerationCreate, services: ServicesDep, jobs: JobsDep,
                      principal: auth.PrincipalDep, quote: bool = Query(False)) -> Any:
    """Validate a draft batch or a promotion, admit it, and queue it as a job (``?quote=true``: price it)."""
    from tierflow.domain.specs import DraftSpec, OverrideRequest, PromoteSpec

    auth.check_refs(services, principal, getattr(body, "project", None), asset_id=getattr(body, "asset_id", None))
    # per-user daily limits and the audit trail name the signed-in user
    user_id = None if principal.local else principal.user_id
    if body.stage == "draft":
        spec = DraftSpec(body.project, body.prompt, n=body.n, seed=body.seed, size=body.size, engine=body.engine,
                         steps=body.steps, negative=body.negative, milestone=body.milestone, user_id=user_id)
    else:
        check_id(body.asset_id, "asset_id")
        override = override_for(principal, body.override_reason)
        spec = PromoteSpec(body.asset_id, prompt=body.prompt, strength=body.strength, engine=body.engine,
                           steps=body.steps, size=body.size, milestone=body.milestone, user_id=user_id,
                           override=OverrideRequest(**override) if override else None)
    if quote:
        from tierflow.app import service

        q = service.quote(services, spec)
        last = q.parts[-1]
        return JSONResponse({"credits": q.credits, "engine_id": last["engine_id"], "stage": last["stage"],
                             "width": last["width"], "height": last["height"]})
    job = jobs.submit(spec)
    return {"job_id": job.id, "status": job.status.value, "events_url": f"{API}/generations/{job.id}/events"}


@router.get("")
def list_generations(session: ReadSessionDep, jobs: JobsDep, principal: auth.PrincipalDep,
                     project: str | None = Query(None, max_length=200),
                     limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Stored generations (jobs), newest first; ``job_id`` is set while the studio still holds the job."""
    project_id = refs.project(session, project).id if project else None
    live = {j.generation_id: j.id for j in jobs.jobs() if j.generation_id}
    ids = auth.readable_ids(session, principal)
    return {"generations": [generation_public(g, live.get(g.id))
                            for g in GenerationsRepo(session).list(project_id, limit=limit)
                            if auth.visible(ids, g.project_id)]}


@router.get("/{job_id}", response_model=JobPublic)
def show_generation(job_id: str, services: ServicesDep, jobs: JobsDep) -> dict[str, Any]:
    """A job's state by job id, or a stored generation's by generation id (``gen_…``)."""
    job = _live_job(jobs, job_id)
    if job is not None:
        return job_public(job)
    with services.db.read() as s:
        gen = GenerationsRepo(s).get(job_id)
        assets = _assets_of(s, gen.id)
    return {"job_id": None, "generation_id": gen.id, "status": gen.status.value, "stage": gen.stage.value,
            "engine_id": gen.engine_id, "project_id": gen.project_id, "assets": [asset_public(a) for a in assets],
            "error": {"error": gen.status.value, "message": gen.error, "field": None, "fix": None,
                      "detail": gen.error} if gen.error else None}


@router.post("/{job_id}/cancel", status_code=202)
def cancel_generation(job_id: str, jobs: JobsDep) -> dict[str, Any]:
    """Ask a job to stop: a queued one ends now, a running one at its engine's next step."""
    job = _live_job(jobs, job_id)
    if job is None:
        raise NotFound(f"no running job {job_id!r}", field="job_id",
                       fix="only jobs of this studio session can be cancelled; see GET /api/v1/generations")
    job = jobs.cancel(job.id)
    return {"job_id": job.id, "status": job.status.value}


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def generation_events(job_id: str, services: ServicesDep, jobs: JobsDep,
                            last_event_id: str | None = Header(None)) -> StreamingResponse:
    """Server-sent events: started, progress, asset, finished | failed (replayed, then live)."""
    start = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 0
    job = _live_job(jobs, job_id)
    if job is not None:
        stream = _follow(job, start)
    else:
        events = await run_in_threadpool(_stored_events, services, job_id)
        stream = _replay(events[start:])
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# -- shapes ------------------------------------------------------------------------------------
def job_public(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "generation_id": job.generation_id, "status": job.status.value, "stage": job.stage,
            "engine_id": job.engine_id, "project_id": job.project_id,
            "assets": [asset_public(a) for a in list(job.assets)], "error": job.error}


def generation_public(g: Generation, job_id: str | None = None) -> dict[str, Any]:
    return {"id": g.id, "job_id": job_id, "project_id": g.project_id, "stage": g.stage.value,
            "engine_id": g.engine_id, "status": g.status.value, "credits": g.credits, "error": g.error,
            "prompt_id": g.prompt_id, "milestone_id": g.milestone_id, "params": g.params,
            "created_at": g.created_at.isoformat(), "seconds": g.seconds,
            "finished_at": g.finished_at.isoformat() if g.finished_at else None}


def sse(event: JobEvent) -> str:
    data = dict(event.data)
    if "asset" in data:
        data["asset"] = asset_public(data["asset"])
    return f"id: {event.index}\nevent: {event.kind}\ndata: {json.dumps(data, default=str)}\n\n"


# -- internals --------------------------------------------------------------------------------
def _live_job(jobs: JobQueue, ref: str) -> Job | None:
    """The in-memory job for a job id, or for a generation id it produced."""
    check_id(ref, "job_id")
    if ref.startswith("gen_"):
        return jobs.find_by_generation(ref)
    return jobs.get(ref)


async def _follow(job: Job, start: int) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    unsubscribe = job.subscribe(lambda: loop.call_soon_threadsafe(wake.set))
    index = start
    sent_progress: dict[str, Any] | None = None
    try:
        yield "retry: 2000\n\n"
        while True:
            wake.clear()  # before reading: an event appended after the read sets it again
            batch = job.events_from(index)
            for event in batch:
                yield sse(event)
                index = event.index + 1
            progress = job.live_progress()
            if progress is not None and progress != sent_progress and not job.done:
                sent_progress = progress
                yield f"event: progress\ndata: {json.dumps(progress)}\n\n"  # no id: not replayed
            if (batch and batch[-1].kind in TERMINAL_EVENTS) or (job.done and not job.events_from(index)):
                return
            try:
                await asyncio.wait_for(wake.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
    finally:
        unsubscribe()


async def _replay(events: list[JobEvent]) -> AsyncIterator[str]:
    for event in events:
        yield sse(event)


def _assets_of(session, generation_id: str):
    repo = AssetsRepo(session)
    return [repo.get(i) for i in GenerationsRepo(session).asset_ids(generation_id)]


def _stored_events(services, generation_id: str) -> list[JobEvent]:
    """The events of a generation this studio no longer holds (or never ran), rebuilt from its rows."""
    with services.db.read() as s:
        gen = GenerationsRepo(s).get(generation_id)
        assets = _assets_of(s, gen.id)
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("started", {"generation_id": gen.id, "credits": gen.credits, "warnings": []})]
    kinds += [("asset", {"asset": a}) for a in assets]
    if gen.status == JobStatus.SUCCEEDED:
        kinds.append(("finished", {"generation_id": gen.id, "credits": gen.credits, "warnings": []}))
    elif gen.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        kind = "cancelled" if gen.status == JobStatus.CANCELLED else "failed"
        kinds.append(("failed", {"generation_id": gen.id, "error": {
            "error": kind, "message": gen.error, "field": None, "fix": None, "detail": gen.error}}))
    return [JobEvent(i, kind, data) for i, (kind, data) in enumerate(kinds)]

