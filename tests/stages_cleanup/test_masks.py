"""Masks for cleanup: validation, inward feathering, compositing and the outpaint canvas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from tierflow.domain.errors import InvalidInput
from tierflow.imaging.masks import (
    check_mask,
    composite_keep_unmasked,
    inward_feather,
    load_mask,
    outpaint_canvas,
)


def _box_mask(size=(64, 48), box=(16, 8, 48, 40)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask


def _noise(size, seed=0) -> Image.Image:
    w, h = size
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_wrong_size_mask_names_field_and_size():
    with pytest.raises(InvalidInput) as e:
        check_mask(_box_mask((64, 48)), (64, 64))
    assert e.value.field == "mask"
    assert "64x64" in e.value.fix


@pytest.mark.parametrize(
    "mask",
    [
        Image.new("L", (64, 48), 128),  # a grey wash
        _noise((64, 48)).convert("L"),  # a photo
    ],
    ids=["grey", "photo"],
)
def test_non_binary_mask_is_refused(mask):
    with pytest.raises(InvalidInput) as e:
        check_mask(mask, (64, 48))
    assert e.value.field == "mask"
    assert "black-and-white" in e.value.fix


def test_soft_edged_and_rgb_masks_pass():
    soft = _box_mask().filter(ImageFilter.GaussianBlur(1.5))
    assert check_mask(soft, (64, 48)).mode == "L"
    assert check_mask(_box_mask().convert("RGB"), (64, 48)).mode == "L"


def test_empty_mask_is_refused():
    with pytest.raises(InvalidInput, match="nothing to repaint"):
        check_mask(Image.new("L", (64, 48), 0), (64, 48))


def test_load_mask_from_file_and_bad_files(tmp_path):
    path = tmp_path / "mask.png"
    _box_mask().save(path)
    assert np.array_equal(np.asarray(load_mask(path, (64, 48))), np.asarray(_box_mask()))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(InvalidInput) as e:
        load_mask(broken, (64, 48))
    assert e.value.field == "mask"
    with pytest.raises(InvalidInput, match="does not exist"):
        load_mask(tmp_path / "missing.png", (64, 48))


def test_inward_feather_never_touches_black_pixels():
    mask = _box_mask()
    soft = np.asarray(inward_feather(mask, 3))
    hard = np.asarray(mask)
    assert soft[hard == 0].max() == 0
    assert soft[24, 32] == 255  # deep inside stays fully repainted
    assert 0 < soft[24, 16] < 255  # the edge is blended


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), radius=st.floats(0, 6))
def test_composite_copies_unmasked_pixels_bit_for_bit(seed, radius):
    original, generated = _noise((40, 32), seed), _noise((40, 32), seed + 1)
    rng = np.random.default_rng(seed)
    x0, y0 = int(rng.integers(0, 20)), int(rng.integers(0, 16))
    mask = _box_mask((40, 32), (x0, y0, x0 + 16, y0 + 12))
    out = np.asarray(composite_keep_unmasked(original, generated, inward_feather(mask, radius)))
    keep = np.asarray(mask) == 0
    assert np.array_equal(out[keep], np.asarray(original)[keep])


def test_composite_takes_generated_where_white():
    original, generated = _noise((32, 32), 1), _noise((32, 32), 2)
    out = composite_keep_unmasked(original, generated, Image.new("L", (32, 32), 255))
    assert np.array_equal(np.asarray(out), np.asarray(generated))


def test_outpaint_canvas_pads_and_masks_the_new_border():
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    image.paste((30, 30, 200), (32, 0, 64, 48))  # left half red, right half blue
    canvas, mask = outpaint_canvas(image, left=16, right=8, top=0, bottom=24, feather=8)
    assert canvas.size == mask.size == (88, 72)
    c, m = np.asarray(canvas).astype(int), np.asarray(mask)
    assert np.array_equal(c[0:48, 16:80], np.asarray(image))  # the original, untouched
    assert m[:, :16].min() == 255 and m[:, 80:].min() == 255 and m[48:, :].min() == 255
    assert m[0:40, 24:72].max() == 0  # further than `feather` px from an extended side
    row = m[10, 16:24]
    assert list(row) == sorted(row, reverse=True) and row[0] > 200 and row[-1] < 60  # fades inward
    assert m[0:40, 16:80].min() == 0 and m[0, 79] > 0  # the right side ramps too
    assert c[20, 2, 0] > 150 and c[20, 2, 2] < 80  # left border continues the red edge
    assert c[20, 86, 2] > 150 and c[20, 86, 0] < 80  # right border continues the blue edge


def test_outpaint_mask_passes_the_mask_check():
    canvas, mask = outpaint_canvas(_noise((64, 64)), right=32, feather=16)
    check_mask(mask, canvas.size)


def test_outpaint_without_feather_repaints_only_the_border():
    _, mask = outpaint_canvas(_noise((64, 64)), top=8, feather=0)
    m = np.asarray(mask)
    assert m[:8].min() == 255 and m[8:].max() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"left": -8}, "left"),
        ({"bottom": -1}, "bottom"),
        ({"top": 2.5}, "top"),
        ({}, "left"),  # nothing to extend
        ({"right": 8, "feather": -1}, "feather"),
    ],
)
def test_outpaint_bad_sides(kwargs, field):
    with pytest.raises(InvalidInput) as e:
        outpaint_canvas(_noise((64, 64)), **kwargs)
    assert e.value.field == field


def test_outpaint_beyond_engine_maximum_says_the_maximum():
    with pytest.raises(InvalidInput) as e:
        outpaint_canvas(_noise((64, 64)), left=10, right=64, max_size=128)
    assert e.value.field == "right"
    assert "64 px" in e.value.fix and "128" in e.value.fix
    with pytest.raises(InvalidInput) as e:
        outpaint_canvas(_noise((64, 64)), bottom=65, max_size=128)
    assert e.value.field == "bottom"
    outpaint_canvas(_noise((64, 64)), left=32, right=32, max_size=128)  # exactly the maximum is fine
