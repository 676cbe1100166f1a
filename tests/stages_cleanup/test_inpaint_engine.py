"""Inpainting on the tiny 9-channel pipeline: unmasked pixels kept, masks checked, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import TASK_INPAINT, TASK_UPSCALE, RenderRequest
from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.local.inpaint import StableDiffusionInpaintEngine, StableDiffusionXLInpaintEngine
from tierflow.engines.tiny.cleanup_engines import TinyStableDiffusionInpaintEngine, tiny_inpaint_preset
from tierflow.engines.tiny.engines import TinyStableDiffusionEngine, TinyStableDiffusionXLEngine
from tierflow.imaging.masks import outpaint_canvas

# Stated tolerance: pixels where the mask is black come back bit for bit (max abs diff 0).
UNMASKED_TOLERANCE = 0


@pytest.fixture(scope="module")
def engine(models_dir):
    eng = TinyStableDiffusionInpaintEngine(tiny_inpaint_preset(models_dir), models_dir)
    yield eng
    eng.close()


def _image(w=96, h=64, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    # Smooth colours plus texture: something a VAE round trip visibly changes.
    base = np.linspace(0, 255, w)[None, :, None] * np.array([1.0, 0.5, 0.2])
    noise = rng.integers(-40, 40, (h, w, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _mask(w=96, h=64, box=(24, 16, 72, 48)) -> Image.Image:
    mask = Image.new("L", (w, h), 0)
    mask.paste(255, box)
    return mask


def _request(**kw) -> RenderRequest:
    args = dict(task=TASK_INPAINT, prompt="a red apple", init_image=_image(), mask=_mask(), seeds=[7], steps=2)
    args.update(kw)
    return RenderRequest(**args)


def _outside_dilated(mask: Image.Image, px: int) -> np.ndarray:
    return np.asarray(mask.filter(ImageFilter.MaxFilter(2 * px + 1))) == 0


def test_unmasked_pixels_are_unchanged_and_masked_ones_repainted(engine):
    request = _request()
    [out] = list(engine.render(request))
    assert out.image.size == (96, 64) and out.seed == 7
    got, src = np.asarray(out.image).astype(int), np.asarray(_image()).astype(int)
    diff = np.abs(got - src).max(axis=2)
    outside = np.asarray(_mask()) == 0
    assert diff[outside].max() <= UNMASKED_TOLERANCE
    assert diff[_outside_dilated(_mask(), 4)].max() <= UNMASKED_TOLERANCE
    assert diff[~outside].mean() > 10  # the masked box really was repainted
    assert out.metadata["unet_in_channels"] == 9


def test_same_seed_repeats_and_other_seed_differs(engine):
    a, b = list(engine.render(_request(seeds=[3, 4])))
    [again] = list(engine.render(_request(seeds=[3])))
    assert np.array_equal(np.asarray(a.image), np.asarray(again.image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_progress_is_reported_per_step_and_output(engine):
    seen = []
    list(engine.render(_request(seeds=[1, 2], steps=2), progress=seen.append))
    got = [(p.step, p.total, p.index, p.count) for p in seen]
    assert got == [(1, 2, 0, 2), (2, 2, 0, 2), (1, 2, 1, 2), (2, 2, 1, 2)]


def test_cancel_stops_the_render(engine):
    request = _request()
    request.cancel.set()
    with pytest.raises(Cancelled):
        list(engine.render(request))


def test_wrong_size_mask_is_refused(engine):
    with pytest.raises(InvalidInput) as e:
        list(engine.render(_request(mask=_mask(64, 64, (8, 8, 40, 40)))))
    assert e.value.field == "mask" and "96x64" in e.value.fix


def test_grey_mask_is_refused(engine):
    with pytest.raises(InvalidInput) as e:
        list(engine.render(_request(mask=Image.new("L", (96, 64), 100))))
    assert e.value.field == "mask"


def test_missing_mask_and_wrong_task_are_refused(engine):
    with pytest.raises(InvalidInput) as e:
        list(engine.render(_request(mask=None)))
    assert e.value.field == "mask"
    with pytest.raises(InvalidInput) as e:
        list(engine.render(_request(task=TASK_UPSCALE)))
    assert e.value.field == "engine"


def test_any_size_is_padded_to_the_vae_multiple_and_cropped_back(engine):
    image, mask = _image(70, 66, seed=2), _mask(70, 66, (10, 10, 50, 40))
    [out] = list(engine.render(_request(init_image=image, mask=mask)))
    assert out.image.size == (70, 66)
    keep = np.asarray(mask) == 0
    assert np.array_equal(np.asarray(out.image)[keep], np.asarray(image)[keep])


def test_outpaint_keeps_the_original_beyond_the_feather(engine):
    image = _image(64, 64, seed=3)
    canvas, mask = outpaint_canvas(image, right=32, bottom=8, feather=8, max_size=engine.capabilities().max_size)
    [out] = list(engine.render(_request(init_image=canvas, mask=mask, extra={"feather": 0})))
    assert out.image.size == (96, 72)
    got = np.asarray(out.image)
    assert np.array_equal(got[:56, :56], np.asarray(image)[:56, :56])
    assert np.abs(got[:, 64:].astype(int) - np.asarray(canvas)[:, 64:].astype(int)).mean() > 5


def test_from_engine_shares_a_text_to_image_pipeline(models_dir):
    text = TinyStableDiffusionEngine(
        LocalPreset(id="tiny-sd", tier=Tier.DRAFT, repo=str(models_dir / "tiny-sd"), revision=None,
                    dtype="float32", kind="tiny"),
        models_dir,
    )
    inpaint = StableDiffusionInpaintEngine.from_engine(text)
    assert inpaint.id == "tiny-sd-inpaint" and inpaint.tier is Tier.CLEANUP
    [out] = list(inpaint.render(_request(strength=0.9)))
    assert out.metadata["unet_in_channels"] == 4  # diffusers' latent-blending path
    assert inpaint.load().unet is text.load().unet  # one copy of the weights
    keep = np.asarray(_mask()) == 0
    assert np.array_equal(np.asarray(out.image)[keep], np.asarray(_image())[keep])


def test_sdxl_inpaint_from_a_text_engine_with_size_conditioning(models_dir):
    text = TinyStableDiffusionXLEngine(
        LocalPreset(id="tiny-sdxl", tier=Tier.DRAFT, repo=str(models_dir / "tiny-sdxl"), revision=None,
                    dtype="float32", kind="tiny"),
        models_dir,
    )
    inpaint = StableDiffusionXLInpaintEngine.from_engine(text)
    image, mask = _image(70, 66, seed=4), _mask(70, 66, (10, 10, 50, 40))
    [out] = list(inpaint.render(_request(init_image=image, mask=mask, strength=0.9)))
    assert out.metadata["pipeline"] == "StableDiffusionXLInpaintPipeline" and out.image.size == (70, 66)
    keep = np.asarray(mask) == 0
    assert np.array_equal(np.asarray(out.image)[keep], np.asarray(image)[keep])
    with pytest.raises(InvalidInput):
        StableDiffusionInpaintEngine.from_engine(text)  # an SDXL pipeline is not an SD one
