"""Tiny cleanup and upscale engines: the local engines, pointed at weights built on this machine."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.local.esrgan import EsrganUpscaleEngine, UpscalePreset
from tierflow.engines.local.inpaint import StableDiffusionInpaintEngine
from tierflow.engines.tiny.build_upscaler import ESRGAN_FILE, ESRGAN_SCALE, ensure_built_extra


class TinyStableDiffusionInpaintEngine(StableDiffusionInpaintEngine):
    """``StableDiffusionInpaintPipeline`` with a 9-channel tiny UNet, built on first use."""

    model_name = "tiny-sd-inpaint"

    def __init__(self, preset: LocalPreset, models_dir: Path, **kwargs) -> None:
        super().__init__(preset, **kwargs)
        self.models_dir = models_dir

    def _ensure_weights(self) -> None:
        ensure_built_extra(self.models_dir, self.model_name)


class TinyEsrganUpscaleEngine(EsrganUpscaleEngine):
    """spandrel ESRGAN x4 with tiny random weights, built on first use."""

    model_name = "tiny-esrgan"

    def __init__(self, preset: UpscalePreset, models_dir: Path, **kwargs) -> None:
        path = str(models_dir / self.model_name / ESRGAN_FILE)
        super().__init__(dataclasses.replace(preset, path=path, kind="tiny"), **kwargs)
        self.models_dir = models_dir

    def _ensure_weights(self) -> None:
        ensure_built_extra(self.models_dir, self.model_name)


def tiny_inpaint_preset(models_dir: Path) -> LocalPreset:
    """The offline inpainting preset (tier cleanup)."""
    from tierflow.domain.models import Tier

    return LocalPreset(
        id="tiny-sd-inpaint",
        tier=Tier.CLEANUP,
        repo=str(models_dir / "tiny-sd-inpaint"),
        revision=None,
        description="tiny random-weight SD inpainting (offline tests and demos)",
        dtype="float32",
        default_size=(64, 64),
        default_steps=2,
        max_size=1024,
        kind="tiny",
    )


def tiny_upscale_preset(models_dir: Path) -> UpscalePreset:
    """The offline upscaler preset (tier upscale), x4."""
    return UpscalePreset(
        id="tiny-esrgan",
        path=str(models_dir / "tiny-esrgan" / ESRGAN_FILE),
        scale=ESRGAN_SCALE,
        description="tiny random-weight ESRGAN x4 (offline tests and demos)",
        dtype="float32",
        tile=64,
        overlap=8,
        max_size=4096,
        kind="tiny",
    )
