"""FLUX.1 family (schnell, dev): a rectified-flow transformer with CLIP + T5 text encoders.

bfloat16 on accelerators (the weights are trained in it; float16 overflows), sizes in multiples
of 16 (8x VAE and 2x2 patches), no classifier-free guidance for schnell, and T5 prompts capped at
``max_sequence_length`` tokens (256 for schnell, 512 for dev).

Latent drafts: ``FluxPipeline(output_type="latent")`` returns the latents packed in 2x2 patches,
(N, h/2·w/2, 64). They are unpacked with the pipeline's own ``_unpack_latents`` into the scaled
(N, 16, h, w) latent, which is what is stored: TAEF1 previews it as it is (its config's scaling
1.0 / shift 0.0), the full decode is ``vae.decode(latent / scaling_factor + shift_factor)`` exactly
as the pipeline does (engines/local/latents.py ``full_decode``), and ``FluxImg2ImgPipeline``
takes it as ``image`` with no VAE encode (16 channels: used as the image latents), so a FLUX →
FLUX promote hands the latent over.
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
    negative_prompts = False  # FLUX's guidance is distilled into the model: no CFG, no negative prompt

    def __init__(self, preset: LocalPreset, *, max_sequence_length: int = 256, **kwargs: Any) -> None:
        super().__init__(preset, **kwargs)
        self.max_sequence_length = max_sequence_length

    def capabilities(self) -> Capabilities:
        return replace(super().capabilities(), size_multiple=16, max_steps=50)

    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        # FluxImg2ImgPipeline does not take the size from its image: without these it renders 1024².
        return {"max_sequence_length": self.max_sequence_length, "width": request.width, "height": request.height}

    def encode_prompt(self, pipe: Any, prompt: str, negative: str | None, cfg: bool) -> dict[str, Any]:
        """CLIP's pooled and T5's sequence embeddings, cached per prompt on the fast path (the T5 encoder
        is the costliest text encoder of any preset); the pipeline rebuilds ``text_ids`` from their shape."""
        import torch

        with torch.inference_mode():
            pe, ppe, _text_ids = pipe.encode_prompt(prompt, None, self.device, 1,
                                                    max_sequence_length=self.max_sequence_length)
        return {"prompt_embeds": pe, "pooled_prompt_embeds": ppe}

    def spatial_latents(self, pipe: Any, latents: Any, request: RenderRequest) -> Any:
        """Packed (N, h/2·w/2, 64) → the scaled (N, 16, h, w) latent, by the pipeline's own unpacking."""
        return pipe._unpack_latents(latents, request.height, request.width, pipe.vae_scale_factor)
