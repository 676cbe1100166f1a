"""Guardrails in the studio, in a real Chromium: a lead grants budget, sets a final cap, meets the block when
promoting, overrides it with a reason in the dialog, and sees the audit line; a designer sees it all read-only."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.web.conftest import LiveServer

pytestmark = pytest.mark.browser

NAME = "Tiny budget"  # a name with a space: commands shown for it must be quoted


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, models_dir, shared_database):
    """A live server whose services have the guardrails on (credits, policies, audit)."""
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.delivery.api.app import create_app
    from tierflow.guardrails.guard import LedgerGuard
    from tierflow.storage.projects_repo import ProjectsRepo

    home = tmp_path_factory.mktemp("guarded-home")
    services = build(Settings(home=home, database_url=shared_database(), preset="tiny", models_path=models_dir),
                     guard=LedgerGuard(home=home))
    with services.db.transaction() as s:
        ProjectsRepo(s).create(NAME, min_drafts=0)
    server = LiveServer(create_app(services)).start()
    yield server, services
    server.stop()
    services.close()


def _page(browser, url: str, errors: list[str], cookie: str | None = None):
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    if cookie:
        context.add_cookies([{"name": "tierflow_token", "value": cookie, "url": url}])
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    return context, page


def test_a_lead_grants_sets_a_cap_overrides_with_a_reason_and_a_designer_sees_it(browser, guarded, artifacts_dir):
    server, services = guarded
    errors: list[str] = []
    context, page = _page(browser, server.url, errors)
    project_url = f"/projects/{quote(NAME)}"

    page.goto(project_url)
    page.wait_for_selector("#balances tbody tr")
    page.fill("#grant-amount", "50")
    page.fill("#grant-reason", "kickoff budget")
    page.click("#grant-go")
    page.wait_for_function("() => document.querySelector('#balances tr[data-scope=project]')?.textContent.includes('50')")
    page.fill("#policy-final-cap", "0")
    page.fill("#policy-reason", "frozen for the client review")
    page.click("#policy-save")
    page.wait_for_function("() => document.querySelector('#policy').textContent.includes('final cap 0')")

    # the studio: one draft, then promote it and meet the cap
    page.goto(f"/?project={quote(NAME)}")
    page.wait_for_function("n => document.querySelector('#project').value === n", arg=NAME)
    page.wait_for_function("() => document.querySelector('#draft-engine').options.length > 0")
    page.fill("#prompt", "a lighthouse at dusk")
    page.fill("#n", "1")
    page.fill("#size", "64x64")
    page.fill("#seed", "7")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#cards .card >> nth=0", timeout=120_000)
    page.wait_for_function("() => document.querySelector('#job-status').textContent.startsWith('done')", timeout=60_000)
    page.click("#cards .card [data-act=keep]")
    page.wait_for_selector("#cards .card[data-review=keep]")
    page.click("#cards .card .promote-btn")
    page.wait_for_selector("#promote-panel:not([hidden])")
    page.fill("#promote-steps", "2")  # int(2 × 0.65) = 1 denoising step
    page.click("#promote-go")
    page.wait_for_selector("#override-dialog[open], #promote-result .error")
    assert not page.is_visible("#promote-result .error"), page.text_content("#promote-result")
    message = page.text_content("#override-message")
    assert "final cap: 0 of 0 finals used in milestone 'main'" in message
    assert f"-p '{NAME}'" in page.text_content("#override-fix")  # a command shown is quoted so it runs
    page.fill("#override-reason", "client review at 3")
    page.click("#override-go")
    page.wait_for_selector("#compare-link", timeout=60_000)

    page.goto(project_url)
    row = page.wait_for_selector("#audit tr[data-action='policy.override']")
    assert row.query_selector(".reason").text_content() == "client review at 3"
    assert page.locator("#audit tr[data-action='budget.grant'] .reason").text_content() == "kickoff budget"
    assert "finals count against milestone main: 1 of 0" in page.text_content("#counted")
    page.screenshot(path=str(artifacts_dir / "project-guardrails.png"), full_page=True)
    context.close()

    # a designer: the same facts, no controls
    from tierflow.storage.users_repo import UsersRepo

    with services.db.transaction() as s:
        users = UsersRepo(s)
        users.create("ada", "admin")
        users.create("dan", "designer")
        _, token = users.create_token("dan")
    context, page = _page(browser, server.url, errors, cookie=token)
    page.goto(project_url)
    page.wait_for_selector("#audit tr[data-action='policy.override']")
    assert page.is_visible("#guardrails-readonly") and not page.is_visible("#grant-go")
    assert not page.is_visible("#policy-save") and page.is_disabled("#policy-final-cap")
    assert page.input_value("#policy-final-cap") == "0"
    context.close()
    assert not errors, errors
