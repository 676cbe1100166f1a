"""Offline API docs: Swagger UI at ``/docs`` and Redoc at ``/redoc`` from files on this machine.

FastAPI's own pages load Swagger UI and Redoc from a CDN, so they are blank on a machine without
internet. The assets come from the ``fastapi-offline`` package (a pinned release of swagger-ui and
redoc's standalone bundle, installed like any dependency); this module only points FastAPI's page
builders at them under ``/docs-static`` (Redoc without Google Fonts, so nothing leaves the machine).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/docs-static"
# Belt and braces: the pages may load nothing from elsewhere (Redoc's footer links a logo on its CDN;
# under this policy the browser never asks for it, and Redoc hides the broken image).
OFFLINE_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = OFFLINE_CSP
    return page


def assets_dir() -> Path:
    """Where the installed ``fastapi-offline`` keeps swagger-ui-bundle.js, swagger-ui.css and redoc."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from the vendored assets (create the app with docs_url=None, redoc_url=None)."""
    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"
    oauth_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def _root(request: Request) -> str:
        return request.scope.get("root_path", "")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return _offline(get_swagger_ui_html(openapi_url=root + openapi_url, title=f"{app.title} · API",
                                   oauth2_redirect_url=root + oauth_redirect,
                                   swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
                                   swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png"))

    @app.get(oauth_redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return _offline(get_redoc_html(openapi_url=root + openapi_url, title=f"{app.title} · API reference",
                              redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                              redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png", with_google_fonts=False))
