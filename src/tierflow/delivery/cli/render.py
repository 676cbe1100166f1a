"""`tierflow draft` and `tierflow promote`: the commands that render."""

from __future__ import annotations

import typer
from rich.table import Table

from tierflow.delivery.cli.context import acting, services, show_notices
from tierflow.delivery.cli.output import State, console, emit_json, render_progress, warn


def _result_table(assets) -> Table:
    table = Table("asset", "seed", "size", "sha256", "engine")
    for a in assets:
        table.add_row(a.id, str(a.seed), f"{a.width}x{a.height}", a.sha256[:12], a.engine_id)
    return table


def register(app: typer.Typer) -> None:
    @app.command()
    def draft(
        prompt: str = typer.Argument(..., help="What to draw."),
        project: str = typer.Option(..., "--project", "-p", help="Project name or id."),
        n: int = typer.Option(4, "-n", "--n", help="Number of variations (1-64)."),
        seed: int = typer.Option(None, "--seed", help="Base seed; variation i derives its own seed from it."),
        size: str = typer.Option(None, "--size", help="WIDTHxHEIGHT (default: the engine's)."),
        engine: str = typer.Option(None, "--engine", "-e", help="Draft engine id (see `tierflow engines`)."),
        steps: int = typer.Option(None, "--steps", help="Denoising steps (default: the engine's)."),
        negative: str = typer.Option("", "--negative", help="Negative prompt."),
        milestone: str = typer.Option(None, "--milestone", "-m", help="Milestone name."),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help="Queue a durable job for `tierflow worker` instead."),
        json_out: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        """Render N draft variations on the fast engine; each is stored as soon as it finishes."""
        State.json = json_out
        from tierflow.domain.specs import DraftSpec

        spec = DraftSpec(project, prompt, n=n, seed=seed, size=size, engine=engine, steps=steps,
                         negative=negative, milestone=milestone)
        result = dispatch(spec, quote=quote, queue=queue, json_out=json_out, label="drafting", outputs=n)
        if result is not None:
            _print_result(result, json_out, base_seed=result.spec.seed)

    @app.command()
    def promote(
        asset: str = typer.Argument(..., help="The kept draft to promote."),
        prompt: str = typer.Option(None, "--prompt", help="Edited prompt (default: the draft's)."),
        strength: float = typer.Option(0.65, "--strength", help="How far the final may move from the draft (0-1]."),
        engine: str = typer.Option(None, "--engine", "-e", help="Final engine id."),
        steps: int = typer.Option(None, "--steps"),
        size: str = typer.Option(None, "--size", help="WIDTHxHEIGHT (default: the engine's, draft's aspect)."),
        milestone: str = typer.Option(None, "--milestone", "-m"),
        override_reason: str = typer.Option(None, "--override", help="Lead only: override a blocking policy, with this reason."),
        quote: bool = typer.Option(False, "--quote", help="Print the price in credits and render nothing."),
        queue: bool = typer.Option(False, "--queue", help="Queue a durable job for `tierflow worker` instead."),
        json_out: bool = typer.Option(False, "--json"),
    ) -> None:
        """Re-render a kept draft on the final engine (same prompt and seed, the draft as init image)."""
        State.json = json_out
        from tierflow.domain.ids import check_id
        from tierflow.domain.specs import PromoteSpec

        check_id(asset, "asset")
        spec = PromoteSpec(asset, prompt=prompt, strength=strength, engine=engine, steps=steps, size=size,
                           milestone=milestone, override=_override(override_reason))
        result = dispatch(spec, quote=quote, queue=queue, json_out=json_out, label="final", outputs=1)
        if result is None:
            return
        asset_obj = result.assets[0]
        if json_out:
            emit_json({"asset": asset_obj.to_dict(), "credits": result.credits, "warnings": result.warnings,
                       "drift": asset_obj.params.get("drift")})
            return
        console.print(_result_table(result.assets))
        drift = asset_obj.params.get("drift")
        if drift:
            console.print(f"drift from draft: {drift.get('overall')} ({drift.get('label')})")
        warn(result.warnings)


def _override(reason: str | None):
    from tierflow.domain.specs import OverrideRequest

    if not reason:
        return None
    # The signed-in user's real role (the local admin without accounts); the guard checks and audits it.
    me, role = acting()
    return OverrideRequest(user=me, role=role.value, reason=reason)


def dispatch(spec, *, quote: bool, queue: bool, json_out: bool, label: str, outputs: int):
    """The one quote / queue / run decision of every render command. Returns the result of a run
    (with ``.spec``), or None when it only quoted or queued."""
    from tierflow.app import service

    svc = services()
    if quote:
        q = service.quote(svc, spec)
        show_notices()
        if json_out:
            payload: dict = {"credits": q.credits}
            if len(q.parts) > 1:
                payload["parts"] = {p["stage"] if i == 0 else "creative": p["credits"] for i, p in enumerate(q.parts)}
            emit_json(payload)
        else:
            detail = ", ".join(f"{p['engine_id']}: {p['credits']:g}" for p in q.parts)
            last = q.parts[-1]
            console.print(f"{q.credits:g} credits ({detail}; {outputs} output(s), makes {last['width']}x{last['height']})")
        return None
    if queue:
        sub = service.submit(svc, spec, queue="durable")
        show_notices()
        if json_out:
            emit_json({"job": {"id": sub.job_id, "status": "queued", "credits": sub.credits, "stage": sub.stage,
                               "warnings": sub.warnings}})
            return None
        console.print(f"queued job {sub.job_id} ({sub.stage} on {sub.engine_id}, {sub.credits:g} credits reserved); "
                      "run `tierflow worker` to render it, `tierflow jobs show ID` to follow it")
        warn(sub.warnings)
        return None
    try:
        staged, ids = service.open_run(svc, spec)  # admitted; a draft preview input is decoded now
    finally:
        show_notices()
    # The size is said before the render (a video's is the engine's resolution in the source's aspect).
    req = staged.plans[-1].request
    with render_progress(f"{label} on {staged.engine_id} at {req.width}x{req.height}", max(outputs, len(staged.plans)),
                         quiet=json_out) as on_event:
        result = service.run_chain(svc, staged.plans, ids, on_event)
    result.spec = staged.spec
    return result


def _print_result(result, json_out: bool, **extra) -> None:
    if json_out:
        emit_json({"generation_id": result.generation_id, "assets": [a.to_dict() for a in result.assets],
                   "credits": result.credits, "warnings": result.warnings, **extra})
        return
    console.print(_result_table(result.assets))
    console.print(f"{len(result.assets)} draft(s) in generation {result.generation_id}; "
                  f"review with `tierflow review ASSET --keep|--discard|--star`")
    warn(result.warnings)
