"""Signing in to the studio: pages redirect to /login (the API keeps its JSON 401), the header offers Sign out."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

PAGES = ["/", "/gallery?stage=draft", "/prompts", "/projects", "/projects/p1", "/assets/ast_0123456789abcdef",
         "/compare/ast_0123456789abcdef"]


@pytest.fixture()
def services(home, models_dir):
    from tierflow.bootstrap import build
    from tierflow.config import Settings
    from tierflow.stages.guard import OpenGuard

    svc = build(Settings(home=home, preset="tiny", models_path=models_dir), guard=OpenGuard())
    yield svc
    svc.close()


@pytest.fixture()
def client(services):
    from tierflow.delivery.api.app import create_app

    with TestClient(create_app(services)) as c:
        yield c


@pytest.fixture()
def token(services) -> str:
    from tierflow.storage.users_repo import UsersRepo

    with services.db.transaction() as s:
        UsersRepo(s).create("ada", "admin")
        return UsersRepo(s).create_token("ada")[1]


def test_single_user_mode_opens_pages_without_sign_out(client):
    for path in PAGES:
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 200 and 'id="sign-out"' not in r.text, path


def test_pages_redirect_to_login_and_the_api_answers_401(client, token):
    for cookie in (None, "tf_not_a_token"):  # no cookie, and a stale one: both go to the sign-in page
        client.cookies.clear()
        if cookie:
            client.cookies.set("tierflow_token", cookie)
        for path in PAGES:
            r = client.get(path, follow_redirects=False)
            assert r.status_code == 303, (path, r.status_code, r.text[:200])
            assert r.headers["location"] == f"/login?next={quote(path, safe='')}"
    r = client.get("/api/v1/projects", follow_redirects=False)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert client.get("/static/studio.css").status_code == 200
    login = client.get("/login")
    assert login.status_code == 200 and 'id="sign-out"' not in login.text


def test_sign_in_shows_sign_out_and_sign_out_forgets_the_cookie(client, token):
    r = client.post("/login", data={"token": token, "next": "/gallery"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/gallery"
    page = client.get("/gallery")
    assert page.status_code == 200
    assert 'id="sign-out"' in page.text and '<span class="muted small" id="signed-in-as">ada</span>' in page.text
    assert 'action="/logout"' in page.text and 'method="post"' in page.text
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/gallery", follow_redirects=False).status_code == 303


@pytest.mark.browser
def test_browser_signs_in_out_and_an_expired_sign_in_goes_back_to_login(browser, client, services, token):
    from tests.web.conftest import LiveServer
    from tierflow.storage.users_repo import UsersRepo

    server = LiveServer(client.app).start()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/projects")
        page.wait_for_url("**/login?next=%2Fprojects")
        page.fill("#token", token)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/projects")
        assert page.text_content("#signed-in-as") == "ada"
        page.click("#sign-out")
        page.wait_for_url("**/login")
        page.goto("/gallery")
        page.wait_for_url("**/login?next=%2Fgallery")

        page.fill("#token", token)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/gallery", wait_until="networkidle")  # its first page loaded while signed in
        with services.db.transaction() as s:  # revoked while the page is open: its next API call is 401
            repo = UsersRepo(s)
            repo.revoke(repo.tokens("ada")[0].id)
        page.fill("#f-search", "fox")
        page.press("#f-search", "Enter")
        page.wait_for_url("**/login?next=%2Fgallery*")
    finally:
        context.close()
        server.stop()
