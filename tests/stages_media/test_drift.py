"""Drift scores: 0 for the same picture, growing with noise, colour casts and blur; any two sizes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from tierflow.analysis.drift import DriftScore, drift, flicker, frame_drift
from tierflow.domain.errors import InvalidInput


def scene(size: int = 256) -> Image.Image:
    """A picture with gradients, flat shapes, thin lines and fine texture (fixed seed)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    arr = np.stack([x, y, 1 - x * y], -1) * 200 + 20
    arr += gaussian_filter(rng.normal(0, 14, arr.shape), (1.2, 1.2, 0))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    s = size / 256
    d.ellipse((40 * s, 40 * s, 140 * s, 140 * s), fill=(220, 60, 50))
    d.rectangle((150 * s, 120 * s, 230 * s, 220 * s), fill=(30, 90, 200))
    for i in range(0, size, max(1, size // 16)):
        d.line((i, 0, size - i, size), fill=(250, 250, 250), width=1)
    return img


def noisy(img: Image.Image, sigma: float) -> Image.Image:
    arr = np.asarray(img, float) + np.random.default_rng(1).normal(0, sigma, (img.height, img.width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def warmer(img: Image.Image, amount: float) -> Image.Image:
    arr = np.asarray(img, float)
    arr[..., 0] += amount
    arr[..., 2] -= amount / 2
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def base() -> Image.Image:
    return scene()


def test_identical_is_zero(base: Image.Image) -> None:
    d = drift(base, base.copy())
    assert d.overall == d.colour == d.structure == d.texture == 0.0
    assert d.ssim == pytest.approx(1.0) and d.detail_ratio == pytest.approx(1.0) and d.lab_hist_distance == 0.0
    assert d.label == "close"


def _strictly_increasing(values: list[float]) -> bool:
    return all(b > a for a, b in zip(values, values[1:]))


def test_grows_with_noise(base: Image.Image) -> None:
    scores = [drift(base, noisy(base, s)) for s in (2, 5, 10, 20, 40)]
    assert _strictly_increasing([d.structure for d in scores])
    assert _strictly_increasing([d.overall for d in scores])
    assert scores[0].label == "close" and scores[-1].label == "far"


def test_grows_with_a_colour_cast_and_leaves_structure(base: Image.Image) -> None:
    scores = [drift(base, warmer(base, a)) for a in (5, 10, 20, 40, 80)]
    assert _strictly_increasing([d.colour for d in scores])
    assert _strictly_increasing([d.lab_hist_distance for d in scores])
    assert all(d.structure < 2 for d in scores)
    assert scores[-1].colour > 10 and scores[-1].label == "moderate"


def test_grows_with_blur_and_says_detail_was_lost(base: Image.Image) -> None:
    scores = [drift(base, base.filter(ImageFilter.GaussianBlur(s))) for s in (0.5, 1, 2, 4)]
    assert _strictly_increasing([d.structure for d in scores])
    assert [d.detail_ratio for d in scores] == sorted((d.detail_ratio for d in scores), reverse=True)
    assert all(d.detail_ratio < 1 for d in scores)
    assert all(d.colour < 2 for d in scores)
    assert scores[1].texture > 20 and scores[-1].label == "far"


def test_sharpening_reads_as_more_detail(base: Image.Image) -> None:
    assert drift(base, base.filter(ImageFilter.UnsharpMask(2, 150))).detail_ratio > 1.2


def test_different_sizes_compare(base: Image.Image) -> None:
    big = base.resize((512, 512), Image.Resampling.LANCZOS)
    assert drift(base, big).overall < 5  # a 2x upscale of the same picture
    assert drift(big, base).overall < 5  # either way round: compared at the smaller size
    assert drift(big, big.resize((128, 128), Image.Resampling.LANCZOS)).overall < 1
    assert drift(base, noisy(big, 20)).structure > drift(base, noisy(big, 5)).structure
    wide = drift(base, base.resize((300, 200)))  # other aspect: resized onto the first's grid
    assert 0 <= wide.overall < 30


def test_unrelated_picture_is_far(base: Image.Image) -> None:
    d = drift(base, noisy(Image.new("RGB", (256, 256), (128, 128, 128)), 30))
    assert d.label == "far" and d.ssim < 0.3


def test_alpha_and_grey_inputs(base: Image.Image) -> None:
    rgba = base.convert("RGBA")
    assert drift(base, rgba).overall == 0.0
    assert drift(base.convert("L"), base.convert("L")).overall == 0.0


def test_label_thresholds_and_dict() -> None:
    def score(overall: float) -> DriftScore:
        return DriftScore(0, 0, 0, overall, 0, 0, 1, 1)

    assert [score(v).label for v in (0, 9.99, 10, 29.9, 30, 100)] == [
        "close", "close", "moderate", "moderate", "far", "far"
    ]
    data = score(12.345678).to_dict()
    assert data["overall"] == 12.3457 and data["label"] == "moderate" and set(data) >= {"ssim", "detail_ratio"}


def test_frame_drift_and_flicker(base: Image.Image) -> None:
    frames = [base, noisy(base, 5), noisy(base, 20), base.filter(ImageFilter.GaussianBlur(2))]
    scores = frame_drift(base, frames)
    assert len(scores) == 4 and scores[0].overall == 0.0
    assert scores[1].overall < scores[2].overall
    steady = flicker([base] * 4)
    assert steady == [0.0, 0.0, 0.0]
    jumpy = flicker([base, base, warmer(base, 60), base])
    assert len(jumpy) == 3 and jumpy[0] == 0.0 and jumpy[1] > 5 and jumpy[2] == pytest.approx(jumpy[1], rel=0.2)
    assert flicker([base]) == []


def test_bad_inputs() -> None:
    with pytest.raises(InvalidInput) as err:
        drift("not an image", Image.new("RGB", (8, 8)))  # type: ignore[arg-type]
    assert err.value.field == "reference"
    with pytest.raises(InvalidInput) as err:
        frame_drift(Image.new("RGB", (8, 8)), [])
    assert err.value.field == "frames"
