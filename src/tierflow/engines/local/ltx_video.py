"""LTX-Video image-to-video: ``LTXImageToVideoPipeline``.

The LTX VAE compresses 32x in space and 8x in time: sizes are multiples of 32 and clips are
8k+1 frames (up to 257). The frame rate is part of the model's conditioning, so it is passed in.
"""

from __future__ import annotations

from typing import Any

from tierflow.engines.base import RenderRequest
from tierflow.engines.local.diffusers_video import DiffusersVideoEngine


class LtxImageToVideoEngine(DiffusersVideoEngine):
    pipeline_class = "LTXImageToVideoPipeline"
    family = "ltx"
    frame_step = 8
    min_frames = 9
    max_frames = 257
    default_frames = 97
    default_fps = 24
    size_multiple = 32

    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        # The decode-time noise values of LTX-Video 0.9.1+; VAEs without timestep conditioning ignore them.
        return {"frame_rate": request.fps, "decode_timestep": 0.05, "decode_noise_scale": 0.025}
