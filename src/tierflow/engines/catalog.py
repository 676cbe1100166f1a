"""Every engine tierflow ships, registered in one place: tiny (offline), local presets, hosted APIs.

Per tier, the tiny engine is the default under ``TIERFLOW_PRESET=tiny`` (and the stand-in when
real weights are missing offline); otherwise the local preset marked default below renders.
Hosted engines are never a default: a team picks them with ``--engine``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from pathlib import Path

from tierflow.config import Settings
from tierflow.domain.models import Tier
from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.registry import EngineRegistry, Registration

TINY_DRAFT = LocalPreset(
    id="tiny-draft", tier=Tier.DRAFT, repo="tiny-sd", revision=None, kind="tiny", dtype="float32",
    default_size=(512, 512), default_steps=2, max_size=1024,
    description="offline StableDiffusionPipeline with tiny random weights (tests, demos)",
    latent_space="tiny-kl-f8", tiny_decoder="tiny-taesd",
)
TINY_FINAL = LocalPreset(
    id="tiny-final", tier=Tier.FINAL, repo="tiny-sdxl", revision=None, kind="tiny", dtype="float32",
    default_size=(512, 512), default_steps=4, default_guidance=5.0, max_size=1024,
    description="offline StableDiffusionXLPipeline with tiny random weights (tests, demos)",
    latent_space="tiny-kl-f8", tiny_decoder="tiny-taesd",  # both tiny pipelines share one VAE (same seed)
)
TINY_FLUX = LocalPreset(
    id="tiny-flux", tier=Tier.FINAL, repo="tiny-flux", revision=None, kind="tiny", dtype="float32",
    default_size=(512, 512), default_steps=2, default_guidance=0.0, max_size=1024,
    description="offline FluxPipeline with tiny random weights and a TAEF1-shaped preview decoder (tests, demos)",
    latent_space="tiny-flux", tiny_decoder="tiny-taef1",  # 16 latent channels: its own space
)
TINY_VIDEO = LocalPreset(
    id="tiny-video", tier=Tier.VIDEO, repo="tiny-wan-i2v", revision=None, kind="tiny", dtype="float32",
    default_size=(64, 64), default_steps=2, default_guidance=0.0, max_size=256,
    description="offline Wan 2.2 image-to-video pipeline with tiny random weights (tests, demos)",
)

# The real preset each tier uses by default when its weights can be had.
REAL_DEFAULTS = {
    Tier.DRAFT: "sd-turbo",
    Tier.FINAL: "sdxl",
    Tier.CLEANUP: "sdxl-inpaint",
    Tier.UPSCALE: "realesrgan-x4plus",
    Tier.VIDEO: "wan2.2-ti2v-5b",
}

# engine_class in engines/local/presets.py → (module under engines/local, class)
FAMILIES = {
    "stable_diffusion": ("stable_diffusion", "StableDiffusionEngine"),
    "stable_diffusion_xl": ("stable_diffusion_xl", "StableDiffusionXLEngine"),
    "flux": ("flux", "FluxEngine"),
    "stable_diffusion_xl_inpaint": ("inpaint", "StableDiffusionXLInpaintEngine"),
    "realesrgan": ("esrgan", "EsrganUpscaleEngine"),
    "wan": ("wan_video", "WanImageToVideoEngine"),
    "ltx_video": ("ltx_video", "LtxImageToVideoEngine"),
}


def _tiny_image(preset: LocalPreset, cls_name: str):
    def factory(settings: Settings):
        from tierflow.engines.tiny import engines as tiny

        models = Path(settings.models_dir)
        local = dataclasses.replace(preset, repo=str(models / preset.repo),
                                    tiny_decoder=str(models / preset.tiny_decoder) if preset.tiny_decoder else None)
        return getattr(tiny, cls_name)(local, settings.models_dir, offline=True, device=settings.device)

    return factory


def _tiny_inpaint(settings: Settings):
    from tierflow.engines.tiny.cleanup_engines import TinyStableDiffusionInpaintEngine, tiny_inpaint_preset

    preset = dataclasses.replace(tiny_inpaint_preset(settings.models_dir), id="tiny-inpaint", default_size=(512, 512))
    return TinyStableDiffusionInpaintEngine(preset, settings.models_dir, offline=True, device=settings.device)


def _tiny_upscale(settings: Settings):
    from tierflow.engines.tiny.cleanup_engines import TinyEsrganUpscaleEngine, tiny_upscale_preset

    preset = dataclasses.replace(tiny_upscale_preset(settings.models_dir), id="tiny-upscale")
    return TinyEsrganUpscaleEngine(preset, settings.models_dir, offline=True, device=settings.device)


def _local(spec):
    def factory(settings: Settings):
        module, cls_name = FAMILIES[spec.engine_class]
        cls = getattr(importlib.import_module(f"tierflow.engines.local.{module}"), cls_name)
        if spec.engine_class == "realesrgan":
            from tierflow.engines.local.esrgan import UpscalePreset

            p = spec.preset
            preset = UpscalePreset(id=p.id, repo=p.repo, filename=spec.filename or "", revision=p.revision,
                                   description=p.description, max_size=p.max_size)
            return cls(preset, offline=settings.offline, device=settings.device)
        kwargs = {"offline": settings.offline, "device": settings.device}
        if spec.engine_class == "flux" and spec.max_sequence_length:
            kwargs["max_sequence_length"] = spec.max_sequence_length
        return cls(spec.preset, **kwargs)

    return factory


def _gemini(preset_id: str):
    def factory(settings: Settings):
        from tierflow.engines.hosted.gemini import GeminiImageEngine

        return GeminiImageEngine(preset_id, base_url=os.environ.get("TIERFLOW_GEMINI_BASE_URL") or None)

    return factory


def _fal(preset_id: str):
    def factory(settings: Settings):
        from tierflow.engines.hosted.fal import FalFluxEngine

        return FalFluxEngine(preset_id, base_url=os.environ.get("TIERFLOW_FAL_BASE_URL") or None)

    return factory


def build_registry(settings: Settings) -> EngineRegistry:
    from tierflow.engines.hosted.fal import FAL_PRESETS
    from tierflow.engines.hosted.gemini import GEMINI_PRESETS
    from tierflow.engines.local.presets import CATALOGUE

    reg = EngineRegistry(settings)
    reg.register(Registration("tiny-draft", Tier.DRAFT, _tiny_image(TINY_DRAFT, "TinyStableDiffusionEngine"),
                              "tiny", True))
    reg.register(Registration("tiny-final", Tier.FINAL, _tiny_image(TINY_FINAL, "TinyStableDiffusionXLEngine"),
                              "tiny", True))
    # FLUX's pipeline offline (never a default: it exercises the FLUX family's code, e.g. its latent drafts)
    reg.register(Registration("tiny-flux", Tier.FINAL, _tiny_image(TINY_FLUX, "TinyFluxEngine"), "tiny"))
    reg.register(Registration("tiny-inpaint", Tier.CLEANUP, _tiny_inpaint, "tiny", True))
    reg.register(Registration("tiny-upscale", Tier.UPSCALE, _tiny_upscale, "tiny", True))
    reg.register(Registration("tiny-video", Tier.VIDEO, _tiny_image(TINY_VIDEO, "TinyWanImageToVideoEngine"),
                              "tiny", True))
    for spec in CATALOGUE:
        tier = spec.preset.tier
        reg.register(Registration(spec.id, tier, _local(spec), "local", REAL_DEFAULTS.get(tier) == spec.id))
    for preset_id, preset in GEMINI_PRESETS.items():
        reg.register(Registration(preset_id, preset.tier, _gemini(preset_id), "hosted"))
    for preset_id, preset in FAL_PRESETS.items():
        reg.register(Registration(preset_id, preset.tier, _fal(preset_id), "hosted"))
    return reg
