"""`tierflow`: the root command, error handling, and the sub-commands in flow order."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from tierflow import __version__
from tierflow.delivery.cli import engines, gallery, models, projects, render, review
from tierflow.delivery.cli import guardrails
from tierflow.delivery.cli import production
from tierflow.delivery.cli import users
from tierflow.delivery.cli import worker
from tierflow.delivery.cli import jobs
from tierflow.delivery.cli import studio
from tierflow.delivery.cli import doctor, fsck
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
fsck.register(app)
doctor.register(app)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point: usage and domain errors become one line and a non-zero exit, never a traceback."""
    command = typer.main.get_command(app)
    try:
        code = command.main(args=sys.argv[1:] if argv is None else argv, prog_name="tierflow",
                            standalone_mode=False)
    except TierflowError as e:
        if State.json:
            emit_json(e.to_dict())
        err.print(f"[red]error:[/] {escape(str(e))}", soft_wrap=True)
        sys.exit(e.exit_code)
    except ABORTS:
        err.print("[red]aborted[/]")
        sys.exit(130)
    except KeyboardInterrupt:
        err.print("[red]cancelled[/]")
        sys.exit(130)
    except CLICK_ERRORS as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            e.show()
        else:
            err.print(f"[red]error:[/] {escape(usage_line(e))}", soft_wrap=True)
        sys.exit(e.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def usage_line(e: Exception) -> str:
    """A Click error as one line: what is wrong (naming the option) and where the help is."""
    text = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        text = f"{text} (see `{ctx.command_path} --help`)"
    return text


def _click_classes(name: str) -> tuple[type[BaseException], ...]:
    """Click's ``name`` class from every Click this Typer may raise: its vendored copy (Typer
    0.2x ships ``typer._click``, whose errors are not ``click``'s) and the ``click`` package."""
    found = {cls for cls in (*typer.BadParameter.__mro__, *typer.Abort.__mro__) if cls.__name__ == name}
    try:
        import click.exceptions

        found.add(getattr(click.exceptions, name))
    except ImportError:  # a Typer that vendors click need not have it installed
        pass
    return tuple(found)


CLICK_ERRORS = _click_classes("ClickException")
ABORTS = _click_classes("Abort")
