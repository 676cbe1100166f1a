"""Latent drafts in storage: the preview on disk, the latent beside it, the full decode on keep.

A draft an engine rendered with ``request.preview`` arrives with its final latent and a preview
from the tiny decoder. It is stored as a JPEG preview (provenance in EXIF/XMP) plus the latent as
a small ``.npy`` blob named in the asset's params (``params["latent"]``). Keeping, starring,
promoting or exporting the draft runs :func:`full_quality`: the engine's full VAE decode of that
latent, once; the lossless PNG then replaces the preview as the asset's image, and the asset's
params and lineage say which decoder made the pixels (``decoder: taesd`` → ``vae``).

Planning and quoting never decode (they read the preview, which has the full decode's size): a
stage whose input is a preview stores that input's full decode when it runs (:func:`decode_inputs`,
called by app/service.py once the job is admitted), then renders from those pixels.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from tierflow.domain.models import Asset
from tierflow.engines.base import Rendered
from tierflow.storage.assets_repo import AssetsRepo

if TYPE_CHECKING:
    import numpy as np

    from tierflow.app.ports import Services

log = logging.getLogger(__name__)

LATENT_KEY = "latent"  # params[LATENT_KEY] = {"sha256", "format", "shape", "dtype"}
PREVIEW_FORMAT = "jpg"
# One decode per asset at a time; a fixed set of locks by hash (a lock per asset id would be kept
# for the life of the process, one per draft ever kept).
_LOCKS = tuple(threading.Lock() for _ in range(64))


def encode_image(out: Rendered, stage: str, params: dict[str, Any],
                 lineage: dict[str, Any]) -> tuple[bytes, str, list[tuple[bytes, str]]] | None:
    """Bytes, format and side blobs for a latent draft's preview; None: the usual PNG.

    A latent draft: a JPEG preview and its ``.npy`` latent (``params`` and ``lineage`` gain the
    latent's reference and the decoder).
    """
    if out.latent is not None:
        from tierflow.engines.local.latents import LATENT_FORMAT, latent_bytes
        from tierflow.provenance.jpeg import encode_jpeg

        raw = latent_bytes(out.latent)
        params[LATENT_KEY] = {"sha256": hashlib.sha256(raw).hexdigest(), "format": LATENT_FORMAT,
                              "shape": list(out.latent.shape), "dtype": str(out.latent.dtype)}
        lineage["decoder"] = params.get("decoder")
        lineage["latent_sha256"] = params[LATENT_KEY]["sha256"]
        data = encode_jpeg(out.image, stage=stage, parameters=params, lineage=lineage)
        return data, PREVIEW_FORMAT, [(raw, LATENT_FORMAT)]
    return None


def is_preview(asset: Asset) -> bool:
    """Pixels from a tiny decoder, with a latent to decode at full quality."""
    from tierflow.engines.local.latents import DECODER_TINY

    return asset.kind == "image" and asset.params.get("decoder") == DECODER_TINY and LATENT_KEY in asset.params


def load_latent(services: Services, asset: Asset) -> np.ndarray | None:
    """The draft latent an asset kept, or None."""
    ref = asset.params.get(LATENT_KEY)
    if not isinstance(ref, dict):
        return None
    from tierflow.engines.local.latents import latent_from_bytes

    return latent_from_bytes(services.blobs.get(ref["sha256"], ref.get("format", "npy")))


def _lock(asset_id: str) -> threading.Lock:
    return _LOCKS[hash(asset_id) % len(_LOCKS)]


def full_quality(services: Services, asset: Asset | str) -> Asset:
    """Decode-on-keep: replace a preview's pixels by the full VAE decode of its latent, once.

    Returns the asset as stored afterwards (unchanged when it is not a preview). The engine that
    rendered the draft decodes (the same VAE, device and dtype), so the image equals what plain
    diffusers gives for the same seed.
    """
    from tierflow.stages.persist import THUMB_FORMAT, make_thumbnail

    asset_id = asset if isinstance(asset, str) else asset.id
    with _lock(asset_id):
        with services.db.read() as s:
            current = AssetsRepo(s).get(asset_id)
        if not is_preview(current):
            return current
        latent = load_latent(services, current)
        engine = services.engines.get(current.engine_id)
        image = engine.decode_latent(latent)
        params = decoded_params(current)
        data = encode_decoded(current, image, params)
        # the gallery thumbnail is refreshed from the full decode: it shows what the file now holds
        thumb = make_thumbnail(image)
        thumb_sha, thumb_created = services.blobs.put(thumb, THUMB_FORMAT)
        try:
            sha, created = services.blobs.put(data, "png")
        except BaseException:
            _drop_unused(services, thumb_sha, THUMB_FORMAT, thumb_created)
            raise
        try:
            with services.db.transaction() as s:
                updated = AssetsRepo(s).replace_image(current.id, sha256=sha, fmt="png", size_bytes=len(data),
                                                      params=params, expect_sha256=current.sha256,
                                                      thumb_sha256=thumb_sha)
        except BaseException:
            _drop_unused(services, sha, "png", created)
            _drop_unused(services, thumb_sha, THUMB_FORMAT, thumb_created)
            raise
        if updated.sha256 == sha:  # the preview and its thumbnail, unless another asset names them
            _drop_unused(services, current.sha256, current.format, True)
            if current.thumb_sha256 and current.thumb_sha256 != thumb_sha:
                _drop_unused(services, current.thumb_sha256, THUMB_FORMAT, True)
        else:  # another writer decoded it first: this call's blobs are not named
            _drop_unused(services, sha, "png", created)
            _drop_unused(services, thumb_sha, THUMB_FORMAT, thumb_created)
        log.debug("asset %s decoded at full quality (%s)", current.id, engine.id)
        return updated


def decoded_params(preview: Asset) -> dict[str, Any]:
    """The params a preview's full decode records (which decoder made the pixels, what they replaced)."""
    from tierflow.engines.local.latents import DECODER_FULL

    return {**preview.params, "decoder": DECODER_FULL, "preview_decoder": preview.params.get("decoder"),
            "preview_sha256": preview.sha256}


def encode_decoded(asset: Asset, image: Any, params: dict[str, Any]) -> bytes:
    """The PNG a full decode is stored as (``fsck --repair`` re-encodes a kept draft with this too)."""
    from tierflow.engines.local.latents import DECODER_FULL
    from tierflow.provenance.png import encode_png

    lineage = {"asset_id": asset.id, "generation_id": asset.generation_id, "project_id": asset.project_id,
               "stage": asset.stage.value, "parent_ids": list(asset.parent_ids),
               "engine_id": asset.engine_id, "seed": asset.seed, "decoder": DECODER_FULL,
               "latent_sha256": params[LATENT_KEY]["sha256"]}
    return encode_png(image, stage=asset.stage.value, parameters=params, lineage=lineage)


def decode_inputs(services: Services, asset_ids: list[str]) -> bool:
    """Store the full decode of each asset that is still a preview; True when any was.

    The inputs of a stage that *runs* (app/service.py, after the job was admitted): planning and
    quoting read a preview's pixels as they are (the same size) and write nothing.
    """
    decoded = False
    for asset_id in dict.fromkeys(asset_ids):
        with services.db.read() as s:
            asset = AssetsRepo(s).get(asset_id)
        if is_preview(asset):
            full_quality(services, asset)
            decoded = True
    return decoded


def require_decoded_inputs(services: Services, plans: list[Any]) -> None:
    """For the plan-level entry points (``run_plan``, ``run_compose``, ``run_with_creative``), before
    anything is opened: a plan built on a preview's pixels is refused (only the service decodes and
    plans again)."""
    from tierflow.domain.errors import InvalidInput

    parents = [a for p in plans for a in p.parent_ids]
    if not parents:  # a draft (the hot path): nothing to look up
        return
    with services.db.read() as s:
        repo = AssetsRepo(s)
        previews = [a for a in parents if is_preview(repo.get(a))]
    if previews:
        raise InvalidInput(f"asset {previews[0]} is a draft preview; this plan was built on its preview pixels",
                           field="asset", fix=f"keep it first (`tierflow review {previews[0]} --keep`) or run the "
                                              f"stage through app.service.run, which decodes it at full quality")


def full_quality_quietly(services: Services, asset: Asset) -> Asset:
    """:func:`full_quality` for a review: a decode that cannot run leaves the preview (logged)."""
    try:
        return full_quality(services, asset)
    except Exception as e:  # noqa: BLE001 - the review itself is already recorded
        log.warning("asset %s keeps its preview: the full decode failed (%s)", asset.id, e)
        return asset


def _drop_unused(services: Services, sha: str, fmt: str, created: bool) -> None:
    from tierflow.stages.persist import drop_unnamed

    if created:
        drop_unnamed(services, sha, fmt)


def latent_handoff(services: Services, draft: Asset, source: Any, final: Any, request: Any) -> str:
    """Promote from the draft's latent when both engines share a latent space; return the handoff kind.

    ``latent``: the final's img2img starts from the draft latent (resized in latent space when the
    final renders at another size), no VAE encode round trip. ``image``: across latent spaces, or
    to a hosted engine, the decoded image is the init image, as before.
    """
    space = final.capabilities().latent_space
    if not space or source is None or source.capabilities().latent_space != space:
        return "image"
    latent = load_latent(services, draft)
    if latent is None:
        return "image"
    request.init_latent = latent
    return "latent"
