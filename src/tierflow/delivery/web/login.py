"""The studio's sign-in: ``/login`` stores an API token in a cookie the REST API accepts.

The cookie is HttpOnly (page scripts never see the token) and SameSite=Lax: a cross-site POST or
PUT does not carry it, which is what keeps cookie auth safe from CSRF, while a link into the studio
still works. While no user exists (single-user install) every page opens without signing in.
"""

from __future__ import annotations

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from tierflow.delivery.api.auth import COOKIE, credentials, signed_in
from tierflow.delivery.web.pages import render
from tierflow.domain.access import NotSignedIn

MAX_AGE = 30 * 24 * 3600
# Paths that answer for themselves: the API says 401 in JSON; static files and docs hold no data.
OPEN_PREFIXES = ("/api/", "/static/", "/login", "/logout", "/docs", "/redoc", "/openapi.json", "/favicon")


def _safe_next(value: str | None) -> str:
    """Only a local path, so the login form cannot be used to bounce people to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def login_page(request: Request) -> HTMLResponse:
    """The sign-in form."""
    return render("login.html", active="", title="Sign in", error="", next=_safe_next(request.query_params.get("next")))


def login(request: Request, token: str = Form(""), next: str = Form("/")) -> Response:
    """Check the token; on success set the cookie and go back to the page that asked."""
    services = request.app.state.services
    try:
        principal = signed_in(services, token.strip() or None)
    except NotSignedIn as e:
        page = render("login.html", active="", title="Sign in", error=str(e), next=_safe_next(next))
        page.status_code = 401
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    if not principal.local:
        response.set_cookie(COOKIE, token.strip(), max_age=MAX_AGE, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


def logout() -> RedirectResponse:
    """Forget the cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


class LoginRequired:
    """ASGI middleware: a studio page opened without a valid sign-in redirects to ``/login?next=…``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope.get("method") != "GET" or path.startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            # kept on the request (scope["state"]) so the page can name the user beside Sign out
            request.state.principal = await run_in_threadpool(signed_in, scope["app"].state.services,
                                                              credentials(request))
        except NotSignedIn:
            target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
            from urllib.parse import quote

            await RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install(app: FastAPI) -> None:
    """Add ``/login``, ``/logout`` and the page guard to the studio (call after the pages are mounted)."""
    html = {"include_in_schema": False}
    app.add_api_route("/login", login_page, methods=["GET"], response_class=HTMLResponse, name="page_login", **html)
    app.add_api_route("/login", login, methods=["POST"], name="login", response_model=None, **html)
    app.add_api_route("/logout", logout, methods=["POST", "GET"], name="logout", **html)
    app.add_middleware(LoginRequired)
