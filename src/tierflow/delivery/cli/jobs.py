"""`tierflow jobs list|show|cancel`: the durable jobs queued by `--queue` or `studio --jobs durable`."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json

app = typer.Typer(help="Durable render jobs: list, inspect, cancel (`tierflow worker` renders them).",
                  no_args_is_help=True)

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def job_dict(gen, asset_ids: list[str]) -> dict[str, Any]:
    """A durable job's state, from its generation and the assets stored for it."""
    def iso(t):
        return t.isoformat() if t else None

    return {"id": gen.id, "status": gen.status.value, "stage": gen.stage.value, "op": (gen.spec or {}).get("op"),
            "engine_id": gen.engine_id, "project_id": gen.project_id, "attempts": gen.attempts,
            "lease_owner": gen.lease_owner, "lease_expires_at": iso(gen.lease_expires_at),
            "outputs": len(asset_ids), "asset_ids": asset_ids, "error": gen.error, "credits": gen.credits,
            "cancel_requested": gen.cancel_requested, "generation_ids": gen.chain,
            "created_at": iso(gen.created_at), "started_at": iso(gen.started_at), "finished_at": iso(gen.finished_at)}


def _job(s, job_id: str) -> dict[str, Any]:
    """A job with the assets of all its steps and its status over them (an upscale then its creative pass)."""
    from tierflow.domain.errors import NotFound
    from tierflow.domain.ids import check_id
    from tierflow.storage.generations_repo import DURABLE, GenerationsRepo

    repo = GenerationsRepo(s)
    gen = repo.find(check_id(job_id, "job_id"))
    if gen is None or not gen.is_job or gen.queue != DURABLE:
        raise NotFound(f"no durable job {job_id!r}", field="job_id", fix="see `tierflow jobs list` for job ids")
    steps = [gen] + [repo.get(g) for g in gen.chain[1:]]
    job = job_dict(gen, [a for step in steps for a in repo.asset_ids(step.id)])
    if len(steps) > 1:
        from tierflow.app.service import chain_status

        job["status"] = chain_status(steps).value
        job["credits"] = round(sum(step.credits for step in steps), 6)
        job["error"] = next((step.error for step in steps if step.error), None)
    return job


def _requeue_dead() -> None:
    """A worker that died leaves its job running until someone looks: put it back first, so what is
    shown is true (what `tierflow worker` does at start; the default --max-attempts applies)."""
    from tierflow.jobs.durable import requeue_expired

    requeue_expired(services())


@app.command("list")
def list_(
    project: str = typer.Option(None, "--project", "-p", help="Project name or id."),
    status: str = typer.Option(None, "--status", help=f"Only jobs in this state: {', '.join(STATUSES)}."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List durable jobs, newest first."""
    State.json = json_out
    from tierflow.domain.errors import InvalidInput
    from tierflow.storage.generations_repo import GenerationsRepo
    from tierflow.storage.projects_repo import ProjectsRepo

    if status is not None and status not in STATUSES:
        raise InvalidInput(f"{status!r} is not a job status", field="status", fix=f"use one of {', '.join(STATUSES)}")
    if limit < 1:
        raise InvalidInput(f"{limit} is not a limit", field="limit", fix="pass 1 or more")
    _requeue_dead()
    with services().db.read() as s:
        project_id = ProjectsRepo(s).get(project).id if project else None
        jobs = [_job(s, g.id) for g in GenerationsRepo(s).jobs(project_id=project_id, status=status, limit=limit)]
    if json_out:
        emit_json({"jobs": jobs})
        return
    table = Table("status", "stage", "engine", "attempts", "outputs", "credits", "created")
    table.columns.insert(0, Table("job").columns[0])
    table.columns[0].no_wrap = True  # ids are what a user copies: never wrap or cut them
    for j in jobs:
        table.add_row(j["id"], j["status"], j["stage"], j["engine_id"], str(j["attempts"]), str(j["outputs"]),
                      f"{j['credits']:g}", j["created_at"][:19])
    console.print(table)
    if not jobs:
        console.print("no durable jobs; queue one with `tierflow draft ... --queue`")


@app.command("show")
def show(
    job_id: str = typer.Argument(..., help="The job id (its generation id, gen_…)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """A job's status, stage, engine, attempts, lease, outputs, assets, error and credits."""
    State.json = json_out
    from tierflow.domain.ids import check_id

    check_id(job_id, "job_id")
    _requeue_dead()
    with services().db.read() as s:
        job = _job(s, job_id)
    if json_out:
        emit_json({"job": job})
        return
    lease = ("lease_owner", "lease_expires_at")
    for key in ("id", "status", "stage", "engine_id", "project_id", "attempts", *lease,
                "outputs", "credits", "error", "created_at", "started_at", "finished_at"):
        if job[key] is not None and (key not in lease or job["status"] == "running"):
            console.print(f"{key.replace('_', ' ')}: {job[key]}", soft_wrap=True)
    if job["cancel_requested"] and job["status"] in ("queued", "running"):
        console.print("cancel requested: the worker stops at the engine's next step")
    for asset_id in job["asset_ids"]:
        console.print(f"  asset {asset_id}")


@app.command("cancel")
def cancel(
    job_id: str = typer.Argument(..., help="The job id (its generation id, gen_…)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Cancel a job: a queued one now (credits refunded), a running one at its worker's next step."""
    State.json = json_out
    from tierflow.domain.ids import check_id
    from tierflow.jobs.durable import cancel as cancel_job

    check_id(job_id, "job_id")
    _requeue_dead()  # a dead worker's job is queued again, so it is cancelled now rather than by request
    status = cancel_job(services(), job_id)
    if json_out:
        emit_json({"job": {"id": job_id, "status": status, "cancel_requested": status == "running"}})
    elif status == "running":
        console.print(f"asked the worker running {job_id} to stop; outputs it stored stay and are charged")
    else:
        console.print(f"cancelled {job_id}; its unused reserved credits were refunded")
