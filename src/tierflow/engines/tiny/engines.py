"""Tiny engines: the local diffusers engines, pointed at weights built on this machine."""

from __future__ import annotations

from pathlib import Path

from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.local.flux import FluxEngine
from tierflow.engines.local.stable_diffusion import StableDiffusionEngine
from tierflow.engines.local.stable_diffusion_xl import StableDiffusionXLEngine
from tierflow.engines.local.wan_video import WanImageToVideoEngine
from tierflow.engines.tiny.build import ensure_built
from tierflow.engines.tiny.build_video import ensure_built_video


class _TinyMixin:
    model_name: str
    decoder_name = "tiny-taesd"  # the preview decoder (AutoencoderTiny)
    models_dir: Path

    def _ensure_weights(self) -> None:
        ensure_built(self.models_dir, self.model_name)
        ensure_built(self.models_dir, self.decoder_name)


class TinyStableDiffusionEngine(_TinyMixin, StableDiffusionEngine):
    model_name = "tiny-sd"

    def __init__(self, preset: LocalPreset, models_dir: Path, **kwargs) -> None:
        super().__init__(preset, **kwargs)
        self.models_dir = models_dir


class TinyStableDiffusionXLEngine(_TinyMixin, StableDiffusionXLEngine):
    model_name = "tiny-sdxl"

    def __init__(self, preset: LocalPreset, models_dir: Path, **kwargs) -> None:
        super().__init__(preset, **kwargs)
        self.models_dir = models_dir


class TinyFluxEngine(_TinyMixin, FluxEngine):
    """FLUX.1-schnell's pipeline at toy width, with TAEF1's stand-in (16 latent channels) for previews."""

    model_name = "tiny-flux"
    decoder_name = "tiny-taef1"

    def __init__(self, preset: LocalPreset, models_dir: Path, **kwargs) -> None:
        super().__init__(preset, **kwargs)
        self.models_dir = models_dir


class TinyWanImageToVideoEngine(WanImageToVideoEngine):
    """A tiny-weight Wan 2.2 image-to-video pipeline, built on first use."""

    def __init__(self, preset: LocalPreset, models_dir: Path, **kwargs) -> None:
        super().__init__(preset, **kwargs)
        self.models_dir = models_dir

    def _ensure_weights(self) -> None:
        ensure_built_video(self.models_dir)
