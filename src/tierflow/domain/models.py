"""The nouns of tiered work: workspaces, projects, prompt threads, generations, assets, reviews."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Stage(str, enum.Enum):
    """The stages of the flow, in reading order."""

    DRAFT = "draft"
    FINAL = "final"
    CLEANUP = "cleanup"
    UPSCALE = "upscale"
    VIDEO = "video"
    OVERLAY = "overlay"


class Tier(str, enum.Enum):
    """Which engine pool a stage renders on."""

    DRAFT = "draft"
    FINAL = "final"
    CLEANUP = "cleanup"
    UPSCALE = "upscale"
    VIDEO = "video"


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ReviewState(str, enum.Enum):
    UNREVIEWED = "unreviewed"
    KEEP = "keep"
    DISCARD = "discard"
    STAR = "star"

    @property
    def usable(self) -> bool:
        """Kept and starred assets count as usable."""
        return self in (ReviewState.KEEP, ReviewState.STAR)


class Role(str, enum.Enum):
    DESIGNER = "designer"
    LEAD = "lead"
    ADMIN = "admin"


@dataclass
class Workspace:
    id: str
    name: str
    created_at: datetime


@dataclass
class Project:
    id: str
    workspace_id: str
    name: str
    created_at: datetime
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class Milestone:
    id: str
    project_id: str
    name: str
    created_at: datetime
    due: datetime | None = None


@dataclass
class PromptThread:
    """A prompt and its edits: drafts and finals of one idea share a thread."""

    id: str
    project_id: str
    text: str
    created_at: datetime
    parent_id: str | None = None  # the prompt this one was edited from
    negative: str = ""


@dataclass
class Generation:
    """One render job: a stage run on an engine with parameters; makes one or more assets."""

    id: str
    project_id: str
    stage: Stage
    engine_id: str
    params: dict[str, Any]
    status: JobStatus
    created_at: datetime
    prompt_id: str | None = None
    milestone_id: str | None = None
    user_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    credits: float = 0.0
    reservation_id: str | None = None
    outputs: int = 0
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    spec: dict[str, Any] | None = None  # the job's stage spec (domain.specs), on a job's first row
    queue: str | None = None  # who renders it while queued: "durable" | "inprocess"; None: run in place
    after_id: str | None = None  # a chained step: the generation that must succeed before it runs

    @property
    def is_job(self) -> bool:
        """A job's first row (the one `tierflow jobs` and the events follow)."""
        return self.spec is not None and self.after_id is None

    @property
    def head_id(self) -> str:
        """The job's first row (itself, or the row a chained step belongs to)."""
        return str(self.params.get("chain_of") or self.id)

    @property
    def cancel_requested(self) -> bool:
        return bool(self.params.get("cancel_requested"))

    @property
    def chain(self) -> list[str]:
        """The generation ids of the job's plans in order (one, or e.g. an upscale then its creative pass)."""
        return list(self.params.get("chain") or [self.id])

    @property
    def seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


@dataclass
class Asset:
    """An image or video blob with what made it and where it came from."""

    id: str
    project_id: str
    generation_id: str
    stage: Stage
    kind: str  # "image" | "video"
    format: str  # "png" | "mp4"
    width: int
    height: int
    sha256: str
    size_bytes: int
    seed: int | None
    created_at: datetime
    parent_ids: list[str] = field(default_factory=list)
    prompt_id: str | None = None
    prompt: str = ""
    engine_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    review: ReviewState = ReviewState.UNREVIEWED
    tags: list[str] = field(default_factory=list)
    reviewed_at: datetime | None = None
    thumb_sha256: str | None = None  # a small WebP derived from the image (None: videos, older assets)

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape used by the CLI's ``--json`` and the REST API."""
        return {
            "id": self.id,
            "project_id": self.project_id,
            "generation_id": self.generation_id,
            "stage": self.stage.value,
            "kind": self.kind,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "seed": self.seed,
            "created_at": self.created_at.isoformat(),
            "parent_ids": list(self.parent_ids),
            "prompt_id": self.prompt_id,
            "prompt": self.prompt,
            "engine_id": self.engine_id,
            "params": self.params,
            "review": self.review.value,
            "tags": list(self.tags),
        }


@dataclass
class Review:
    """One review action; ``seconds`` is the human time it took (the human cost)."""

    id: str
    asset_id: str
    state: ReviewState
    created_at: datetime
    seconds: float | None = None
    user_id: str | None = None
