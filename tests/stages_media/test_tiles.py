"""Overlapping tiles and feathered blending (imaging.tiles) and the tiled img2img engine built on them.

The blend is checked exactly with a fake img2img engine whose output is known: an identity engine
must come back pixel for pixel, and tiles that each shift the brightness differently must fade
into each other (a hard cut without overlap shows the full step).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import TASK_IMG2IMG, Capabilities, Engine, EngineInfo, Rendered, RenderRequest
from tierflow.engines.tiled_img2img import TiledImg2ImgEngine
from tierflow.imaging.tiles import Blender, ramp, tile_boxes, tile_starts

STEP = 40  # brightness added by every other tile of the fake engine


class ShiftEngine(Engine):
    """A fake img2img engine: tile i comes back brightened by ``STEP`` when i is odd (``shift``)."""

    id = "fake-img2img"
    tier = Tier.FINAL

    def __init__(self, shift: bool = True) -> None:
        self.shift = shift
        self.sizes: list[tuple[int, int]] = []

    def capabilities(self) -> Capabilities:
        return Capabilities(tasks=(TASK_IMG2IMG,), min_size=16, max_size=256, size_multiple=8,
                            default_size=(64, 64), default_steps=4)

    def describe(self) -> EngineInfo:
        return EngineInfo(id=self.id, tier=self.tier, kind="tiny", pipeline="FakeImg2Img")

    def render(self, request, progress=None):
        request = self.prepare(request)
        self.sizes.append(request.init_image.size)
        offset = STEP if self.shift and len(self.sizes) % 2 == 0 else 0
        array = np.asarray(request.init_image, dtype=np.int16) + offset
        yield Rendered(0, request.seeds[0], Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)),
                       metadata={"credits": 0.5})  # what a hosted engine reports it billed


def _image(w=160, h=96) -> Image.Image:
    x = np.linspace(40, 200, w)[None, :, None]
    y = np.linspace(0, 20, h)[:, None, None]
    return Image.fromarray(np.broadcast_to(x + y, (h, w, 3)).astype(np.uint8))


def _tiled(engine: Engine, tile: int, overlap: int, image: Image.Image) -> np.ndarray:
    request = RenderRequest(task=TASK_IMG2IMG, prompt="p", seeds=[3], width=image.width, height=image.height,
                            init_image=image, strength=0.25)
    [out] = list(TiledImg2ImgEngine(engine, tile, overlap).render(request))
    assert out.seed == 3 and out.image.size == image.size
    return np.asarray(out.image).astype(int)


def test_tiles_cover_the_image_with_the_last_one_flush():
    assert tile_starts(160, 64, 16) == [0, 48, 96]
    assert tile_starts(50, 64, 16) == [0]
    boxes = list(tile_boxes(160, 96, 64, 64, 16))
    covered = np.zeros((96, 160), bool)
    for x, y, w, h in boxes:
        covered[y : y + h, x : x + w] = True
    assert covered.all() and len(boxes) == 3 * 2


@pytest.mark.parametrize("shape", ["linear", "cosine"])
def test_ramps_cross_fade_to_one_over_an_overlap(shape):
    fall, rise = ramp(32, 16, rise=False, fall=True, shape=shape), ramp(32, 16, rise=True, fall=False, shape=shape)
    assert np.allclose(fall[16:] + rise[:16], 1.0) and (rise > 0).all()
    assert np.allclose(ramp(32, 16, rise=False, fall=False, shape=shape), 1.0)  # no ramp at the border
    with pytest.raises(ValueError):
        ramp(8, 2, True, True, shape="step")


def test_blender_refuses_uncovered_pixels():
    blender = Blender(8, 8, 3, 2)
    blender.add(0, 0, np.ones((4, 8, 3)))
    with pytest.raises(ValueError):
        blender.result()


def test_an_identity_engine_comes_back_pixel_for_pixel_one_tile_at_a_time():
    engine = ShiftEngine(shift=False)
    image = _image()
    request = RenderRequest(task=TASK_IMG2IMG, seeds=[3], width=160, height=96, init_image=image, strength=0.25)
    [out] = list(TiledImg2ImgEngine(engine, 64, 16).render(request))
    assert np.array_equal(np.asarray(out.image), np.asarray(image))
    assert set(engine.sizes) == {(64, 64)} and len(engine.sizes) == 6  # never more than a tile at a time
    assert out.metadata["tiles"] == 6 and out.metadata["credits"] == 3.0  # reported credits add up


def test_tiles_that_disagree_fade_into_each_other_instead_of_a_seam():
    image = _image()
    base = np.asarray(image).astype(int)
    blended = _tiled(ShiftEngine(), 64, 16, image) - base
    hard = _tiled(ShiftEngine(), 64, 0, image) - base
    # Largest jump between neighbouring columns/rows of the change the engine made.
    jump = lambda d: max(np.abs(np.diff(d, axis=1)).max(), np.abs(np.diff(d, axis=0)).max())  # noqa: E731
    assert jump(hard) >= STEP - 1  # a hard cut shows the whole step
    assert jump(blended) <= STEP / 16 + 2  # a 16 px linear ramp spreads it: ~STEP/16 per px


def test_prices_one_tile_render_per_tile_and_checks_sizes():
    tiled = TiledImg2ImgEngine(ShiftEngine(), 64)
    request = RenderRequest(task=TASK_IMG2IMG, width=160, height=96, strength=0.25)
    parts = tiled.priced_parts(request)
    assert len(parts) == 6 and {(r.width, r.height, r.strength) for _, r in parts} == {(64, 64, 0.25)}
    assert request.steps == 4  # at least one denoising step runs: int(4 × 0.25) = 1
    assert TiledImg2ImgEngine(ShiftEngine(), 64).prepare(
        RenderRequest(task=TASK_IMG2IMG, width=64, height=64, strength=0.1)).steps == 10
    with pytest.raises(InvalidInput) as e:
        tiled.prepare(RenderRequest(task=TASK_IMG2IMG, width=12, height=96, strength=0.25))
    assert e.value.field == "creative"


def test_cancel_stops_between_tiles():
    image = _image()
    request = RenderRequest(task=TASK_IMG2IMG, seeds=[1], width=160, height=96, init_image=image, strength=0.2)
    request.cancel.set()
    with pytest.raises(Cancelled):
        list(TiledImg2ImgEngine(ShiftEngine(), 64).render(request))
