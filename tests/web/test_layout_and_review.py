"""Gallery review in place, the dashboard chart (drawn here, no CDN) and pages that fit a phone."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from tests.web.seed import link, seed_gallery

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture()
def family(web_services):
    """A project with four drafts over two days (one kept) and a final made from the kept one."""
    name = f"layout-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    ids = seed_gallery(web_services, name, [
        {"prompt": "a kite over dunes", "stage": "final", "engine": "tiny-final", "review": "star"},
        {"prompt": "a kite over dunes", "review": "keep"},
        {"prompt": "a kite over dunes"},
        {"prompt": "a kite over dunes", "created_at": now - timedelta(days=1, seconds=5)},
        {"prompt": "a kite over dunes", "created_at": now - timedelta(days=1, seconds=9)},
    ], newest=now)
    link(web_services, ids[0], ids[1])
    return name, ids


def review_of(live_server, asset_id: str) -> str:
    return httpx.get(f"{live_server.url}/api/v1/assets/{asset_id}").json()["asset"]["review"]


def test_gallery_reviews_in_place_from_keys_and_in_bulk(page, live_server, family):
    name, ids = family
    page.goto(f"/gallery?project={name}")
    page.wait_for_function("() => document.querySelectorAll('#grid .tile').length === 5")
    page.keyboard.press("j")  # focus the first tile, then the second
    page.keyboard.press("j")
    page.keyboard.press("2")
    page.wait_for_selector(f".tile[data-id='{ids[1]}'][data-review='discard']")
    assert review_of(live_server, ids[1]) == "discard"

    page.click(f".tile[data-id='{ids[2]}'] .pick")
    page.click(f".tile[data-id='{ids[3]}'] .pick")
    assert page.text_content("#bulk-count") == "2 selected"
    page.click("#bulk [data-bulk=star]")
    page.wait_for_selector(f".tile[data-id='{ids[3]}'][data-review='star']")
    assert [review_of(live_server, i) for i in ids[2:4]] == ["star", "star"]
    page.keyboard.press("Escape")
    assert page.locator("#bulk").is_hidden()

    page.click(f".tile[data-id='{ids[4]}'] [data-act=keep]")
    page.wait_for_selector(f".tile[data-id='{ids[4]}'][data-review='keep']")
    assert review_of(live_server, ids[4]) == "keep"
    assert page.url.endswith(f"/gallery?project={name}")  # reviewed in place, never navigated


def test_dashboard_draws_its_chart_offline(page, live_server, family, artifacts_dir):
    name, _ = family
    outside: list[str] = []

    def gate(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", gate)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/projects/{name}")
    page.wait_for_selector("#trend-chart[data-ready=true]")
    metrics = httpx.get(f"{live_server.url}/api/v1/projects/{name}/metrics").json()
    ratio_points = [p for p in metrics["ratio_over_time"] if p["ratio"] is not None]
    assert page.locator("[data-chart=ratio] circle").count() == len(ratio_points) >= 1
    assert page.locator("[data-chart=spend] rect[data-day]").count() == len(metrics["spend_over_time"])
    assert page.locator("[data-chart=usable] rect[data-tier]").count() == len(metrics["usable_rate"])
    assert outside == []
    shot = artifacts_dir / "project.png"
    page.screenshot(path=str(shot), full_page=True)
    if os.environ.get("TIERFLOW_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, artifacts_dir.parent / "docs" / "project.png")


def test_no_page_is_wider_than_a_phone(browser, live_server, family, artifacts_dir):
    name, ids = family
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        pages = ["/", "/gallery", f"/gallery?project={name}", "/prompts", "/projects", f"/projects/{name}",
                 f"/assets/{ids[1]}", f"/compare/{ids[0]}", "/login", "/docs"]
        wide = {}
        for path in pages:
            page.goto(path)
            page.wait_for_load_state("load")
            page.wait_for_timeout(250)  # the page's script has filled it in
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide[path] = width
        assert wide == {}, wide

        page.goto(f"/?project={name}")
        page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")
        controls = page.locator(".controls").bounding_box()
        workspace = page.locator(".workspace").bounding_box()
        assert workspace["y"] >= controls["y"] + controls["height"] - 1  # one column: the workspace under the form
        assert workspace["width"] > 300
        page.evaluate("document.querySelector('#toast').hidden = true")
        shot = artifacts_dir / "studio-mobile.png"
        page.screenshot(path=str(shot))
        if os.environ.get("TIERFLOW_UPDATE_SCREENSHOT"):
            shutil.copyfile(shot, artifacts_dir.parent / "docs" / "studio-mobile.png")
    finally:
        context.close()
    assert not errors, errors
