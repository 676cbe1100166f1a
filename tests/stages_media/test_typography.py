"""Typography overlay: a new image with the text inside its box; the original stays untouched."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tierflow.domain.errors import InvalidInput
from tierflow.imaging.typography import (
    MIN_SIZE,
    TextLayer,
    _area,
    _tokens,
    fit_size,
    font_path,
    missing_glyphs,
    render_overlay,
)


def _photo(size: tuple[int, int] = (256, 160)) -> Image.Image:
    img = Image.new("RGB", size, (40, 70, 110))
    ImageDraw.Draw(img).rectangle((20, 20, 120, 100), fill=(200, 120, 60))
    return img


def _changed(a: Image.Image, b: Image.Image) -> np.ndarray:
    """Mask of pixels that differ."""
    return np.any(np.asarray(a.convert("RGB"), int) != np.asarray(b.convert("RGB"), int), axis=-1)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def test_overlay_is_a_new_image_and_the_original_is_untouched() -> None:
    src = _photo()
    before = src.tobytes()
    out = render_overlay(src, TextLayer(text="SUMMER SALE", color="#ffffff", stroke_width=2))
    assert out is not src and src.tobytes() == before
    assert out.size == src.size and out.mode == "RGB"
    assert _changed(src, out).sum() > 200


def test_text_fits_inside_its_box() -> None:
    src = _photo((320, 200))
    box = (40, 30, 160, 60)
    out = render_overlay(src, TextLayer(text="A long headline that must wrap to fit", box=box, color="yellow"))
    x0, y0, x1, y1 = _bbox(_changed(src, out))
    assert box[0] <= x0 and box[1] <= y0 and x1 <= box[0] + box[2] and y1 <= box[1] + box[3]
    # Fitting fills the box: the ink spans most of the width or of the height.
    assert (x1 - x0) > 0.6 * box[2] or (y1 - y0) > 0.6 * box[3]


def test_fit_shrinks_for_longer_text_and_wraps() -> None:
    box = (0, 0, 200, 80)
    short = fit_size(TextLayer(text="Hi"), box)
    long = fit_size(TextLayer(text="Hello there, this is a much longer line of brand copy"), box)
    assert short is not None and long is not None and MIN_SIZE <= long < short <= 80


@pytest.mark.parametrize("text", ["Привет, мир", "Καλημέρα κόσμε"])
def test_non_latin_text_renders_in_the_box(text: str) -> None:
    src = _photo()
    box = (10, 10, 200, 60)
    out = render_overlay(src, TextLayer(text=text, box=box, color="#ff00ff"))
    mask = _changed(src, out)
    assert mask[10:70, 10:210].sum() > 100 and mask.sum() == mask[10:70, 10:210].sum()
    assert missing_glyphs(text) == []


def test_characters_the_font_lacks_are_refused() -> None:
    assert set(missing_glyphs("夏のセール ok")) == set("夏のセール")
    with pytest.raises(InvalidInput) as err:
        render_overlay(_photo(), TextLayer(text="夏のセール"))
    assert err.value.field == "font" and "covers" in err.value.fix


def test_cjk_wraps_between_characters() -> None:
    assert [t for t, _ in _tokens("夏のセール abc")] == ["夏", "の", "セ", "ー", "ル", "abc"]
    assert [s for _, s in _tokens("ab 夏の")] == [False, True, False]


def test_positions_place_text_in_their_band() -> None:
    src = _photo((300, 300))
    top = _bbox(_changed(src, render_overlay(src, TextLayer(text="TOP", position="top", size=30))))
    bottom = _bbox(_changed(src, render_overlay(src, TextLayer(text="END", position="bottom-right", size=30))))
    assert top[3] < 120 and abs((top[0] + top[2]) / 2 - 150) < 10
    assert bottom[1] > 180 and bottom[2] > 250
    point = _bbox(_changed(src, render_overlay(src, TextLayer(text="x,y", position=(50, 60), size=20))))
    assert abs(point[0] - 50) <= 3 and abs(point[1] - 60) <= 8


def test_shadow_opacity_and_alpha_images() -> None:
    src = Image.new("RGBA", (200, 100), (255, 255, 255, 0))
    solid = render_overlay(src, TextLayer(text="Ghost", color="#000000", size=40))
    faint = render_overlay(src, TextLayer(text="Ghost", color="#000000", size=40, opacity=0.3))
    assert solid.mode == "RGBA" and faint.mode == "RGBA"
    assert np.asarray(faint)[..., 3].max() < np.asarray(solid)[..., 3].max()
    base = _photo()
    plain = _changed(base, render_overlay(base, TextLayer(text="Shade", size=40))).sum()
    shaded = _changed(base, render_overlay(base, TextLayer(text="Shade", size=40, shadow_offset=(4, 4)))).sum()
    assert shaded > plain


def test_layer_round_trips_through_a_dict() -> None:
    layer = TextLayer(text="Hi", box=(1, 2, 30, 40), position="top-left", shadow_offset=(2, 2), opacity=0.5)
    data = layer.to_dict()
    assert data["box"] == [1, 2, 30, 40]
    assert TextLayer.from_dict(data) == layer
    with pytest.raises(InvalidInput) as err:
        TextLayer.from_dict({"text": "x", "colour": "red"})
    assert err.value.field == "colour"


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        (TextLayer(text="x", font="/no/such/font.ttf"), "font"),
        (TextLayer(text="x", color="not-a-colour"), "color"),
        (TextLayer(text="x", stroke_color="#12"), "stroke_color"),
        (TextLayer(text="   "), "text"),
        (TextLayer(text="x", box=(200, 100, 100, 100)), "box"),
        (TextLayer(text="x", box=(-1, 0, 10, 10)), "box"),
        (TextLayer(text="x", position="middle"), "position"),
        (TextLayer(text="x", position=(999, 5)), "position"),
        (TextLayer(text="x", opacity=1.5), "opacity"),
        (TextLayer(text="Much too big", size=200), "size"),
        (TextLayer(text="word " * 400, box=(0, 0, 40, 10)), "text"),
    ],
)
def test_bad_layers_name_the_field(layer: TextLayer, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        render_overlay(_photo(), layer)
    assert err.value.field == field and err.value.fix


def test_a_file_that_is_not_a_font(tmp_path) -> None:
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(InvalidInput) as err:
        render_overlay(_photo(), TextLayer(text="x", font=str(bad)))
    assert err.value.field == "font"


def test_the_shipped_font_and_its_licence_are_in_the_package() -> None:
    path = font_path(None)
    assert path.is_file() and path.stat().st_size > 100_000
    assert "Bitstream Vera" in (path.parent / "DejaVuSans-LICENSE.txt").read_text()


def test_named_band_areas() -> None:
    (x, y, w, h), align = _area(TextLayer(text="x", position="bottom"), (400, 300))
    assert align == (0.5, 1.0) and y + h == 300 - 15 and h == (300 - 30) // 3
