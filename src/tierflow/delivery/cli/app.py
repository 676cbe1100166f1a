"""`tierflow`: the root command, error handling, and the sub-commands in flow order."""

from __future__ import annotations

import sys

import click
import typer

from tierflow import __version__
from tierflow.delivery.cli import engines, gallery, models, projects, render, review
from tierflow.delivery.cli import guardrails
from tierflow.delivery.cli import production
from tierflow.delivery.cli import users
from tierflow.delivery.cli import worker
from tierflow.delivery.cli import jobs
from tierflow.delivery.cli import studio
from tierflow.delivery.cli import credentials
from tierflow.delivery.cli.output import State, emit_json, err
from tierflow.domain.errors import TierflowError

app = typer.Typer(
    name="tierflow",
    help="Tiered generative image work: draft fast and cheap, review, promote the winner to a final model.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(projects.app, name="project")
app.add_typer(models.app, name="models")
app.add_typer(users.app, name="user")
render.register(app)
review.register(app)
production.register(app)
gallery.register(app)
engines.register(app)
studio.register(app)
guardrails.register(app)
worker.register(app)
app.add_typer(jobs.app, name="jobs")
credentials.register(app)


@app.command()
def demo(json_out: bool = typer.Option(False, "--json", help="Print a JSON summary.")) -> None:
    """Run a scripted end-to-end session: project → drafts → review → promote → lineage → export."""
    from tierflow.delivery.cli.demo import run_demo

    run_demo(json_out)


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        typer.echo(f"tierflow {__version__}")
        raise typer.Exit()


def main() -> None:
    """Entry point: domain errors become one line and a non-zero exit, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:], prog_name="tierflow", standalone_mode=False)
    except TierflowError as e:
        if State.json:
            emit_json(e.to_dict())
        err.print(f"[red]error:[/] {e}", soft_wrap=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("[red]cancelled[/]")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
