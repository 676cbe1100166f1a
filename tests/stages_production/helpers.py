"""Small helpers shared by the production-stage tests."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def pixels(services, asset) -> np.ndarray:
    with Image.open(io.BytesIO(services.blobs.get(asset.sha256, asset.format))) as im:
        return np.asarray(im.convert("RGB")).copy()


def generation_count(services) -> int:
    from sqlalchemy import func, select

    from tierflow.storage.tables import GenerationRow

    with services.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(GenerationRow)))


def square_mask(size=(64, 64), box=(16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    return mask
