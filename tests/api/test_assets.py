"""The gallery over HTTP: filters, search, keyset paging, one asset's family, files, export, reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tierflow.provenance.png import read_png_metadata

V1 = "/api/v1"


def test_gallery_pages_by_cursor_without_gaps_or_repeats(client, drafts, services, project):
    from tierflow.stages.draft import draft

    more = draft(services, project.id, "a blue whale", n=3, seed=1, size="64x64", steps=1).assets
    everything = client.get(f"{V1}/assets").json()
    assert everything["next_cursor"] is None and len(everything["assets"]) == 5
    seen, cursor = [], None
    while True:
        page = client.get(f"{V1}/assets", params={"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
        assert len(page["assets"]) <= 2
        seen += [a["id"] for a in page["assets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [a["id"] for a in everything["assets"]]  # newest first, every asset exactly once
    assert set(seen) == {a.id for a in drafts + more}


def test_gallery_filters_and_search(client, drafts, project):
    get = lambda **p: [a["id"] for a in client.get(f"{V1}/assets", params=p).json()["assets"]]  # noqa: E731
    ids = {a.id for a in drafts}
    assert set(get(search="fox")) == ids and set(get(search="RED snow")) == ids
    assert get(search="whale") == [] and get(search="100%") == []
    assert set(get(project=project.name)) == ids and set(get(project=project.id)) == ids
    assert set(get(stage="draft")) == ids and get(stage="final") == []
    assert set(get(engine="tiny-draft")) == ids and get(engine="other") == []
    client.post(f"{V1}/assets/{drafts[0].id}/reviews", json={"state": "star"})
    assert get(state="star") == [drafts[0].id] and get(state="unreviewed") == [drafts[1].id]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert get(since=future) == [] and set(get(until=future)) == ids


def test_gallery_rejects_bad_filters_naming_the_field(client, drafts):
    for params, status, field in [
        ({"stage": "sketch"}, 422, "stage"), ({"state": "maybe"}, 422, "state"), ({"limit": 0}, 422, "limit"),
        ({"limit": 100000}, 422, "limit"), ({"since": "yesterday"}, 422, "since"),
        ({"cursor": "not-a-cursor"}, 422, "cursor"), ({"project": "nope"}, 404, "project"),
        ({"project": "prj_../../x"}, 422, "project"),
    ]:
        r = client.get(f"{V1}/assets", params=params)
        assert r.status_code == status and r.json()["field"] == field, (params, r.text)


def test_asset_detail_file_and_export_with_provenance(client, drafts, services):
    a = drafts[0]
    detail = client.get(f"{V1}/assets/{a.id}").json()
    assert detail["asset"]["id"] == a.id and detail["asset"]["export_url"] == f"{V1}/assets/{a.id}/export"
    assert detail["ancestors"] == [] and detail["tree"] == {"id": a.id, "stage": "draft", "review": "unreviewed",
                                                             "file_url": f"{V1}/assets/{a.id}/file", "children": []}
    f = client.get(f"{V1}/assets/{a.id}/file")
    assert f.status_code == 200 and f.headers["content-type"] == "image/jpeg"  # a draft preview
    assert f.content == services.blobs.get(a.sha256, "jpg")
    e = client.get(f"{V1}/assets/{a.id}/export")
    assert e.status_code == 200 and e.headers["content-type"] == "image/png"
    assert e.headers["content-disposition"] == f'attachment; filename="{a.id}.png"'
    meta = read_png_metadata(e.content)
    assert meta["tierflow"]["asset_id"] == a.id and meta["tierflow"]["seed"] == a.seed
    assert "a red fox in snow" in meta["parameters"] and f"Seed: {a.seed}" in meta["parameters"]
    assert meta["digital_source_type"] and "trainedAlgorithmicMedia" in meta["digital_source_type"]


def test_review_records_state_and_seconds(client, drafts):
    r = client.post(f"{V1}/assets/{drafts[0].id}/reviews", json={"state": "keep", "seconds": 4.5})
    assert r.status_code == 200 and r.json()["asset"]["review"] == "keep"
    reviews = client.get(f"{V1}/assets/{drafts[0].id}").json()["reviews"]
    assert [(x["state"], x["seconds"]) for x in reviews] == [("keep", 4.5)]
    for body, field in [({"state": "maybe"}, "state"), ({"state": "keep", "seconds": -1}, "seconds"), ({}, "state")]:
        r = client.post(f"{V1}/assets/{drafts[0].id}/reviews", json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text


def test_unknown_and_path_like_asset_ids(client, drafts):
    for suffix in ("", "/file", "/export"):
        r = client.get(f"{V1}/assets/ast_0123456789abcdef{suffix}")
        assert r.status_code == 404 and r.json()["error"] == "not_found" and r.json()["field"] == "asset"
        for bad in ("..", "ast_..%2F..%2Fetc", "..%5C..%5Cwin.ini", "ast_123%00", "%2E%2E"):
            r = client.get(f"{V1}/assets/{bad}{suffix}")
            assert r.status_code in (404, 422), (bad, suffix, r.status_code)
            assert r.headers["content-type"] == "application/json" and "error" in r.json()
    r = client.get(f"{V1}/assets/ast_..%2F..%2Fetc/file")
    assert r.status_code in (404, 422)
    r = client.post(f"{V1}/assets/..%2Fx/reviews", json={"state": "keep"})
    assert r.status_code in (404, 422) and "error" in r.json()
    r = client.get(f"{V1}/assets/not..an..id")
    assert r.status_code == 422 and r.json()["field"] == "asset"


def test_asset_file_streams_the_verified_file_and_answers_range_requests(client, drafts, services):
    a = drafts[0]
    url, etag = f"{V1}/assets/{a.id}/file", f'"{a.sha256}"'
    data = services.blobs.get(a.sha256, a.format)
    assert len(data) > 100
    full = client.get(url)
    assert full.status_code == 200 and full.content == data and full.headers["content-length"] == str(len(data))
    assert full.headers["etag"] == etag and full.headers["accept-ranges"] == "bytes"
    assert full.headers["cache-control"] == "private, no-cache"  # a draft preview: replaced on keep

    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.content == data[10:100]
    assert part.headers["content-range"] == f"bytes 10-99/{len(data)}" and part.headers["content-length"] == "90"
    assert part.headers["content-type"] == "image/jpeg" and part.headers["etag"] == etag
    assert client.get(url, headers={"Range": "bytes=-16"}).content == data[-16:]
    assert client.get(url, headers={"Range": "bytes=0-3", "If-Range": etag}).status_code == 206
    stale = client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"another-version"'})
    assert stale.status_code == 200 and stale.content == data  # the copy changed: the whole file
    assert client.get(url, headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416

    again = client.get(url, headers={"If-None-Match": f'W/"x", {etag}'})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": '"x"'}).status_code == 200
    assert services.blobs.verified.hashed == 1  # eight requests, one pass over the file


def test_asset_file_hashes_a_changed_blob_again_after_a_verified_read(client, drafts, services):
    import os

    a = drafts[0]
    url = f"{V1}/assets/{a.id}/file"
    path = services.blobs.path_for(a.sha256, a.format)
    original, before = path.read_bytes(), path.stat()
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206  # checked and remembered

    damaged = bytearray(original)
    damaged[40:44] = bytes(b ^ 0xFF for b in damaged[40:44])
    path.write_bytes(bytes(damaged))  # same size, same inode; only the times say it was written
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    for headers in ({"Range": "bytes=0-9"}, {}):
        r = client.get(url, headers=headers)
        assert r.status_code == 409 and r.json()["error"] == "blob_corrupt", r.text
        assert a.id in r.json()["detail"] and "fsck --repair" in r.json()["fix"]

    path.write_bytes(original)
    assert client.get(url).content == original
    path.write_bytes(original[:-1])  # shorter, with the remembered file's times put back
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert client.get(url, headers={"Range": "bytes=0-9"}).status_code == 409
    path.unlink()
    r = client.get(url)
    assert r.status_code == 409 and r.json()["error"] == "blob_missing" and a.id in r.json()["detail"]


def test_asset_thumb_is_served_from_the_verified_file(client, drafts, services):
    a = drafts[0]
    assert a.thumb_sha256
    r = client.get(f"{V1}/assets/{a.id}/thumb")
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert r.content == services.blobs.get(a.thumb_sha256, "webp") and r.headers["etag"] == f'"{a.thumb_sha256}"'
    services.blobs.path_for(a.thumb_sha256, "webp").unlink()
    r = client.get(f"{V1}/assets/{a.id}/thumb")
    assert r.status_code == 409 and r.json()["error"] == "blob_missing"
    assert a.id in r.json()["detail"] and "thumbnail" in r.json()["detail"]
