"""`tierflow review ASSET --keep|--discard|--star`."""

from __future__ import annotations

import typer

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json


def register(app: typer.Typer) -> None:
    @app.command()
    def review(
        asset: str = typer.Argument(..., help="Asset id."),
        keep: bool = typer.Option(False, "--keep", help="Usable: keep it."),
        discard: bool = typer.Option(False, "--discard", help="Not usable: bin it."),
        star: bool = typer.Option(False, "--star", help="The best of the batch."),
        seconds: float = typer.Option(None, "--seconds", help="Human time spent (default: measured)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Keep, discard or star an asset; the review time is recorded as human cost."""
        State.json = json_out
        from tierflow.domain.errors import InvalidInput
        from tierflow.stages.review import review as do_review

        chosen = [name for name, flag in (("keep", keep), ("discard", discard), ("star", star)) if flag]
        if len(chosen) != 1:
            raise InvalidInput("choose exactly one of --keep, --discard, --star", field="state",
                               fix="e.g. `tierflow review ast_... --keep`")
        updated = do_review(services(), asset, chosen[0], seconds=seconds)
        if json_out:
            emit_json({"asset": updated.to_dict()})
        else:
            console.print(f"{updated.id}: {updated.review.value}")
