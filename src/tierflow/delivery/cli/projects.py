"""`tierflow project create|list|show`."""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.context import acting, services
from tierflow.delivery.cli.output import State, console, emit_json

app = typer.Typer(help="Create and inspect projects.", no_args_is_help=True)


def project_dict(p, counts: dict | None = None) -> dict:
    out = {"id": p.id, "name": p.name, "description": p.description, "created_at": p.created_at.isoformat(),
           **p.settings}
    if counts is not None:
        out["assets"] = counts
    return out


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Project name (unique in the workspace)."),
    description: str = typer.Option("", "--description", "-d"),
    min_drafts: int = typer.Option(10, "--min-drafts", help="Draft-first: drafts a prompt thread needs before its first final."),
    final_cap: int = typer.Option(None, "--final-cap", help="Most final renders per milestone (default: no cap)."),
    private: bool = typer.Option(False, "--private", help="Only members can see it."),
    budget: float = typer.Option(None, "--budget", help="Credits granted at creation (default: unlimited, still counted)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create a project."""
    State.json = json_out
    from tierflow.domain.errors import InvalidInput
    from tierflow.storage.projects_repo import ProjectsRepo

    if min_drafts < 0:
        raise InvalidInput(f"{min_drafts} is negative", field="min_drafts", fix="use 0 or more")
    if final_cap is not None and final_cap < 0:
        raise InvalidInput(f"{final_cap} is negative", field="final_cap", fix="use 0 or more, or omit for no cap")
    me, role = acting() if budget is not None else (None, None)
    with services().db.transaction() as s:
        p = ProjectsRepo(s).create(name, description=description, min_drafts=min_drafts, final_cap=final_cap,
                                   private=private)
        if budget is not None:
            from tierflow.guardrails.budget import grant_in_session

            grant_in_session(s, ProjectsRepo(s).row(p.id), budget, user_id=me, role=role, note="project created")
    if json_out:
        emit_json({"project": project_dict(p)})
    else:
        console.print(f"created project [bold]{p.name}[/] ({p.id})")


@app.command("list")
def list_(json_out: bool = typer.Option(False, "--json")) -> None:
    """List projects."""
    State.json = json_out
    from tierflow.storage.projects_repo import ProjectsRepo

    with services().db.read() as s:
        repo = ProjectsRepo(s)
        rows = [(p, repo.counts(p.id)) for p in repo.list()]
    if json_out:
        emit_json({"projects": [project_dict(p, c) for p, c in rows]})
        return
    table = Table("id", "name", "drafts", "finals", "created")
    for p, c in rows:
        table.add_row(p.id, p.name, str(c.get("draft", 0)), str(c.get("final", 0)), p.created_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@app.command("show")
def show(project: str = typer.Argument(..., help="Project name or id."),
         json_out: bool = typer.Option(False, "--json")) -> None:
    """Show a project: settings, asset counts, milestones."""
    State.json = json_out
    from tierflow.storage.projects_repo import ProjectsRepo

    with services().db.read() as s:
        repo = ProjectsRepo(s)
        p = repo.get(project)
        counts = repo.counts(p.id)
        milestones = [m.name for m in repo.milestones(p.id)]
    data = project_dict(p, counts) | {"milestones": milestones}
    if json_out:
        emit_json({"project": data})
        return
    for key, value in data.items():
        console.print(f"[bold]{key}[/]: {value}")
