"""What every local diffusers image engine shares: loading once, seeding, progress, cancellation.

Family files (``stable_diffusion.py``, ``stable_diffusion_xl.py``, ...) only name their pipeline
classes and limits. The pipeline is loaded on first use and kept resident until :meth:`close`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tierflow.domain.errors import Cancelled, EngineFailed, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import (
    TASK_IMG2IMG,
    TASK_TXT2IMG,
    Capabilities,
    Engine,
    EngineInfo,
    ProgressCallback,
    Progress,
    Rendered,
    RenderRequest,
    library_versions,
)
from tierflow.engines.local import fastpath, latents, loading
from tierflow.engines.local.device import pick_device, pick_dtype

LIBRARIES = ("torch", "diffusers", "transformers", "tierflow")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalPreset:
    """A local model: where its weights live and how it renders by default."""

    id: str
    tier: Tier
    repo: str
    revision: str | None
    description: str = ""
    dtype: str = "float16"
    default_size: tuple[int, int] = (512, 512)
    default_steps: int = 1
    default_guidance: float = 0.0
    max_size: int = 1024
    memory_gb: float = 0.0
    kind: str = "local"  # "tiny" for the offline preset
    variant: str | None = None
    latent_space: str = ""  # presets with equal latent spaces hand latents over on promote
    tiny_decoder: str | None = None  # AutoencoderTiny repo (or folder) for draft previews
    tiny_decoder_revision: str | None = None


def quiet_diffusers() -> None:
    """diffusers/transformers reset their log level on import; silence their bars and notes here."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


class DiffusersImageEngine(Engine):
    """A text-to-image diffusers pipeline with img2img through ``from_pipe``."""

    pipeline_class: str = ""  # e.g. "StableDiffusionPipeline"
    img2img_class: str = ""
    family: str = ""
    latent_drafts: bool = True  # this family can keep latents and preview them with a tiny decoder
    negative_prompts: bool = True  # guidance > 1 is classifier-free guidance with a negative prompt
    fast_modules: bool = True  # fast-path module steps (fuse, channels_last, compile) apply to its pipeline

    def __init__(self, preset: LocalPreset, *, offline: bool = False, device: str | None = None) -> None:
        self.preset = preset
        self.id = preset.id
        self.tier = preset.tier
        self.offline = offline
        self._device_pref = device
        self._pipe: Any = None
        self._img2img: Any = None
        self._decoder: Any = None  # AutoencoderTiny, or False when it could not be had
        self.fast: fastpath.FastPath | None = None
        self.fast_applied: list[str] = []
        self.prompt_cache = latents.PromptCache()
        self._lock = loading.LOAD_LOCK  # shared: see loading.LOAD_LOCK
        # Batch variations into one forward pass on accelerators; one by one on the CPU so each
        # image streams out as soon as it exists.
        self.batch_size: int | None = None

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        p = self.preset
        return Capabilities(
            tasks=(TASK_TXT2IMG, TASK_IMG2IMG),
            min_size=64,
            max_size=p.max_size,
            size_multiple=8,
            default_size=p.default_size,
            default_steps=p.default_steps,
            max_steps=100,
            default_guidance=p.default_guidance,
            max_batch=64,
            seeded=True,
            family=self.family,
            latent_space=p.latent_space,
        )

    def describe(self) -> EngineInfo:
        present = loading.weights_present(self.preset.repo, self.preset.revision)
        if present:
            availability = "ready"
        elif self.preset.kind == "tiny":
            availability = "built on first use (offline)"
        elif self.offline:
            availability = "weights not downloaded; offline"
        else:
            availability = "weights download on first use"
        return EngineInfo(
            id=self.id,
            tier=self.tier,
            kind=self.preset.kind,
            pipeline=self.pipeline_class,
            repo=self.preset.repo,
            revision=self.preset.revision,
            available=present or self.preset.kind == "tiny" or not self.offline,
            availability=availability,
            libraries=library_versions(*LIBRARIES),
            description=self.preset.description,
        )

    # -- loading ----------------------------------------------------------------------------
    def _ensure_weights(self) -> None:
        """Hook for presets that build their weights (tiny)."""

    def load(self) -> Any:
        with self._lock:
            if self._pipe is None:
                quiet_diffusers()
                self._ensure_weights()
                device = pick_device(self._device_pref)
                dtype = pick_dtype(device, self.preset.dtype)
                cls = loading.diffusers_class(self.pipeline_class)
                kwargs: dict[str, Any] = {"dtype": dtype}
                if self.preset.variant:
                    # fp16 files are what `tierflow models pull` fetches; on the CPU they are upcast.
                    kwargs["variant"] = self.preset.variant
                pipe = loading.load_pipeline(
                    cls, self.preset.repo, self.preset.revision, offline=self.offline,
                    allow_patterns=loading.files_for(self.preset.variant), **kwargs
                )
                pipe.set_progress_bar_config(disable=True)
                pipe = pipe.to(device)
                self.device = device
                self.dtype = dtype
                self.fast = fastpath.FastPath.for_device(device) if self.fast_modules else fastpath.FastPath(
                    frozenset(), 8 if device != "cpu" else 1, "default")
                if self.batch_size is None:
                    self.batch_size = self.fast.batch if self.fast.on("batch") else 1
                decoder = self._load_tiny_decoder(device, dtype) if self.fast.on("tiny") else None
                self.fast_applied = fastpath.apply(pipe, decoder, self.fast, device)
                self._pipe = pipe
            return self._pipe

    def _load_tiny_decoder(self, device: str, dtype: Any) -> Any:
        """The family's AutoencoderTiny, or None (previews then come from the full VAE, logged once)."""
        if self._decoder is None:
            repo = self.preset.tiny_decoder
            self._decoder = False
            if repo and self.latent_drafts:
                try:
                    tiny = loading.load_pipeline(
                        loading.diffusers_class("AutoencoderTiny"), repo, self.preset.tiny_decoder_revision,
                        offline=self.offline, allow_patterns=loading.TINY_DECODER_FILES,
                    )
                    self._decoder = tiny.to(device=device, dtype=dtype).eval()
                except Exception as e:  # noqa: BLE001 - a missing preview decoder must not stop drafts
                    log.warning("%s: no tiny decoder (%s); draft previews use the full VAE", self.id,
                                str(e).splitlines()[0])
        return self._decoder or None

    def img2img_pipe(self) -> Any:
        with self._lock:
            pipe = self.load()
            if self._img2img is None:
                self._img2img = loading.from_pipe(self.img2img_class, pipe)
                self._img2img.set_progress_bar_config(disable=True)
            return self._img2img

    def close(self) -> None:
        with self._lock:
            self._pipe = None
            self._img2img = None
            self._decoder = None
            self.prompt_cache.clear()

    # -- validation -------------------------------------------------------------------------
    def prepare(self, request: RenderRequest) -> RenderRequest:
        request = super().prepare(request)
        if request.task == TASK_IMG2IMG and request.strength is not None and request.steps:
            # diffusers denoises int(steps * strength) steps of an img2img request; zero is an error.
            if int(request.steps * request.strength) < 1:
                raise InvalidInput(
                    f"strength {request.strength} × {request.steps} steps leaves no denoising step",
                    field="strength",
                    fix=f"use strength ≥ {-(-100 // request.steps) / 100:.2f} with {request.steps} steps, or more steps",
                )
        return request

    # -- rendering --------------------------------------------------------------------------
    def pipeline_kwargs(self, request: RenderRequest) -> dict[str, Any]:
        """Family-specific arguments (SDXL adds size conditioning, for instance)."""
        return {}

    def prompt_kwargs(self, pipe: Any, request: RenderRequest, count: int) -> dict[str, Any]:
        """Prompt arguments for ``count`` outputs: cached embeddings on the fast path, else the text."""
        cfg = self.negative_prompts and (request.guidance or 0) > 1
        negative = request.negative_prompt if cfg and request.negative_prompt else None
        if not (self.fast and self.fast.on("cache")):
            out: dict[str, Any] = {"prompt": [request.prompt] * count}
            if negative:
                out["negative_prompt"] = [negative] * count
            return out
        key = (request.prompt, negative, cfg)
        embeds = self.prompt_cache.get(key, lambda: self.encode_prompt(pipe, request.prompt, negative, cfg))
        return {name: value.repeat(count, *([1] * (value.dim() - 1))) for name, value in embeds.items()}

    def encode_prompt(self, pipe: Any, prompt: str, negative: str | None, cfg: bool) -> dict[str, Any]:
        """One prompt's embeddings as the pipeline's ``*_embeds`` arguments (SD 1/2 shape)."""
        import torch

        with torch.inference_mode():
            pe, npe = pipe.encode_prompt(prompt, self.device, 1, cfg, negative)
        out = {"prompt_embeds": pe}
        if npe is not None:
            out["negative_prompt_embeds"] = npe
        return out

    def latent_previews(self, request: RenderRequest) -> bool:
        """Keep latents and preview them: drafts (txt2img) of a family that supports it."""
        return bool(request.preview and request.task == TASK_TXT2IMG and self.latent_drafts
                    and self.fast is not None and self.fast.on("tiny"))

    def spatial_latents(self, pipe: Any, latents: Any, request: RenderRequest) -> Any:
        """The pipeline's ``output_type="latent"`` output as the (N, C, h, w) latents its VAE decodes
        (scaled: what ``latents / scaling_factor`` unscales). SD and SDXL: as they are; FLUX unpacks."""
        return latents

    def decode_latent(self, latent: Any) -> Any:
        """The full VAE decode of a kept latent: what plain diffusers returns for the same seed."""
        pipe = self.load()
        with self._lock:
            return latents.full_decode(pipe, latents.to_torch(latent, self.device, self.dtype))[0]

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import torch
        from PIL import Image

        request = self.prepare(request)
        pipe = self.img2img_pipe() if request.task == TASK_IMG2IMG else self.load()
        keep_latents = self.latent_previews(request)
        decoder = self._decoder or None
        count = len(request.seeds)
        batch = max(1, self.batch_size or 1)
        steps = request.steps or 1
        pad = "compile" in self.fast_applied and self.device == "cuda"  # CUDA graphs: fixed batch buckets
        if request.task == TASK_IMG2IMG:
            # diffusers runs int(steps * strength) steps in img2img; report what really runs.
            strength = request.strength if request.strength is not None else 0.6
            effective = max(1, int(steps * strength))
        else:
            effective = steps
        for start, stop in chunks(count, batch, first_alone=self.device == "cpu"):
            seeds = request.seeds[start:stop]
            run_seeds = seeds + [seeds[-1]] * (fastpath.bucket(len(seeds)) - len(seeds)) if pad else seeds
            base_index = start

            def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                if request.cancel.is_set():
                    raise Cancelled("the render was cancelled", field="job")
                if progress:
                    progress(Progress(step + 1, effective, base_index, count))
                return kwargs

            generators = [torch.Generator("cpu").manual_seed(int(s)) for s in run_seeds]
            args: dict[str, Any] = {
                "num_inference_steps": steps,
                "guidance_scale": float(request.guidance or 0.0),
                "generator": generators,
                "callback_on_step_end": on_step,
                "output_type": "latent" if keep_latents else "pil",
            }
            if request.task == TASK_IMG2IMG:
                args["strength"] = request.strength if request.strength is not None else 0.6
                if request.init_latent is not None:
                    # Same latent space: the draft's latent is the init, no VAE encode round trip.
                    lat = latents.resize_latent(request.init_latent, request.height // 8, request.width // 8)
                    args["image"] = latents.to_torch(lat, self.device, self.dtype).repeat(len(run_seeds), 1, 1, 1)
                else:
                    init = request.init_image.convert("RGB").resize((request.width, request.height))
                    args["image"] = [init] * len(run_seeds)
            else:
                args["width"] = request.width
                args["height"] = request.height
            args.update(self.pipeline_kwargs(request))
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    args.update(self.prompt_kwargs(pipe, request, len(run_seeds)))
                    images = pipe(**args).images
                    kept = None
                    if keep_latents:
                        images = self.spatial_latents(pipe, images, request)
                        kept = latents.to_numpy(images)
                        if decoder is not None:
                            pixels = latents.tiny_decode(decoder, images)
                            images = [Image.fromarray(p) for p in pixels]
                            made_by = latents.DECODER_TINY
                        else:
                            images = latents.full_decode(pipe, images)
                            made_by = latents.DECODER_FULL
            except Cancelled:
                raise
            except (RuntimeError, ValueError) as e:
                raise EngineFailed(f"{self.id} failed: {e}".splitlines()[0], field="engine") from e
            seconds = (time.perf_counter() - t0) / len(run_seeds)
            for offset, (seed, image) in enumerate(zip(seeds, images)):
                metadata: dict[str, Any] = {"sampler": type(pipe.scheduler).__name__, "device": self.device}
                if kept is not None:
                    metadata["decoder"] = made_by
                if request.init_latent is not None and request.task == TASK_IMG2IMG:
                    metadata["init"] = "latent"
                yield Rendered(
                    index=start + offset,
                    seed=int(seed),
                    image=image,
                    seconds=seconds,
                    metadata=metadata,
                    latent=kept[offset : offset + 1] if kept is not None else None,
                )


def chunks(count: int, batch: int, *, first_alone: bool = False) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges of at most ``batch`` outputs; ``first_alone``: the first preview comes early."""
    out: list[tuple[int, int]] = []
    start = 0
    if first_alone and count > 1 and batch > 1:
        out.append((0, 1))
        start = 1
    while start < count:
        out.append((start, min(count, start + batch)))
        start += batch
    return out
