"""The plans a stage builds and the runner carries out, and what a run reports (data only).

    RenderPlan   a validated request for an engine, with what the job and its assets record
    ComposePlan  a derived asset made in-process (overlay: Pillow, no engine, 0 credits)
    PromptRef    a prompt thread entry found or created when the job is opened (planning writes nothing)
    StageEvent   started | progress | asset | finished | failed, as a run goes
    StageResult  the generation, its assets, credits and warnings
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tierflow.domain.errors import TierflowError
from tierflow.domain.models import Asset, Stage
from tierflow.engines.base import Engine, EngineInfo, Progress, Rendered, RenderRequest


@dataclass
class StageEvent:
    """What a running stage reports: ``started``, ``progress``, ``asset``, ``finished`` or ``failed``."""

    kind: str
    generation_id: str | None = None
    progress: Progress | None = None
    asset: Asset | None = None
    error: TierflowError | None = None
    credits: float = 0.0
    warnings: list[str] = field(default_factory=list)


EventSink = Callable[[StageEvent], None]


@dataclass
class RenderPlan:
    """A validated request to run ``engine`` for ``stage`` on a project."""

    project_id: str
    stage: Stage
    engine: Engine
    request: RenderRequest
    prompt_id: str | None = None
    milestone_id: str | None = None
    user_id: str | None = None
    parent_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # stage-level parameters recorded on the job
    override: Any = None  # a policy override (lead role + reason), checked by the guard
    after_output: Callable[[Rendered, dict[str, Any]], None] | None = None  # adds to an asset's params
    new_prompt: PromptRef | None = None  # a prompt thread entry to find or create when the job is opened
    input_from: int | None = None  # a chained plan: the first output of plans[input_from] is its input
    input_param: str = "input_of"  # the parameter that records which asset that input was
    renders = True  # an engine renders it: the guard prices and reserves it

    @property
    def engine_id(self) -> str:
        return self.engine.id

    def describe(self) -> EngineInfo:
        return self.engine.describe()


@dataclass(frozen=True)
class PromptRef:
    """A prompt thread entry a plan records, found or created in the transaction that opens its job."""

    text: str
    negative: str = ""
    parent_id: str | None = None


@dataclass
class StageResult:
    generation_id: str
    assets: list[Asset]
    credits: float
    warnings: list[str]
    spec: Any = None  # the spec as run (random choices fixed), when the service ran one




@dataclass
class ComposePlan:
    """A derived asset made in-process: ``make()`` returns the one output; persisted like a render."""

    project_id: str
    stage: Stage
    info: EngineInfo  # what the asset records as its maker (tool and library versions)
    request: RenderRequest  # the recorded parameters (task, prompt, size)
    make: Callable[[], Rendered]
    prompt_id: str | None = None
    milestone_id: str | None = None
    user_id: str | None = None
    parent_ids: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    after_output: Callable[[Rendered, dict[str, Any]], None] | None = None
    new_prompt: PromptRef | None = None
    input_from: int | None = None
    input_param: str = "input_of"
    renders = False  # no engine render: nothing to price or reserve

    @property
    def engine_id(self) -> str:
        return self.info.id

    def describe(self) -> EngineInfo:
        return self.info
