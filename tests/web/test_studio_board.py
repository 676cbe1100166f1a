"""The studio's board survives a reload, prices come before every render, and an engine that cannot run
here cannot be submitted."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

PRICE = re.compile(r"^[\d.,]+ credits · [\d.,-]+ left after$")


def _new_project(base: str, min_drafts: int) -> str:
    name = f"board-{uuid.uuid4().hex[:6]}"
    r = httpx.post(f"{base}/api/v1/projects", json={"name": name, "min_drafts": min_drafts})
    assert r.status_code == 201, r.text
    return name


def _draft_in_ui(page, name: str, prompt: str, n: int) -> list[str]:
    page.goto("/")
    page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")
    page.select_option("#project", name)
    page.fill("#prompt", prompt)
    page.fill("#n", str(n))
    page.fill("#size", "64x64")
    page.fill("#steps", "1")
    page.click("#draft-btn")
    page.wait_for_selector(f"#cards .card >> nth={n - 1}", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#job-status').textContent.startsWith('done')")
    return page.eval_on_selector_all("#cards .card", "els => els.map(e => e.dataset.id)")


def test_a_reload_keeps_the_board_with_its_reviews(page, live_server):
    name = _new_project(live_server.url, min_drafts=5)
    ids = _draft_in_ui(page, name, "a paper boat on a canal", 3)
    page.click(f".card[data-id='{ids[0]}'] [data-act=keep]")
    page.wait_for_selector(f".card[data-id='{ids[0]}'][data-review='keep']")
    page.click(f".card[data-id='{ids[2]}'] [data-act=star]")
    page.wait_for_selector(f".card[data-id='{ids[2]}'][data-review='star']")
    page.wait_for_function("() => document.querySelector('#policy').textContent.includes('3 of 5')")

    page.reload()
    page.wait_for_selector("#cards .card >> nth=2")
    assert page.eval_on_selector_all("#cards .card", "els => els.map(e => e.dataset.id)") == ids
    reviews = page.eval_on_selector_all("#cards .card", "els => els.map(e => e.dataset.review)")
    assert reviews == ["keep", "unreviewed", "star"]
    assert page.input_value("#prompt") == "a paper boat on a canal"
    page.wait_for_function("() => document.querySelector('#policy').textContent.includes('3 of 5')")

    # drafting the same prompt again adds to the thread; the pill counts the server's drafts
    page.fill("#n", "2")
    page.click("#draft-btn")
    page.wait_for_selector("#cards .card >> nth=4", timeout=60_000)
    page.wait_for_function("() => document.querySelector('#policy').textContent.includes('draft-first met: 5 of 5')")


def test_an_engine_that_cannot_run_is_disabled_and_refused(page, live_server, monkeypatch):
    name = _new_project(live_server.url, min_drafts=0)
    engines = {e["id"]: e for e in httpx.get(f"{live_server.url}/api/v1/engines").json()["engines"]}
    blocked = [e for e in engines.values() if e["tier"] == "draft" and e["runnable"] is False]
    assert blocked, "no draft engine is unavailable here (a hosted one without its API key is expected)"
    engine = blocked[0]
    page.goto("/")
    page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")
    option = page.locator(f"#draft-engine option[value='{engine['id']}']")
    assert option.is_disabled() and "unavailable" in option.text_content()
    note = page.locator(f"#engines-unavailable li[data-engine='{engine['id']}']")
    assert engine["fix"] in note.text_content()
    assert page.eval_on_selector("#draft-engine", "s => s.selectedOptions[0].disabled") is False

    # A page that still offers it (forced here) is refused by the API before anything is queued.
    page.select_option("#project", name)
    page.fill("#prompt", "a fox")
    page.fill("#size", "64x64")
    page.evaluate("id => { const o = document.querySelector(`#draft-engine option[value='${id}']`);"
                  " o.disabled = false; o.selected = true; }", engine["id"])
    page.click("#draft-btn")
    page.wait_for_selector("#toast:not([hidden])")
    assert "cannot run here" in page.text_content("#toast") and engine["id"] in page.text_content("#toast")
    assert page.locator("#cards .card").count() == 0
    assert httpx.get(f"{live_server.url}/api/v1/generations", params={"project": name}).json()["generations"] == []


def test_engine_notices_show_once(page, live_server, web_services):
    notice = "draft: test notice for sd-turbo (shown once)"
    web_services.engines.notices.append(notice)
    try:
        page.goto("/")
        page.wait_for_function("t => document.querySelector('#toast').textContent.includes(t)", arg=notice)
        page.reload()
        page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")
        page.wait_for_timeout(300)
        assert notice not in (page.text_content("#toast") or "")
    finally:
        web_services.engines.notices.remove(notice)


@pytest.fixture(scope="module")
def priced_server(tmp_path_factory, models_dir, shared_database):
    """A studio whose guard prices renders (the ledger guard) with a 50-credit project."""
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.delivery.api.app import create_app
    from tierflow.guardrails.budget import grant_in_session
    from tierflow.guardrails.guard import LedgerGuard
    from tierflow.storage.projects_repo import ProjectsRepo

    home = tmp_path_factory.mktemp("priced-home")
    svc = build(Settings(home=home, database_url=shared_database(), preset="tiny", models_path=models_dir),
                guard=LedgerGuard(home=home))
    with svc.db.transaction() as s:
        repo = ProjectsRepo(s)
        p = repo.create("priced", min_drafts=0)
        grant_in_session(s, repo.row(p.id), 50.0, user_id="lead")
    server = LiveServer(create_app(svc)).start()
    yield server
    server.stop()
    svc.close()


def test_the_price_shows_before_draft_and_promote_and_the_charge_after(browser, priced_server):
    context = browser.new_context(base_url=priced_server.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/")
        page.wait_for_function("() => document.querySelector('#project').value === 'priced'")
        page.fill("#prompt", "a tin robot in the rain")
        page.fill("#n", "2")
        page.fill("#size", "64x64")
        page.fill("#steps", "1")
        page.wait_for_function("() => / left after$/.test(document.querySelector('#draft-price').textContent)")
        assert PRICE.match(page.text_content("#draft-price")), page.text_content("#draft-price")
        page.click("#draft-btn")
        page.wait_for_selector("#cards .card >> nth=1", timeout=120_000)
        page.wait_for_function("() => document.querySelector('#job-status').textContent.includes('charged')")
        assert re.search(r"quoted [\d.,]+ · charged [\d.,]+ credits", page.text_content("#job-status"))

        page.click("#cards .card >> nth=0 >> [data-act=keep]")
        page.wait_for_selector("#cards .card[data-review='keep']")
        page.click("#cards .card >> nth=0 >> [data-act=promote]")
        page.wait_for_function("() => / left after$/.test(document.querySelector('#promote-price').textContent)")
        before = page.text_content("#promote-price")
        assert PRICE.match(before), before
        credits = float(page.get_attribute("#promote-price", "data-credits"))
        assert credits > 0
        page.fill("#promote-size", "64x64")
        page.fill("#promote-steps", "2")
        page.click("#promote-go")
        page.wait_for_function("() => document.querySelector('#promote-bill, #promote-result .error')", timeout=120_000)
        assert page.locator("#promote-result .error").count() == 0, page.text_content("#promote-result")
        assert re.search(r"quoted [\d.,]+ · charged [\d.,]+ credits", page.text_content("#promote-bill"))
    finally:
        context.close()
    assert not errors, errors
