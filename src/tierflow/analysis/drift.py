"""How far one image has drifted from another: colour, structure and texture, without model weights.

Used on every promotion (draft → final), on video frames against their source image, and to
re-check a saved prompt + seed after a model change. Both images are brought onto one grid first
(the second is resized to the first's grid, distorting it if the aspect ratios differ; neither is
ever upscaled past its own size, so a small draft against a big final compares at the draft's
size, at most 512 px on the long side).

Scale: every component and ``overall`` run from 0 (identical) upward, clipped at 100.

``colour``     mean CIEDE2000 ΔE between the two images shrunk to 32 px on the long side, so it
               follows regional colour and ignores fine detail and noise. In ΔE units: ~1 is
               the smallest difference a person notices side by side, ~2-5 a visible cast,
               10+ clearly different colours, 25+ a different palette or layout.
``structure``  100 × (1 − SSIM) of the luminance at 256 px on the long side: 0 same layout,
               ~10 light noise or a small retouch, ~25-45 heavy noise or blur, 60+ moved or
               unrelated content.
``texture``    15 × |log2(detail_ratio)|, where ``detail_ratio`` is the variance of the Laplacian
               of a Gaussian (σ = 1 px: fine detail, not single-pixel noise) of the second image
               over the first's: 15 per doubling or halving of detail energy. It says *whether*
               detail was lost or invented; ``detail_ratio`` < 1 means the second image is softer.
``overall``    the largest of the three: the aspect that changed most decides.

Labels on ``overall`` (:data:`THRESHOLDS`): < 10 "close" (the same picture, touched up);
10-30 "moderate" (recognisably the same, visibly changed); ≥ 30 "far" (a different render).

Measured on a 256 px synthetic scene (gradients, shapes, lines, fine texture; the scene of
tests/stages_media/test_drift.py), overall (component):
  Gaussian noise σ = 2 / 5 / 10 / 20 / 40 (of 255)   1.8 / 9.4 / 25 / 44 / 60   (structure)
  red +R, blue −R/2 with R = 10 / 20 / 40 / 80        2.0 / 4.0 / 8.2 / 16       (colour)
  Gaussian blur σ = 0.5 / 1 / 2 px                    10.7 / 38 / 90             (texture; ratio .61/.18/.02)
  unsharp mask (radius 2, 150 %)                      10.5                       (texture; ratio 1.6)
  the same image upscaled 2x                          3.3                        (structure)
  mirrored / an unrelated noise image                 66 / 93                    (structure)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from tierflow.domain.errors import InvalidInput

THRESHOLDS = (("close", 10.0), ("moderate", 30.0))  # below 10 close, below 30 moderate, else far
MAX_SIDE = 512  # texture grid
SSIM_SIDE = 256
COLOUR_SIDE = 32
FLICKER_SIDE = 128
_EPS = 1e-8
TEXTURE_GAIN = 15.0  # points per doubling (or halving) of detail energy


@dataclass(frozen=True)
class DriftScore:
    """Drift of one image from a reference: scores on 0..100 (0 = identical) and the raw measures."""

    colour: float
    structure: float
    texture: float
    overall: float
    lab_hist_distance: float  # total-variation distance of 8x8x8-bin Lab histograms, 0..1
    mean_delta_e2000: float  # mean CIEDE2000 at 32 px, ΔE units
    ssim: float  # luminance SSIM at 256 px, -1..1
    detail_ratio: float  # Laplacian variance, second / first

    @property
    def label(self) -> str:
        """"close", "moderate" or "far" by :data:`THRESHOLDS` on ``overall``."""
        for name, upper in THRESHOLDS:
            if self.overall < upper:
                return name
        return "far"

    def to_dict(self) -> dict[str, float | str]:
        """JSON-safe, rounded, with the label."""
        out: dict[str, float | str] = {k: round(float(v), 4) for k, v in asdict(self).items()}
        out["label"] = self.label
        return out


@dataclass(frozen=True)
class _Features:
    """What :func:`drift` compares, computed once per image on a given grid."""

    lab_small: np.ndarray
    lab_hist: np.ndarray
    luma: np.ndarray
    detail: float


def _rgb(image: Image.Image, name: str) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise InvalidInput(f"{name} is not an image ({type(image).__name__})", field=name, fix="pass a PIL image")
    if image.width < 1 or image.height < 1:
        raise InvalidInput(f"{name} is empty", field=name, fix="pass an image with pixels")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Flatten onto white, the way a viewer shows it, instead of letting convert() drop alpha to black.
        base = Image.new("RGB", image.size, (255, 255, 255))
        base.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return base
    return image.convert("RGB")


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    s = min(1.0, side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def _grid(a: Image.Image, b: Image.Image) -> tuple[int, int]:
    """``a``'s aspect, no larger than MAX_SIDE, and small enough that neither image is upscaled."""
    s = min(1.0, MAX_SIDE / max(a.size), b.width / a.width, b.height / a.height)
    return max(8, round(a.width * s)), max(8, round(a.height * s))


def _features(image: Image.Image, grid: tuple[int, int]) -> _Features:
    from scipy.ndimage import gaussian_laplace
    from skimage.color import rgb2gray, rgb2lab

    base = image.resize(grid, Image.Resampling.LANCZOS) if image.size != grid else image
    rgb = np.asarray(base, dtype=np.float64) / 255.0
    # Laplacian of a Gaussian (σ=1 px): detail energy that survives resampling, not single-pixel noise.
    detail = float(np.var(gaussian_laplace(rgb2gray(rgb), sigma=1.0)))
    ssim_img = base.resize(_fit(grid, SSIM_SIDE), Image.Resampling.LANCZOS)
    luma = rgb2gray(np.asarray(ssim_img, dtype=np.float64) / 255.0)
    small = base.resize(_fit(grid, COLOUR_SIDE), Image.Resampling.BOX)
    lab_small = rgb2lab(np.asarray(small, dtype=np.float64) / 255.0)
    lab_full = rgb2lab(np.asarray(ssim_img, dtype=np.float64) / 255.0).reshape(-1, 3)
    hist, _ = np.histogramdd(lab_full, bins=(8, 8, 8), range=((0, 100), (-128, 128), (-128, 128)))
    return _Features(lab_small=lab_small, lab_hist=hist.ravel() / max(1, lab_full.shape[0]), luma=luma, detail=detail)


def _compare(fa: _Features, fb: _Features) -> DriftScore:
    from skimage.color import deltaE_ciede2000
    from skimage.metrics import structural_similarity

    delta_e = float(np.mean(deltaE_ciede2000(fa.lab_small, fb.lab_small)))
    hist = float(0.5 * np.abs(fa.lab_hist - fb.lab_hist).sum())
    side = min(fa.luma.shape)
    win = min(7, side if side % 2 else side - 1)
    ssim = float(structural_similarity(fa.luma, fb.luma, data_range=1.0, win_size=max(3, win)))
    if fa.detail < _EPS and fb.detail < _EPS:
        ratio = 1.0  # two flat images have the same (no) detail
    else:
        ratio = (fb.detail + _EPS) / (fa.detail + _EPS)
    colour = min(100.0, delta_e)
    structure = min(100.0, max(0.0, 100.0 * (1.0 - ssim)))
    texture = min(100.0, TEXTURE_GAIN * abs(math.log2(ratio)))
    return DriftScore(
        colour=colour,
        structure=structure,
        texture=texture,
        overall=max(colour, structure, texture),
        lab_hist_distance=hist,
        mean_delta_e2000=delta_e,
        ssim=ssim,
        detail_ratio=ratio,
    )


def drift(a: Image.Image, b: Image.Image) -> DriftScore:
    """How far ``b`` has drifted from the reference ``a`` (sizes may differ)."""
    a, b = _rgb(a, "reference"), _rgb(b, "image")
    grid = _grid(a, b)
    return _compare(_features(a, grid), _features(b, grid))


def frame_drift(source: Image.Image, frames: Sequence[Image.Image]) -> list[DriftScore]:
    """Drift of every video frame from the image it was animated from."""
    if not frames:
        raise InvalidInput("the clip has no frames", field="frames", fix="pass at least one frame")
    source = _rgb(source, "source")
    rgb_frames = [_rgb(f, "frames") for f in frames]
    grid = _grid(source, rgb_frames[0])
    ref = _features(source, grid)
    return [_compare(ref, _features(f, grid)) for f in rgb_frames]


def flicker(frames: Sequence[Image.Image]) -> list[float]:
    """Mean CIEDE2000 ΔE between consecutive frames at 128 px: one value per cut, len(frames) - 1.

    Motion also counts, so read it relatively: a value far above the clip's median is a flash or a jump.
    """
    from skimage.color import deltaE_ciede2000, rgb2lab

    if len(frames) < 2:
        return []
    first = _rgb(frames[0], "frames")
    grid = _fit(first.size, FLICKER_SIDE)
    labs = [
        rgb2lab(np.asarray(_rgb(f, "frames").resize(grid, Image.Resampling.BOX), dtype=np.float64) / 255.0)
        for f in frames
    ]
    return [float(np.mean(deltaE_ciede2000(x, y))) for x, y in zip(labs, labs[1:])]
