"""Video: a short clip from a hero image and a motion prompt, on the video tier's image-to-video engine.

The clip's length is asked in seconds (or frames); the engine renders ``step·k + 1`` frames, so the
nearest valid count is used and the real length recorded (``seconds``). Every clip records how far
each frame drifted from the source image (``frame_drift``) and the frame-to-frame flicker
(``flicker``); see :mod:`tierflow.analysis.drift` for the scale.
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import new_seed
from tierflow.domain.models import Stage, Tier
from tierflow.engines.base import TASK_IMG2VID, Engine, Rendered, RenderRequest
from tierflow.engines.local.diffusers_video import check_video_source
from tierflow.stages.compose import prompt_thread_for
from tierflow.stages.inputs import check_prompt, check_seed
from tierflow.stages.runner import EventSink, RenderPlan, StageResult, run_plan
from tierflow.stages.sources import get_asset, load_image

if TYPE_CHECKING:
    from tierflow.bootstrap import Services

DEFAULT_FPS = 24
MAX_SECONDS = 30.0


def frames_for(engine: Engine, seconds: float, fps: int) -> int:
    """The engine's valid frame count nearest to ``seconds`` at ``fps``; outside its range is an error."""
    step = getattr(engine, "frame_step", 1)
    lo = getattr(engine, "min_frames", 1)
    hi = getattr(engine, "max_frames", None) or engine.capabilities().max_frames
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_SECONDS:
        raise InvalidInput(f"{seconds!r} s is not a clip length", field="seconds",
                           fix=f"use a number of seconds in (0, {MAX_SECONDS:g}]")
    frames = round((seconds * fps - 1) / step) * step + 1
    if frames < lo or frames > hi:
        raise InvalidInput(f"{seconds:g} s at {fps} fps is {frames} frames; {engine.id} renders {lo}..{hi}",
                           field="seconds", fix=f"use {lo / fps:.2f}..{hi / fps:.2f} s at {fps} fps, or change --fps")
    return frames


def plan_video(services: Services, asset_id: str, prompt: str, *, seconds: float | None = None,
               frames: int | None = None, fps: int | None = None, engine: str | None = None,
               seed: int | None = None, long_side: int | None = None, steps: int | None = None,
               user_id: str | None = None) -> RenderPlan:
    """Validate and build the plan to animate an image asset (a video asset is refused first)."""
    source = get_asset(services, asset_id)
    check_video_source(source.kind)  # before anything is loaded, priced or reserved
    text = check_prompt(prompt)
    seed = check_seed(seed)
    if seconds is not None and frames is not None:
        raise InvalidInput("both seconds and frames were given", field="seconds",
                           fix="give the clip length as --seconds or as frames, not both")
    image = load_image(services, source)
    eng = services.engines.for_tier(Tier.VIDEO, engine)
    fps = fps if fps is not None else getattr(eng, "default_fps", DEFAULT_FPS)
    if isinstance(fps, bool) or not isinstance(fps, int) or fps < 1:
        raise InvalidInput(f"{fps!r} is not a frame rate", field="fps", fix="use a whole number of frames per second")
    if seconds is not None:
        frames = frames_for(eng, seconds, fps)
    width, height = eng.size_for(image, long_side) if hasattr(eng, "size_for") else image.size
    request = RenderRequest(task=TASK_IMG2VID, prompt=text,
                            negative_prompt=source.params.get("negative_prompt", "") or "",
                            seeds=[seed if seed is not None else (source.seed if source.seed is not None
                                                                  else new_seed())],
                            width=width, height=height, steps=steps, init_image=image, frames=frames, fps=fps)
    request = eng.prepare(request)  # validate before anything is written or shown
    params: dict[str, Any] = {"animated_from": source.id, "seconds": round(request.frames / request.fps, 4)}
    if seconds is not None:
        params["seconds_asked"] = seconds
    return RenderPlan(
        project_id=source.project_id, stage=Stage.VIDEO, engine=eng, request=request,
        prompt_id=prompt_thread_for(services, source, text), user_id=user_id, parent_ids=[source.id],
        params=params, after_output=_with_drift(image),
    )


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
    return run_plan(services, plan_video(services, asset_id, prompt, **options), on_event)
