"""`tierflow doctor`: the installed environment against the lock, and what differs."""

from __future__ import annotations

from pathlib import Path

import typer

from tierflow.delivery.cli.output import State, console, emit_json


def register(app: typer.Typer) -> None:
    @app.command()
    def doctor(
        lock: Path = typer.Option(None, "--lock", help="The lock file (default: $TIERFLOW_LOCK, or "
                                  "requirements-lock.txt of the checkout tierflow runs from)."),
        strict: bool = typer.Option(False, "--strict", help="Exit 1 when the environment differs from the lock."),
        json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    ) -> None:
        """Print Python, platform and key library versions, and every package that differs from the lock."""
        State.json = json_out
        from tierflow.maintenance.environment import compare

        report = compare(lock)
        if json_out:
            emit_json(report.to_dict())
        else:
            _print(report)
        if strict and not report.matches:
            raise typer.Exit(1)


def _print(report) -> None:
    console.print(f"tierflow {report.tierflow}   Python {report.python}   {report.platform}")
    libs = ", ".join(f"{k} {v}" for k, v in report.key_libraries.items() if v)
    console.print(f"libraries: {libs}", soft_wrap=True)
    if report.lock is None:
        console.print("[yellow]no lock found[/]: installed as a library (pyproject.toml ranges); "
                      "pass --lock PATH to compare with a tierflow checkout's requirements-lock.txt", soft_wrap=True)
        return
    console.print(f"lock: {report.lock} ({report.locked} packages; {report.lock_target})", soft_wrap=True)
    if report.matches:
        console.print(f"[green]matches the lock[/]: all {report.locked} locked packages at their locked versions")
        return
    console.print(f"[yellow]{len(report.differences)} packages differ from the lock:[/]")
    for d in report.differences:
        if d.kind == "changed":
            console.print(f"  changed  {d.package} {d.installed} (lock: {d.locked})")
        elif d.kind == "missing":
            console.print(f"  missing  {d.package} (lock: {d.locked})")
        else:
            console.print(f"  extra    {d.package} {d.installed} (not in the lock)")
    console.print("fix: `make install` after `make clean` reinstalls the lock; a dependency added to "
                  "pyproject.toml needs `make lock` first", soft_wrap=True)
