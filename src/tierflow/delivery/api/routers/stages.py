"""/assets/{asset_id}/inpaint|outpaint|upscale|video|overlay: the production stages after promote.

The render stages follow /generations: the body becomes a stage spec, the job backend submits it
(validated, admitted and reserved synchronously), and the answer is 202 with the job's events URL (the same stream and job routes
as any generation). ``?quote=true`` prices the plan instead (200) and queues nothing. Overlay is
drawn by Pillow, not an engine, so it runs in the request and answers 201 with the new asset.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from PIL import Image

from tierflow.delivery.api import auth
from tierflow.delivery.api.deps import JobsDep, ServicesDep
from tierflow.delivery.api.mask_body import OPENAPI as INPAINT_BODY
from tierflow.delivery.api.mask_body import inpaint_body
from tierflow.delivery.api.schemas import (
    API,
    InpaintOptions,
    OutpaintCreate,
    OverlayCreate,
    StageAccepted,
    StageQuote,
    UpscaleCreate,
    VideoCreate,
    asset_public,
)
from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import check_id
from tierflow.domain.specs import OutpaintSpec, OverlaySpec, VideoSpec
from tierflow.jobs.backend import JobBackend

router = APIRouter(prefix="/assets", tags=["stages"])

QuoteQuery = Annotated[bool, Query(description="Answer the price in credits (200) and queue nothing.")]
RESPONSES: dict[int | str, dict[str, Any]] = {200: {"model": StageQuote, "description": "with ?quote=true"}}


@router.post("/{asset_id}/inpaint", status_code=202, response_model=StageAccepted, responses=RESPONSES,
             openapi_extra=INPAINT_BODY)
def inpaint(asset_id: str, body: Annotated[tuple[InpaintOptions, Image.Image], Depends(inpaint_body)],
            services: ServicesDep, jobs: JobsDep, principal: auth.PrincipalDep, quote: QuoteQuery = False) -> Any:
    """Repaint the white part of a PNG mask (multipart ``mask`` file, or a data URL in JSON)."""
    from tierflow.stages.cleanup import inpaint_spec

    _check(services, principal, asset_id)
    options, mask = body
    spec = inpaint_spec(asset_id, mask, options.prompt, strength=options.strength, engine=options.engine,
                        seed=options.seed, steps=options.steps, user_id=_user(principal))
    return _queue(services, jobs, spec, quote)


@router.post("/{asset_id}/outpaint", status_code=202, response_model=StageAccepted, responses=RESPONSES)
def outpaint(asset_id: str, body: OutpaintCreate, services: ServicesDep, jobs: JobsDep,
             principal: auth.PrincipalDep, quote: QuoteQuery = False) -> Any:
    """Extend the canvas by px per side and paint the new border."""
    _check(services, principal, asset_id)
    spec = OutpaintSpec(asset_id, left=body.left, right=body.right, top=body.top, bottom=body.bottom,
                        prompt=body.prompt, feather=body.feather, engine=body.engine, seed=body.seed,
                        steps=body.steps, user_id=_user(principal))
    return _queue(services, jobs, spec, quote)


@router.post("/{asset_id}/upscale", status_code=202, response_model=StageAccepted, responses=RESPONSES)
def upscale(asset_id: str, body: UpscaleCreate, services: ServicesDep, jobs: JobsDep,
            principal: auth.PrincipalDep, quote: QuoteQuery = False) -> Any:
    """Upscale to 2k, 4k or a factor (x2), optionally with a creative pass (``creative``: a strength in
    (0, 0.5]); the answer carries the readiness warnings."""
    from tierflow.stages.upscale import upscale_spec

    _check(services, principal, asset_id)
    spec = upscale_spec(asset_id, body.to, engine=body.engine, creative=body.creative,
                        creative_engine=body.creative_engine, creative_prompt=body.creative_prompt,
                        creative_tile=body.creative_tile, user_id=_user(principal))
    return _queue(services, jobs, spec, quote)


@router.post("/{asset_id}/video", status_code=202, response_model=StageAccepted, responses=RESPONSES)
def video(asset_id: str, body: VideoCreate, services: ServicesDep, jobs: JobsDep,
          principal: auth.PrincipalDep, quote: QuoteQuery = False) -> Any:
    """Animate an image into a short MP4 (a video asset is refused)."""
    _check(services, principal, asset_id)
    spec = VideoSpec(asset_id, body.prompt, seconds=body.seconds, frames=body.frames, fps=body.fps,
                     engine=body.engine, seed=body.seed, long_side=body.long_side, steps=body.steps,
                     user_id=_user(principal))
    return _queue(services, jobs, spec, quote)


@router.post("/{asset_id}/overlay", status_code=201)
def overlay(asset_id: str, body: OverlayCreate, services: ServicesDep, principal: auth.PrincipalDep) -> dict[str, Any]:
    """Draw a text layer onto a copy of the image, stored now as a new asset (0 credits)."""
    from tierflow.app import service
    from tierflow.imaging.typography import SHIPPED_FONTS, TextLayer

    _check(services, principal, asset_id)
    if body.font is not None and body.font not in SHIPPED_FONTS:
        # a path would let a client probe the server's files: the API offers the shipped fonts only
        raise InvalidInput(f"unknown font {body.font!r}", field="font", fix=f"use one of {', '.join(SHIPPED_FONTS)}")
    layer = TextLayer(text=body.text, font=body.font, size=body.size, color=body.color,
                      position=_point(body.position),
                      box=body.box, stroke_width=body.stroke, stroke_color=body.stroke_color,
                      shadow_offset=body.shadow, shadow_color=body.shadow_color)
    result = service.run(services, OverlaySpec(asset_id, layer.to_dict(), user_id=_user(principal)))
    return {"asset": asset_public(result.assets[0]), "generation_id": result.generation_id,
            "credits": result.credits, "warnings": result.warnings}


def _point(position: str) -> str | tuple[int, int]:
    """``"X,Y"`` as a point (the text's top-left); anything else is a named position, checked by the stage."""
    parts = position.split(",")
    if len(parts) == 2 and all(p.strip().lstrip("-").isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return position.strip()


def _check(services, principal, asset_id: str) -> None:
    check_id(asset_id, "asset_id")
    auth.check_refs(services, principal, asset_id=asset_id)


def _user(principal) -> str | None:
    """Per-user daily limits and the audit trail name the signed-in user (none on a single-user install)."""
    return None if principal.local else principal.user_id


def _queue(services, jobs: JobBackend, spec, quote: bool) -> Any:
    """The price (``quote``), or the spec submitted as a job: 202 with the events URL."""
    from tierflow.app import service

    if quote:
        q = service.quote(services, spec)
        last = q.parts[-1]  # the size the render will make is the last step's
        return JSONResponse({"credits": q.credits, "engine_id": q.parts[0]["engine_id"], "stage": q.parts[0]["stage"],
                             "width": last["width"], "height": last["height"], "parts": q.parts})
    job = jobs.submit(spec)
    return {"job_id": job.id, "status": job.status.value, "events_url": f"{API}/generations/{job.id}/events",
            "warnings": list(job.warnings)}
