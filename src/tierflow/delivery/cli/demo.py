"""`tierflow demo`: a scripted end-to-end session on whatever engines this machine can run.

A door like the other render commands: every render is a typed spec run by the application
service (:func:`tierflow.app.service.run`), so the demo's generations are opened, admitted,
reserved and recorded (with their spec) exactly as `tierflow draft|promote|…` record theirs.
"""

from __future__ import annotations

from datetime import datetime

from tierflow.delivery.cli.context import services, show_notices
from tierflow.delivery.cli.output import State, console, emit_json, render_progress

PROMPT = "a lighthouse on a rocky cliff at golden hour, oil painting, dramatic sky"
# On the tiny preset the pixels are noise, so the demo renders small: the tiled x2 upscale and the clip
# cost grow with the area (256 px finals: ~18 s CPU for the whole demo on 2 cores; 512 px took ~46 s).
TINY_DRAFT, TINY_FINAL = "128x128", "256x256"


def run_demo(json_out: bool) -> dict:
    State.json = json_out
    from tierflow.domain.models import Tier
    from tierflow.domain.specs import DraftSpec, PromoteSpec
    from tierflow.provenance.export import export_asset
    from tierflow.stages.review import review
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

    say(f"[bold]2. draft[/] 6 variations on {draft_engine}")
    drafts = _run(svc, DraftSpec(project.id, PROMPT, n=6, seed=1234, size=TINY_DRAFT if tiny else None),
                  "drafting", 6, json_out).assets

    say("[bold]3. review[/] star one, keep two, discard three")
    states = ["star", "keep", "keep", "discard", "discard", "discard"]
    for asset, state in zip(drafts, states):
        review(svc, asset.id, state, seconds=4.0)

    say(f"[bold]4. promote[/] the starred draft to {final_engine}")
    final = _run(svc, PromoteSpec(drafts[0].id, strength=0.6, size=TINY_FINAL if tiny else None),
                 "final", 1, json_out).assets[0]
    drift = final.params.get("drift") or {}
    if drift:
        say(f"   drift from draft: {drift.get('overall')} ({drift.get('label')})")

    review(svc, final.id, "keep", seconds=4.0)
    made = _production(svc, final, say, json_out)

    exports = svc.settings.home / "exports"
    exports.mkdir(exist_ok=True)
    out = export_asset(svc, final.id, exports / f"{final.id}.png")
    signed = "a signed C2PA manifest of its lineage" if out["credentials"]["signed"] else out["credentials"]["warning"]
    say(f"[bold]9. export[/] {out['path']} (PNG with parameters, lineage, IPTC source type; {signed})")
    say(f"[bold]10. lineage[/] `tierflow lineage {made['overlay']}`: {drafts[0].id} → {final.id} → "
        f"{made['cleanup']} → {made['upscale']} → {made['overlay']}")
    summary = {"project": project.name, "drafts": [a.id for a in drafts], "final": final.id, **made,
               "export": str(out["path"]), "tiny": tiny, "engines": {"draft": draft_engine, "final": final_engine}}
    if json_out:
        emit_json(summary)
    return summary


def _run(svc, spec, label: str, outputs: int, json_out: bool):
    """One render through the application service, with a progress bar (none with --json)."""
    from tierflow.app import service

    with render_progress(label, outputs, quiet=json_out) as on_event:
        return service.run(svc, spec, on_event)


def _production(svc, final, say, json_out: bool) -> dict:
    """Steps 5-8: outpaint, upscale, a short clip and a text overlay, each a child of the one before."""
    from tierflow.domain.specs import OutpaintSpec, OverlaySpec, UpscaleSpec, VideoSpec
    from tierflow.imaging.typography import TextLayer

    cleaned = _run(svc, OutpaintSpec(final.id, right=32), "outpaint", 1, json_out).assets[0]
    say(f"[bold]5. outpaint[/] 32 px on the right: {cleaned.width}x{cleaned.height}, "
        f"unmasked pixels moved by at most {cleaned.params.get('unmasked_max_delta')}")
    upscaled = _run(svc, UpscaleSpec(cleaned.id, "x2"), "upscale", 1, json_out).assets[0]
    say(f"[bold]6. upscale[/] x2: {upscaled.width}x{upscaled.height}")
    clip = _run(svc, VideoSpec(upscaled.id, "slow push-in, waves rolling", frames=5, fps=8), "video", 1,
                json_out).assets[0]
    drift = clip.params.get("frame_drift") or {}
    say(f"[bold]7. video[/] {clip.width}x{clip.height}, 5 frames; frame drift max {drift.get('max')} "
        f"({drift.get('label')}), flicker max {(clip.params.get('flicker') or {}).get('max')}")
    layer = TextLayer(text="LAUNCH DAY", position="bottom", stroke_width=2)
    layered = _run(svc, OverlaySpec(upscaled.id, layer.to_dict()), "overlay", 1, json_out).assets[0]
    say(f"[bold]8. overlay[/] \"LAUNCH DAY\" as a new asset {layered.id}; {upscaled.id} is untouched")
    return {"cleanup": cleaned.id, "upscale": upscaled.id, "video": clip.id, "overlay": layered.id}
