"""Production stages in a real Chromium: paint a mask → inpaint (streamed) → open the child → upscale ×2."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.browser


@pytest.fixture()
def source(web_services):
    """One rendered 64 px image (through the stage: the flow needs a real blob and real pixels)."""
    from tierflow.stages.draft import draft
    from tierflow.storage.projects_repo import ProjectsRepo

    with web_services.db.transaction() as s:
        project = ProjectsRepo(s).create(f"production-{uuid.uuid4().hex[:6]}", min_drafts=0)
    return draft(web_services, project.id, "a red barn in a field", n=1, seed=4, size="64x64", steps=1).assets[0]


def asset_json(live_server, asset_id: str) -> dict:
    return httpx.get(f"{live_server.url}/api/v1/assets/{asset_id}").json()["asset"]


def finished_child(page) -> str:
    """Wait for the job to finish and its asset link to show; the new asset's id."""
    page.wait_for_selector("#stage-result:not([hidden])")
    page.wait_for_function("() => document.querySelector('#stage-status').textContent.startsWith('Finished')")
    return page.get_attribute("#stage-result", "data-asset-id")


def test_paint_a_mask_inpaint_then_upscale(page, live_server, source, artifacts_dir):
    page.goto(f"/assets/{source.id}")
    page.wait_for_selector("#mask-editor:not([hidden])")
    assert page.is_hidden("#media")  # the canvas lies where the image was
    canvas = page.locator("#mask-canvas")
    assert (canvas.get_attribute("width"), canvas.get_attribute("height")) == ("64", "64")

    page.fill("#inpaint-prompt", "a blue door")
    page.click("#form-inpaint button[type=submit]")  # nothing painted yet: refused in the page
    page.wait_for_selector("#toast:not([hidden])")
    assert "Paint the area" in page.text_content("#toast") and "invalid" in canvas.get_attribute("class")

    page.fill("#brush-size", "8")  # image px, whatever the canvas is shown at
    assert page.text_content("#brush-px") == "8 px"
    box = canvas.bounding_box()
    y = box["y"] + box["height"] * 0.5  # a horizontal stroke across the middle, a quarter to three quarters
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=8)
    page.mouse.up()
    page.screenshot(path=str(artifacts_dir / "inpaint-mask.png"))
    page.click("#form-inpaint button[type=submit]")
    child_id = finished_child(page)

    child = asset_json(live_server, child_id)
    assert child["stage"] == "cleanup" and child["parent_ids"] == [source.id]
    assert (child["width"], child["height"]) == (64, 64) and child["prompt"] == "a blue door"
    # the mask reached the server as the painted band (8 px x 32 px + round caps = ~7.5 % of 64 x 64),
    # and every pixel outside it came back untouched
    assert 0.06 < child["params"]["mask_share"] < 0.09 and child["params"]["unmasked_max_delta"] == 0
    page.wait_for_selector(f"#tree a[href='/assets/{child_id}']")  # the lineage shows the new child

    page.click("#stage-result")
    page.wait_for_url(f"**/assets/{child_id}")
    page.click("#stages [data-tab=upscale]")
    assert page.is_visible("#media") and page.is_hidden("#mask-editor")
    page.select_option("#upscale-to", "x2")
    page.click("#form-upscale button[type=submit]")
    big_id = finished_child(page)
    big = asset_json(live_server, big_id)
    assert big["stage"] == "upscale" and big["parent_ids"] == [child_id]
    assert (big["width"], big["height"]) == (2 * child["width"], 2 * child["height"])
    page.screenshot(path=str(artifacts_dir / "asset-stages.png"), full_page=True)
