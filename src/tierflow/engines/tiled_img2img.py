"""Any img2img engine run over overlapping tiles of an image larger than it can render at once.

The upscale stage's creative pass uses it: every tile of the upscaled image is re-rendered at a
low strength with the same prompt and seed, and the tiles are blended back with linear ramps over
their overlap (:mod:`tierflow.imaging.tiles`), so new detail appears without seams while the
composition stays the upscaler's. One tile at a time is on the accelerator; only the blend
accumulator is full size (CPU memory).

The engine keeps the wrapped engine's id and tier, so the generation and its assets name the model
that painted them. :meth:`TiledImg2ImgEngine.priced_parts` lists the tile renders it will run;
the credit guard prices each at the wrapped engine's rate (tiles × the price of one tile-sized
img2img at ``int(steps × strength)`` steps).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator

from PIL import Image

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.engines.base import (
    TASK_IMG2IMG,
    Capabilities,
    Engine,
    EngineInfo,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
)
from tierflow.imaging.tiles import Blender, tile_boxes

MAX_SIZE = 16384  # longest edge of the tiled image (the accumulator is 12 bytes a pixel)
OVERLAP_SHARE = 4  # overlap = tile // 4: wide ramps hide tiles that re-imagined an edge differently


class TiledImg2ImgEngine(Engine):
    """``inner`` img2img over tiles of ``tile`` px (clipped to the image), blended with linear ramps."""

    def __init__(self, inner: Engine, tile: int, overlap: int | None = None) -> None:
        caps = inner.capabilities()
        if TASK_IMG2IMG not in caps.tasks:
            raise InvalidInput(f"engine {inner.id!r} cannot do img2img", field="creative_engine",
                               fix="choose an engine with img2img (see `tierflow engines`)")
        self.inner = inner
        self.id = inner.id
        self.tier = inner.tier
        self.tile = tile
        self.overlap = tile // OVERLAP_SHARE if overlap is None else overlap
        if not 0 <= self.overlap < tile // 2:
            raise InvalidInput(f"an overlap of {self.overlap} px does not fit {tile} px tiles",
                               field="creative_tile", fix="use an overlap below half the tile")

    # -- identity ---------------------------------------------------------------------------
    def models(self) -> tuple[Engine, ...]:
        return self.inner.models()

    def capabilities(self) -> Capabilities:
        return dataclasses.replace(self.inner.capabilities(), tasks=(TASK_IMG2IMG,), max_size=MAX_SIZE,
                                   size_multiple=1, max_batch=1)

    def describe(self) -> EngineInfo:
        info = self.inner.describe()
        return dataclasses.replace(info, pipeline=f"tiled {info.pipeline}")

    def close(self) -> None:
        self.inner.close()

    # -- tiles ------------------------------------------------------------------------------
    def tile_size(self, width: int, height: int) -> tuple[int, int]:
        """The tile for an image: ``tile`` px, or the image rounded down to what the engine renders."""
        caps = self.inner.capabilities()
        m = caps.size_multiple
        tw, th = min(self.tile, width // m * m), min(self.tile, height // m * m)
        if min(tw, th) < caps.min_size:
            raise InvalidInput(
                f"{width}x{height} px is smaller than one {caps.min_size} px tile of {self.inner.id}",
                field="creative", fix="upscale to a larger target or leave out --creative")
        return tw, th

    def boxes(self, request: RenderRequest) -> list[tuple[int, int, int, int]]:
        """``(x, y, w, h)`` of each tile the request renders, in render order."""
        tw, th = self.tile_size(request.width, request.height)
        return list(tile_boxes(request.width, request.height, tw, th, self.overlap))

    def tile_request(self, request: RenderRequest, box: tuple[int, int, int, int],
                     image: Image.Image | None = None) -> RenderRequest:
        """The img2img request for one tile (same prompt, seed, steps and strength; the cancel event shared)."""
        _, _, w, h = box
        return RenderRequest(
            task=TASK_IMG2IMG, prompt=request.prompt, negative_prompt=request.negative_prompt,
            seeds=list(request.seeds[:1]), width=w, height=h, steps=request.steps, guidance=request.guidance,
            init_image=image if image is not None else Image.new("RGB", (w, h)), strength=request.strength,
            extra=dict(request.extra), cancel=request.cancel,
        )

    def priced_parts(self, request: RenderRequest) -> list[tuple[Engine, RenderRequest]]:
        """The renders this request runs, for pricing: one tile-sized img2img per tile on the inner engine."""
        request = self.prepare(request)
        return [(self.inner, self.tile_request(request, box)) for box in self.boxes(request)]

    # -- validation -------------------------------------------------------------------------
    def prepare(self, request: RenderRequest) -> RenderRequest:
        """Defaults and limits; the init image may be bound later (the stage renders it first)."""
        if request.task != TASK_IMG2IMG:
            raise InvalidInput(f"the tiled engine only does img2img, not {request.task}", field="engine",
                               fix="pass an img2img request")
        if request.strength is None or not 0.0 < request.strength <= 1.0:
            raise InvalidInput(f"{request.strength} is out of range", field="strength", fix="use a value in (0, 1]")
        if len(request.seeds) != 1:
            raise InvalidInput(f"{len(request.seeds)} seeds for one tiled image", field="n", fix="pass one seed")
        if not (1 <= min(request.width, request.height) and max(request.width, request.height) <= MAX_SIZE):
            raise InvalidInput(f"{request.width}x{request.height} px is out of range", field="size",
                               fix=f"use at most {MAX_SIZE} px per side")
        caps = self.inner.capabilities()
        if request.steps is None:
            # diffusers runs int(steps × strength) steps: at least one must run at low strength.
            steps = max(caps.default_steps, math.ceil(1 / request.strength))
            request.steps = min(caps.max_steps, steps + (int(steps * request.strength) < 1))  # float rounding
        if request.guidance is None:
            request.guidance = caps.default_guidance
        for box in {b[2:] for b in self.boxes(request)}:
            self.inner.prepare(self.tile_request(request, (0, 0, *box)))
        return request

    # -- rendering --------------------------------------------------------------------------
    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        import numpy as np

        request = self.prepare(request)
        if request.init_image is None or request.init_image.size != (request.width, request.height):
            raise InvalidInput("the init image must be the request's size", field="image",
                               fix=f"pass a {request.width}x{request.height} px image")
        source = request.init_image.convert("RGB")
        boxes = self.boxes(request)
        blender = Blender(request.width, request.height, 3, self.overlap, shape="linear")
        metadata: dict = {}
        reported: list = []  # a hosted engine's billed credits per tile: the guard settles on their sum
        t0 = time.perf_counter()
        for done, (x, y, w, h) in enumerate(boxes):
            if request.cancel.is_set():
                raise Cancelled("the creative pass was cancelled", field="job")
            sub = self.tile_request(request, (x, y, w, h), source.crop((x, y, x + w, y + h)))
            [out] = list(self.inner.render(sub))
            metadata = {k: v for k, v in out.metadata.items() if k not in ("credits", "usage")}
            reported.append(out.metadata.get("credits"))
            tile = out.image.convert("RGB")
            if tile.size != (w, h):  # a hosted engine may answer at its own size
                tile = tile.resize((w, h), Image.Resampling.LANCZOS)
            blender.add(x, y, np.asarray(tile, dtype=np.float32))
            if progress:
                progress(Progress(done + 1, len(boxes), 0, 1, f"tile {done + 1}/{len(boxes)}"))
        array = np.clip(np.rint(blender.result()), 0, 255).astype(np.uint8)
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in reported):
            metadata["credits"] = round(sum(reported), 6)
        yield Rendered(
            index=0, seed=request.seeds[0], image=Image.fromarray(array, mode="RGB"),
            seconds=time.perf_counter() - t0,
            metadata={**metadata, "tiles": len(boxes), "tile": list(boxes[0][2:]), "overlap": self.overlap,
                      "blend": "linear"},
        )
