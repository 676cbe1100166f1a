"""The gallery over 20,000 assets: keyset pages, filters, prompt search, dates — never loading everything."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.web.seed import seed_gallery

pytestmark = pytest.mark.browser

N = 20_000
STAGES = ("draft", "final")
REVIEWS = ("unreviewed", "keep", "discard", "star")


@pytest.fixture(scope="module")
def big_project(web_services, live_server):
    name = f"gallery-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    rows = [{"prompt": f"lighthouse at dusk no {i}" if i % 100 == 0 else f"forest study no {i}",
             "stage": "final" if i % 10 == 0 else "draft", "review": REVIEWS[i % 4],
             "engine": "tiny-final" if i % 10 == 0 else "tiny-draft"} for i in range(N)]
    rows += [{"prompt": f"archive <b>march</b> {d}", "created_at": datetime(2024, 3, d, 12, tzinfo=UTC)} for d in range(1, 6)]
    ids = seed_gallery(web_services, name, rows, newest=now)
    return name, ids


def tile_ids(page) -> list[str]:
    return page.eval_on_selector_all("#grid .tile", "els => els.map(e => e.dataset.id)")


def wait_tiles(page, n: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('#grid .tile').length === n", arg=n)


def test_pages_filters_search_and_dates(page, live_server, big_project, artifacts_dir):
    name, ids = big_project
    started = time.perf_counter()
    page.goto(f"/gallery?project={name}")
    wait_tiles(page, 48)
    first_page_s = time.perf_counter() - started
    print(f"gallery first page over {N} assets: {first_page_s:.2f} s")
    assert first_page_s < 10
    api = f"{live_server.url}/api/v1/assets?project={name}"
    t = time.perf_counter()
    cursor = httpx.get(f"{api}&limit=480").json()["next_cursor"]
    deep = httpx.get(f"{api}&limit=48&cursor={cursor}").json()
    print(f"API page after 480 assets: {time.perf_counter() - t:.3f} s (two calls)")
    assert [a["id"] for a in deep["assets"]] == ids[480:528]
    assert tile_ids(page) == ids[:48]  # newest first
    page.click("#more")
    wait_tiles(page, 96)
    assert tile_ids(page) == ids[:96]  # the cursor continues exactly where page one stopped
    page.screenshot(path=str(artifacts_dir / "gallery.png"))
    assert page.is_visible("#more")

    page.select_option("#f-stage", "final")
    wait_tiles(page, 48)
    page.wait_for_function("() => [...document.querySelectorAll('#grid .tile')].every(t => t.dataset.stage === 'final')")
    assert "stage=final" in page.url

    page.select_option("#f-state", "star")
    page.wait_for_function("() => [...document.querySelectorAll('#grid .tile')].every(t => t.dataset.review === 'star')")
    page.select_option("#f-engine", "tiny-final")
    page.wait_for_function("() => [...document.querySelectorAll('#grid .tile')].every(t => t.dataset.review === 'star')")

    # prompt search over the remaining filters (final, tiny-final): the 200 "lighthouse" rows, 48 a page
    page.select_option("#f-state", "")
    page.fill("#f-search", "lighthouse dusk")
    page.press("#f-search", "Enter")
    page.wait_for_function("() => [...document.querySelectorAll('#grid .tile')].every(t => t.title.startsWith('lighthouse'))")
    wait_tiles(page, 48)
    for shown in (96, 144, 192, 200):
        page.click("#more")
        wait_tiles(page, shown)
    assert page.is_hidden("#more")
    assert len(set(tile_ids(page))) == 200
    assert "search=lighthouse+dusk" in page.url

    # dates: from/to are whole local days; only the five March 2024 rows are that old
    page.goto(f"/gallery?project={name}&since=2024-03-02&until=2024-03-04")
    wait_tiles(page, 3)
    titles = page.eval_on_selector_all("#grid .tile", "els => els.map(e => e.title)")
    assert titles == ["archive <b>march</b> 4", "archive <b>march</b> 3", "archive <b>march</b> 2"]
    assert page.locator("#grid b").count() == 0  # prompt text is shown as text, never as markup
    assert page.is_hidden("#more")


def test_search_without_match_shows_empty_state(page, big_project):
    name, _ = big_project
    page.goto(f"/gallery?project={name}&search=zebra")
    page.wait_for_selector("#empty:not([hidden])")
    assert tile_ids(page) == []
