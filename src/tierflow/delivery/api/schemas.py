"""Request and response shapes of the REST API (``*Create`` / ``*Update`` in, ``*Public`` out).

Bounds here mirror the domain checks so /docs tells the truth; the stages validate again (they
are the authority, and the CLI goes through them too).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tierflow.domain.models import Asset, Project
from tierflow.stages.inputs import MAX_PROMPT, MAX_VARIATIONS

API = "/api/v1"
# The rule itself is domain.names.check_name (the repositories apply it, for every door); this only caps size.
Name = Annotated[str, Field(max_length=1000)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]
# counts stored in an INTEGER column: bounded so a huge number is a 422, not a database overflow
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- projects -----------------------------------------------------------------------------
class ProjectCreate(_In):
    name: Name
    description: str = Field("", max_length=5000)
    min_drafts: Count = 10
    final_cap: Count | None = None
    private: bool = False


class ProjectPublic(BaseModel):
    id: str
    name: str
    description: str
    created_at: str
    private: bool
    min_drafts: int
    final_cap: int | None
    low_credit_threshold: float | None
    assets: dict[str, int] | None = None


class MilestoneCreate(_In):
    name: Name


class MilestonePublic(BaseModel):
    id: str
    name: str
    created_at: str


# -- generations (jobs) -------------------------------------------------------------------
class DraftCreate(_In):
    stage: Literal["draft"]
    project: Ref
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT)
    n: int = Field(4, ge=1, le=MAX_VARIATIONS)
    seed: int | None = Field(None, ge=0, lt=2**32)
    size: str | None = Field(None, max_length=20, examples=["512x512"])
    engine: str | None = Field(None, max_length=80)
    steps: int | None = Field(None, ge=1, le=1000)
    negative: str = Field("", max_length=MAX_PROMPT)
    milestone: str | None = Field(None, max_length=200)


class FinalCreate(_In):
    stage: Literal["final"]
    asset_id: str = Field(max_length=40)
    prompt: str | None = Field(None, min_length=1, max_length=MAX_PROMPT)
    strength: float = Field(0.65, gt=0, le=1)
    engine: str | None = Field(None, max_length=80)
    size: str | None = Field(None, max_length=20)
    steps: int | None = Field(None, ge=1, le=1000)
    milestone: str | None = Field(None, max_length=200)
    override_reason: str | None = Field(None, min_length=1, max_length=2000,
                                        description="Lead/admin: lift a policy block for this render (audited).")


GenerationCreate = Annotated[DraftCreate | FinalCreate, Field(discriminator="stage")]


class JobAccepted(BaseModel):
    job_id: str
    status: str
    events_url: str


# -- production stages (jobs, except overlay) ---------------------------------------------
class InpaintOptions(_In):
    """Inpaint fields besides the mask (a multipart upload sends these as form fields)."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, description="What to paint in the masked area.")
    strength: float | None = Field(None, gt=0, le=1)
    engine: str | None = Field(None, max_length=80)
    seed: int | None = Field(None, ge=0, lt=2**32)
    steps: int | None = Field(None, ge=1, le=1000)


class InpaintCreate(InpaintOptions):
    mask: str = Field(min_length=1, description="data:image/png;base64,… the image's size; white = repaint")


class OutpaintCreate(_In):
    left: int = Field(0, ge=0, le=8192)
    right: int = Field(0, ge=0, le=8192)
    top: int = Field(0, ge=0, le=8192)
    bottom: int = Field(0, ge=0, le=8192)
    prompt: str | None = Field(None, min_length=1, max_length=MAX_PROMPT)
    feather: int = Field(8, ge=0, le=512)
    engine: str | None = Field(None, max_length=80)
    seed: int | None = Field(None, ge=0, lt=2**32)
    steps: int | None = Field(None, ge=1, le=1000)


class UpscaleCreate(_In):
    to: str = Field("2k", min_length=1, max_length=10, examples=["2k", "4k", "x2"])
    engine: str | None = Field(None, max_length=80)
    creative: float | None = Field(None, ge=0, le=0.5, description="Creative pass strength in (0, 0.5]; "
                                   "0 or absent: off. Re-renders the upscale in tiles to add detail.")
    creative_engine: str | None = Field(None, max_length=80, description="img2img engine for the pass.")
    creative_prompt: str | None = Field(None, min_length=1, max_length=MAX_PROMPT)
    creative_tile: int | None = Field(None, ge=64, le=4096, description="Tile px (default: the engine's).")


class DriftCheckCreate(_In):
    threshold: float = Field(10.0, ge=0, le=100, description="Flag drift above this (10 = visible).")
    engine: str | None = Field(None, max_length=80, description="Re-render on this engine instead.")
    limit: int = Field(50, ge=1, le=500, description="At most this many saved pairs, newest first.")


class VideoCreate(_In):
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT, description="The motion: what moves and how.")
    seconds: float | None = Field(None, gt=0, le=30)
    frames: int | None = Field(None, ge=1, le=10_000)
    fps: int | None = Field(None, ge=1, le=120)
    long_side: int | None = Field(None, ge=8, le=8192)
    engine: str | None = Field(None, max_length=80)
    seed: int | None = Field(None, ge=0, lt=2**32)
    steps: int | None = Field(None, ge=1, le=1000)


Point = tuple[Annotated[int, Field(ge=-100_000, le=100_000)], Annotated[int, Field(ge=-100_000, le=100_000)]]
Colour = Annotated[str, Field(min_length=1, max_length=40)]


class OverlayCreate(_In):
    text: str = Field(min_length=1, max_length=2000)
    font: str | None = Field(None, max_length=80, description="A shipped font name (DejaVuSans).")
    size: int | None = Field(None, ge=1, le=4000, description="px; default: the largest that fits.")
    color: Colour = "#ffffff"
    position: str = Field("center", min_length=1, max_length=40, description="center, top, bottom-left, ... or X,Y.")
    box: tuple[int, int, int, int] | None = Field(None, description="[x, y, w, h]: wrap and fit inside it.")
    stroke: int = Field(0, ge=0, le=200)
    stroke_color: Colour = "#000000"
    shadow: Point | None = Field(None, description="[dx, dy] drop-shadow offset in px.")
    shadow_color: Colour = "#00000099"


class StageQuote(BaseModel):
    credits: float
    engine_id: str
    stage: str
    width: int | None = None  # the size the render will make (a video: the engine's, in the source's aspect)
    height: int | None = None
    parts: list[dict[str, Any]] = []


class StageAccepted(JobAccepted):
    warnings: list[str] = []


class AssetPublic(BaseModel):
    """``Asset.to_dict()`` plus where to fetch the file and its export."""

    id: str
    project_id: str
    generation_id: str
    stage: str
    kind: str
    format: str
    width: int
    height: int
    sha256: str
    size_bytes: int
    seed: int | None
    created_at: str
    parent_ids: list[str]
    prompt_id: str | None
    prompt: str
    engine_id: str
    params: dict[str, Any]
    review: str
    tags: list[str]
    file_url: str
    thumb_url: str
    export_url: str


class JobPublic(BaseModel):
    job_id: str | None
    generation_id: str | None
    status: str
    stage: str
    engine_id: str
    project_id: str
    assets: list[AssetPublic]
    error: dict[str, Any] | None


class AssetPage(BaseModel):
    assets: list[AssetPublic]
    next_cursor: str | None


# -- reviews, policies, budget ------------------------------------------------------------
class ReviewCreate(_In):
    state: Literal["keep", "discard", "star"]
    seconds: float | None = Field(None, ge=0, le=86400)


class PolicyUpdate(_In):
    min_drafts: Count | None = None
    final_cap: Count | None = None
    low_credit_threshold: float | None = Field(None, ge=0, lt=1)
    reason: str = Field("", max_length=2000, description="Why (kept in the audit log).")


class PolicyPublic(BaseModel):
    min_drafts: int
    final_cap: int | None
    low_credit_threshold: float | None
    drafts_in_thread: int | None = None  # with ?prompt_id=: the drafts draft-first counts for that thread
    milestone: dict[str, Any] | None = None  # the milestone finals count against now


class BudgetPublic(BaseModel):
    granted: float
    reserved: float
    spent: float
    remaining: float | None
    unlimited: bool
    warnings: list[str]
    balances: list[dict[str, Any]] = []
    scope: str | None = None
    scope_id: str | None = None
    milestone: dict[str, Any] | None = None  # the milestone finals count against now


class GrantCreate(_In):
    amount: float = Field(gt=0, le=1e12, description="Credits to add.")
    scope: Literal["project", "workspace", "milestone"] | None = None
    milestone: str | None = Field(None, max_length=200, description="Name or id (the milestone's budget).")
    reason: str = Field("", max_length=2000, description="Why (kept in the audit log).")


class DailyLimitUpdate(_In):
    limit: float | None = Field(description="Credits the user may spend per UTC day; null lifts the limit.",
                                ge=0, le=1e12)


class MilestoneClose(_In):
    reason: str = Field("", max_length=2000, description="Why (kept in the audit log).")


# -- converters -----------------------------------------------------------------------------
def asset_public(asset: Asset) -> dict[str, Any]:
    """The contract's AssetPublic as a plain dict (cheap for pages of many assets)."""
    return asset.to_dict() | {"file_url": f"{API}/assets/{asset.id}/file",
                              "thumb_url": f"{API}/assets/{asset.id}/thumb" if asset.thumb_sha256
                              else f"{API}/assets/{asset.id}/file",
                              "export_url": f"{API}/assets/{asset.id}/export"}


def project_public(project: Project, counts: dict[str, int] | None = None) -> dict[str, Any]:
    out = {"id": project.id, "name": project.name, "description": project.description,
           "created_at": project.created_at.isoformat(), **project.settings}
    if counts is not None:
        out["assets"] = counts
    return out
