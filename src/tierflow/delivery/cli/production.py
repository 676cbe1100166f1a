"""`tierflow inpaint|outpaint|upscale|video|overlay|drift-check`: the stages after promote."""

from __future__ import annotations

import re

import typer
from rich.table import Table

from tierflow.delivery.cli.context import services, show_notices
from tierflow.delivery.cli.output import State, console, emit_json, render_progress, warn
from tierflow.domain.errors import InvalidInput


QUEUE_HELP = "Queue a durable job for `tierflow worker` instead."


def _run(spec, label: str, json_out: bool, quote: bool, queue: bool, extra=lambda asset: {}) -> None:
    """Quote, queue, or render with a progress bar and print the one asset (``{"asset": ...}`` with --json)."""
    from tierflow.delivery.cli.render import dispatch

    result = dispatch(spec, quote=quote, queue=queue, json_out=json_out, label=label, outputs=1)
    if result is not None:
        _print_asset(result, json_out, extra(result.assets[0]))


def _print_asset(result, json_out: bool, extra: dict) -> None:
    asset = result.assets[0]
    if json_out:
        emit_json({"asset": asset.to_dict(), "credits": result.credits, "warnings": result.warnings, **extra})
        return
    table = Table("asset", "stage", "size", "format", "parent", "engine")
    table.add_row(asset.id, asset.stage.value, f"{asset.width}x{asset.height}", asset.format,
                  ", ".join(asset.parent_ids), asset.engine_id)
    console.print(table)
    for key, value in extra.items():
        if isinstance(value, dict) and "max" in value:
            console.print(f"{key.replace('_', ' ')}: max {value['max']}, mean {value['mean']}")
    warn(result.warnings)


def _ints(value: str | None, n: int, name: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
    try:
        numbers = tuple(int(p) for p in parts)
    except ValueError:
        numbers = ()
    if len(numbers) != n:
        shape = {2: "X,Y", 4: "X,Y,W,H"}[n]
        raise InvalidInput(f"{value!r} is not {shape}", field=name, fix=f"write --{name} {shape} in px")
    return numbers


def register(app: typer.Typer) -> None:
    @app.command()
    def inpaint(
        asset: str = typer.Argument(..., help="The image asset to clean up."),
        mask: str = typer.Option(..., "--mask", help="PNG the image's size: white = repaint, black = keep."),
        prompt: str = typer.Option(..., "--prompt", help="What to paint in the masked area."),
        strength: float = typer.Option(None, "--strength", help="(0, 1]; default 1 = repaint fully."),
        engine: str = typer.Option(None, "--engine", "-e", help="Cleanup engine id."),
        seed: int = typer.Option(None, "--seed", help="Default: the source asset's seed."),
        steps: int = typer.Option(None, "--steps"),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help=QUEUE_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Repaint the masked part of an image; pixels outside the mask stay as they were."""
        State.json = json_out
        from tierflow.stages.cleanup import inpaint_spec

        spec = inpaint_spec(asset, mask, prompt, strength=strength, engine=engine, seed=seed, steps=steps)
        _run(spec, "inpainting", json_out, quote, queue,
             lambda a: {"unmasked_max_delta": a.params.get("unmasked_max_delta")})

    @app.command()
    def outpaint(
        asset: str = typer.Argument(..., help="The image asset to extend."),
        left: int = typer.Option(0, "--left", help="px to add on the left."),
        right: int = typer.Option(0, "--right", help="px to add on the right."),
        top: int = typer.Option(0, "--top", help="px to add at the top."),
        bottom: int = typer.Option(0, "--bottom", help="px to add at the bottom."),
        prompt: str = typer.Option(None, "--prompt", help="What to paint in the new border (default: the asset's)."),
        feather: int = typer.Option(8, "--feather", help="px the new border blends into the original."),
        engine: str = typer.Option(None, "--engine", "-e", help="Cleanup engine id."),
        seed: int = typer.Option(None, "--seed"),
        steps: int = typer.Option(None, "--steps"),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help=QUEUE_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Extend the canvas by the given px per side and paint the new border."""
        State.json = json_out
        from tierflow.domain.specs import OutpaintSpec

        spec = OutpaintSpec(asset, left=left, right=right, top=top, bottom=bottom, prompt=prompt, feather=feather,
                            engine=engine, seed=seed, steps=steps)
        _run(spec, "outpainting", json_out, quote, queue,
             lambda a: {"unmasked_max_delta": a.params.get("unmasked_max_delta")})

    @app.command()
    def upscale(
        asset: str = typer.Argument(..., help="The image asset to upscale."),
        to: str = typer.Option("2k", "--to", help="2k (2048 px long edge), 4k (3840 px) or a factor: x2, 3."),
        engine: str = typer.Option(None, "--engine", "-e", help="Upscale engine id."),
        creative: float = typer.Option(None, "--creative", help="Creative pass strength in (0, 0.5], e.g. 0.25: "
                                       "re-render the upscale in tiles to add detail (0 or absent: off)."),
        creative_engine: str = typer.Option(None, "--creative-engine", help="img2img engine for the pass "
                                            "(default: the final tier's)."),
        creative_prompt: str = typer.Option(None, "--creative-prompt", help="Default: the source asset's prompt."),
        creative_tile: int = typer.Option(None, "--creative-tile", help="Tile px (default: the engine's native "
                                          "size, 1024 for SDXL)."),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help=QUEUE_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Upscale in overlapping tiles, optionally with a creative pass; warns when the asset was never
        reviewed or cleaned."""
        State.json = json_out
        from tierflow.stages.upscale import upscale_spec

        spec = upscale_spec(asset, to, engine=engine, creative=creative, creative_engine=creative_engine,
                            creative_prompt=creative_prompt, creative_tile=creative_tile)
        if spec.creative is None:
            _run(spec, f"upscaling to {to}", json_out, quote, queue)
            return
        _run(spec, f"upscaling to {to} + creative pass", json_out, quote, queue,
             lambda a: {"creative": a.params.get("creative")})

    @app.command()
    def video(
        asset: str = typer.Argument(..., help="The hero image asset to animate."),
        prompt: str = typer.Option(..., "--prompt", help="The motion: what moves and how."),
        seconds: float = typer.Option(None, "--seconds", help="Clip length (default: the engine's)."),
        frames: int = typer.Option(None, "--frames", help="Frame count instead of --seconds (4k+1 for Wan)."),
        fps: int = typer.Option(None, "--fps", help="Frames per second (default: the engine's)."),
        long_side: int = typer.Option(None, "--long-side", help="px of the clip's long side (default: the engine's)."),
        engine: str = typer.Option(None, "--engine", "-e", help="Video engine id."),
        seed: int = typer.Option(None, "--seed"),
        steps: int = typer.Option(None, "--steps"),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help=QUEUE_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Render a short MP4 from an image; reports each frame's drift and the flicker."""
        State.json = json_out
        from tierflow.domain.specs import VideoSpec

        spec = VideoSpec(asset, prompt, seconds=seconds, frames=frames, fps=fps, engine=engine, seed=seed,
                         long_side=long_side, steps=steps)
        _run(spec, "animating", json_out, quote, queue,
             lambda a: {"frame_drift": a.params.get("frame_drift"), "flicker": a.params.get("flicker")})

    @app.command()
    def overlay(
        asset: str = typer.Argument(..., help="The image asset to put text on (it stays untouched)."),
        text: str = typer.Option(..., "--text", help="The text; \\n breaks lines."),
        font: str = typer.Option(None, "--font", help="A shipped font (DejaVuSans) or a .ttf/.otf path."),
        size: int = typer.Option(None, "--size", help="px (default: the largest that fits)."),
        color: str = typer.Option("#ffffff", "--color", help="#rrggbb, #rrggbbaa or a CSS name."),
        position: str = typer.Option("center", "--position", help="center, top, bottom-left, ... or X,Y."),
        box: str = typer.Option(None, "--box", help="X,Y,W,H: wrap and fit the text inside this box."),
        stroke: int = typer.Option(0, "--stroke", help="Outline width in px."),
        stroke_color: str = typer.Option("#000000", "--stroke-color"),
        shadow: str = typer.Option(None, "--shadow", help="DX,DY: drop-shadow offset in px."),
        shadow_color: str = typer.Option("#00000099", "--shadow-color"),
        queue: bool = typer.Option(False, "--queue", help=QUEUE_HELP),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Composite text onto a copy of an image as a new asset; the layer spec is stored with it."""
        State.json = json_out
        from tierflow.domain.specs import OverlaySpec
        from tierflow.imaging.typography import TextLayer

        point = _ints(position, 2, "position") if re.fullmatch(r"[\d,\s]+", position or "") else position
        layer = TextLayer(text=text.replace("\\n", "\n"), font=font, size=size, color=color, position=point,
                          box=_ints(box, 4, "box"), stroke_width=stroke, stroke_color=stroke_color,
                          shadow_offset=_ints(shadow, 2, "shadow"), shadow_color=shadow_color)
        _run(OverlaySpec(asset, layer.to_dict()), "overlay", json_out, False, queue)

    @app.command("drift-check")
    def drift_check(
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        threshold: float = typer.Option(10.0, "--threshold", help="Flag drift above this (0-100; 10 = visible)."),
        engine: str = typer.Option(None, "--engine", "-e", help="Re-render on this engine instead (a candidate)."),
        limit: int = typer.Option(50, "--limit", help="At most this many saved pairs, newest first."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Re-render kept/starred prompt + seed pairs on the current engines; flag those that drifted."""
        State.json = json_out
        from tierflow.stages.drift_check import drift_check as run_check

        svc = services()
        show_notices()
        if json_out:
            report = run_check(svc, project, threshold=threshold, engine=engine, limit=limit)
            emit_json(report)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        from tierflow.delivery.cli.output import err

        with Progress(TextColumn("[bold]re-rendering"), BarColumn(), MofNCompleteColumn(), console=err) as bar:
            task = bar.add_task("check", total=None)
            report = run_check(svc, project, threshold=threshold, engine=engine, limit=limit,
                               on_item=lambda done, total, _a: bar.update(task, completed=done, total=total))
        table = Table("asset", "stage", "seed", "drift", "label", "flag", "versions")
        for item in report["items"]:
            d = item["drift"]
            table.add_row(item["asset_id"], item["stage"], str(item["seed"]), f"{d['overall']:.1f}", d["label"],
                          "[red]DRIFTED[/]" if item["flagged"] else "ok",
                          "changed" if item["versions_changed"] else "same")
        console.print(table)
        console.print(f"{report['checked']} checked, {report['flagged']} over {threshold:g}, "
                      f"{len(report['skipped'])} skipped")
        warn([f"{s['asset_id']} skipped: {s['reason']}" for s in report["skipped"]])
