"""Storing one finished output: encode with provenance, write its blobs, then the asset row.

    encode_and_write (a runner's encode thread)          store_encoded (the storing thread, in output order)
    encode_output: params, lineage, bytes, sha256  ──→   the asset row in its own transaction
    write_blobs: thumbnail, side blobs, file (durable)

Encoding (PNG compression, JPEG + thumbnail) and the blob writes (an fsync each on the local
disk, a PUT round trip each on S3) run on the runner's thread pool while the engine renders the
next output; only the rows are written on one thread, in output order, each after its blobs are
durable. The asset id is chosen before encoding so the lineage can name it.

Nothing half-written: :attr:`Encoded.created` lists the blobs a write created. They are deleted
again (unless a row names them) on the storing thread — when the write failed halfway, when the
row cannot be written, or when the runner will never store the output (:func:`discard`) —
never on an encode thread, where an earlier output that is not stored yet may name the same bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tierflow import __version__
from tierflow.domain.ids import new_id
from tierflow.domain.models import Asset
from tierflow.engines.base import EngineInfo, Rendered
from tierflow.provenance.png import encode_png
from tierflow.stages.decode import encode_image
from tierflow.storage.assets_repo import AssetsRepo

THUMB_PX = 256
THUMB_FORMAT = "webp"

if TYPE_CHECKING:
    from tierflow.app.ports import Services
    from tierflow.stages.plans import RenderPlan


@dataclass
class Encoded:
    """An output ready to store: its bytes, digest and row fields."""

    asset_id: str
    data: bytes
    sha256: str
    kind: str
    fmt: str
    out: Rendered
    params: dict[str, Any]
    thumb: bytes | None = None  # the gallery's small WebP (images only)
    side_blobs: list[tuple[bytes, str]] = field(default_factory=list)  # a draft's latent (stages/decode.py)
    thumb_sha256: str | None = None  # set by write_blobs
    created: list[tuple[str, str]] | None = None  # (sha256, ext) this output's write created; None: not written
    error: BaseException | None = None  # the write failed halfway: raised (after undoing) by store_encoded


def asset_params(plan: RenderPlan, out: Rendered, info: EngineInfo) -> dict[str, Any]:
    """What an asset records: the request, the stage's own parameters, the engine's identity."""
    params: dict[str, Any] = {**plan.request.params(), **plan.params}
    params.update({k: v for k, v in out.metadata.items() if v is not None})
    params["seed"] = out.seed
    params["width"], params["height"] = out.width, out.height
    params["engine_id"] = info.id
    params["model"] = info.repo or info.pipeline
    params["revision"] = info.revision
    params["pipeline"] = info.pipeline
    params["libraries"] = dict(info.libraries)
    params["render_seconds"] = round(out.seconds, 4)
    params["tierflow_version"] = __version__
    return params


def encode_output(plan: RenderPlan, generation_id: str, out: Rendered, info: EngineInfo) -> Encoded:
    """CPU-only work, safe on a worker thread: parameters, lineage chunk, PNG bytes, sha256."""
    params = asset_params(plan, out, info)
    if plan.after_output is not None:
        plan.after_output(out, params)
    asset_id = new_id("ast")
    lineage = {
        "asset_id": asset_id,
        "generation_id": generation_id,
        "project_id": plan.project_id,
        "stage": plan.stage.value,
        "parent_ids": list(plan.parent_ids),
        "engine_id": info.id,
        "seed": out.seed,
    }
    side: list[tuple[bytes, str]] = []
    if out.image is not None and (special := encode_image(out, plan.stage.value, params, lineage)) is not None:
        data, fmt, side = special  # a draft: JPEG preview + its latent
        kind = "image"
        thumb = make_thumbnail(out.image)  # from the preview's pixels: what the file shows until keep
    elif out.image is not None:
        data = encode_png(out.image, stage=plan.stage.value, parameters=params, lineage=lineage)
        kind, fmt = "image", "png"
        thumb = make_thumbnail(out.image)
    else:
        assert out.video_bytes is not None, "an engine output carries an image or a video"
        data = out.video_bytes
        kind, fmt = "video", out.video_format
        thumb = None
    return Encoded(asset_id, data, hashlib.sha256(data).hexdigest(), kind, fmt, out, params, thumb, side)


def make_thumbnail(image) -> bytes:
    """A WebP of at most THUMB_PX on its long edge: what gallery lists show instead of the full file."""
    import io

    thumb = image.convert("RGB") if image.mode != "RGB" else image.copy()
    # On the draft path (hot): reduce by an integer factor first, then resample the rest; WebP method 0.
    # ~2 ms for a 512² draft instead of ~17 ms with the defaults, at 256 px the difference is not visible.
    thumb.thumbnail((THUMB_PX, THUMB_PX), reducing_gap=1.0)
    buf = io.BytesIO()
    thumb.save(buf, format="WEBP", quality=80, method=0)
    return buf.getvalue()


def encode_and_write(services: Services, plan: RenderPlan, generation_id: str, out: Rendered,
                     info: EngineInfo) -> Encoded:
    """An encode thread's whole share of one output: encode it, then write its blobs."""
    return write_blobs(services, encode_output(plan, generation_id, out, info))


def write_blobs(services: Services, enc: Encoded) -> Encoded:
    """Write the blobs (thumbnail, side blobs, file), each durable when ``put`` returns; safe on any thread.

    What this call created is recorded in ``enc.created`` as it goes. A failure halfway is kept in
    ``enc.error`` rather than raised: the storing thread undoes and raises it in output order.
    """
    from tierflow.provenance.sources import keep

    created: list[tuple[str, str]] = []
    enc.created = created
    try:
        kept = keep(services.settings.home, enc.out.source, enc.params.get("provider")) if enc.out.source else None
        if kept:  # a hosted provider's own Content Credentials outlive the re-encode
            enc.params["c2pa_source"] = kept
        if enc.thumb is not None:
            enc.thumb_sha256 = _put(services, created, enc.thumb, THUMB_FORMAT)
        for data, ext in enc.side_blobs:  # a draft's latent, named in its params (stages/decode.py)
            _put(services, created, data, ext)
        _put(services, created, enc.data, enc.fmt)
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt too: nothing may stay half-written
        enc.error = e
    return enc


def _put(services: Services, created: list[tuple[str, str]], data: bytes, ext: str) -> str:
    sha, new = services.blobs.put(data, ext)
    if new:
        created.append((sha, ext))
    return sha


def store_encoded(services: Services, plan: RenderPlan, generation_id: str, enc: Encoded, info: EngineInfo) -> Asset:
    """The row, in its own transaction, once the blobs are written; undo new blobs if either fails."""
    if enc.created is None:  # not written on an encode thread: write here
        write_blobs(services, enc)
    if enc.error is not None:
        discard(services, enc)
        raise enc.error
    out = enc.out
    try:
        with services.db.transaction() as s:
            return AssetsRepo(s).add(
                project_id=plan.project_id, generation_id=generation_id, stage=plan.stage, kind=enc.kind,
                fmt=enc.fmt, width=out.width, height=out.height, sha256=enc.sha256, size_bytes=len(enc.data),
                seed=out.seed, engine_id=info.id, prompt_id=plan.prompt_id, prompt_text=plan.request.prompt,
                params=enc.params, parent_ids=list(plan.parent_ids), asset_id=enc.asset_id,
                thumb_sha256=enc.thumb_sha256,
            )
    except BaseException:
        discard(services, enc)
        raise


def discard(services: Services, enc: Encoded) -> None:
    """An output that will not be stored: delete the blobs its write created that no row names.

    Another render may have stored the same bytes meanwhile. Runs once: ``enc.created`` is emptied.
    """
    created, enc.created = enc.created or [], []
    for sha, fmt in created:
        drop_unnamed(services, sha, fmt)


def drop_unnamed(services: Services, sha: str, fmt: str) -> None:
    """Delete a blob this process created unless some asset row names it (the same bytes may be another's)."""
    with services.db.read() as s:
        in_use = AssetsRepo(s).sha_in_use(sha, fmt)
    if not in_use:
        services.blobs.delete(sha, fmt)


def persist_output(services: Services, plan: RenderPlan, generation_id: str, out: Rendered,
                   info: EngineInfo) -> Asset:
    """Encode and store one output on the calling thread."""
    return store_encoded(services, plan, generation_id, encode_output(plan, generation_id, out, info), info)
