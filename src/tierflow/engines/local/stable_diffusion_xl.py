"""Stable Diffusion XL family (SDXL, SDXL-Turbo): two text encoders and size conditioning."""

from __future__ import annotations

from typing import Any

from tierflow.engines.base import RenderRequest
from tierflow.engines.local.diffusers_base import DiffusersImageEngine


class StableDiffusionXLEngine(DiffusersImageEngine):
    pipeline_class = "StableDiffusionXLPipeline"
    img2img_class = "StableDiffusionXLImg2ImgPipeline"
    family = "sdxl"

    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        size = (request.height, request.width)
        return {"original_size": size, "target_size": size}
