"""`tierflow budget`, `policy`, `report`, `dna`, `audit` and `milestone`: the guardrails and their numbers.

Without accounts, the person at this install (the OS user) acts as lead: they may grant credits,
change policies and override a block with `promote --override REASON`. Every such change is in
`tierflow audit`.
"""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.context import acting, services
from tierflow.delivery.cli.output import State, console, emit_json, warn

milestones = typer.Typer(help="Create, list and close a project's milestones (final caps count per milestone).",
                         no_args_is_help=True)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def register(app: typer.Typer) -> None:
    app.add_typer(milestones, name="milestone")

    @app.command()
    def budget(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        grant: float = typer.Option(None, "--grant", help="Add this many credits to the budget."),
        milestone: str = typer.Option(None, "--milestone", "-m", help="The milestone's budget instead."),
        workspace: bool = typer.Option(False, "--workspace", help="The workspace's budget instead."),
        daily_limit: float = typer.Option(None, "--daily-limit", help="Credits --user may spend per UTC day."),
        user: str = typer.Option(None, "--user", help="Show (or limit) this user's spend today."),
        note: str = typer.Option("", "--note", help="Why (kept in the audit log)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show a budget (granted, reserved, spent, remaining) or grant credits to it."""
        State.json = json_out
        from tierflow.domain.errors import InvalidInput
        from tierflow.guardrails import budget as uc

        if workspace and milestone:
            raise InvalidInput("choose --workspace or --milestone, not both", field="scope",
                               fix="one budget per command")
        if daily_limit is not None and not user:
            raise InvalidInput("a daily limit needs a user", field="user", fix="add --user NAME")
        if user and (grant is not None or workspace or milestone):
            raise InvalidInput("--user shows or limits one person's day", field="user",
                               fix="use --grant with the project, --workspace or --milestone instead")
        scope = "workspace" if workspace else ("milestone" if milestone else "project")
        svc = services()
        if daily_limit is not None:
            me, role = acting()
            data = uc.set_daily_limit(svc, project, user, daily_limit, user_id=me, role=role)
        elif grant is not None:
            me, role = acting()
            data = uc.grant(svc, project, grant, scope=scope, milestone=milestone, user_id=me, role=role,
                            note=note)
        else:
            data = uc.budget_status(svc, project, scope=scope, milestone=milestone, user=user)
        if json_out:
            emit_json(data)
            return
        where = f"{data['scope']} {data['scope_id']}"
        if data["unlimited"]:
            console.print(f"{where}: unlimited — {_fmt(data['spent'])} spent, {_fmt(data['reserved'])} reserved")
        else:
            console.print(f"{where}: {_fmt(data['remaining'])} of {_fmt(data['granted'])} credits left "
                          f"({_fmt(data['spent'])} spent, {_fmt(data['reserved'])} reserved)")
        counted = data.get("milestone")
        if counted:
            cap = "no cap" if counted["final_cap"] is None else f"cap {counted['final_cap']}"
            console.print(f"finals count against milestone {counted['name']}: {counted['finals']} ({cap})")
        warn(data["warnings"])

    @app.command()
    def policy(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        min_drafts: int = typer.Option(None, "--min-drafts", help="Draft-first: drafts a thread needs before a final."),
        final_cap: int = typer.Option(None, "--final-cap", help="Most finals per milestone."),
        no_final_cap: bool = typer.Option(False, "--no-final-cap", help="Remove the cap on finals."),
        low_credit: float = typer.Option(None, "--low-credit", help="Warn under this fraction of a budget (0-1)."),
        reason: str = typer.Option("", "--reason", help="Why (kept in the audit log)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Show or change a project's policies (draft-first, final cap, low-credit warning)."""
        State.json = json_out
        from tierflow.domain.errors import InvalidInput
        from tierflow.guardrails import budget as uc

        if no_final_cap and final_cap is not None:
            raise InvalidInput("choose --final-cap or --no-final-cap", field="final_cap", fix="pass one of them")
        cap = None if no_final_cap else (final_cap if final_cap is not None else uc.UNSET)
        me, role = acting()
        data = uc.set_policy(services(), project, min_drafts=min_drafts, final_cap=cap,
                             low_credit_threshold=low_credit, user_id=me, role=role, reason=reason)
        if json_out:
            emit_json(data)
            return
        for key, value in data["policy"].items():
            console.print(f"[bold]{key}[/]: {_fmt(value) if value is not None else 'none'}")
        if data["changed"]:
            console.print(f"changed: {', '.join(data['changed'])}")
        counted = data.get("milestone")
        if counted:
            console.print(f"finals count against milestone {counted['name']}: {counted['finals']} so far")

    @app.command()
    def report(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        milestone: str = typer.Option(None, "--milestone", "-m", help="Only this milestone's renders."),
        chart: str = typer.Option(None, "--chart", help="Write a PNG chart to this file."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Draft-to-final ratio, usable rate per tier, cost per usable asset, latency, and a chart."""
        State.json = json_out
        from tierflow.guardrails.budget import project_report

        result = project_report(services(), project, milestone, chart=chart)
        data = result.to_dict()
        if chart:
            data["chart"] = chart
        if json_out:
            emit_json(data)
            return
        ratio = data["draft_to_final_ratio"]
        low, high = data["band"]
        console.print(f"drafts {data['drafts']}, finals {data['finals']}, draft-to-final ratio "
                      f"{'-' if ratio is None else f'{ratio:.1f}:1'} (healthy {low:g}:1 to {high:g}:1)")
        table = Table("stage", "made", "usable", "discarded", "unreviewed", "usable rate", "credits")
        for stage, c in data["counts"].items():
            table.add_row(stage, str(c["made"]), str(c["usable"]), str(c["discarded"]), str(c["unreviewed"]),
                          f"{data['usable_rate'][stage]:.0%}", _fmt(data["spend_by_tier"].get(stage)))
        console.print(table)
        cost = data["cost_per_usable_asset"]
        console.print(f"cost per usable asset: {_fmt(cost['credits'])} credits, "
                      f"{_fmt(cost['human_seconds'])} s of human time ({data['usable_assets']} usable)")
        console.print(f"high-credit renders discarded: {_fmt(data['high_credit_discard_share'])}; "
                      f"time to first draft: {_fmt(data['time_to_first_draft_seconds'])} s")
        for engine_id, lat in data["latency"].items():
            console.print(f"latency {engine_id}: p50 {lat['p50']:.3g} s, p95 {lat['p95']:.3g} s (n={lat['n']})")
        if chart:
            console.print(f"chart: {chart}")
        warn(data["warnings"])

    @app.command()
    def ledger(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        limit: int = typer.Option(50, "--limit", min=1, max=5000, help="How many entries, newest first."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """The project's credit ledger (grants, reservations, commits, refunds), newest first."""
        State.json = json_out
        from tierflow.guardrails.budget import ledger_entries

        data = ledger_entries(services(), project, limit=limit)
        if json_out:
            emit_json(data)
            return
        table = Table("when", "scope", "kind", "amount", "note")
        for e in data["entries"]:
            table.add_row(e["created_at"][:19], e["scope"], e["kind"], _fmt(e["amount"]), e["note"])
        console.print(table)

    @app.command()
    def dna(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        top: int = typer.Option(10, "--top", help="How many terms of each kind."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Prompt terms that recur in kept drafts and are rare in discarded ones; a suggested final prompt."""
        State.json = json_out
        from tierflow.guardrails.budget import prompt_dna

        data = prompt_dna(services(), project, top=top)
        if json_out:
            emit_json(data)
            return
        table = Table("term", "score", "kept", "discarded")
        for t in data["positive"] + data["negative"]:
            table.add_row(t["term"], f"{t['score']:+.2f}", str(t["kept"]), str(t["discarded"]))
        console.print(table)
        console.print(f"suggested prompt: [bold]{data['suggested_prompt']}[/]")

    @app.command()
    def audit(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Who granted credits, changed a policy or overrode a block, and why."""
        State.json = json_out
        from tierflow.guardrails.budget import audit_log

        rows = audit_log(services(), project)
        if json_out:
            emit_json({"audit": rows})
            return
        for r in rows:
            detail = ", ".join(f"{k}={v}" for k, v in r["detail"].items() if v is not None and k != "policy")
            console.print(f"{r['created_at'][:19]}  [bold]{r['action']}[/] by {r['user_id'] or '-'}"
                          + (f" — {r['reason']}" if r["reason"] else "") + (f" ({detail})" if detail else ""))
        if not rows:
            console.print("no audit entries yet")


@milestones.command("create")
def milestone_create(
    name: str = typer.Argument(..., help="Milestone name (unique in the project)."),
    project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Create a milestone; renders that name none count against it from now on (the current one)."""
    State.json = json_out
    from tierflow.guardrails import budget as uc

    me, _role = acting()
    data = uc.create_milestone(services(), project, name, user_id=me)
    if json_out:
        emit_json(data)
    else:
        m = data["milestone"]
        console.print(f"created milestone [bold]{m['name']}[/] ({m['id']}); renders without --milestone count here")


@milestones.command("close")
def milestone_close(
    name: str = typer.Argument(..., help="Milestone name or id."),
    project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
    reopen: bool = typer.Option(False, "--reopen", help="Open a closed milestone again."),
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit log)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Close a milestone (lead): renders then count against the next open one, or a new implicit one."""
    State.json = json_out
    from tierflow.guardrails import budget as uc

    me, role = acting()
    data = uc.close_milestone(services(), project, name, closed=not reopen, user_id=me, role=role, reason=reason)
    if json_out:
        emit_json(data)
    else:
        m = data["milestone"]
        console.print(f"milestone [bold]{m['name']}[/] is {'closed' if m['closed'] else 'open'}")


@milestones.command("list")
def milestone_list(
    project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """List a project's milestones (open or closed; the current one is marked)."""
    State.json = json_out
    from tierflow.guardrails import budget as uc

    data = uc.list_milestones(services(), project)
    if json_out:
        emit_json(data)
        return
    for m in data["milestones"]:
        state = "closed" if m["closed"] else ("current" if m["current"] else "open")
        console.print(f"{m['name']} ({m['id']}) — {state}")
    if not data["milestones"]:
        console.print("no milestones yet: the first final makes the implicit milestone 'main'")
