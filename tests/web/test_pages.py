"""Prompts (restore in one click), asset detail (params, review, lineage, export) and the project dashboard."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.web.seed import link, seed_gallery, seed_prompts

pytestmark = pytest.mark.browser

HOSTILE = 'neon fox <img src=x onerror="window.__xss=1"> & "rain"'


@pytest.fixture()
def family(web_services, live_server):
    """A project with a kept draft and its final (one lineage edge), both under a hostile prompt."""
    name = f"pages-{uuid.uuid4().hex[:6]}"
    final, draft = seed_gallery(web_services, name, [
        {"prompt": HOSTILE, "stage": "final", "engine": "tiny-final"},
        {"prompt": HOSTILE, "stage": "draft", "review": "keep"},
    ], newest=datetime.now(UTC))  # ids come back newest first: the final, then its draft
    link(web_services, final, draft)
    return name, draft, final


def test_prompt_restore_fills_the_studio(page, web_services, family):
    name, _, _ = family
    seed_prompts(web_services, name, [HOSTILE, "a quiet harbour at dawn"])
    page.goto(f"/prompts?project={name}")
    row = page.locator("#prompts tbody tr", has_text="quiet harbour")
    row.wait_for()
    assert page.locator("#prompts tbody tr").count() == 2
    assert page.locator("#prompts img").count() == 0  # the hostile prompt is text
    assert page.locator("#prompts tbody tr", has_text="onerror").count() == 1
    page.locator("#prompts tbody tr", has_text="onerror").locator("a.restore").click()
    page.wait_for_url("**/?*")
    page.wait_for_function("n => document.querySelector('#project').value === n", arg=name)
    assert page.input_value("#prompt") == HOSTILE
    assert page.evaluate("window.__xss") is None


def test_asset_page_params_review_lineage_export(page, live_server, family, artifacts_dir):
    name, draft, final = family
    page.goto(f"/assets/{draft}")
    page.wait_for_selector(f"#tree a[href='/assets/{final}']")
    assert page.locator("#tree .current").text_content().startswith("draft")
    assert page.text_content("#params tr[data-key='seed'] td") == "1"
    assert page.text_content("#params tr[data-key='prompt'] td") == HOSTILE
    assert page.text_content("#params tr[data-key='params.seeded'] td") == "true"
    assert page.get_attribute("#export", "href") == f"/api/v1/assets/{draft}/export"
    # The Content Credentials badge: the export is signed and verified server-side.
    page.wait_for_function("() => document.querySelector('#credentials').dataset.status === 'valid'")
    assert page.text_content("#credentials").startswith("C2PA valid")
    page.keyboard.press("3")
    page.wait_for_function("() => document.querySelector('#review-state').textContent === 'star'")
    body = httpx.get(f"{live_server.url}/api/v1/assets/{draft}").json()
    assert body["asset"]["review"] == "star" and body["reviews"][-1]["state"] == "star"
    assert page.locator("#reviews tbody tr").count() == len(body["reviews"])

    page.click(f"#tree a[href='/assets/{final}']")
    page.wait_for_url(f"**/assets/{final}")
    page.wait_for_selector("#compare:not([hidden])")
    assert page.get_attribute("#compare", "href") == f"/compare/{final}"
    restore = page.get_attribute("#restore", "href")
    page.wait_for_function("() => document.querySelector('#restore').href.includes('project=pages-')")
    assert page.evaluate("window.__xss") is None and page.locator("#media img").count() == 1
    assert restore.startswith("/?")
    page.screenshot(path=str(artifacts_dir / "asset.png"), full_page=True)


def test_project_dashboard_shows_metrics(page, family, artifacts_dir):
    name, _, _ = family
    page.goto(f"/projects/{name}")
    page.wait_for_selector("#metrics [data-metric='drafts']")
    assert page.text_content("#metrics [data-metric='drafts'] b") == "1"
    assert page.text_content("#metrics [data-metric='finals'] b") == "1"
    assert page.text_content("#metrics [data-metric='draft_to_final_ratio'] b") == "1.0 : 1"
    assert page.locator("#metrics [data-metric='draft_to_final_ratio'].warn").count() == 1  # below the 3:1 band
    assert "draft-first" in page.text_content("#policy")
    assert page.locator("#stages tbody tr").count() == 2
    assert page.get_attribute("#studio-link", "href") == f"/?project={name}"
    assert page.text_content("#budget .budget-text").startswith("unlimited")  # the open guard: no budget set
    assert page.is_hidden("#low-credit")
    page.screenshot(path=str(artifacts_dir / "project.png"), full_page=True)


def test_budget_bar_and_low_credit_banner(page, family):
    """The widget the studio and dashboard share, fed a balance under the project's threshold."""
    name, _, _ = family
    page.goto(f"/projects/{name}")
    page.wait_for_selector("#budget:not([hidden])")
    page.evaluate("""() => tf.showBudget(document.querySelector('#budget'), document.querySelector('#low-credit'),
        {granted: 200, reserved: 10, spent: 180, remaining: 10, unlimited: false, warnings: []}, 20)""")
    assert page.text_content("#budget .budget-text") == "10 of 200 credits left"
    assert page.get_attribute("#budget .spent", "style") == "width: 90%;"
    assert "Low credit" in page.text_content("#low-credit") and page.is_visible("#low-credit")
    page.evaluate("""() => tf.showBudget(document.querySelector('#budget'), document.querySelector('#low-credit'),
        {granted: 200, reserved: 0, spent: 20, remaining: 180, unlimited: false, warnings: []}, 20)""")
    assert page.is_hidden("#low-credit")
