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

    def encode_prompt(self, pipe: Any, prompt: str, negative: str | None, cfg: bool) -> dict[str, Any]:
        """SDXL's two text encoders: sequence and pooled embeddings (and their negatives under CFG)."""
        import torch

        with torch.inference_mode():
            pe, npe, ppe, nppe = pipe.encode_prompt(prompt, None, self.device, 1, cfg, negative)
        out = {"prompt_embeds": pe, "pooled_prompt_embeds": ppe}
        if npe is not None:
            out["negative_prompt_embeds"] = npe
        if nppe is not None:
            out["negative_pooled_prompt_embeds"] = nppe
        return out
