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


def job_dict(row, asset_ids: list[str]) -> dict[str, Any]:
    """A durable job's state, from its generation row and the assets stored for it."""
    def iso(t):
        return t.isoformat() if t else None

    return {"id": row.id, "status": row.status, "stage": row.stage, "engine_id": row.engine_id,
            "project_id": row.project_id, "attempts": row.attempts or 0, "lease_owner": row.lease_owner,
            "lease_expires_at": iso(row.lease_expires_at), "outputs": len(asset_ids), "asset_ids": asset_ids,
            "error": row.error, "credits": row.credits,
            "cancel_requested": bool((row.params or {}).get("cancel_requested")),
            "created_at": iso(row.created_at), "started_at": iso(row.started_at), "finished_at": iso(row.finished_at)}


def _asset_ids(s, generation_id: str) -> list[str]:
    from sqlalchemy import select

    from tierflow.storage.tables import AssetRow

    return list(s.scalars(select(AssetRow.id).where(AssetRow.generation_id == generation_id)
                          .order_by(AssetRow.created_at, AssetRow.id)))


def _requeue_dead() -> None:
    """A worker that died leaves its job running until someone looks: put it back first, so what is
    shown is true (what `tierflow worker` does at start; the default --max-attempts applies)."""
    from tierflow.jobs.durable import requeue_expired

    requeue_expired(services())


def _job_row(s, job_id: str):
    from tierflow.domain.errors import NotFound
    from tierflow.domain.ids import check_id
    from tierflow.storage.tables import GenerationRow

    row = s.get(GenerationRow, check_id(job_id, "job_id"))
    if row is None or not (row.params or {}).get("job"):
        raise NotFound(f"no durable job {job_id!r}", field="job_id", fix="see `tierflow jobs list` for job ids")
    return row


@app.command("list")
def list_(
    project: str = typer.Option(None, "--project", "-p", help="Project name or id."),
    status: str = typer.Option(None, "--status", help=f"Only jobs in this state: {', '.join(STATUSES)}."),
    limit: int = typer.Option(50, "--limit", help="At most this many, newest first."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List durable jobs, newest first."""
    State.json = json_out
    from sqlalchemy import select

    from tierflow.domain.errors import InvalidInput
    from tierflow.jobs.durable import QUEUEABLE
    from tierflow.storage.projects_repo import ProjectsRepo
    from tierflow.storage.tables import GenerationRow

    if status is not None and status not in STATUSES:
        raise InvalidInput(f"{status!r} is not a job status", field="status", fix=f"use one of {', '.join(STATUSES)}")
    if limit < 1:
        raise InvalidInput(f"{limit} is not a limit", field="limit", fix="pass 1 or more")
    _requeue_dead()
    q = (select(GenerationRow).where(GenerationRow.stage.in_(list(QUEUEABLE)))
         .order_by(GenerationRow.created_at.desc(), GenerationRow.id.desc()))
    jobs: list[dict[str, Any]] = []
    with services().db.read() as s:
        if project:
            q = q.where(GenerationRow.project_id == ProjectsRepo(s).row(project).id)
        if status:
            q = q.where(GenerationRow.status == status)
        for row in s.scalars(q.execution_options(yield_per=200)):
            if (row.params or {}).get("job"):  # in-process renders share the table; only queued jobs count
                jobs.append(job_dict(row, _asset_ids(s, row.id)))
                if len(jobs) >= limit:
                    break
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
        row = _job_row(s, job_id)
        job = job_dict(row, _asset_ids(s, row.id))
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
