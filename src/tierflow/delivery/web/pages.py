"""Page routes of the web studio and its vendored static files.

Each page is a server-rendered shell: Jinja2 (autoescaped) renders the layout and the values that
arrive in the URL, and a small script per page reads the same JSON API any other client uses
(``/api/v1``). So the studio cannot drift from the API, and pages stay fast however many assets
exist: the gallery only ever asks for one keyset page at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"

_env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def render(name: str, *, active: str, title: str, request: Request | None = None, **context: Any) -> HTMLResponse:
    """One page from ``templates/name`` with the shared layout's values filled in.

    ``request`` names the signed-in user in the header (set by the login guard); without it, or in
    single-user mode, the header has no Sign-out.
    """
    principal = getattr(request.state, "principal", None) if request is not None else None
    user = principal.name if principal is not None and not principal.local else None
    role = principal.role.value if principal is not None else "admin"  # no login guard: the local admin
    html = _env.get_template(name).render(active=active, title=title, user=user, role=role, **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _q(request: Request, key: str) -> str:
    return request.query_params.get(key, "")


def studio(request: Request) -> HTMLResponse:
    """Draft, review and promote; ``?project=&prompt=`` pre-fill it (the prompts page's Restore)."""
    return render("studio.html", active="studio", title="Studio", request=request,
                  project=_q(request, "project"), prompt=_q(request, "prompt"), negative=_q(request, "negative"))


def compare(request: Request, final_id: str) -> HTMLResponse:
    """A final next to its draft, and as a before/after slider, with the drift score."""
    return render("compare.html", active="", title="Compare", request=request, final_id=final_id)


def gallery(request: Request) -> HTMLResponse:
    """Every asset, filtered and searched, one keyset page at a time."""
    filters = {k: _q(request, k) for k in ("project", "stage", "state", "engine", "since", "until", "search")}
    return render("gallery.html", active="gallery", title="Gallery", request=request, filters=filters)


def asset(request: Request, asset_id: str) -> HTMLResponse:
    """One asset: parameters, review, lineage tree, export and the production stages."""
    return render("asset.html", active="", title="Asset", request=request, asset_id=asset_id)


def prompts(request: Request) -> HTMLResponse:
    """Every prompt ever run, each restorable into the studio in one click."""
    return render("prompts.html", active="prompts", title="Prompts", request=request, project=_q(request, "project"))


def projects(request: Request) -> HTMLResponse:
    """Every project, linking to its dashboard."""
    return render("projects.html", active="projects", title="Projects", request=request)


def project(request: Request, ref: str) -> HTMLResponse:
    """A project's budget, policy state and metrics."""
    return render("project.html", active="projects", title="Project", request=request, ref=ref)


def mount(app: FastAPI) -> None:
    """Add the studio's page routes and ``/static`` to ``app`` (the API's create_app calls this)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    html = {"response_class": HTMLResponse, "include_in_schema": False}
    app.add_api_route("/", studio, methods=["GET"], name="page_studio", **html)
    app.add_api_route("/compare/{final_id}", compare, methods=["GET"], name="page_compare", **html)
    app.add_api_route("/gallery", gallery, methods=["GET"], name="page_gallery", **html)
    app.add_api_route("/assets/{asset_id}", asset, methods=["GET"], name="page_asset", **html)
    app.add_api_route("/prompts", prompts, methods=["GET"], name="page_prompts", **html)
    app.add_api_route("/projects", projects, methods=["GET"], name="page_projects", **html)
    app.add_api_route("/projects/{ref}", project, methods=["GET"], name="page_project", **html)
