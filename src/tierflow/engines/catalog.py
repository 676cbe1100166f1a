"""Every engine tierflow ships, registered in one place."""

from __future__ import annotations

from tierflow.config import Settings
from tierflow.domain.models import Tier
from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.registry import EngineRegistry, Registration

TINY_DRAFT = LocalPreset(
    id="tiny-draft", tier=Tier.DRAFT, repo="tiny-sd", revision=None, kind="tiny", dtype="float32",
    default_size=(512, 512), default_steps=2, max_size=1024,
    description="offline StableDiffusionPipeline with tiny random weights (tests, demos)",
)
TINY_FINAL = LocalPreset(
    id="tiny-final", tier=Tier.FINAL, repo="tiny-sdxl", revision=None, kind="tiny", dtype="float32",
    default_size=(512, 512), default_steps=4, default_guidance=5.0, max_size=1024,
    description="offline StableDiffusionXLPipeline with tiny random weights (tests, demos)",
)
SD_TURBO = LocalPreset(
    id="sd-turbo", tier=Tier.DRAFT, repo="stabilityai/sd-turbo", revision=None, dtype="float16",
    default_size=(512, 512), default_steps=1, default_guidance=0.0, max_size=768, memory_gb=3.5,
    variant="fp16", description="SD-Turbo: 1-step 512 px drafts",
)
SDXL = LocalPreset(
    id="sdxl", tier=Tier.FINAL, repo="stabilityai/stable-diffusion-xl-base-1.0", revision=None, dtype="float16",
    default_size=(1024, 1024), default_steps=30, default_guidance=5.0, max_size=1536, memory_gb=10.0,
    variant="fp16", description="SDXL base 1.0: 1024 px finals",
)


def _tiny(preset: LocalPreset, cls_name: str):
    def factory(settings: Settings):
        from pathlib import Path

        from tierflow.engines.tiny import engines as tiny

        cls = getattr(tiny, cls_name)
        engine = cls(preset, settings.models_dir, offline=True, device=settings.device)
        # Point the preset at the folder the tiny builder writes.
        engine.preset = LocalPreset(**{**preset.__dict__, "repo": str(Path(settings.models_dir) / preset.repo)})
        return engine

    return factory


def _local(preset: LocalPreset, module: str, cls_name: str):
    def factory(settings: Settings):
        import importlib

        cls = getattr(importlib.import_module(f"tierflow.engines.local.{module}"), cls_name)
        return cls(preset, offline=settings.offline, device=settings.device)

    return factory


def build_registry(settings: Settings) -> EngineRegistry:
    reg = EngineRegistry(settings)
    reg.register(Registration("tiny-draft", Tier.DRAFT, _tiny(TINY_DRAFT, "TinyStableDiffusionEngine"), "tiny", True))
    reg.register(Registration("tiny-final", Tier.FINAL, _tiny(TINY_FINAL, "TinyStableDiffusionXLEngine"), "tiny", True))
    reg.register(Registration("sd-turbo", Tier.DRAFT, _local(SD_TURBO, "stable_diffusion", "StableDiffusionEngine"),
                              "local", True))
    reg.register(Registration("sdxl", Tier.FINAL, _local(SDXL, "stable_diffusion_xl", "StableDiffusionXLEngine"),
                              "local", True))
    return reg
