"""Overlay: brand text composited onto a copy of an image asset, stored as a new asset.

No engine renders here (Pillow draws the text), so the stage runs through
:func:`~tierflow.stages.compose.run_compose_on`: a job row, the output persisted with the source as
its parent, 0 credits. The layer spec is stored in the asset's ``params["layer"]``, so the text
can be edited and re-applied to the untouched original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tierflow.domain.models import Stage, Tier
from tierflow.domain.specs import OverlaySpec
from tierflow.engines.base import EngineInfo, Rendered, RenderRequest, library_versions
from tierflow.imaging.typography import TextLayer, render_overlay
from tierflow.stages.compose import ComposePlan
from tierflow.stages.runner import StageResult
from tierflow.stages.sources import get_asset, stored_image

if TYPE_CHECKING:
    from tierflow.app.service import StagePlan
    from tierflow.app.ports import Services

TASK_OVERLAY = "overlay"
OVERLAY_ENGINE = "pillow-overlay"


def overlay_info() -> EngineInfo:
    """The maker an overlay asset records: Pillow's text renderer, with its version."""
    # There is no overlay tier (no engine pool); overlay is a post-render edit like cleanup.
    return EngineInfo(id=OVERLAY_ENGINE, tier=Tier.CLEANUP, kind="local", pipeline="PIL.ImageDraw.text",
                      libraries=library_versions("pillow", "tierflow"),
                      description="text layer drawn with Pillow (FreeType)")


def plan_overlay_spec(services: Services, spec: OverlaySpec) -> StagePlan:
    """Validate the layer against the asset and draw it (cheap), ready to store; nothing is written."""
    from tierflow.app.service import StagePlan

    layer = TextLayer.from_dict(spec.layer)
    source = get_asset(services, spec.asset_id)
    image = stored_image(services, source)
    composed = render_overlay(image, layer)  # every bad input (font, box, colour, fit) fails here
    out = Rendered(index=0, seed=source.seed, image=composed,
                   metadata={"text_font": layer.font or "DejaVuSans"})
    request = RenderRequest(task=TASK_OVERLAY, prompt=source.prompt, seeds=[source.seed or 0],
                            width=composed.width, height=composed.height)
    plan = ComposePlan(
        project_id=source.project_id, stage=Stage.OVERLAY, info=overlay_info(), request=request,
        make=lambda: out, prompt_id=source.prompt_id, user_id=spec.user_id, parent_ids=[source.id],
        params={"overlay_of": source.id, "layer": layer.to_dict()},
    )
    return StagePlan(spec, [plan])


def plan_overlay(services: Services, asset_id: str, layer: TextLayer, *, user_id: str | None = None) -> ComposePlan:
    """Validate ``layer`` against the asset and draw it (cheap), ready to store; nothing is written."""
    spec = OverlaySpec(asset_id, layer.to_dict(), user_id=user_id)
    return plan_overlay_spec(services, spec).plans[0]  # type: ignore[return-value]


def overlay(services: Services, asset_id: str, layer: TextLayer, *, user_id: str | None = None,
            on_event=None) -> StageResult:
    """Store ``asset_id`` with ``layer`` drawn on it as a new asset; the original stays as it was."""
    from tierflow.app import service

    return service.run(services, OverlaySpec(asset_id, layer.to_dict(), user_id=user_id), on_event)
