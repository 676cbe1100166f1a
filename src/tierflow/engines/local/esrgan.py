"""ESRGAN-family upscaling (Real-ESRGAN and friends) through spandrel, in overlapping tiles.

spandrel recognises the architecture from the weights file's keys, so any ESRGAN/Real-ESRGAN
``.safetensors`` or ``.pth`` works. The image is cut into overlapping tiles; each tile's output is
weighted with a cosine ramp across the overlap and the weighted sum is normalised
(:mod:`tierflow.imaging.tiles`), so seams do not show and accelerator memory depends on the tile
size, not the image (the full-size accumulator lives in CPU memory). The model's native xN output
is resized to the exact target with Lanczos; targets beyond xN take more passes, each resized so
the last pass lands at the target.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tierflow.domain.errors import Cancelled, EngineFailed, EngineUnavailable, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import (
    TASK_UPSCALE,
    Capabilities,
    Engine,
    EngineInfo,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
    library_versions,
)
from tierflow.engines.local import loading
from tierflow.imaging.tiles import Blender, tile_boxes, tile_starts

LIBRARIES = ("torch", "spandrel", "pillow", "tierflow")
TARGETS = {"2k": 2048, "4k": 3840}  # long edge in px

# Real-ESRGAN x4plus (BSD-3-Clause), repackaged as safetensors by Comfy-Org.
# NOT PINNED TO A COMMIT: the repo's commit hash was not available offline when this was written;
# the file's SHA-256 pins its content instead. Set REAL_ESRGAN_REVISION to the commit to pin it.
REAL_ESRGAN_REPO = "Comfy-Org/Real-ESRGAN_repackaged"
REAL_ESRGAN_FILE = "RealESRGAN_x4plus.safetensors"
REAL_ESRGAN_REVISION: str | None = None
REAL_ESRGAN_SHA256 = "37f9a931c215f040aa6d50f711f2cb115f713c46df1d0d6469a8bd7bfe9a60bb"


@dataclass(frozen=True)
class UpscalePreset:
    """An upscaler: a weights file on the hub (repo + filename) or on disk (path), and tiling."""

    id: str
    tier: Tier = Tier.UPSCALE
    repo: str | None = None
    filename: str = ""
    revision: str | None = None
    sha256: str | None = None
    path: str | None = None  # a local .safetensors/.pth file instead of the hub
    scale: int = 4  # the model's native factor (checked against the file on load)
    description: str = ""
    dtype: str = "float16"
    tile: int = 384  # input px per tile side
    overlap: int = 16  # input px shared by neighbouring tiles
    max_size: int = 8192  # longest output edge
    kind: str = "local"  # "tiny" for the offline preset


REAL_ESRGAN_X4PLUS = UpscalePreset(
    id="real-esrgan-x4plus",
    repo=REAL_ESRGAN_REPO,
    filename=REAL_ESRGAN_FILE,
    revision=REAL_ESRGAN_REVISION,
    sha256=REAL_ESRGAN_SHA256,
    scale=4,
    description="Real-ESRGAN x4plus (RRDBNet, 64 MB): 2K/4K delivery",
)


def parse_target(text: str) -> tuple[float | None, int | None]:
    """``"2k"``/``"4k"`` -> long edge; ``"2"``/``"2x"``/``"x2"`` -> factor; returns ``(scale, long_edge)``."""
    value = text.strip().lower()
    if value in TARGETS:
        return None, TARGETS[value]
    try:
        return float(value.strip("x")), None
    except ValueError:
        raise InvalidInput(f"{text!r} is not a target", field="to", fix="use 2k, 4k or a factor such as 2") from None


def target_size(
    width: int, height: int, *, scale: float | None = None, long_edge: int | None = None, max_size: int = 8192
) -> tuple[int, int]:
    """The exact output size for a factor or a long edge; errors name ``to`` and the fix."""
    if (scale is None) == (long_edge is None):
        raise InvalidInput(
            "give either a factor or a target long edge", field="to", fix="use --to 2k, --to 4k or --to 2 (a factor)"
        )
    for value in (scale, long_edge):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidInput(f"{value!r} is not a number", field="to", fix="use 2k, 4k or a factor such as 2")
    source_long = max(width, height)
    if long_edge is not None:
        factor = long_edge / source_long
    else:
        factor = float(scale)
    if not factor > 1.0 or not math.isfinite(factor):
        target = f"{long_edge} px" if long_edge is not None else f"x{scale}"
        raise InvalidInput(
            f"the target {target} is not larger than the source ({width}x{height} px)",
            field="to",
            fix=f"choose a long edge above {source_long} px (2k = 2048, 4k = 3840) or a factor above 1",
        )
    if long_edge is not None:
        out = (long_edge, round(height * factor)) if width >= height else (round(width * factor), long_edge)
    else:
        out = (round(width * factor), round(height * factor))
    if max(out) > max_size:
        raise InvalidInput(
            f"{out[0]}x{out[1]} px is over the upscaler's maximum long edge of {max_size} px",
            field="to",
            fix=f"use a long edge of at most {max_size} px (a factor up to {max_size / source_long:.2f} here)",
        )
    return out


def tiled_run(
    model: Callable[[Any], Any],
    image: Any,
    scale: int,
    tile: int,
    overlap: int,
    on_tile: Callable[[], None] | None = None,
) -> Any:
    """Run ``model`` (1xCxHxW in [0, 1] -> xN) over overlapping tiles and blend; returns a CPU tensor."""
    import torch

    _, channels, height, width = image.shape
    blender = Blender(width * scale, height * scale, channels, overlap * scale, shape="cosine")
    for x, y, tw, th in tile_boxes(width, height, tile, tile, overlap):
        result = model(image[:, :, y : y + th, x : x + tw]).float().cpu()
        blender.add(x * scale, y * scale, result[0].permute(1, 2, 0).numpy())
        if on_tile:
            on_tile()
    return torch.from_numpy(blender.result()).permute(2, 0, 1)[None]


def pass_plan(width: int, height: int, target: tuple[int, int], scale: int) -> list[tuple[int, int]]:
    """Input size of each model pass: enough xN passes to reach ``target``, the last one landing on it."""
    factor = max(target[0] / width, target[1] / height)
    passes = max(1, math.ceil(math.log(factor, scale) - 1e-9))
    sizes = [(width, height)]
    for remaining in range(passes - 1, 0, -1):
        div = scale**remaining
        sizes.append((max(1, math.ceil(target[0] / div)), max(1, math.ceil(target[1] / div))))
    return sizes


class EsrganUpscaleEngine(Engine):
    """An ESRGAN-family upscaler loaded by spandrel; tiled, cancellable between tiles."""

    def __init__(self, preset: UpscalePreset, *, offline: bool = False, device: str | None = None) -> None:
        if not 16 <= preset.tile or not 0 <= preset.overlap < preset.tile // 2:
            raise InvalidInput(
                f"tile {preset.tile} / overlap {preset.overlap} px do not fit",
                field="tile",
                fix="use a tile of 16 px or more and an overlap below half the tile",
            )
        self.preset = preset
        self.id = preset.id
        self.tier = preset.tier
        self.offline = offline
        self._device_pref = device
        self._model: Any = None
        self._lock = loading.LOAD_LOCK  # shared: see loading.LOAD_LOCK
        self.device = "cpu"

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(
            tasks=(TASK_UPSCALE,),
            min_size=1,
            max_size=self.preset.max_size,
            size_multiple=1,
            default_size=(0, 0),
            default_steps=1,
            max_steps=1,
            max_batch=1,
            seeded=True,  # deterministic: no noise at all
            family="esrgan",
            scale=self.preset.scale,
        )

    def describe(self) -> EngineInfo:
        present = self._cached_file() is not None
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
            pipeline="spandrel:ESRGAN",
            repo=self.preset.repo or self.preset.path,
            revision=self.preset.revision,
            available=present or self.preset.kind == "tiny" or not self.offline,
            availability=availability,
            libraries=library_versions(*LIBRARIES),
            description=self.preset.description,
        )

    # -- loading ----------------------------------------------------------------------------
    def _ensure_weights(self) -> None:
        """Hook for presets that build their weights (tiny)."""

    def _cached_file(self) -> Path | None:
        p = self.preset
        if p.path:
            return Path(p.path).expanduser() if Path(p.path).expanduser().is_file() else None
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(p.repo, p.filename, revision=p.revision)
        return Path(found) if isinstance(found, str) else None

    def weights_file(self) -> Path:
        """The weights file on disk, downloaded (pinned revision) when allowed."""
        p = self.preset
        found = self._cached_file()
        if found is not None:
            return found
        if p.path:
            raise EngineUnavailable(
                f"{p.path} does not exist", field="engine", fix="point the preset at an ESRGAN .safetensors/.pth file"
            )
        if self.offline:
            raise loading.offline_error(p.repo, p.revision)
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        try:
            return Path(hf_hub_download(p.repo, p.filename, revision=p.revision))
        except (OSError, EntryNotFoundError, ValueError) as e:
            raise loading.offline_error(p.repo, p.revision) from e

    def load(self) -> Any:
        """The spandrel model descriptor, loaded once and kept until :meth:`close`."""
        with self._lock:
            if self._model is None:
                import spandrel

                from tierflow.engines.local.device import pick_device, pick_dtype

                self._ensure_weights()
                path = self.weights_file()
                if self.preset.sha256 and _sha256(path) != self.preset.sha256:
                    raise EngineUnavailable(
                        f"{path.name} does not match the preset's SHA-256",
                        field="engine",
                        fix="delete the file from the Hugging Face cache and run `tierflow models pull` again",
                    )
                try:
                    model = spandrel.ModelLoader().load_from_file(path)
                except (spandrel.UnsupportedModelError, ValueError, OSError, RuntimeError) as e:
                    raise EngineFailed(
                        f"{path.name} is not a model spandrel can load: {e}".splitlines()[0], field="engine"
                    ) from e
                if not isinstance(model, spandrel.ImageModelDescriptor) or model.scale < 2:
                    raise EngineFailed(f"{path.name} is not an upscaling model", field="engine")
                device = pick_device(self._device_pref)
                dtype = pick_dtype(device, self.preset.dtype)
                model = model.to(device).eval()
                if dtype != model.dtype and model.supports_half:
                    model = model.to(dtype)
                self._model = model
                self.device = device
            return self._model

    def close(self) -> None:
        with self._lock:
            self._model = None

    # -- validation -------------------------------------------------------------------------
    def output_size(self, request: RenderRequest) -> tuple[int, int]:
        """The exact output size ``request`` asks for (stages price and check it before rendering)."""
        if request.init_image is None:
            raise InvalidInput("an init image is required", field="image", fix="pass an image to upscale")
        long_edge = request.extra.get("target_long_edge")
        w, h = request.init_image.size
        return target_size(w, h, scale=request.scale, long_edge=long_edge, max_size=self.preset.max_size)

    def prepare(self, request: RenderRequest) -> RenderRequest:
        request = super().prepare(request)
        request.width, request.height = self.output_size(request)
        return request

    # -- rendering --------------------------------------------------------------------------
    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import numpy as np
        import torch
        from PIL import Image

        request = self.prepare(request)
        target = (request.width, request.height)
        model = self.load()
        scale = int(model.scale)
        source = request.init_image
        plan = pass_plan(source.width, source.height, target, scale)
        tile, overlap = self.preset.tile, self.preset.overlap
        total = sum(len(tile_starts(h, tile, overlap)) * len(tile_starts(w, tile, overlap)) for w, h in plan)
        done = 0

        def on_tile() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(Progress(done, total, 0, 1, f"tile {done}/{total}"))
            if request.cancel.is_set() and done < total:
                raise Cancelled("the upscale was cancelled", field="job")

        if request.cancel.is_set():
            raise Cancelled("the upscale was cancelled", field="job")
        t0 = time.perf_counter()
        rgb = source.convert("RGB")
        try:
            for size in plan:
                if rgb.size != size:
                    rgb = rgb.resize(size, Image.Resampling.LANCZOS)
                x = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)[None].float().div(255.0)
                x = x.to(device=model.device, dtype=model.dtype)
                y = tiled_run(model, x, scale, tile, overlap, on_tile)
                array = y[0].clamp(0, 1).mul(255.0).round().byte().permute(1, 2, 0).numpy()
                rgb = Image.fromarray(array, mode="RGB")
        except (Cancelled, InvalidInput):
            raise
        except (RuntimeError, ValueError) as e:
            raise EngineFailed(f"{self.id} failed: {e}".splitlines()[0], field="engine") from e
        native = rgb.size
        if rgb.size != target:
            rgb = rgb.resize(target, Image.Resampling.LANCZOS)
        if "A" in source.getbands():
            # The model sees colour only; the alpha channel follows with Lanczos.
            rgb = rgb.convert("RGBA")
            rgb.putalpha(source.getchannel("A").resize(target, Image.Resampling.LANCZOS))
        yield Rendered(
            index=0,
            seed=None,
            image=rgb,
            seconds=time.perf_counter() - t0,
            metadata={
                "architecture": model.architecture.id,
                "native_scale": scale,
                "passes": len(plan),
                "native_size": list(native),
                "tiles": total,
                "tile": tile,
                "overlap": overlap,
                "resample": "lanczos",
                "device": self.device,
            },
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
