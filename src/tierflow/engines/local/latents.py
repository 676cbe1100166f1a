"""Latent drafts: the draft's final latent is what is kept; pixels come from a decoder on demand.

A draft renders to latents (``output_type="latent"``), shows a preview from the family's tiny
decoder (``AutoencoderTiny``: TAESD, TAESDXL, TAEF1) and keeps the latent itself. The full VAE
decode runs when the draft is kept, starred, promoted or exported, once, with exactly the code
path the diffusers pipeline would have run (:func:`full_decode`), so a kept draft equals what
plain diffusers gives for the same seed.

Latents are stored as ``.npy`` in the dtype they were computed in (float32 on the CPU, float16
on accelerators; bfloat16 is widened to float32, which is exact): rounding them would move the
full decode away from plain diffusers.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image

LATENT_FORMAT = "npy"
DECODER_TINY = "taesd"  # params["decoder"] of a tiny-decoder preview (TAESD, TAESDXL or TAEF1)
DECODER_FULL = "vae"


def latent_bytes(latent: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(latent), allow_pickle=False)
    return buf.getvalue()


def latent_from_bytes(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def to_numpy(latents: Any) -> np.ndarray:
    """A torch latent batch as numpy on the host (bfloat16 widened exactly to float32)."""
    import torch

    t = latents.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.cpu().numpy()


def to_torch(latent: np.ndarray, device: str, dtype: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(latent)).to(device=device, dtype=dtype)


def uint8_images(decoded: Any) -> np.ndarray:
    """Decoder output in [-1, 1], (N, 3, H, W) → uint8 (N, H, W, 3), rounded like diffusers' postprocess."""
    images = (decoded / 2 + 0.5).clamp(0, 1)
    images = images.permute(0, 2, 3, 1).float()
    return (images * 255).round().to(dtype=__import__("torch").uint8).cpu().numpy()


def tiny_decode(decoder: Any, latents: Any) -> np.ndarray:
    """Preview pixels: ``AutoencoderTiny`` takes the pipeline's scaled latents as they are.

    Its own config unscales them, as a pipeline whose ``vae`` it replaced would: TAESD, TAESDXL
    and TAEF1 ship ``scaling_factor`` 1.0 and ``shift_factor`` 0.0, so the (unpacked, for FLUX)
    scaled latents go in unchanged.
    """
    import torch

    with torch.inference_mode():
        scale = float(getattr(decoder.config, "scaling_factor", 1.0) or 1.0)
        shift = float(getattr(decoder.config, "shift_factor", 0.0) or 0.0)
        x = latents.to(device=decoder.device, dtype=decoder.dtype)
        x = x / scale + shift
        return uint8_images(decoder.decode(x, return_dict=False)[0])


def full_decode(pipe: Any, latents: Any) -> list[Image.Image]:
    """The pipeline's own final step for ``latents``: what ``output_type="pil"`` would have returned.

    SD 1/2: ``vae.decode(latents / scaling_factor)``; SDXL adds the float16 upcast, the optional
    latents mean/std and the watermark; FLUX (unpacked latents, see ``FluxEngine.spatial_latents``)
    adds the VAE's ``shift_factor`` after unscaling, as ``FluxPipeline`` does (SD/SDXL VAEs have
    none). Then the pipeline's image processor turns [-1, 1] into PIL exactly as diffusers does.
    """
    import torch

    vae = pipe.vae
    with torch.inference_mode():
        upcast = vae.dtype == torch.float16 and getattr(vae.config, "force_upcast", False) and hasattr(pipe, "upcast_vae")
        if upcast:
            vae.to(dtype=torch.float32)
        dtype = next(iter(vae.parameters())).dtype
        x = latents.to(device=vae.device, dtype=dtype)
        mean = getattr(vae.config, "latents_mean", None)
        std = getattr(vae.config, "latents_std", None)
        if mean is not None and std is not None:
            c = x.shape[1]
            x = x * torch.tensor(std).view(1, c, 1, 1).to(x) / vae.config.scaling_factor + torch.tensor(mean).view(
                1, c, 1, 1).to(x)
        else:
            x = x / vae.config.scaling_factor
            shift = getattr(vae.config, "shift_factor", None)
            if shift is not None:  # FLUX: (latents / scaling_factor) + shift_factor
                x = x + shift
        image = vae.decode(x, return_dict=False)[0]
        if upcast:
            vae.to(dtype=torch.float16)
        if getattr(pipe, "watermark", None) is not None:
            image = pipe.watermark.apply_watermark(image)
        return pipe.image_processor.postprocess(image, output_type="pil")


def resize_latent(latent: np.ndarray, height: int, width: int) -> np.ndarray:
    """A latent at another size (bicubic in latent space): a promote to a larger final, no encode."""
    if latent.shape[-2:] == (height, width):
        return latent
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(latent)).float()
    out = F.interpolate(t, size=(height, width), mode="bicubic", align_corners=False)
    return out.numpy().astype(latent.dtype)


class PromptCache:
    """Prompt embeddings per (prompt, negative prompt, guidance on/off): the text encoders run once.

    Small and process-local (an engine owns one); the oldest entry goes when it is full.
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: dict[tuple, dict[str, Any]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, compute) -> dict[str, Any]:
        hit = self._items.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        value = compute()
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = value
        return value

    def clear(self) -> None:
        self._items.clear()
