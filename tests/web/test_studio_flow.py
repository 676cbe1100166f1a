"""The studio end to end in a real Chromium: create → draft (streamed) → keyboard review → promote → compare → export."""

from __future__ import annotations

import io
import os
import shutil

import httpx
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

# Record, in the page, when each draft card appeared and every job-status text, to prove streaming.
WATCH = """() => {
  window.__cards = []; window.__status = [];
  const t0 = performance.now();
  new MutationObserver(() => window.__cards.push({n: document.querySelectorAll('#cards .card').length, t: performance.now() - t0}))
    .observe(document.querySelector('#cards'), {childList: true});
  new MutationObserver(() => window.__status.push({s: document.querySelector('#job-status').textContent, t: performance.now() - t0}))
    .observe(document.querySelector('#job-status'), {childList: true, characterData: true, subtree: true});
}"""


def review_of(live_server, asset_id: str) -> str:
    return httpx.get(f"{live_server.url}/api/v1/assets/{asset_id}").json()["asset"]["review"]


def test_draft_review_promote_compare_export(page, live_server, artifacts_dir, tmp_path):
    name = "poster"  # fixed, so docs/studio.png only changes when the studio does
    page.goto("/")
    page.click("#new-project-btn")
    page.fill("#new-project-name", name)
    page.fill("#new-project-min", "3")
    page.click("#create-project-btn")
    page.wait_for_function("n => document.querySelector('#project').value === n", arg=name)
    page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")

    page.fill("#prompt", "a lighthouse at dusk, volumetric fog")
    page.fill("#n", "3")
    page.fill("#size", "64x64")
    page.fill("#seed", "7")
    page.evaluate(WATCH)
    page.keyboard.press("Control+Enter")

    page.wait_for_selector("#cards .card >> nth=0", timeout=120_000)  # first use builds the tiny models
    page.wait_for_function("() => document.querySelector('#job-status').textContent.startsWith('done')", timeout=60_000)
    cards = page.evaluate("window.__cards")
    status = page.evaluate("window.__status")
    assert [c["n"] for c in cards] == [1, 2, 3], cards  # one card per `asset` event, never a batch
    first_card = cards[0]["t"]
    done = next(s["t"] for s in status if s["s"].startswith("done"))
    later_progress = [s for s in status if s["t"] > first_card and s["s"].startswith("variation 3/3")]
    assert first_card < done and later_progress, (cards, status)  # card 1 shown while variation 3 rendered

    ids = page.eval_on_selector_all("#cards .card", "els => els.map(e => e.dataset.id)")
    seeds = page.eval_on_selector_all("#cards .card .seed", "els => els.map(e => e.textContent)")
    assert len(set(ids)) == 3 and seeds[0] == "seed 7", seeds
    # every card's image loads (the browser may still be fetching the last one when `done` arrives)
    page.wait_for_function("() => [...document.querySelectorAll('#cards img')]"
                           ".every(i => i.complete && i.naturalWidth === 64)", timeout=15_000)

    # keyboard review: → keep, J discard, K K star (focus starts on the first card)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("1")
    page.wait_for_selector(f".card[data-id='{ids[1]}'][data-review='keep']")
    page.keyboard.press("j")
    page.keyboard.press("2")
    page.wait_for_selector(f".card[data-id='{ids[2]}'][data-review='discard']")
    page.keyboard.press("k")
    page.keyboard.press("k")
    page.keyboard.press("3")
    page.wait_for_selector(f".card[data-id='{ids[0]}'][data-review='star']")
    assert [review_of(live_server, i) for i in ids] == ["star", "keep", "discard"]
    assert "3 of 3" in page.text_content("#policy")

    # promote the kept card: edit the prompt, lower the strength
    page.keyboard.press("ArrowRight")
    page.keyboard.press("p")
    page.wait_for_selector("#promote-panel:not([hidden])")
    assert page.input_value("#promote-prompt") == "a lighthouse at dusk, volumetric fog"
    assert page.input_value("#promote-size") == "64x64"
    page.fill("#promote-prompt", "a lighthouse at dusk, volumetric fog, golden hour")
    page.eval_on_selector("#promote-strength", "e => { e.value = '0.5'; e.dispatchEvent(new Event('input')); }")
    assert page.text_content("#promote-strength-out") == "0.50"
    page.click("#promote-go")
    page.wait_for_selector("#compare-link")
    page.wait_for_function("() => document.querySelector('#promote-progress').hidden")
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    page.evaluate("document.querySelector('#toast').hidden = true")  # the README picture shows the work, not a toast
    shot = artifacts_dir / "studio.png"
    page.screenshot(path=str(shot))
    if os.environ.get("TIERFLOW_UPDATE_SCREENSHOT"):  # refresh the README picture on purpose only
        shutil.copyfile(shot, artifacts_dir.parent / "docs" / "studio.png")

    page.click("#compare-link")
    page.wait_for_url("**/compare/*")
    final_id = page.url.rsplit("/", 1)[1]
    final = httpx.get(f"{live_server.url}/api/v1/assets/{final_id}").json()["asset"]
    assert final["stage"] == "final" and final["parent_ids"] == [ids[1]]
    assert final["prompt"].endswith("golden hour") and final["params"]["strength"] == 0.5
    page.wait_for_function("() => ['#draft-img', '#final-img', '#slider-before', '#slider-after']"
                           ".every(s => { const i = document.querySelector(s); return i.complete && i.naturalWidth > 0; })")
    assert page.get_attribute("#draft-img", "src") == f"/api/v1/assets/{ids[1]}/file"
    assert page.get_attribute("#final-img", "src") == f"/api/v1/assets/{final_id}/file"
    if "drift" in final["params"]:
        page.wait_for_selector("#drift:not([hidden])")
        shown = page.text_content("#drift [data-metric='overall'] b")
        assert shown.startswith(f"{final['params']['drift']['overall']:.1f}")
    page.screenshot(path=str(artifacts_dir / "compare.png"), full_page=True)
    page.eval_on_selector("#slider-range", "e => { e.value = '20'; e.dispatchEvent(new Event('input')); }")
    assert "20%" in page.get_attribute("#slider .after", "style")

    with page.expect_download() as dl:
        page.click("#export-link")
    path = tmp_path / "export.png"
    dl.value.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    exported = Image.open(io.BytesIO(data))
    assert exported.size == (64, 64) and "golden hour" in exported.info.get("parameters", "")
