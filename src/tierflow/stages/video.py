"""Video: a short clip from a hero image and a motion prompt, on the video tier's image-to-video engine.

The clip's length is asked in seconds (or frames); the engine renders ``step·k + 1`` frames, so the
nearest valid count is used and the real length recorded (``seconds``). Every clip records how far
each frame drifted from the source image (``frame_drift``) and the frame-to-frame flicker
(``flicker``); see :mod:`tierflow.analysis.drift` for the scale.
"""

from __future__ import annotations

import statistics
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_seed
from tierflow.domain.models import Stage, Tier
from tierflow.engines.base import TASK_IMG2VID, Engine, Rendered, RenderRequest
from tierflow.engines.local.diffusers_video import check_video_source
from tierflow.domain.specs import MAX_SECONDS, VideoSpec
from tierflow.stages.compose import prompt_for
from tierflow.stages.inputs import check_prompt
from tierflow.stages.runner import EventSink, RenderPlan, StageResult
from tierflow.stages.sources import get_asset, stored_image

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services

DEFAULT_FPS = 24
__all__ = ["DEFAULT_FPS", "MAX_SECONDS", "drift_summary", "frames_for", "plan_video", "plan_video_spec", "video"]


def frames_for(engine: Engine, seconds: float, fps: int) -> int:
    """The engine's valid frame count nearest to ``seconds`` at ``fps``; outside its range is an error."""
    step, lo = engine.frame_step, engine.min_frames
    hi = engine.max_frames or engine.capabilities().max_frames
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"{seconds!r} s is not a clip length", field="seconds",
                           fix=f"use a number of seconds in (0, {MAX_SECONDS:g}]")
    frames = round((seconds * fps - 1) / step) * step + 1
    if frames < lo or frames > hi:
        raise InvalidInput(f"{seconds:g} s at {fps} fps is {frames} frames; {engine.id} renders {lo}..{hi}",
                           field="seconds", fix=f"use {lo / fps:.2f}..{hi / fps:.2f} s at {fps} fps, or change --fps")
    return frames


def plan_video_spec(services: Services, spec: VideoSpec) -> StagePlan:
    """Validate and build the plan to animate an image asset (a video asset is refused first)."""
    from tierflow.app.service import StagePlan

    source = get_asset(services, spec.asset_id)
    check_video_source(source.kind)  # before anything is loaded, priced or reserved
    text = check_prompt(spec.prompt)
    image = stored_image(services, source)
    eng = services.engines.for_tier(Tier.VIDEO, spec.engine)
    fps = spec.fps if spec.fps is not None else (eng.default_fps or DEFAULT_FPS)
    frames = frames_for(eng, spec.seconds, fps) if spec.seconds is not None else spec.frames
    width, height = eng.size_for(image, spec.long_side)
    seed = spec.seed if spec.seed is not None else (source.seed if source.seed is not None else new_seed())
    request = RenderRequest(task=TASK_IMG2VID, prompt=text,
                            negative_prompt=source.params.get("negative_prompt", "") or "", seeds=[seed],
                            width=width, height=height, steps=spec.steps, init_image=image, frames=frames, fps=fps)
    request = eng.prepare(request)  # validate before anything is written or shown
    params: dict[str, Any] = {"animated_from": source.id, "seconds": round(request.frames / request.fps, 4)}
    if spec.seconds is not None:
        params["seconds_asked"] = spec.seconds
    prompt_id, new_prompt = prompt_for(source, text)
    plan = RenderPlan(
        project_id=source.project_id, stage=Stage.VIDEO, engine=eng, request=request, prompt_id=prompt_id,
        new_prompt=new_prompt, user_id=spec.user_id, parent_ids=[source.id], params=params,
        after_output=_with_drift(image),
    )
    return StagePlan(replace(spec, engine=eng.id, seed=seed, steps=request.steps), [plan])


def plan_video(services: Services, asset_id: str, prompt: str, **options) -> RenderPlan:
    """Validate and build the plan to animate an image asset (a video asset is refused first)."""
    return plan_video_spec(services, VideoSpec(asset_id, prompt, **options)).plans[0]  # type: ignore[return-value]


def _with_drift(source: Image.Image):
    """Record each frame's drift from the source image and the flicker between frames."""

    def hook(out: Rendered, params: dict) -> None:
        if out.frames:
            params.update(drift_summary(source, out.frames))

    return hook


def drift_summary(source: Image.Image, frames: list[Image.Image]) -> dict[str, Any]:
    """``frame_drift`` (overall per frame, max, mean, label of the worst) and ``flicker`` (per cut, max, mean)."""
    from tierflow.analysis.drift import flicker, frame_drift

    scores = frame_drift(source, frames)
    overall = [round(s.overall, 4) for s in scores]
    worst = max(scores, key=lambda s: s.overall)
    cuts = [round(v, 4) for v in flicker(frames)]
    return {
        "frame_drift": {"max": max(overall), "mean": round(statistics.fmean(overall), 4),
                        "label": worst.label, "per_frame": overall,
                        "worst": worst.to_dict()},
        "flicker": {"max": max(cuts, default=0.0), "mean": round(statistics.fmean(cuts), 4) if cuts else 0.0,
                    "median": round(statistics.median(cuts), 4) if cuts else 0.0, "per_cut": cuts},
    }


def video(services: Services, asset_id: str, prompt: str, *, on_event: EventSink | None = None,
          **options) -> StageResult:
    """Animate an image asset into a clip; the source is recorded as the parent."""
    from tierflow.app import service

    return service.run(services, VideoSpec(asset_id, prompt, **options), on_event)
