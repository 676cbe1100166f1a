"""Printing for the CLI: Rich for people, ``--json`` for scripts, progress bars on stderr."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any

from rich.console import Console

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)


class State:
    json = False


def emit_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def warn(lines: list[str]) -> None:
    for line in lines:
        err.print(f"[yellow]warning:[/] {line}")


@contextmanager
def render_progress(label: str, total_outputs: int, quiet: bool = False):
    """A progress bar fed by stage events: one task for the outputs, one for the current one's steps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if quiet:
        yield lambda _e: None
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err, transient=False,
    )
    with progress:
        outputs = progress.add_task(label, total=total_outputs)
        steps = progress.add_task("  steps", total=1)
        first: dict[str, bool] = {"loaded": False}

        def on_event(event) -> None:
            if event.kind == "started":
                progress.update(steps, description="  loading model")
            elif event.kind == "progress" and event.progress is not None:
                p = event.progress
                if not first["loaded"]:
                    first["loaded"] = True
                progress.update(steps, description=f"  output {p.index + 1}: step", total=p.total, completed=p.step)
            elif event.kind == "asset" and event.asset is not None:
                a = event.asset
                progress.advance(outputs)
                progress.console.print(f"  [green]✓[/] {a.id}  seed {a.seed}  {a.width}x{a.height}")
            elif event.kind in ("finished", "failed"):
                progress.update(steps, visible=False)

        yield on_event
