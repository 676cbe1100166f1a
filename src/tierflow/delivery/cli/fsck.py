"""`tierflow fsck`: check (and with --repair, restore) every stored asset, the lineage and the ledger."""

from __future__ import annotations

import typer

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json


def register(app: typer.Typer) -> None:
    @app.command()
    def fsck(
        repair: bool = typer.Option(False, "--repair", help="Re-render missing or corrupt assets from their "
                                    "recorded engine, revision, seed and parents (only when the result is "
                                    "bit-identical), and remove orphan blobs past the grace period."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Check every asset's blob (missing, corrupt, orphan), the lineage and each budget's ledger.

        Exits 0 when everything is sound (after repairs), 1 when a problem remains.
        """
        State.json = json_out
        from tierflow.accounts.local import cli_principal
        from tierflow.domain.access import can_maintain
        from tierflow.maintenance.fsck import fsck as run_fsck

        svc = services()
        can_maintain(cli_principal(svc.db))
        report = run_fsck(svc, repair=repair)
        if json_out:
            emit_json(report.to_dict())
        else:
            _print(report)
        raise typer.Exit(0 if report.ok else 1)


def _print(report) -> None:
    console.print(f"checked {report.assets} assets and {report.blobs} blobs, {len(report.ledger)} budgets")
    for kind, items in (("missing", report.missing), ("corrupt", report.corrupt)):
        for item in items:
            console.print(f"[red]{kind}[/]  {item['asset_id']}  ({item['stage']})  {item['problem']}", soft_wrap=True)
    for item in report.lineage:
        console.print(f"[red]lineage[/]  {item['problem']}", soft_wrap=True)
    for budget in report.ledger:
        for problem in budget["problems"]:
            console.print(f"[red]ledger[/]  {budget['scope']} {budget['scope_id']}: {problem}", soft_wrap=True)
    for item in report.orphans:
        note = "removable" if item["removable"] else "younger than the grace period (a render may be writing it)"
        console.print(f"[yellow]orphan[/]  {item['blob']}  {note}", soft_wrap=True)
    for item in report.repaired:
        console.print(f"[green]repaired[/]  {item['asset_id']}  (bit-identical re-render)")
    for item in report.unrepaired:
        console.print(f"[red]cannot repair[/]  {item['asset_id']}: {item['reason']}", soft_wrap=True)
    if report.orphans_removed:
        console.print(f"removed {report.orphans_removed} orphan blobs")
    damaged = len(report.missing) + len(report.corrupt)
    if report.ok:
        console.print("[green]ok[/]" + (f": {len(report.repaired)} repaired" if report.repaired else ""))
    elif damaged and not report.repair:
        console.print(f"{damaged} damaged assets: `tierflow fsck --repair` re-renders those it can")
