"""Stable Diffusion 1.x / 2.x family (SD-Turbo): the classic UNet + one CLIP text encoder."""

from __future__ import annotations

from tierflow.engines.local.diffusers_base import DiffusersImageEngine


class StableDiffusionEngine(DiffusersImageEngine):
    pipeline_class = "StableDiffusionPipeline"
    img2img_class = "StableDiffusionImg2ImgPipeline"
    family = "sd"
