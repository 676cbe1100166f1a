"""Exporting an asset with its provenance re-embedded (current lineage and review state).

An export is a delivery: after the PNG chunks are written, the file is signed with a C2PA manifest
of its whole lineage (``credentials.py``); the signature is the last write. A format the C2PA
library cannot carry is written unsigned and the result says so (``credentials.signed`` false,
``credentials.warning``).
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.provenance.png import COMPOSITE_STAGES, encode_png
from tierflow.storage.assets_repo import AssetsRepo
from tierflow.storage.blobs import read_asset

if TYPE_CHECKING:
    from tierflow.bootstrap import Services


def export_asset(services: Services, asset_id: str, out: Path, *, sign: bool = True) -> dict[str, Any]:
    """Write the asset to ``out`` atomically; PNGs get fresh provenance chunks, then the C2PA manifest."""
    out = Path(out).expanduser()
    from tierflow.stages.decode import full_quality

    full_quality(services, asset_id)  # a draft preview is exported as its full decode (PNG)
    with services.db.read() as s:
        repo = AssetsRepo(s)
        asset = repo.get(asset_id)
        ancestors = repo.ancestors(asset.id)
        ancestor_stages = [repo.row(a).stage for a in ancestors]
    if out.exists() and out.is_dir():
        out = out / f"{asset.id}.{asset.format}"
    if out.suffix.lower().lstrip(".") != asset.format:
        raise InvalidInput(f"{out.name} does not end in .{asset.format}", field="out",
                           fix=f"name the file with .{asset.format} (the asset is a {asset.kind})")
    if not out.parent.exists():
        raise InvalidInput(f"folder {out.parent} does not exist", field="out", fix="create it or choose another path")
    data = export_bytes(services, asset, ancestors, ancestor_stages)
    credentials: dict[str, Any] = {"signed": False, "warning": "signing was turned off for this export"}
    if sign:
        from tierflow.provenance.credentials import sign_export

        data, credentials = sign_export(services, asset, data)
    if asset.kind == "video":
        sidecar = out.with_suffix(out.suffix + ".json")
        sidecar.write_text(json.dumps({"asset": asset.to_dict(), "ancestors": ancestors}, indent=2, default=str))
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"asset": asset.to_dict(), "path": out, "bytes": len(data), "credentials": credentials}


def export_bytes(services: Services, asset, ancestors: list[str], ancestor_stages: list[str]) -> bytes:
    """The asset's bytes with fresh provenance chunks (PNG), before any signature."""
    data = read_asset(services.blobs, asset)
    if asset.kind == "image" and asset.format == "png":
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            image = im.copy()
        lineage = {"asset_id": asset.id, "generation_id": asset.generation_id, "project_id": asset.project_id,
                   "stage": asset.stage.value, "parent_ids": asset.parent_ids, "ancestors": ancestors,
                   "engine_id": asset.engine_id, "seed": asset.seed, "review": asset.review.value,
                   "sha256_of_stored": asset.sha256}
        # The IPTC source type follows the nearest edit in the lineage: an upscale of an inpainted
        # image is still a composite.
        source_stage = next((st for st in [asset.stage.value, *ancestor_stages] if st in COMPOSITE_STAGES),
                            asset.stage.value)
        data = encode_png(image, stage=source_stage, parameters=asset.params, lineage=lineage,
                          compress_level=6)
    return data
