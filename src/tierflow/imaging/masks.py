"""Masks for cleanup: load and check a user's mask, build an outpaint canvas, keep unmasked pixels.

Conventions: a mask is an ``L`` image the size of its picture; white (255) = repaint, black (0) =
keep. A mask is *binary-ish* when at most :data:`MAX_GREY_SHARE` of its pixels are mid-grey
(between :data:`BLACK_MAX` and :data:`WHITE_MIN`): a hard mask, or a hard mask with anti-aliased
or feathered edges, passes; a photo or a grey wash does not. Nothing here imports torch.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from tierflow.domain.errors import InvalidInput

BLACK_MAX = 16  # at or below: keep
WHITE_MIN = 239  # at or above: repaint
MAX_GREY_SHARE = 0.25  # room for feathered edges, not for a photo
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_MASK_SIDE = 8192  # px: checked before decoding, so a tiny file cannot expand into gigabytes


def check_mask(mask: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``mask`` as an ``L`` image, after checking its size, that it is binary-ish and not empty."""
    if mask.size != tuple(size):
        w, h = size
        raise InvalidInput(
            f"the mask is {mask.size[0]}x{mask.size[1]} px but the image is {w}x{h} px",
            field="mask",
            fix=f"draw the mask at exactly {w}x{h} px (white = repaint, black = keep)",
        )
    gray = mask.convert("L")
    values = np.asarray(gray)
    grey_share = float(((values > BLACK_MAX) & (values < WHITE_MIN)).mean())
    if grey_share > MAX_GREY_SHARE:
        raise InvalidInput(
            f"the mask is not black and white ({grey_share:.0%} of its pixels are grey)",
            field="mask",
            fix=(
                f"use a black-and-white mask (white = repaint, black = keep); at most "
                f"{MAX_GREY_SHARE:.0%} of pixels may be grey, e.g. soft edges"
            ),
        )
    if int(values.max()) < 128:
        raise InvalidInput(
            "the mask is all black: there is nothing to repaint",
            field="mask",
            fix="paint the area to repaint white",
        )
    return gray


def load_mask(source: str | Path | Image.Image, size: tuple[int, int]) -> Image.Image:
    """Open a mask file (or take an image) and check it against the picture's ``size``."""
    if isinstance(source, Image.Image):
        return check_mask(source, size)
    path = Path(source)
    try:
        with Image.open(path) as opened:
            opened.load()
            mask = opened.copy()
    except FileNotFoundError as e:
        raise InvalidInput(f"{path} does not exist", field="mask", fix="pass the path of a PNG mask") from e
    except (UnidentifiedImageError, OSError) as e:
        raise InvalidInput(
            f"{path.name} cannot be read as an image", field="mask", fix="save the mask as a PNG and try again"
        ) from e
    return check_mask(mask, size)


def open_png_mask(data: bytes) -> Image.Image:
    """Decode uploaded PNG bytes as a mask image (size and colours are checked by :func:`check_mask`)."""
    if not data.startswith(PNG_SIGNATURE):
        raise InvalidInput("the mask is not a PNG file", field="mask",
                           fix="send the mask as a PNG (white = repaint, black = keep)")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as opened:
            if max(opened.size) > MAX_MASK_SIDE:
                raise InvalidInput(f"the mask is {opened.size[0]}x{opened.size[1]} px", field="mask",
                                   fix=f"draw the mask at the image's size (at most {MAX_MASK_SIDE} px a side)")
            opened.load()
            return opened.copy()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise InvalidInput("the mask PNG cannot be decoded", field="mask",
                           fix="save the mask again as a PNG and retry") from e


def inward_feather(mask: Image.Image, radius: float) -> Image.Image:
    """Soften the mask's edge *inside* the white area only, so black pixels stay exactly 0."""
    gray = mask.convert("L")
    if radius <= 0:
        return gray
    blurred = np.asarray(gray.filter(ImageFilter.GaussianBlur(radius)))
    return Image.fromarray(np.minimum(blurred, np.asarray(gray)), mode="L")


def composite_keep_unmasked(original: Image.Image, generated: Image.Image, mask: Image.Image) -> Image.Image:
    """``generated`` where the mask is white, ``original`` where it is black, blended in between.

    Pixels where the mask is 0 are copied from ``original`` bit for bit.
    """
    if original.size != generated.size or original.size != mask.size:
        raise InvalidInput(
            f"sizes differ: original {original.size}, generated {generated.size}, mask {mask.size}",
            field="mask",
            fix="pass a mask, an original and a generated image of the same size",
        )
    alpha = np.asarray(mask.convert("L"), dtype=np.float32)[..., None] / 255.0
    base = np.asarray(original.convert("RGB"), dtype=np.float32)
    new = np.asarray(generated.convert("RGB"), dtype=np.float32)
    out = np.rint(base * (1.0 - alpha) + new * alpha).astype(np.uint8)
    return Image.fromarray(out, mode="RGB")


def outpaint_canvas(
    image: Image.Image,
    left: int = 0,
    right: int = 0,
    top: int = 0,
    bottom: int = 0,
    feather: int = 16,
    max_size: int = 2048,
) -> tuple[Image.Image, Image.Image]:
    """A larger canvas (new border filled with blurred edge pixels) and a mask over the new border.

    The mask is white over the new border and fades to black ``feather`` px into the original, so
    the model blends the seam; original pixels further in are never repainted.
    """
    sides = {"left": left, "right": right, "top": top, "bottom": bottom}
    for name, value in sides.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InvalidInput(f"{value!r} px is not a whole number >= 0", field=name, fix=f"use --{name} 0 or more px")
    if not any(sides.values()):
        raise InvalidInput(
            "all four sides are 0 px: there is nothing to extend",
            field="left",
            fix="extend at least one of --left/--right/--top/--bottom by a positive number of px",
        )
    if feather < 0:
        raise InvalidInput(f"{feather} px is negative", field="feather", fix="use a feather of 0 or more px")
    w, h = image.size
    new_w, new_h = w + left + right, h + top + bottom
    for axis, size, a, b, orig in (("width", new_w, "left", "right", w), ("height", new_h, "top", "bottom", h)):
        if size > max_size:
            name = a if sides[a] >= sides[b] else b
            room = max(0, max_size - orig)
            raise InvalidInput(
                f"the canvas would be {size} px {axis}, over the engine's maximum of {max_size} px",
                field=name,
                fix=f"extend {a} + {b} by at most {room} px in total (maximum {axis} {max_size} px)",
            )

    rgb = np.asarray(image.convert("RGB"))
    padded = np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="edge")
    # Edge-extended streaks give the model colour to work from; blurring them removes the
    # stripes that it would otherwise copy as structure.
    radius = max(2.0, max(sides.values()) / 4)
    canvas = Image.fromarray(padded).filter(ImageFilter.GaussianBlur(radius))
    canvas.paste(image.convert("RGB"), (left, top))

    mask = np.full((new_h, new_w), 255.0, dtype=np.float32)
    inner = np.zeros((h, w), dtype=np.float32)
    if feather:
        # Distance (px) of each original pixel from every extended side; ramps 255 -> 0.
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        dist = np.full((h, w), np.inf, dtype=np.float32)
        for extended, d in ((left, xs), (right, w - 1 - xs), (top, ys), (bottom, h - 1 - ys)):
            if extended:
                dist = np.minimum(dist, d)
        inner = np.clip(1.0 - (dist + 1.0) / (feather + 1.0), 0.0, 1.0) * 255.0
    mask[top : top + h, left : left + w] = inner
    return canvas, Image.fromarray(np.rint(mask).astype(np.uint8), mode="L")
