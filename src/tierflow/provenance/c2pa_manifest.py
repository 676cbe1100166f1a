"""C2PA manifests that tell an asset's story, signed with the workspace signer (c2pa-python).

Each asset's manifest says what its stage did and names its parents as ingredients:

- a render from a prompt or from another image (draft, final, video) is ``c2pa.created`` with
  digital source type ``trainedAlgorithmicMedia``, the engine, model repo and revision and the
  seed; an image it started from is an ``inputTo`` ingredient (img2img, image-to-video);
- cleanup (inpaint, outpaint), upscale and overlay open their parent (``c2pa.opened``, a
  ``parentOf`` ingredient) and edit it (``c2pa.edited``, or ``c2pa.resized`` for an upscale);
- further parents are ``componentOf`` ingredients, placed (``c2pa.placed``).

Ingredients are the parent assets signed in turn, recursively, so every ingredient carries its
own manifest and a C2PA reader shows the chain draft → final → inpaint → upscale → overlay. A
hosted output that arrived with its own manifest keeps it as an ingredient (``hosted_source``).

Signing is the last write of an export: it adds the manifest store (PNG ``caBX`` chunk, JPEG APP11,
MP4 ``uuid`` box) and keeps every other chunk (A1111 ``parameters``, ``tierflow`` lineage, XMP).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tierflow import __version__
from tierflow.domain.models import Asset

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
CREATED_STAGES = {"draft", "final", "video"}  # new pixels from a model (maybe from an input image)
MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "mp4": "video/mp4", "webp": "image/webp",
        "gif": "image/gif", "webm": "video/webm", "mov": "video/quicktime", "tif": "image/tiff", "tiff": "image/tiff"}


class SigningUnavailable(Exception):
    """This file cannot carry a C2PA manifest (format, or the library is not installed)."""


@dataclass
class Ingredient:
    """A parent: its (signed) bytes, format, the label actions refer to, and its relationship."""

    data: bytes
    fmt: str
    label: str
    title: str
    relationship: str  # parentOf | componentOf | inputTo
    description: str = ""


def mime_of(fmt: str) -> str:
    return MIME.get(fmt.lower().lstrip("."), f"application/{fmt.lower()}")


def c2pa_available() -> str | None:
    """None when signing works here, else why not (one line)."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return "c2pa-python is not installed (pip install 'tierflow[credentials]')"
    return None


def supported(fmt: str) -> bool:
    import c2pa

    types = set(c2pa.Builder.get_supported_mime_types())
    return mime_of(fmt) in types or fmt.lower() in types


def context(anchors: str, *, thumbnails: bool = False):
    """A c2pa Context: offline (no remote manifests, no OCSP), trusting ``anchors`` (PEM bundle)."""
    import c2pa

    cfg: dict[str, Any] = {
        "builder": {"thumbnail": {"enabled": thumbnails}},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if anchors.strip():
        cfg["trust"] = {"user_anchors": anchors}
    return c2pa.Context.from_dict(cfg)


def actions_for(asset: Asset, ingredients: list[Ingredient]) -> list[dict[str, Any]]:
    """The ``c2pa.actions.v2`` entries of one asset's manifest."""
    params = asset.params or {}
    agent = {"name": f"tierflow/{asset.engine_id or asset.stage.value}", "version": __version__}
    detail = {k: v for k, v in {
        "org.tierflow.stage": asset.stage.value,
        "org.tierflow.asset_id": asset.id,
        "org.tierflow.engine": asset.engine_id or None,
        "org.tierflow.model": params.get("model"),
        "org.tierflow.revision": params.get("revision"),
        "org.tierflow.seed": asset.seed,
        "org.tierflow.task": params.get("task"),
    }.items() if v not in (None, "")}
    parents = [i for i in ingredients if i.relationship in ("parentOf", "inputTo")]
    others = [i for i in ingredients if i.relationship == "componentOf"]
    stage = asset.stage.value
    actions: list[dict[str, Any]] = []
    delivered = [i for i in ingredients if i.label == source_label(asset)]
    if delivered:
        # A hosted output: the provider created it (its own manifest says so); tierflow opened the
        # file as delivered and re-encoded it with its provenance chunks.
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [delivered[0].label]}})
        transcoded = {"action": "c2pa.transcoded", "softwareAgent": agent, "description": _describe(asset),
                      "parameters": dict(detail)}
        inputs = [i.label for i in parents if i.relationship == "inputTo"]
        if inputs:
            transcoded["parameters"]["org.tierflow.inputs"] = inputs
        actions.append(transcoded)
    elif stage in CREATED_STAGES or not parents:
        created = {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia",
                   "softwareAgent": agent, "description": _describe(asset), "parameters": dict(detail)}
        if parents:
            created["parameters"]["ingredientIds"] = [i.label for i in parents]
        actions.append(created)
    else:
        actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": [parents[0].label]}})
        edit = {"action": "c2pa.resized" if stage == "upscale" else "c2pa.edited", "softwareAgent": agent,
                "description": _describe(asset), "parameters": dict(detail)}
        if stage == "cleanup":
            edit["digitalSourceType"] = IPTC + "compositeWithTrainedAlgorithmicMedia"
        elif stage == "upscale" and params.get("creative"):
            edit["digitalSourceType"] = IPTC + "trainedAlgorithmicMedia"
        actions.append(edit)
    for other in others:
        actions.append({"action": "c2pa.placed", "parameters": {"ingredientIds": [other.label]}})
    return actions


def source_label(asset: Asset) -> str:
    """The ingredient label of a hosted output's file as delivered."""
    return f"{asset.id}-source"


def manifest_for(asset: Asset, ingredients: list[Ingredient]) -> dict[str, Any]:
    lineage = {"asset_id": asset.id, "stage": asset.stage.value, "generation_id": asset.generation_id,
               "project_id": asset.project_id, "parent_ids": list(asset.parent_ids), "engine_id": asset.engine_id,
               "model": (asset.params or {}).get("model"), "revision": (asset.params or {}).get("revision"),
               "seed": asset.seed, "sha256_of_stored": asset.sha256}
    return {
        "claim_generator_info": [{"name": "tierflow", "version": __version__}],
        "title": f"{asset.stage.value} {asset.id}.{asset.format}",
        "format": mime_of(asset.format),
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": actions_for(asset, ingredients)}},
            {"label": "org.tierflow.lineage", "data": lineage},
        ],
    }


def sign(data: bytes, fmt: str, manifest: dict[str, Any], ingredients: list[Ingredient], *,
         chain_pem: bytes, key_pem: bytes, anchors: str) -> bytes:
    """``data`` with ``manifest`` embedded and signed (ES256); ingredients keep their own manifests."""
    import c2pa

    ctx = context(anchors)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain_pem, key_pem, None))
    try:
        with c2pa.Builder(manifest, context=ctx) as builder:
            for ing in ingredients:
                meta = {"title": ing.title, "relationship": ing.relationship, "label": ing.label}
                if ing.description:
                    meta["description"] = ing.description
                builder.add_ingredient(meta, mime_of(ing.fmt), io.BytesIO(ing.data))
            out = io.BytesIO()
            builder.sign(signer, mime_of(fmt), io.BytesIO(data), out)
            return out.getvalue()
    finally:
        signer.close()
        ctx.close()


def sign_lineage(asset_id: str, load: Callable[[str], tuple[Asset, bytes]], sign_one: Callable[..., bytes],
                 *, final_bytes: bytes | None = None, hosted_source: Callable[[Asset], Ingredient | None] | None = None,
                 ) -> bytes:
    """Sign ``asset_id`` with its ancestors as (recursively signed) ingredients.

    ``load(id)`` gives an asset and its stored bytes; ``final_bytes`` replaces the top asset's bytes
    (an export re-encodes it with fresh provenance chunks). Each ancestor is signed once even when
    the lineage is a graph.
    """
    done: dict[str, tuple[Asset, bytes]] = {}

    def signed(aid: str, depth: int, override: bytes | None) -> tuple[Asset, bytes]:
        if aid in done:
            return done[aid]
        asset, data = load(aid)
        if override is not None:
            data = override
        # A hosted output's own file (with the provider's manifest) is its parent; then tierflow's
        # parents were inputs to the provider, as they are to any render.
        source = hosted_source(asset) if hosted_source is not None else None
        ingredients: list[Ingredient] = [source] if source is not None else []
        if depth < 32:
            for n, pid in enumerate(asset.parent_ids):
                parent, parent_bytes = signed(pid, depth + 1, None)
                if asset.stage.value in CREATED_STAGES or source is not None:
                    rel = "inputTo"
                else:
                    rel = "parentOf" if n == 0 else "componentOf"
                ingredients.append(Ingredient(parent_bytes, parent.format, parent.id,
                                              f"{parent.stage.value} {parent.id}.{parent.format}", rel,
                                              _describe(parent)))
        done[aid] = (asset, sign_one(data, asset.format, manifest_for(asset, ingredients), ingredients))
        return done[aid]

    return signed(asset_id, 0, final_bytes)[1]


def _describe(asset: Asset) -> str:
    p = asset.params or {}
    stage = asset.stage.value
    if stage == "draft":
        return f"draft render on {asset.engine_id}, seed {asset.seed}"
    if stage == "final":
        return f"final render on {asset.engine_id}, seed {asset.seed}"
    if stage == "cleanup":
        return f"{p.get('cleanup') or p.get('task') or 'cleanup'} on {asset.engine_id}"
    if stage == "upscale":
        factor = p.get("scale") or p.get("factor")
        creative = " with a creative pass" if p.get("creative") else ""
        by = f" x{factor}" if factor else ""
        return f"upscale{by} to {asset.width}x{asset.height}{creative} on {asset.engine_id}"
    if stage == "video":
        return f"image-to-video on {asset.engine_id}, {p.get('frames', '?')} frames, seed {asset.seed}"
    if stage == "overlay":
        layer = p.get("layer") if isinstance(p.get("layer"), dict) else {}
        text = str(layer.get("text") or p.get("text") or "")[:80]
        return f"text overlay{f': {text!r}' if text else ''}"
    return stage


def read_manifest_store(data: bytes, fmt: str | None, anchors: str) -> dict[str, Any]:
    """The manifest store of ``data`` as c2pa's JSON (raises c2pa's errors; see verify.py)."""
    import c2pa

    ctx = context(anchors)
    try:
        with c2pa.Reader(mime_of(fmt) if fmt else None, io.BytesIO(data), context=ctx) as reader:
            return json.loads(reader.json())
    finally:
        ctx.close()

