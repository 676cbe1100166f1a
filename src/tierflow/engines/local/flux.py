"""FLUX.1 family (schnell, dev): a rectified-flow transformer with CLIP + T5 text encoders.

bfloat16 on accelerators (the weights are trained in it; float16 overflows), sizes in multiples
of 16 (8x VAE and 2x2 patches), no classifier-free guidance for schnell, and T5 prompts capped at
``max_sequence_length`` tokens (256 for schnell, 512 for dev).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tierflow.engines.base import Capabilities, RenderRequest
from tierflow.engines.local.diffusers_base import DiffusersImageEngine, LocalPreset


class FluxEngine(DiffusersImageEngine):
    pipeline_class = "FluxPipeline"
    img2img_class = "FluxImg2ImgPipeline"
    family = "flux"
    latent_drafts = False  # packed 2x2 latents: TAEF1 previews are not wired yet

    def __init__(self, preset: LocalPreset, *, max_sequence_length: int = 256, **kwargs: Any) -> None:
        super().__init__(preset, **kwargs)
        self.max_sequence_length = max_sequence_length

    def capabilities(self) -> Capabilities:
        return replace(super().capabilities(), size_multiple=16, max_steps=50)

    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        return {"max_sequence_length": self.max_sequence_length}

    def prompt_kwargs(self, pipe: Any, request: RenderRequest, count: int) -> dict[str, Any]:
        return {"prompt": [request.prompt] * count}  # T5 + CLIP embeddings: not cached yet
