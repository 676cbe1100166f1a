"""Overlapping tiles and feathered blending, shared by the ESRGAN upscaler and the creative pass.

An image is cut into tiles of a fixed size at a fixed stride, the last tile of each axis flush
with the edge. Each processed tile is weighted by a ramp that rises across the overlap at its
inner edges (never at the image border) and the weighted sum is divided by the summed weights,
so neighbouring tiles fade into each other instead of meeting at a seam. Only the accumulator
is full size (CPU memory); the work happens one tile at a time. Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

RAMPS = ("cosine", "linear")


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one axis: a fixed stride, the last tile flush with the end."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def tile_boxes(width: int, height: int, tile_w: int, tile_h: int,
               overlap: int) -> Iterator[tuple[int, int, int, int]]:
    """``(x, y, w, h)`` of every tile, row by row; a tile is clipped to an image smaller than it."""
    tw, th = min(tile_w, width), min(tile_h, height)
    for y in tile_starts(height, th, overlap):
        for x in tile_starts(width, tw, overlap):
            yield x, y, tw, th


def ramp(size: int, width: int, rise: bool, fall: bool, shape: str = "cosine") -> np.ndarray:
    """Weights along one tile axis: 1 inside, a ramp of ``width`` px at each inner edge."""
    if shape not in RAMPS:
        raise ValueError(f"unknown ramp {shape!r}; use one of {RAMPS}")
    w = np.ones(size, dtype=np.float32)
    r = min(width, size // 2)
    if r > 0:
        # Half-pixel offsets keep every weight > 0, so the normalisation never divides by zero.
        t = (np.arange(r, dtype=np.float32) + 0.5) / r
        up = (0.5 - 0.5 * np.cos(math.pi * t)) if shape == "cosine" else t
        if rise:
            w[:r] = up
        if fall:
            w[size - r :] = up[::-1]
    return w


class Blender:
    """A full-size weighted sum of tiles (``H×W×C`` float32) and the sum of their weights."""

    def __init__(self, width: int, height: int, channels: int, overlap: int, shape: str = "cosine") -> None:
        self.width, self.height = width, height
        self.overlap, self.shape = overlap, shape
        self._sum = np.zeros((height, width, channels), dtype=np.float32)
        self._weight = np.zeros((height, width, 1), dtype=np.float32)

    def add(self, x: int, y: int, tile: np.ndarray) -> None:
        """Accumulate one processed tile (``h×w×C``) whose top-left corner is at ``(x, y)``."""
        h, w = tile.shape[:2]
        wy = ramp(h, self.overlap, rise=y > 0, fall=y + h < self.height, shape=self.shape)
        wx = ramp(w, self.overlap, rise=x > 0, fall=x + w < self.width, shape=self.shape)
        weight = (wy[:, None] * wx[None, :])[:, :, None]
        self._sum[y : y + h, x : x + w] += tile.astype(np.float32, copy=False) * weight
        self._weight[y : y + h, x : x + w] += weight

    def result(self) -> np.ndarray:
        """The blended image; every pixel must have been covered by a tile."""
        if not (self._weight > 0).all():
            raise ValueError("some pixels were covered by no tile")
        return self._sum / self._weight
