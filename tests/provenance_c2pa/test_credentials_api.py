"""The REST doors of Content Credentials: signed export download, POST /verify, the asset badge."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

V1 = "/api/v1"


@pytest.fixture(scope="module")
def client(services):
    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(services)) as c:
        yield c


def test_the_rest_export_is_signed_and_post_verify_reports_valid(client, chain):
    r = client.get(f"{V1}/assets/{chain.overlay.id}/export")
    assert r.status_code == 200 and r.headers["x-content-credentials"] == "signed"
    v = client.post(f"{V1}/verify", files={"file": ("overlay.png", r.content, "image/png")})
    assert v.status_code == 200, v.text
    body = v.json()
    assert body["status"] == "valid" and body["ok"] and len(body["chain"]) == 5
    assert [a["action"] for a in body["actions"]] == ["c2pa.opened", "c2pa.edited"]


def test_post_verify_reports_tampered_unsigned_and_unreadable_without_errors(client, chain, services):
    signed = bytearray(client.get(f"{V1}/assets/{chain.final.id}/export").content)
    signed[signed.index(b"IDAT") + 30] ^= 0x55
    tampered = client.post(f"{V1}/verify", files={"file": ("f.png", bytes(signed), "image/png")}).json()
    assert tampered["status"] == "tampered" and not tampered["ok"] and tampered["first_failure"] == "this file"
    stored = services.blobs.get(chain.final.sha256, "png")
    assert client.post(f"{V1}/verify", files={"file": ("s.png", stored, "image/png")}).json()["status"] == "unsigned"
    junk = client.post(f"{V1}/verify", files={"file": ("x.bin", b"\x00not an image" * 10, "application/x")}).json()
    assert junk["status"] in ("unreadable", "unsigned") and not junk["ok"]
    empty = client.post(f"{V1}/verify", files={"file": ("e.png", b"", "image/png")})
    assert empty.status_code == 422 and empty.json()["field"] == "file"
    assert client.post(f"{V1}/verify").status_code == 422


def test_the_asset_page_badge_shows_the_export_status(client, chain):
    r = client.get(f"{V1}/assets/{chain.cleanup.id}/credentials")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "valid" and body["credentials"]["signed"]
    assert [link["title"].split()[0] for link in body["chain"]] == ["cleanup", "final", "draft"]
    page = client.get(f"/assets/{chain.cleanup.id}")
    assert page.status_code == 200 and 'id="credentials"' in page.text and "/static/credentials.js" in page.text
    assert client.get("/static/credentials.js").status_code == 200
    assert client.get(f"{V1}/assets/ast_0000000000000000/credentials").status_code == 404
