"""`tierflow demo`: a scripted end-to-end session on whatever engines this machine can run."""

from __future__ import annotations

from datetime import datetime

from tierflow.delivery.cli.context import services, show_notices
from tierflow.delivery.cli.output import State, console, emit_json, render_progress

PROMPT = "a lighthouse on a rocky cliff at golden hour, oil painting, dramatic sky"


def run_demo(json_out: bool) -> dict:
    State.json = json_out
    from tierflow.domain.models import Tier
    from tierflow.provenance.export import export_asset
    from tierflow.stages.draft import plan_draft
    from tierflow.stages.promote import plan_promote
    from tierflow.stages.review import review
    from tierflow.stages.runner import run_plan
    from tierflow.storage.projects_repo import ProjectsRepo

    svc = services()
    say = (lambda *a: None) if json_out else console.print
    draft_engine = svc.engines.default_id(Tier.DRAFT)
    final_engine = svc.engines.default_id(Tier.FINAL)
    tiny = draft_engine.startswith("tiny") or final_engine.startswith("tiny")
    show_notices()
    if tiny:
        say("[yellow]Running on the tiny preset[/]: offline random-weight models — the images are noise, "
            "the flow, storage and provenance are real. Set up real weights with `tierflow models pull`.")
    name = f"demo-{datetime.now():%Y%m%d-%H%M%S}"
    with svc.db.transaction() as s:
        project = ProjectsRepo(s).create(name, description="tierflow demo session", min_drafts=6)
    say(f"[bold]1. project[/] {project.name}")

    size = None if not tiny else "256x256"
    plan = plan_draft(svc, project.id, PROMPT, n=6, seed=1234, size=size)
    say(f"[bold]2. draft[/] 6 variations on {plan.engine.id}")
    with render_progress("drafting", 6, quiet=json_out) as on_event:
        drafts = run_plan(svc, plan, on_event).assets

    say("[bold]3. review[/] star one, keep two, discard three")
    states = ["star", "keep", "keep", "discard", "discard", "discard"]
    for asset, state in zip(drafts, states):
        review(svc, asset.id, state, seconds=4.0)

    say(f"[bold]4. promote[/] the starred draft to {final_engine}")
    plan = plan_promote(svc, drafts[0].id, strength=0.6, size=None if not tiny else "512x512")
    with render_progress("final", 1, quiet=json_out) as on_event:
        final = run_plan(svc, plan, on_event).assets[0]
    drift = final.params.get("drift") or {}
    if drift:
        say(f"   drift from draft: {drift.get('overall')} ({drift.get('label')})")

    exports = svc.settings.home / "exports"
    exports.mkdir(exist_ok=True)
    out = export_asset(svc, final.id, exports / f"{final.id}.png")
    say(f"[bold]5. export[/] {out['path']} (PNG with parameters, lineage and IPTC source type)")
    say(f"[bold]6. lineage[/] `tierflow lineage {final.id}`: {drafts[0].id} → {final.id}")
    summary = {"project": project.name, "drafts": [a.id for a in drafts], "final": final.id,
               "export": str(out["path"]), "tiny": tiny, "engines": {"draft": draft_engine, "final": final_engine}}
    if json_out:
        emit_json(summary)
    return summary
