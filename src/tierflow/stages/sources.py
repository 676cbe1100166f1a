"""Reading a stored asset back as the input of the next stage."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Asset
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.blobs import read_asset

if TYPE_CHECKING:
    from tierflow.app.ports import Services


def get_asset(services: Services, asset_id: str) -> Asset:
    with services.db.read() as s:
        return AssetsRepo(s).get(asset_id)


def stored_image(services: Services, asset: Asset) -> Image.Image:
    """The asset's pixels as stored, as RGB; reads only (planners use it: planning writes nothing).

    A latent draft not yet decoded gives its preview, which has the full decode's size; the stage
    that runs on it stores the full decode first and is planned again on it (app/service.py). A
    video asset is an error naming the fix.
    """
    if asset.kind != "image":
        raise InvalidInput(f"asset {asset.id} is a {asset.kind}", field="asset",
                           fix="pass an image asset (a video cannot be the input of this stage)")
    data = read_asset(services.blobs, asset)  # verified: a changed file is BlobCorrupt, not a PIL error
    with Image.open(io.BytesIO(data)) as im:
        return im.convert("RGB")


def load_image(services: Services, asset: Asset) -> Image.Image:
    """The asset's pixels at full quality: a draft preview's full decode is stored first (once), as on keep."""
    if asset.kind == "image":
        from tierflow.stages.decode import full_quality

        asset = full_quality(services, asset)
    return stored_image(services, asset)


def fit_to(size: tuple[int, int], long_edge: int, multiple: int = 8) -> tuple[int, int]:
    """Scale ``size`` so its long edge is ``long_edge``, keeping the aspect ratio, rounded to ``multiple``."""
    w, h = size
    scale = long_edge / max(w, h)
    return (max(multiple, round(w * scale / multiple) * multiple), max(multiple, round(h * scale / multiple) * multiple))
