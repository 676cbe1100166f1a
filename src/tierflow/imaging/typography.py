"""Brand text as a separate layer, composited onto a copy of a generated image (never into its pixels).

A :class:`TextLayer` says what to write and where; :func:`render_overlay` returns a new image and
leaves the original untouched, so the generated asset and its overlay stay two assets with lineage.
Text is wrapped at word boundaries (CJK at every character) and, when ``size`` is None, set at the
largest size that fits its box.

The shipped font is DejaVu Sans (``assets/fonts/DejaVuSans.ttf``, Bitstream Vera licence with
DejaVu's public-domain changes; the text is beside it). It covers Latin, Greek, Cyrillic,
Armenian, Georgian, Hebrew and Arabic (right-to-left shaping needs Pillow built with libraqm),
but no CJK, Thai or Indic scripts: for those pass a font file that has them. Text with
characters the font lacks is refused rather than drawn as empty boxes.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import asdict, dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw, ImageFont

from tierflow.domain.errors import InvalidInput

SHIPPED_FONTS = {"DejaVuSans": "DejaVuSans.ttf"}
DEFAULT_FONT = "DejaVuSans"
MIN_SIZE = 6  # px: below this no text is legible, so fitting gives up
LINE_SPACING = 0.2  # of the font size
# A named position fills a band of the image: its horizontal and vertical alignment in that band.
POSITIONS: dict[str, tuple[float, float]] = {
    "center": (0.5, 0.5),
    "top": (0.5, 0.0),
    "bottom": (0.5, 1.0),
    "left": (0.0, 0.5),
    "right": (1.0, 0.5),
    "top-left": (0.0, 0.0),
    "top-right": (1.0, 0.0),
    "bottom-left": (0.0, 1.0),
    "bottom-right": (1.0, 1.0),
}


@dataclass
class TextLayer:
    """One block of text: what, in which font and colour, and where (a named spot, a point or a box)."""

    text: str
    font: str | None = None  # a shipped font name (see SHIPPED_FONTS) or a path; None = DejaVu Sans
    size: int | None = None  # px; None = the largest that fits the box
    color: str = "#ffffff"  # "#rrggbb", "#rrggbbaa" or a CSS name
    position: str | tuple[int, int] = "center"  # a POSITIONS name, or (x, y) of the text's top-left
    box: tuple[int, int, int, int] | None = None  # (x, y, w, h): wrap and fit inside it
    stroke_width: int = 0
    stroke_color: str = "#000000"
    shadow_offset: tuple[int, int] | None = None  # (dx, dy) px
    shadow_color: str = "#00000099"
    opacity: float = 1.0
    margin: float = 0.05  # of the image's shorter side, around named positions

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (tuples become lists), for the asset's parameters."""
        out = asdict(self)
        for key in ("position", "box", "shadow_offset"):
            if isinstance(out[key], tuple):
                out[key] = list(out[key])
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextLayer:
        """The inverse of :meth:`to_dict`; unknown keys are an error, not ignored."""
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise InvalidInput(
                    f"unknown text-layer field {key!r}", field=key, fix=f"use {', '.join(sorted(known))}"
                )
        if "text" not in data:
            raise InvalidInput("the text is missing", field="text", fix="give the text to write")
        values = dict(data)
        for key in ("position", "box", "shadow_offset"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)


# -- fonts -------------------------------------------------------------------------------------
def font_path(font: str | None) -> Path:
    """The file of a shipped font name, or the given path when it exists."""
    name = font or DEFAULT_FONT
    if name in SHIPPED_FONTS:
        return Path(str(resources.files("tierflow") / "assets" / "fonts" / SHIPPED_FONTS[name]))
    path = Path(name).expanduser()
    if not path.is_file():
        raise InvalidInput(
            f"no font file at {name}",
            field="font",
            fix=f"pass the path of a .ttf/.otf file, or one of the shipped fonts: {', '.join(SHIPPED_FONTS)}",
        )
    return path


@functools.lru_cache(maxsize=32)
def _load(path: str, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError as e:
        raise InvalidInput(
            f"{path} is not a font Pillow can read", field="font", fix="pass a TrueType/OpenType file"
        ) from e


@functools.lru_cache(maxsize=32)
def _cmap(path: str) -> frozenset[int] | None:
    try:
        from fontTools.ttLib import TTFont
    except ImportError:  # fontTools comes with matplotlib; without it the check is skipped
        return None
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            return frozenset(font.getBestCmap() or ())
    except Exception:  # noqa: BLE001 - an unreadable cmap is reported by Pillow's own load
        return None


def missing_glyphs(text: str, font: str | None = None) -> list[str]:
    """The distinct characters of ``text`` that the font cannot draw (spaces and controls excluded)."""
    cmap = _cmap(str(font_path(font)))
    if cmap is None:
        return []
    return sorted(
        {c for c in text if not c.isspace() and unicodedata.category(c)[0] != "C" and ord(c) not in cmap}
    )


# -- validation --------------------------------------------------------------------------------
def _rgba(value: str, name: str) -> tuple[int, int, int, int]:
    try:
        rgb = ImageColor.getrgb(value)
    except (ValueError, AttributeError, TypeError) as e:
        raise InvalidInput(
            f"{value!r} is not a colour", field=name, fix="use #rrggbb, #rrggbbaa or a CSS name such as white"
        ) from e
    return rgb if len(rgb) == 4 else (*rgb, 255)


def _area(layer: TextLayer, size: tuple[int, int]) -> tuple[tuple[int, int, int, int], tuple[float, float]]:
    """The box the text must fit in and its alignment there."""
    width, height = size
    if layer.box is not None:
        try:
            x, y, w, h = (int(v) for v in layer.box)
        except (TypeError, ValueError) as e:
            raise InvalidInput(f"{layer.box!r} is not (x, y, w, h)", field="box", fix="give four integers") from e
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
            raise InvalidInput(
                f"box {x},{y} {w}x{h} is not inside the {width}x{height} image",
                field="box",
                fix=f"keep x+w ≤ {width} and y+h ≤ {height}, with positive w and h",
            )
        align = POSITIONS.get(layer.position, (0.5, 0.5)) if isinstance(layer.position, str) else (0.0, 0.0)
        return (x, y, w, h), align
    pad = round(layer.margin * min(width, height))
    if isinstance(layer.position, str):
        if layer.position not in POSITIONS:
            raise InvalidInput(
                f"unknown position {layer.position!r}", field="position", fix=f"use {', '.join(POSITIONS)} or x,y"
            )
        ax, ay = POSITIONS[layer.position]
        # Top and bottom text sits in a third of the picture, like a title or a call to action.
        band = height - 2 * pad if ay == 0.5 else (height - 2 * pad) // 3
        top = pad if ay == 0.0 else (height - pad - band if ay == 1.0 else pad)
        return (pad, top, width - 2 * pad, band), (ax, ay)
    try:
        x, y = (int(v) for v in layer.position)
    except (TypeError, ValueError) as e:
        raise InvalidInput(f"{layer.position!r} is not a position", field="position", fix="use a name or x,y") from e
    if not (0 <= x < width - pad and 0 <= y < height - pad):
        raise InvalidInput(
            f"point {x},{y} is outside the {width}x{height} image", field="position", fix="use a point inside the image"
        )
    return (x, y, width - pad - x, height - pad - y), (0.0, 0.0)


# -- layout ------------------------------------------------------------------------------------
def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def _tokens(paragraph: str) -> list[tuple[str, bool]]:
    """Wrap points: (token, space_before). CJK scripts break between any two characters."""
    out: list[tuple[str, bool]] = []
    for i, word in enumerate(paragraph.split()):
        run = ""
        first = True
        for ch in word:
            if _is_cjk(ch):
                if run:
                    out.append((run, i > 0 and first))
                    first = False
                    run = ""
                out.append((ch, i > 0 and first))
                first = False
            else:
                run += ch
        if run:
            out.append((run, i > 0 and first))
    return out


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str] | None:
    """Greedy word wrap to ``width`` px; None when one token alone is wider."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token, space in _tokens(paragraph):
            candidate = f"{line} {token}" if line and space else line + token
            if font.getlength(candidate) <= width:
                line = candidate
            elif not line or font.getlength(token) > width:
                return None
            else:
                lines.append(line)
                line = token
        lines.append(line)
    return lines


def _layout(layer: TextLayer, path: str, size: int, box: tuple[int, int, int, int]):
    """(font, text, bbox) when the text fits the box at ``size``, else None."""
    _, _, w, h = box
    font = _load(path, size)
    sx, sy = (abs(v) for v in (layer.shadow_offset or (0, 0)))
    lines = _wrap(layer.text, font, w - 2 * layer.stroke_width - sx)
    if lines is None:
        return None
    text = "\n".join(lines)
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    bbox = probe.multiline_textbbox(
        (0, 0), text, font=font, spacing=round(size * LINE_SPACING), stroke_width=layer.stroke_width
    )
    if bbox[2] - bbox[0] + sx > w or bbox[3] - bbox[1] + sy > h:
        return None
    return font, text, bbox


def fit_size(layer: TextLayer, box: tuple[int, int, int, int]) -> int | None:
    """The largest font size (px) at which the layer's text fits ``box``; None if not even MIN_SIZE."""
    path = str(font_path(layer.font))
    lo, hi = MIN_SIZE, max(MIN_SIZE, box[3])
    if _layout(layer, path, lo, box) is None:
        return None
    while lo < hi:  # the largest size that fits; wrapping makes it nearly, not strictly, monotonic
        mid = (lo + hi + 1) // 2
        if _layout(layer, path, mid, box) is None:
            hi = mid - 1
        else:
            lo = mid
    return lo


def render_overlay(image: Image.Image, layer: TextLayer) -> Image.Image:
    """A new image: ``image`` with ``layer`` composited on top. ``image`` itself is not modified."""
    if not isinstance(layer.text, str) or not layer.text.strip():
        raise InvalidInput("the text is empty", field="text", fix="give the text to write")
    path = str(font_path(layer.font))
    missing = missing_glyphs(layer.text, layer.font)
    if missing:
        raise InvalidInput(
            f"the font has no glyphs for {''.join(missing[:10])!r}",
            field="font",
            fix="pass a font that covers this script (DejaVu Sans: Latin, Greek, Cyrillic, Hebrew, Arabic; no CJK)",
        )
    fill = _rgba(layer.color, "color")
    stroke = _rgba(layer.stroke_color, "stroke_color")
    shadow = _rgba(layer.shadow_color, "shadow_color")
    if not 0.0 <= float(layer.opacity) <= 1.0:
        raise InvalidInput(f"{layer.opacity} is out of range", field="opacity", fix="use a value in 0..1")
    if not isinstance(layer.stroke_width, int) or layer.stroke_width < 0:
        raise InvalidInput(f"{layer.stroke_width!r} is not a width", field="stroke_width", fix="use 0 or more px")
    box, (ax, ay) = _area(layer, image.size)
    if layer.size is None:
        size = fit_size(layer, box)
        if size is None:
            raise InvalidInput(
                f"the text does not fit in {box[2]}x{box[3]} px even at {MIN_SIZE} px",
                field="text",
                fix="shorten the text or give it a bigger box",
            )
    else:
        size = int(layer.size)
        if size < 1:
            raise InvalidInput(f"{layer.size} px is not a size", field="size", fix="use a positive size or none to fit")
    laid = _layout(layer, path, size, box)
    if laid is None:
        raise InvalidInput(
            f"at {size} px the text does not fit in {box[2]}x{box[3]} px",
            field="size",
            fix=f"use a smaller size (at most {fit_size(layer, box) or MIN_SIZE}) or leave size empty to fit",
        )
    font, text, (l, t, r, b) = laid
    dx, dy = layer.shadow_offset or (0, 0)
    # Align the visible ink (the bbox, shadow included) in the box, not the font's line box.
    x = box[0] + (box[2] - (r - l) - abs(dx)) * ax - l + max(0, -dx)
    y = box[1] + (box[3] - (b - t) - abs(dy)) * ay - t + max(0, -dy)
    spacing = round(size * LINE_SPACING)
    align = {0.0: "left", 0.5: "center", 1.0: "right"}.get(ax, "left")
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    if layer.shadow_offset:
        draw.multiline_text(
            (x + dx, y + dy), text, font=font, fill=shadow, spacing=spacing, align=align,
            stroke_width=layer.stroke_width, stroke_fill=shadow,
        )
    draw.multiline_text(
        (x, y), text, font=font, fill=fill, spacing=spacing, align=align,
        stroke_width=layer.stroke_width, stroke_fill=stroke,
    )
    if layer.opacity < 1.0:
        alpha = overlay.getchannel("A").point(lambda v: round(v * float(layer.opacity)))
        overlay.putalpha(alpha)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    out = Image.alpha_composite(image.convert("RGBA"), overlay)
    out.info = {k: v for k, v in image.info.items() if k in ("dpi", "icc_profile")}
    return out if has_alpha else out.convert("RGB")
