"""What every local diffusers image-to-video engine shares: frame-count rules, MP4 encoding, progress.

Family files (``wan_video.py``, ``ltx_video.py``) name their pipeline class and the model's
limits. Loading, describing and closing are the image engines' (:class:`DiffusersImageEngine`).
One request renders one clip from ``seeds[0]``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from PIL import Image

from tierflow.domain.errors import Cancelled, EngineFailed, InvalidInput
from tierflow.engines.base import (
    TASK_IMG2VID,
    Capabilities,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
    check_size,
)
from tierflow.engines.local.diffusers_base import DiffusersImageEngine

MAX_FPS = 60


def check_video_source(kind: str) -> None:
    """Image-to-video animates an image; refuse anything else (a video of a video) by name."""
    if kind != "image":
        raise InvalidInput(
            f"cannot animate a {kind} asset",
            field="asset",
            fix="pass the id of an image asset (for a clip, animate the image it was made from)",
        )


def encode_mp4(frames: Sequence[np.ndarray | Image.Image], fps: int) -> bytes:
    """H.264 (libx264, yuv420p) MP4 bytes that browsers play; frames must share one even size."""
    import os
    import tempfile

    import imageio.v2 as imageio

    arrays = [np.asarray(f.convert("RGB") if isinstance(f, Image.Image) else f, dtype=np.uint8) for f in frames]
    if not arrays:
        raise InvalidInput("the clip has no frames", field="frames", fix="render at least one frame")
    height, width = arrays[0].shape[:2]
    if width % 2 or height % 2:
        # yuv420p halves the chroma planes; an odd side cannot be encoded without changing the size.
        raise InvalidInput(f"{width}x{height} has an odd side", field="size", fix="use even width and height")
    if any(a.shape != arrays[0].shape for a in arrays):
        raise InvalidInput("the frames differ in size", field="frames", fix="give every frame the same size")
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        # macro_block_size=1: keep the exact size (imageio would otherwise resize to multiples of 16).
        with imageio.get_writer(
            path,
            format="FFMPEG",
            mode="I",
            fps=fps,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", "18", "-movflags", "+faststart"],
        ) as writer:
            for frame in arrays:
                writer.append_data(frame)
        with open(path, "rb") as fh:
            return fh.read()
    finally:
        os.unlink(path)


class DiffusersVideoEngine(DiffusersImageEngine):
    """An image-to-video diffusers pipeline: first frame from ``init_image``, motion from the prompt."""

    latent_drafts = False
    fast_modules = False

    frame_step: int = 4  # valid frame counts are frame_step * k + 1 (the VAE's temporal factor)
    min_frames: int = 5
    max_frames: int = 121
    default_frames: int = 49
    default_fps: int = 24
    size_multiple: int = 32  # VAE spatial factor x transformer patch size
    min_size: int = 64
    max_steps: int = 100

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        p = self.preset
        return Capabilities(
            tasks=(TASK_IMG2VID,),
            min_size=self.min_size,
            max_size=p.max_size,
            size_multiple=self.size_multiple,
            default_size=p.default_size,
            default_steps=p.default_steps,
            max_steps=self.max_steps,
            default_guidance=p.default_guidance,
            max_batch=1,
            seeded=True,
            family=self.family,
            max_frames=self.max_frames,
        )

    def size_for(self, image: Image.Image, long_side: int | None = None) -> tuple[int, int]:
        """The valid (width, height) nearest to ``image``'s aspect with the given long side."""
        caps = self.capabilities()
        m = self.size_multiple
        long_side = min(long_side or max(caps.default_size), caps.max_size // m * m)
        scale = long_side / max(image.size)
        w, h = (max(caps.min_size, round(v * scale / m) * m) for v in image.size)
        return w, h

    # -- validation -------------------------------------------------------------------------
    def prepare(self, request: RenderRequest) -> RenderRequest:
        request = super().prepare(request)
        caps = self.capabilities()
        if not isinstance(request.init_image, Image.Image):
            raise InvalidInput(
                f"the source is a {type(request.init_image).__name__}, not an image",
                field="image",
                fix="pass a still image (PNG/JPEG) as the first frame",
            )
        check_size(request.width, request.height, caps, self.id)
        iw, ih = request.init_image.size
        # Rounding to the size multiple moves the aspect a little; more than that would stretch the picture.
        slack = max(0.05, self.size_multiple / min(request.width, request.height))
        if abs((request.width / request.height) / (iw / ih) - 1.0) > slack:
            w, h = self.size_for(request.init_image, max(request.width, request.height))
            raise InvalidInput(
                f"{request.width}x{request.height} does not match the image's {iw}x{ih} aspect",
                field="size",
                fix=f"use {w}x{h}, or crop the image first",
            )
        if request.frames is None:
            request.frames = self.default_frames
        frames = request.frames
        if not (self.min_frames <= frames <= self.max_frames) or frames % self.frame_step != 1:
            k = min(max(round((frames - 1) / self.frame_step), 1), (self.max_frames - 1) // self.frame_step)
            raise InvalidInput(
                f"{frames} frames is not a length {self.id} can render",
                field="frames",
                fix=(
                    f"use {self.frame_step}k+1 frames between {self.min_frames} and {self.max_frames} "
                    f"(nearest: {self.frame_step * k + 1})"
                ),
            )
        if request.fps is None:
            request.fps = self.default_fps
        if not 1 <= request.fps <= MAX_FPS:
            raise InvalidInput(f"{request.fps} fps is out of range", field="fps", fix=f"use 1..{MAX_FPS}")
        return request

    # -- rendering --------------------------------------------------------------------------
    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        """Family-specific arguments (LTX's frame rate, for instance)."""
        return {}

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import torch

        request = self.prepare(request)
        pipe = self.load()
        steps = request.steps or 1
        seed = int(request.seeds[0])

        def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            if progress:
                progress(Progress(step + 1, steps, 0, 1, "denoising"))
            return kwargs

        init = request.init_image.convert("RGB")
        args: dict[str, Any] = {
            "image": init,
            "prompt": request.prompt,
            "height": request.height,
            "width": request.width,
            "num_frames": request.frames,
            "num_inference_steps": steps,
            "guidance_scale": float(request.guidance or 0.0),
            "generator": torch.Generator("cpu").manual_seed(seed),
            "callback_on_step_end": on_step,
            "output_type": "np",
        }
        if request.negative_prompt and (request.guidance or 0) > 1:
            args["negative_prompt"] = request.negative_prompt
        args.update(self.pipeline_kwargs(request))
        if request.cancel.is_set():
            raise Cancelled("the render was cancelled", field="job")
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():
                video = pipe(**args).frames[0]
        except Cancelled:
            raise
        except (RuntimeError, ValueError) as e:
            raise EngineFailed(f"{self.id} failed: {e}".splitlines()[0], field="engine") from e
        arrays = [np.clip(np.asarray(f) * 255.0 + 0.5, 0, 255).astype(np.uint8) for f in video]
        if progress:
            progress(Progress(steps, steps, 0, 1, "encoding"))
        data = encode_mp4(arrays, request.fps)
        height, width = arrays[0].shape[:2]
        yield Rendered(
            index=0,
            seed=seed,
            video_bytes=data,
            video_format="mp4",
            frames=[Image.fromarray(a) for a in arrays],
            width=width,
            height=height,
            seconds=time.perf_counter() - t0,
            metadata={
                "sampler": type(pipe.scheduler).__name__,
                "device": self.device,
                "frames": len(arrays),
                "fps": request.fps,
                "codec": "libx264",
                "pixel_format": "yuv420p",
            },
        )
