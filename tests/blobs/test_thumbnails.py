"""Thumbnails: a small WebP derived from each image, stored content-addressed in the same store,
recorded on the asset, listed by the gallery and served like the file (on both stores)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from tierflow.stages.persist import THUMB_PX, make_thumbnail
from tierflow.storage.tables import AssetRow


def test_a_thumbnail_is_small_and_keeps_the_aspect_ratio():
    data = make_thumbnail(Image.new("RGB", (1024, 512), "red"))
    with Image.open(io.BytesIO(data)) as im:
        assert (im.format, im.size) == ("WEBP", (THUMB_PX, THUMB_PX // 2))
    assert len(data) < 5000


def test_drafts_get_thumbnails_listed_and_served(services, store_kind):
    from fastapi.testclient import TestClient

    from tierflow.delivery.api.app import create_app
    from tierflow.stages.draft import draft
    from tierflow.stages.recovery import sweep_orphan_blobs
    from tierflow.storage.projects_repo import ProjectsRepo

    with services.db.transaction() as s:
        project = ProjectsRepo(s).create("thumbs", min_drafts=0)
    [asset] = draft(services, project.id, "a kite over dunes", n=1, seed=5, size="64x64", steps=1).assets
    with services.db.read() as s:
        row = s.scalars(select(AssetRow)).one()
    assert row.thumb_sha256 and row.thumb_sha256 != row.sha256
    thumb = services.blobs.get(row.thumb_sha256, "webp")  # verified on read like any blob
    with Image.open(io.BytesIO(thumb)) as im:
        assert im.format == "WEBP" and max(im.size) <= THUMB_PX

    with TestClient(create_app(services)) as client:
        [listed] = client.get("/api/v1/assets").json()["assets"]
        assert listed["thumb_url"] == f"/api/v1/assets/{asset.id}/thumb"
        got = client.get(listed["thumb_url"], follow_redirects=False)
        if store_kind == "local":
            assert got.status_code == 200 and got.content == thumb and got.headers["content-type"] == "image/webp"
        else:
            assert got.status_code == 307 and httpx.get(got.headers["location"]).content == thumb

    # the sweep keeps a blob that a row names as its thumbnail
    assert sweep_orphan_blobs(services, older_than=-3600) == 0
    assert services.blobs.exists(row.thumb_sha256, "webp")
