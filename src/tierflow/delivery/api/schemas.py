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
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^/\\]+$")]
Ref = Annotated[str, Field(min_length=1, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- projects -----------------------------------------------------------------------------
class ProjectCreate(_In):
    name: Name
    description: str = Field("", max_length=5000)
    min_drafts: int = Field(10, ge=0, le=1_000_000)
    final_cap: int | None = Field(None, ge=0)
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


GenerationCreate = Annotated[DraftCreate | FinalCreate, Field(discriminator="stage")]


class JobAccepted(BaseModel):
    job_id: str
    status: str
    events_url: str


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
    min_drafts: int | None = Field(None, ge=0)
    final_cap: int | None = Field(None, ge=0)
    low_credit_threshold: float | None = Field(None, ge=0, lt=1)


class PolicyPublic(BaseModel):
    min_drafts: int
    final_cap: int | None
    low_credit_threshold: float | None


class BudgetPublic(BaseModel):
    granted: float
    reserved: float
    spent: float
    remaining: float | None
    unlimited: bool
    warnings: list[str]
    balances: list[dict[str, Any]] = []


# -- converters -----------------------------------------------------------------------------
def asset_public(asset: Asset) -> dict[str, Any]:
    """The contract's AssetPublic as a plain dict (cheap for pages of many assets)."""
    return asset.to_dict() | {"file_url": f"{API}/assets/{asset.id}/file",
                              "export_url": f"{API}/assets/{asset.id}/export"}


def project_public(project: Project, counts: dict[str, int] | None = None) -> dict[str, Any]:
    out = {"id": project.id, "name": project.name, "description": project.description,
           "created_at": project.created_at.isoformat(), **project.settings}
    if counts is not None:
        out["assets"] = counts
    return out
