"""What every local diffusers image engine shares: loading once, seeding, progress, cancellation.

Family files (``stable_diffusion.py``, ``stable_diffusion_xl.py``, ...) only name their pipeline
classes and limits. The pipeline is loaded on first use and kept resident until :meth:`close`.
"""

from __future__ import annotations

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
from tierflow.engines.local import loading
from tierflow.engines.local.device import pick_device, pick_dtype

LIBRARIES = ("torch", "diffusers", "transformers", "tierflow")


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

    def __init__(self, preset: LocalPreset, *, offline: bool = False, device: str | None = None) -> None:
        self.preset = preset
        self.id = preset.id
        self.tier = preset.tier
        self.offline = offline
        self._device_pref = device
        self._pipe: Any = None
        self._img2img: Any = None
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
                    cls, self.preset.repo, self.preset.revision, offline=self.offline, **kwargs
                )
                pipe.set_progress_bar_config(disable=True)
                self._pipe = pipe.to(device)
                self.device = device
                if self.batch_size is None:
                    self.batch_size = 8 if device != "cpu" else 1
            return self._pipe

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

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import torch

        request = self.prepare(request)
        pipe = self.img2img_pipe() if request.task == TASK_IMG2IMG else self.load()
        count = len(request.seeds)
        batch = max(1, self.batch_size or 1)
        steps = request.steps or 1
        if request.task == TASK_IMG2IMG:
            # diffusers runs int(steps * strength) steps in img2img; report what really runs.
            strength = request.strength if request.strength is not None else 0.6
            effective = max(1, int(steps * strength))
        else:
            effective = steps
        for start in range(0, count, batch):
            seeds = request.seeds[start : start + batch]
            base_index = start

            def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                if request.cancel.is_set():
                    raise Cancelled("the render was cancelled", field="job")
                if progress:
                    progress(Progress(step + 1, effective, base_index, count))
                return kwargs

            generators = [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
            args: dict[str, Any] = {
                "prompt": [request.prompt] * len(seeds),
                "num_inference_steps": steps,
                "guidance_scale": float(request.guidance or 0.0),
                "generator": generators,
                "callback_on_step_end": on_step,
                "output_type": "pil",
            }
            if request.negative_prompt and (request.guidance or 0) > 1:
                args["negative_prompt"] = [request.negative_prompt] * len(seeds)
            if request.task == TASK_IMG2IMG:
                init = request.init_image.convert("RGB").resize((request.width, request.height))
                args["image"] = [init] * len(seeds)
                args["strength"] = request.strength if request.strength is not None else 0.6
            else:
                args["width"] = request.width
                args["height"] = request.height
            args.update(self.pipeline_kwargs(request))
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            t0 = time.perf_counter()
            try:
                with torch.inference_mode():
                    images = pipe(**args).images
            except Cancelled:
                raise
            except (RuntimeError, ValueError) as e:
                raise EngineFailed(f"{self.id} failed: {e}".splitlines()[0], field="engine") from e
            seconds = (time.perf_counter() - t0) / len(seeds)
            for offset, (seed, image) in enumerate(zip(seeds, images)):
                yield Rendered(
                    index=start + offset,
                    seed=int(seed),
                    image=image,
                    seconds=seconds,
                    metadata={"sampler": type(pipe.scheduler).__name__, "device": self.device},
                )
