"""Wan 2.2 TI2V image-to-video: ``WanImageToVideoPipeline`` with ``expand_timesteps``.

Wan2.2-TI2V-5B has one transformer and a 48-channel VAE that compresses 16x in space and 4x in
time; the source image becomes the first latent frame (its timestep is masked to 0), so no CLIP
image encoder is loaded. Sizes are multiples of 32 (VAE 16 x patch 2); clips are 4k+1 frames,
121 frames at 24 fps (5 s) being what the model was trained for, at 1280x704 or 704x1280.
"""

from __future__ import annotations

from typing import Any

from tierflow.engines.local.diffusers_video import DiffusersVideoEngine, check_video_source, encode_mp4

__all__ = ["WanImageToVideoEngine", "check_video_source", "encode_mp4"]


class WanImageToVideoEngine(DiffusersVideoEngine):
    pipeline_class = "WanImageToVideoPipeline"
    family = "wan"
    frame_step = 4
    min_frames = 5
    max_frames = 121
    default_frames = 121
    default_fps = 24
    size_multiple = 32

    def load(self) -> Any:
        pipe = super().load()
        import torch

        # Wan's VAE decodes visibly better in float32 (diffusers' recommendation); it is small.
        if pipe.vae.dtype != torch.float32:
            pipe.vae.to(torch.float32)
        return pipe
