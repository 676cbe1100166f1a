"""Typed stage specs: what a user asked one stage to do, validated once, JSON round-trippable.

A spec is what every door builds (CLI options, a REST body, a web form) and what a queued job
carries in its row (``generations.spec``), so a worker renders exactly what was submitted without
re-reading the arguments. Checks that need no engine (ranges, ids, exclusive options) run when the
spec is made; the stage's planner checks the rest against the engine (sizes, steps, frames).

    STAGES   the flow, in order: one row per operation (spec class, the stage it records, the
             tier it renders on, the planner that turns a spec into render plans)

Pure Python: no torch, no SQLAlchemy, no HTTP.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

from tierflow.domain.errors import InvalidInput
from tierflow.domain.ids import check_id
from tierflow.domain.inputs import check_count, check_prompt, check_seed, check_strength, parse_size
from tierflow.domain.models import Stage, Tier

MAX_CREATIVE = 0.5  # above it the creative pass re-imagines the picture instead of adding detail
MAX_SECONDS = 30.0
DEFAULT_STRENGTH = 0.65
DEFAULT_FEATHER = 8


def _bad(field_name: str, message: str, fix: str) -> InvalidInput:
    return InvalidInput(message, field=field_name, fix=fix)


def _int(value: Any, name: str, *, lo: int | None = None, hi: int | None = None, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"{value!r} is not a whole number", f"pass an integer for {name}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"{lo}..{hi}" if hi is not None else f"{lo} or more"
        raise _bad(name, f"{value} is out of range", f"use {span} for {name}")


def _number(value: Any, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value)):
        raise _bad(name, f"{value!r} is not a number", f"pass a number for {name}")


def _text(value: Any, name: str, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _bad(name, f"{value!r} is not text", f"pass a string for {name}")


@dataclass(frozen=True)
class Spec:
    """Base of every stage spec: ``to_dict``/``from_dict`` (with ``"op"``) and JSON."""

    op: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_fields(cls, data: dict[str, Any]) -> Spec:
        return _from_fields(cls, data)


def _from_fields(cls: type, data: Any) -> Any:
    """Build ``cls`` from a mapping of its fields; an unknown or missing field is an error naming it."""
    what = getattr(cls, "op", "") or cls.__name__
    if not isinstance(data, dict):
        raise _bad("spec", f"{data!r} is not an object", f"pass a JSON object of the {what} options")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise _bad(unknown[0], f"unknown option {unknown[0]!r} for {what}", f"use only: {', '.join(known)}")
    for name, f in known.items():
        if name not in data and f.default is MISSING and f.default_factory is MISSING:
            raise _bad(name, f"{what} needs {name!r}", f"pass {name}")
    values = dict(data)
    for name, nested in _NESTED.get(cls.__name__, {}).items():
        if isinstance(values.get(name), dict):
            values[name] = _from_fields(nested, values[name])
    try:
        return cls(**values)
    except TypeError as e:  # a wrong type the checks did not name
        raise _bad("spec", str(e), f"check the {what} options") from None


@dataclass(frozen=True)
class OverrideRequest:
    """A lead's override of a blocking policy: who, with which role, and why (audited by the guard)."""

    user: str
    role: str
    reason: str

    def __post_init__(self) -> None:
        _text(self.user, "override.user", optional=False)
        _text(self.role, "override.role", optional=False)
        _text(self.reason, "override.reason", optional=False)
        if not self.reason.strip():
            raise _bad("reason", "an override needs a reason", "say why the policy may be broken (it is audited)")


@dataclass(frozen=True)
class DraftSpec(Spec):
    op: ClassVar[str] = "draft"
    project: str
    prompt: str
    n: int = 4
    seed: int | None = None
    size: str | None = None
    engine: str | None = None
    steps: int | None = None
    negative: str = ""
    milestone: str | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        _text(self.project, "project", optional=False)
        if not self.project.strip():
            raise _bad("project", "no project given", "pass a project name or id")
        check_prompt(self.prompt)
        check_count(self.n)
        _int(self.seed, "seed")
        check_seed(self.seed)
        _common(self)
        _text(self.negative, "negative", optional=False)


@dataclass(frozen=True)
class PromoteSpec(Spec):
    op: ClassVar[str] = "promote"
    asset_id: str
    prompt: str | None = None
    strength: float = DEFAULT_STRENGTH
    engine: str | None = None
    steps: int | None = None
    size: str | None = None
    milestone: str | None = None
    user_id: str | None = None
    override: OverrideRequest | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        if self.prompt is not None:
            check_prompt(self.prompt)
        _number(self.strength, "strength")
        check_strength(self.strength)
        _common(self)


@dataclass(frozen=True)
class InpaintSpec(Spec):
    op: ClassVar[str] = "inpaint"
    asset_id: str
    mask_png: str  # the mask as base64 PNG: white = repaint, black = keep
    prompt: str | None = None
    strength: float | None = None
    engine: str | None = None
    seed: int | None = None
    steps: int | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        _text(self.mask_png, "mask", optional=False)
        if not self.mask_png:
            raise _bad("mask", "the mask is empty", "pass a PNG the image's size (white = repaint)")
        if self.prompt is not None:
            check_prompt(self.prompt)
        _number(self.strength, "strength")
        if self.strength is not None:
            check_strength(self.strength)
        _int(self.seed, "seed")
        check_seed(self.seed)
        _common(self)


@dataclass(frozen=True)
class OutpaintSpec(Spec):
    op: ClassVar[str] = "outpaint"
    asset_id: str
    left: int = 0
    right: int = 0
    top: int = 0
    bottom: int = 0
    prompt: str | None = None
    feather: int = DEFAULT_FEATHER
    engine: str | None = None
    seed: int | None = None
    steps: int | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        for side in ("left", "right", "top", "bottom"):
            _int(getattr(self, side), side, lo=0, optional=False)
        _int(self.feather, "feather", lo=0, optional=False)
        if self.prompt is not None:
            check_prompt(self.prompt)
        _int(self.seed, "seed")
        check_seed(self.seed)
        _common(self)


@dataclass(frozen=True)
class CreativeSpec:
    """The upscale's optional creative pass: tiled low-strength img2img over the upscaled image."""

    strength: float
    engine: str | None = None
    prompt: str | None = None
    tile: int | None = None

    def __post_init__(self) -> None:
        ok = isinstance(self.strength, (int, float)) and not isinstance(self.strength, bool) \
            and math.isfinite(self.strength)
        if not ok or not 0.0 < self.strength <= MAX_CREATIVE:
            raise _bad("creative", f"{self.strength!r} is out of range",
                       f"use --creative in (0, {MAX_CREATIVE}] (e.g. 0.25), or 0 to leave the pass off")
        _text(self.engine, "creative_engine")
        if self.prompt is not None:
            check_prompt(self.prompt, field="creative_prompt")
        _int(self.tile, "creative_tile", lo=1)


def creative_pass(strength: float | None, *, engine: str | None = None, prompt: str | None = None,
                  tile: int | None = None) -> CreativeSpec | None:
    """The creative pass asked by door options (strength absent or 0: off; its options alone are an error)."""
    if strength is None or (not isinstance(strength, bool) and strength == 0):
        given = [name for name, value in (("--creative-engine", engine), ("--creative-prompt", prompt),
                                          ("--creative-tile", tile)) if value is not None]
        if given:
            raise _bad("creative", f"{', '.join(given)} without a creative strength",
                       "add --creative 0.25 (a strength in (0, 0.5]) or leave those options out")
        return None
    return CreativeSpec(strength, engine=engine, prompt=prompt, tile=tile)


@dataclass(frozen=True)
class UpscaleSpec(Spec):
    op: ClassVar[str] = "upscale"
    asset_id: str
    to: str = "2k"
    engine: str | None = None
    creative: CreativeSpec | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        _text(self.to, "to", optional=False)
        _common(self)


@dataclass(frozen=True)
class VideoSpec(Spec):
    op: ClassVar[str] = "video"
    asset_id: str
    prompt: str
    seconds: float | None = None
    frames: int | None = None
    fps: int | None = None
    engine: str | None = None
    seed: int | None = None
    long_side: int | None = None
    steps: int | None = None
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        check_prompt(self.prompt)
        if self.seconds is not None and self.frames is not None:
            raise _bad("seconds", "both seconds and frames were given",
                       "give the clip length as --seconds or as frames, not both")
        if self.seconds is not None and (isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float))
                                         or not 0 < self.seconds <= MAX_SECONDS):
            raise _bad("seconds", f"{self.seconds!r} s is not a clip length",
                       f"use a number of seconds in (0, {MAX_SECONDS:g}]")
        _int(self.frames, "frames", lo=1)
        if self.fps is not None and (isinstance(self.fps, bool) or not isinstance(self.fps, int) or self.fps < 1):
            raise _bad("fps", f"{self.fps!r} is not a frame rate", "use a whole number of frames per second")
        _int(self.long_side, "long_side", lo=1)
        _int(self.seed, "seed")
        check_seed(self.seed)
        _common(self)


@dataclass(frozen=True)
class OverlaySpec(Spec):
    op: ClassVar[str] = "overlay"
    asset_id: str
    layer: dict[str, Any] = field(default_factory=dict)  # imaging.typography.TextLayer.to_dict()
    user_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.asset_id, "asset_id")
        if not isinstance(self.layer, dict) or not isinstance(self.layer.get("text"), str):
            raise _bad("text", "the overlay has no text", "pass --text")
        _text(self.user_id, "user_id")


def _common(spec: Any) -> None:
    """Options several specs share: engine id, steps, size text, milestone, user."""
    _text(getattr(spec, "engine", None), "engine")
    _int(getattr(spec, "steps", None), "steps", lo=1)
    size = getattr(spec, "size", None)
    if size is not None:
        _text(size, "size")
        parse_size(size)
    _text(getattr(spec, "milestone", None), "milestone")
    _text(getattr(spec, "user_id", None), "user_id")


_NESTED: dict[str, dict[str, Any]] = {"PromoteSpec": {"override": OverrideRequest},
                                      "UpscaleSpec": {"creative": CreativeSpec}}

StageSpec = DraftSpec | PromoteSpec | InpaintSpec | OutpaintSpec | UpscaleSpec | VideoSpec | OverlaySpec


@dataclass(frozen=True)
class StageDef:
    """One operation of the flow: its spec, the stage its outputs record, its tier, its planner."""

    op: str
    spec: type[Spec]
    stage: Stage
    tier: Tier  # the engine pool (and worker --tiers) its jobs run on
    planner: str  # "module:function" turning (services, spec) into render plans (no import here)


STAGES: tuple[StageDef, ...] = (
    StageDef("draft", DraftSpec, Stage.DRAFT, Tier.DRAFT, "tierflow.stages.draft:plan_draft_spec"),
    StageDef("promote", PromoteSpec, Stage.FINAL, Tier.FINAL, "tierflow.stages.promote:plan_promote_spec"),
    StageDef("inpaint", InpaintSpec, Stage.CLEANUP, Tier.CLEANUP, "tierflow.stages.cleanup:plan_inpaint_spec"),
    StageDef("outpaint", OutpaintSpec, Stage.CLEANUP, Tier.CLEANUP, "tierflow.stages.cleanup:plan_outpaint_spec"),
    StageDef("upscale", UpscaleSpec, Stage.UPSCALE, Tier.UPSCALE, "tierflow.stages.upscale:plan_upscale_spec"),
    StageDef("video", VideoSpec, Stage.VIDEO, Tier.VIDEO, "tierflow.stages.video:plan_video_spec"),
    # Overlay is drawn by Pillow (no engine pool); its jobs go to the cleanup workers, like an edit.
    StageDef("overlay", OverlaySpec, Stage.OVERLAY, Tier.CLEANUP, "tierflow.stages.overlay:plan_overlay_spec"),
)
BY_OP: dict[str, StageDef] = {d.op: d for d in STAGES}
OPS: tuple[str, ...] = tuple(d.op for d in STAGES)


def stage_def(spec_or_op: Spec | str) -> StageDef:
    op = spec_or_op if isinstance(spec_or_op, str) else spec_or_op.op
    found = BY_OP.get(op)
    if found is None:
        raise _bad("op", f"{op!r} is not a stage", f"use one of {', '.join(OPS)}")
    return found


def spec_from_dict(data: Any) -> StageSpec:
    """The spec a ``to_dict()`` (or a job row, or a REST body with ``"op"``) describes; errors name the field."""
    if not isinstance(data, dict):
        raise _bad("spec", f"{data!r} is not an object", "pass a JSON object with an 'op'")
    data = dict(data)
    definition = stage_def(data.pop("op", None) or "")
    return _from_fields(definition.spec, data)


def spec_from_json(text: str) -> StageSpec:
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as e:
        raise _bad("spec", f"not JSON ({e})", "pass the text a spec's to_json() wrote") from None
    return spec_from_dict(data)
