"""Page shells without a browser: every route renders, URL values come back escaped, static files are served."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client(web_services):
    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(web_services)) as c:
        yield c


@pytest.mark.parametrize("path", ["/", "/gallery", "/prompts", "/projects", "/projects/p1",
                                  "/assets/ast_0123456789abcdef", "/compare/ast_0123456789abcdef"])
def test_every_page_renders(client, path):
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<link rel="stylesheet" href="/static/studio.css">' in r.text


def test_url_values_are_escaped(client):
    hostile = '"><script>alert(1)</script>'
    r = client.get("/", params={"project": hostile, "prompt": hostile})
    assert "<script>alert(1)" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = client.get("/gallery", params={"project": hostile, "search": hostile})
    assert "<script>alert(1)" not in r.text


def test_static_assets_are_vendored(client):
    for name in ("api.js", "studio.js", "gallery.js", "studio.css", "favicon.svg"):
        assert client.get(f"/static/{name}").status_code == 200
    assert client.get("/static/../pages.py").status_code == 404
