"""The catalogue of real local presets, as data: hub repo, pinned commit, family and defaults.

Each revision is a 40-hex commit seen in public snapshots/pins of that repo (so a render can be
reproduced byte for byte); ``None`` means no verified commit was found and the preset follows
``main`` until one is pinned. ``memory_gb`` is the approximate accelerator memory for one render
at the default size without CPU offload. :class:`PresetSpec` adds to :class:`LocalPreset` what
the catalogue needs beyond rendering: the family file that renders it, the pipeline class and,
for single-file weights, the file name.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierflow.domain.models import Tier
from tierflow.engines.local.diffusers_base import LocalPreset


@dataclass(frozen=True)
class PresetSpec:
    """One real local model: a :class:`LocalPreset` plus how tierflow loads it."""

    preset: LocalPreset
    engine_class: str  # family file under engines/local/ ("stable_diffusion_xl", "flux", ...)
    pipeline: str  # diffusers pipeline class, or "spandrel" for single-file upscalers
    filename: str | None = None  # single-file weights inside the repo
    max_sequence_length: int | None = None  # text-encoder tokens (T5 families)
    note: str = ""

    @property
    def id(self) -> str:
        return self.preset.id

    @property
    def repo(self) -> str:
        return self.preset.repo

    @property
    def revision(self) -> str | None:
        return self.preset.revision


def _spec(engine_class: str, pipeline: str, *, filename: str | None = None, max_sequence_length: int | None = None,
          note: str = "", **preset: object) -> PresetSpec:
    return PresetSpec(LocalPreset(**preset), engine_class, pipeline, filename, max_sequence_length, note)  # type: ignore[arg-type]


# Tiny decoders (AutoencoderTiny) for draft previews, pinned like the models. TAESD's and
# TAESDXL's commits are the snapshot hashes seen in public caches of those repos. TAEF1's is the
# head of its main branch as the hub's own pages show it: the commit page
# huggingface.co/madebyollin/taef1/commit/2d552378e58c9c94201075708d7de4e1163b2689 ("Update
# README.md", parent 5463ee6, the "Upload 3 files" commit), and the tree of main listing 3
# commits with 2d55237 on top and config.json + diffusion_pytorch_model.safetensors in it.
TAESD = ("madebyollin/taesd", "614f76814bbe30edbe2e627ace1c2234c81a2c0e")
TAESDXL = ("madebyollin/taesdxl", "b20258aaef75ef61e659c1e0f14f251cf0ad153e")
TAEF1 = ("madebyollin/taef1", "2d552378e58c9c94201075708d7de4e1163b2689")
# Latent spaces: SD 1.x/2.x share one VAE (scaling 0.18215), SDXL and its Turbo another (0.13025).
SD_LATENTS = "sd-kl-f8"
SDXL_LATENTS = "sdxl-kl-f8"

CATALOGUE: tuple[PresetSpec, ...] = (
    # -- draft ---------------------------------------------------------------------------------
    _spec("stable_diffusion", "StableDiffusionPipeline",
          id="sd-turbo", tier=Tier.DRAFT, repo="stabilityai/sd-turbo",
          revision="b261bac6fd2cf515557d5d0707481eafa0485ec2",
          description="SD-Turbo (distilled SD 2.1): 512 px in 1 step", dtype="float16",
          default_size=(512, 512), default_steps=1, default_guidance=0.0, max_size=768, memory_gb=4.0,
          variant="fp16", latent_space=SD_LATENTS, tiny_decoder=TAESD[0], tiny_decoder_revision=TAESD[1]),
    _spec("stable_diffusion_xl", "StableDiffusionXLPipeline",
          id="sdxl-turbo", tier=Tier.DRAFT, repo="stabilityai/sdxl-turbo",
          revision="71153311d3dbb46851df1931d3ca6e939de83304",
          description="SDXL-Turbo (distilled SDXL): 512 px in 1-4 steps", dtype="float16",
          default_size=(512, 512), default_steps=1, default_guidance=0.0, max_size=1024, memory_gb=8.0,
          variant="fp16", latent_space=SDXL_LATENTS, tiny_decoder=TAESDXL[0], tiny_decoder_revision=TAESDXL[1]),
    # -- final ---------------------------------------------------------------------------------
    _spec("stable_diffusion_xl", "StableDiffusionXLPipeline",
          id="sdxl", tier=Tier.FINAL, repo="stabilityai/stable-diffusion-xl-base-1.0",
          revision="462165984030d82259a11f4367a4eed129e94a7b",
          description="SDXL 1.0 base: 1024 px, 30 steps with CFG", dtype="float16",
          default_size=(1024, 1024), default_steps=30, default_guidance=5.0, max_size=2048, memory_gb=12.0,
          variant="fp16", latent_space=SDXL_LATENTS, tiny_decoder=TAESDXL[0], tiny_decoder_revision=TAESDXL[1]),
    _spec("flux", "FluxPipeline", max_sequence_length=256,
          id="flux-schnell", tier=Tier.FINAL, repo="black-forest-labs/FLUX.1-schnell",
          revision="741f7c3ce8b383c54771c7003378a50191e9efe9",
          description="FLUX.1 [schnell]: 1024 px in 4 steps, no guidance", dtype="bfloat16",
          default_size=(1024, 1024), default_steps=4, default_guidance=0.0, max_size=2048, memory_gb=36.0,
          latent_space="flux", tiny_decoder=TAEF1[0], tiny_decoder_revision=TAEF1[1]),
    # -- cleanup -------------------------------------------------------------------------------
    _spec("stable_diffusion_xl_inpaint", "StableDiffusionXLInpaintPipeline",
          id="sdxl-inpaint", tier=Tier.CLEANUP, repo="diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
          revision="115134f363124c53c7d878647567d04daf26e41e",
          description="SDXL 1.0 inpainting 0.1: inpaint and outpaint at 1024 px", dtype="float16",
          default_size=(1024, 1024), default_steps=20, default_guidance=8.0, max_size=2048, memory_gb=12.0,
          variant="fp16"),
    # -- upscale -------------------------------------------------------------------------------
    _spec("realesrgan", "spandrel", filename="RealESRGAN_x4plus.pth",
          note="revision is a verified commit of the repo; that it holds this file was not checked offline",
          id="realesrgan-x4plus", tier=Tier.UPSCALE, repo="lllyasviel/Annotators",
          revision="982e7edaec38759d914a963c48c4726685de7d96",
          description="Real-ESRGAN x4plus (RRDB): tiled 4x upscale", dtype="float16",
          default_size=(512, 512), default_steps=1, default_guidance=0.0, max_size=8192, memory_gb=2.0),
    # -- video ---------------------------------------------------------------------------------
    _spec("wan", "WanImageToVideoPipeline", max_sequence_length=512,
          id="wan2.2-ti2v-5b", tier=Tier.VIDEO, repo="Wan-AI/Wan2.2-TI2V-5B-Diffusers",
          revision="b8fff7315c768468a5333511427288870b2e9635",
          description="Wan 2.2 TI2V 5B: 720p image-to-video at 24 fps", dtype="bfloat16",
          default_size=(1280, 704), default_steps=50, default_guidance=5.0, max_size=1280, memory_gb=24.0),
    _spec("ltx_video", "LTXImageToVideoPipeline", max_sequence_length=128,
          id="ltx-video", tier=Tier.VIDEO, repo="Lightricks/LTX-Video",
          revision="8984fa25007f376c1a299016d0957a37a2f797bb",
          description="LTX-Video: fast image-to-video at 768x512, 24 fps", dtype="bfloat16",
          default_size=(768, 512), default_steps=40, default_guidance=3.0, max_size=1280, memory_gb=18.0),
)

PRESETS: dict[str, PresetSpec] = {spec.id: spec for spec in CATALOGUE}


def get(preset_id: str) -> PresetSpec:
    """The catalogue entry ``preset_id``; NotFound names the known ids."""
    from tierflow.domain.errors import NotFound

    try:
        return PRESETS[preset_id]
    except KeyError:
        raise NotFound(f"no local preset {preset_id!r}", field="engine", fix=f"use one of {', '.join(PRESETS)}") from None


def by_tier(tier: Tier) -> list[PresetSpec]:
    """Catalogue entries of one tier, in catalogue order."""
    return [spec for spec in CATALOGUE if spec.preset.tier == tier]
