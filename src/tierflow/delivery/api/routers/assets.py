"""/assets: the gallery (filters, prompt search, keyset paging), one asset's family, its file and export."""

from __future__ import annotations

import base64
import binascii
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from tierflow.delivery.api import auth, refs
from tierflow.delivery.api.deps import ReadSessionDep, ServicesDep
from tierflow.delivery.api.schemas import AssetPage, asset_public
from tierflow.domain.errors import BlobMissing, InvalidInput
from tierflow.domain.ids import check_id
from tierflow.domain.models import Asset, ReviewState, Stage
from tierflow.storage.assets_repo import AssetsRepo, GalleryQuery
from tierflow.storage.blobs import asset_file as verified_asset_file

router = APIRouter(prefix="/assets", tags=["assets"])

MEDIA_TYPES = {"png": "image/png", "mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg"}


@router.get("", response_model=AssetPage)
def list_assets(
    session: ReadSessionDep,
    principal: auth.PrincipalDep,
    project: str | None = Query(None, max_length=200),
    search: str | None = Query(None, max_length=200, description="Words that must all appear in the prompt."),
    stage: Stage | None = None,
    state: ReviewState | None = None,
    engine: str | None = Query(None, max_length=80),
    prompt_id: str | None = Query(None, max_length=80, description="Only assets of this prompt thread (prm_…)."),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page."),
) -> dict[str, Any]:
    """Assets newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
    query = GalleryQuery(
        project_id=refs.project(session, project).id if project else None,
        search=search.strip() or None if search else None, stage=stage, review=state, engine_id=engine,
        prompt_id=prompt_id,
        since=_utc(since), until=_utc(until), limit=limit + 1, before=decode_cursor(cursor) if cursor else None,
    )
    assets = AssetsRepo(session).gallery(query)
    more = len(assets) > limit
    assets = assets[:limit]
    ids = auth.readable_ids(session, principal)  # a page may come back short; the cursor still moves on
    return {"assets": [asset_public(a) for a in assets if auth.visible(ids, a.project_id)],
            "next_cursor": encode_cursor(assets[-1]) if more and assets else None}


@router.get("/{asset_id}")
def show_asset(asset_id: str, session: ReadSessionDep) -> dict[str, Any]:
    """An asset, its ancestors (nearest first), its whole family tree and its reviews."""
    repo = AssetsRepo(session)
    asset = repo.get(asset_id)
    ancestors = repo.ancestors(asset.id)
    root = ancestors[-1] if ancestors else asset.id
    reviews = [{"id": r.id, "state": r.state.value, "seconds": r.seconds, "user_id": r.user_id,
                "created_at": r.created_at.isoformat()} for r in repo.reviews_of(asset.id)]
    return {"asset": asset_public(asset), "ancestors": ancestors, "root": root,
            "tree": _tree(repo.descendants_tree(root)), "reviews": reviews}


@router.get("/{asset_id}/file", response_class=Response,
            responses={200: {"content": {"image/png": {}, "video/mp4": {}}}, 206: {"description": "A byte range"}})
def asset_file(asset_id: str, services: ServicesDep, request: Request) -> Response:
    """The stored blob, by the sha256 the database records; ``Range`` requests answer 206.

    From a local store the file is checked against its sha256 before a byte is sent (409 naming
    the asset if it is missing or not the recorded bytes), then streamed in chunks; ``Range`` /
    ``If-Range`` serve parts (video scrubbing), ``If-None-Match`` with the ETag (the sha256) answers
    304. An object store hands the browser a short-lived presigned URL (307) instead of the studio
    proxying the bytes through Python.
    """
    asset = _asset(services, asset_id)
    return _blob_response(services, request, asset, thumb=False)


@router.get("/{asset_id}/thumb", response_class=Response, responses={200: {"content": {"image/webp": {}}}})
def asset_thumb(asset_id: str, services: ServicesDep, request: Request) -> Response:
    """The asset's small WebP thumbnail (256 px), for gallery grids; the file itself when it has none."""
    asset = _asset(services, asset_id)
    return _blob_response(services, request, asset, thumb=bool(asset.thumb_sha256))


def _blob_response(services, request: Request, asset: Asset, *, thumb: bool) -> Response:
    sha256, fmt = (asset.thumb_sha256, "webp") if thumb else (asset.sha256, asset.format)
    try:
        url = services.blobs.presigned_url(sha256, fmt)  # None: a store that serves no URLs (local disk)
    except BlobMissing as e:
        raise BlobMissing(f"asset {asset.id}: its stored file (blob {sha256[:12]}) is missing",
                          field="asset", fix=e.fix) from None
    # A draft preview's file and thumbnail are replaced by its full decode on keep (stages/decode.py):
    # those are revalidated (the ETag is the blob's sha256); every other asset's bytes never change.
    preview = asset.params.get("decoder") == "taesd"
    if url is not None:
        return RedirectResponse(url, status_code=307,
                                headers={"Cache-Control": "private, no-cache" if preview else "private, max-age=240"})
    path, stat = verified_asset_file(services.blobs, asset, thumb=thumb)
    headers = {"Cache-Control": "private, no-cache" if preview else "private, max-age=31536000, immutable",
               "ETag": f'"{sha256}"'}
    if _etag_matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return FileResponse(path, stat_result=stat, headers=headers,
                        media_type=MEDIA_TYPES.get(fmt, "application/octet-stream"))


@router.get("/{asset_id}/export", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def asset_export(asset_id: str, services: ServicesDep) -> Response:
    """The asset with its provenance re-embedded (PNG chunks + XMP) and a signed C2PA manifest, as a download."""
    check_id(asset_id, "asset")
    data, asset, signed = await run_in_threadpool(_export, services, asset_id)
    # Said, not silently skipped: a format C2PA cannot carry is delivered unsigned with the reason.
    credentials = "signed" if signed["signed"] else f"unsigned; {signed['warning']}"
    return Response(data, media_type=MEDIA_TYPES.get(asset.format, "application/octet-stream"),
                    headers={"Content-Disposition": f'attachment; filename="{asset.id}.{asset.format}"',
                             "X-Content-Credentials": credentials})


@router.get("/{asset_id}/credentials")
async def asset_credentials(asset_id: str, services: ServicesDep) -> dict[str, Any]:
    """The Content Credentials of this asset's export: signed, then verified (the asset page's badge)."""
    from tierflow.provenance.credentials import export_status

    check_id(asset_id, "asset")
    return await run_in_threadpool(export_status, services, asset_id)


# -- cursor ------------------------------------------------------------------------------------
def encode_cursor(asset: Asset) -> str:
    """An opaque cursor for keyset paging: (created_at, id) of the last asset shown."""
    raw = f"{asset.created_at.astimezone(UTC).isoformat()}|{asset.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, asset_id = raw.split("|", 1)
        when = datetime.fromisoformat(stamp)
        check_id(asset_id, "cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError, InvalidInput):
        raise InvalidInput("the cursor is not one this API issued", field="cursor",
                           fix="pass next_cursor from the previous page unchanged, or omit it") from None
    return _utc(when), asset_id


# -- internals ---------------------------------------------------------------------------------
def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _tree(node: dict[str, Any]) -> dict[str, Any]:
    a = node["asset"]
    return {"id": a.id, "stage": a.stage.value, "review": a.review.value, "file_url": asset_public(a)["file_url"],
            "children": [_tree(c) for c in node["children"]]}


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header names ``etag`` (weak comparison, as RFC 9110 asks for GET)."""
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _asset(services, asset_id: str) -> Asset:
    with services.db.read() as s:
        return AssetsRepo(s).get(asset_id)


def _export(services, asset_id: str) -> tuple[bytes, Asset, dict[str, Any]]:
    from tierflow.provenance.export import export_asset

    _asset(services, asset_id)  # 404 before anything is written
    with tempfile.TemporaryDirectory(prefix="tierflow-export-") as tmp:
        # a folder: the file is named after the asset's format once a draft preview is decoded (PNG)
        written = export_asset(services, asset_id, Path(tmp))
        return Path(written["path"]).read_bytes(), _asset(services, asset_id), written["credentials"]
