"""`tierflow gallery`, `lineage` and `export`: finding, tracing and delivering assets."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.tree import Tree

from tierflow.delivery.cli.context import services
from tierflow.delivery.cli.output import State, console, emit_json, warn


def register(app: typer.Typer) -> None:
    @app.command()
    def gallery(
        project: str = typer.Option(None, "--project", "-p"),
        search: str = typer.Option(None, "--search", "-s", help="Words that must appear in the prompt."),
        state: str = typer.Option(None, "--state", help="unreviewed, keep, discard or star."),
        stage: str = typer.Option(None, "--stage", help="draft, final, cleanup, upscale, video, overlay."),
        engine: str = typer.Option(None, "--engine", "-e"),
        limit: int = typer.Option(50, "--limit", help="At most this many (1-1000)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """List assets, newest first, with filters and prompt search."""
        State.json = json_out
        from tierflow.domain.errors import InvalidInput
        from tierflow.domain.models import ReviewState, Stage
        from tierflow.storage.assets_repo import AssetsRepo, GalleryQuery
        from tierflow.storage.projects_repo import ProjectsRepo

        if not 1 <= limit <= 1000:
            raise InvalidInput(f"{limit} is out of range", field="limit", fix="use 1..1000")
        try:
            review_state = ReviewState(state) if state else None
        except ValueError:
            raise InvalidInput(f"{state!r} is not a review state", field="state",
                               fix="use unreviewed, keep, discard or star") from None
        try:
            stage_value = Stage(stage) if stage else None
        except ValueError:
            raise InvalidInput(f"{stage!r} is not a stage", field="stage",
                               fix="use " + ", ".join(s.value for s in Stage)) from None
        with services().db.read() as s:
            project_id = ProjectsRepo(s).get(project).id if project else None
            assets = AssetsRepo(s).gallery(GalleryQuery(project_id=project_id, search=search, stage=stage_value,
                                                         review=review_state, engine_id=engine, limit=limit))
        if json_out:
            emit_json({"assets": [a.to_dict() for a in assets]})
            return
        table = Table(expand=False)
        for col in ("asset", "stage", "review", "size", "seed", "engine"):
            table.add_column(col, no_wrap=True)
        table.add_column("prompt", overflow="ellipsis", no_wrap=True, max_width=40)
        table.add_column("created", no_wrap=True)
        for a in assets:
            table.add_row(a.id, a.stage.value, a.review.value, f"{a.width}x{a.height}", str(a.seed), a.engine_id,
                          a.prompt,
                          a.created_at.strftime("%Y-%m-%d %H:%M"))
        console.print(table)

    @app.command()
    def lineage(asset: str = typer.Argument(...), json_out: bool = typer.Option(False, "--json")) -> None:
        """Show an asset's family: its ancestors up to the first draft, and everything made from it."""
        State.json = json_out
        from tierflow.storage.assets_repo import AssetsRepo

        with services().db.read() as s:
            repo = AssetsRepo(s)
            target = repo.get(asset)
            ancestors = repo.ancestors(target.id)
            root = ancestors[-1] if ancestors else target.id
            tree = repo.descendants_tree(root)
        if json_out:
            emit_json({"asset": target.to_dict(), "ancestors": ancestors, "root": root,
                       "tree": _tree_dict(tree)})
            return
        view = Tree(_label(tree["asset"], target.id))
        _fill(view, tree, target.id)
        console.print(view)

    @app.command()
    def export(
        asset: str = typer.Argument(...),
        out: Path = typer.Option(..., "--out", "-o", help="File to write (PNG for images, MP4 for videos)."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Write an asset with its provenance (A1111 parameters, lineage, IPTC source type) and a signed C2PA manifest."""
        State.json = json_out
        from tierflow.provenance.export import export_asset

        written = export_asset(services(), asset, out)
        signed = written["credentials"]
        if json_out:
            emit_json({"asset": written["asset"], "path": str(written["path"]), "bytes": written["bytes"],
                       "credentials": signed})
        else:
            console.print(f"wrote {written['path']} ({written['bytes']} bytes)")
            if signed["signed"]:
                console.print(f"signed: C2PA manifest of its lineage by {signed['signer']} "
                              f"(check with `tierflow verify {written['path']}`)", soft_wrap=True)
        if not signed["signed"]:
            warn([signed["warning"]])


def _label(a, highlight: str) -> str:
    mark = "[bold cyan]" if a.id == highlight else ""
    end = "[/]" if mark else ""
    return f"{mark}{a.stage.value} {a.id}{end}  {a.width}x{a.height}  seed {a.seed}  \\[{a.review.value}]"


def _fill(view: Tree, node: dict, highlight: str) -> None:
    for child in node["children"]:
        _fill(view.add(_label(child["asset"], highlight)), child, highlight)


def _tree_dict(node: dict) -> dict:
    a = node["asset"]
    return {"id": a.id, "stage": a.stage.value, "review": a.review.value,
            "children": [_tree_dict(c) for c in node["children"]]}
