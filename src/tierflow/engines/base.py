"""The one engine protocol every local, hosted and tiny engine implements.

An engine is told *what* to render (a :class:`RenderRequest`) and yields :class:`Rendered`
outputs one by one, so that drafts can be stored and shown as each finishes. It reports progress
through a callback and checks ``request.cancel`` between steps. It never touches the database or
the blob store: stages do that.
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Tier

ProgressCallback = Callable[["Progress"], None]

TASK_TXT2IMG = "txt2img"
TASK_IMG2IMG = "img2img"
TASK_INPAINT = "inpaint"
TASK_UPSCALE = "upscale"
TASK_IMG2VID = "img2vid"


@dataclass(frozen=True)
class Progress:
    """``step`` of ``total`` in output ``index`` of ``count``."""

    step: int
    total: int
    index: int = 0
    count: int = 1
    message: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do, and its limits (checked before anything is reserved or rendered)."""

    tasks: tuple[str, ...]
    min_size: int = 64
    max_size: int = 2048
    size_multiple: int = 8
    default_size: tuple[int, int] = (512, 512)
    default_steps: int = 1
    max_steps: int = 100
    default_guidance: float = 0.0
    max_batch: int = 64
    seeded: bool = True  # False: the provider treats seeds as best-effort
    family: str = ""  # engines of one family can hand off seeds
    latent_space: str = ""  # engines sharing a VAE latent space can hand off latents (no re-encode)
    max_frames: int = 0
    scale: int = 0  # upscalers: the model's native factor

    def to_dict(self) -> dict[str, Any]:
        return {
            "tasks": list(self.tasks),
            "min_size": self.min_size,
            "max_size": self.max_size,
            "size_multiple": self.size_multiple,
            "default_size": list(self.default_size),
            "default_steps": self.default_steps,
            "max_steps": self.max_steps,
            "default_guidance": self.default_guidance,
            "max_batch": self.max_batch,
            "seeded": self.seeded,
            "family": self.family,
            "latent_space": self.latent_space,
            "max_frames": self.max_frames,
            "scale": self.scale,
        }


@dataclass
class RenderRequest:
    """Everything an engine needs to render; stages fill in engine defaults before validating."""

    task: str
    prompt: str = ""
    negative_prompt: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    width: int = 512
    height: int = 512
    steps: int | None = None
    guidance: float | None = None
    init_image: Image.Image | None = None  # img2img, inpaint, upscale, img2vid
    strength: float | None = None
    mask: Image.Image | None = None  # inpaint: white = repaint
    scale: float | None = None  # upscale factor
    frames: int | None = None  # img2vid
    fps: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Drafts: keep each output's final latent and show a tiny-decoder preview (full decode on keep).
    preview: bool = False
    # img2img from a draft's latent (same latent space): numpy array (1, C, h, w), no VAE encode.
    init_latent: Any = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def params(self) -> dict[str, Any]:
        """The JSON-safe parameters recorded with every asset."""
        out = {
            "task": self.task,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "guidance": self.guidance,
        }
        for key in ("strength", "scale", "frames", "fps"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update({k: v for k, v in self.extra.items() if isinstance(v, (str, int, float, bool))})
        return out


@dataclass
class Rendered:
    """One output: an image, or a video as encoded bytes plus its frames' size."""

    index: int
    seed: int | None
    image: Image.Image | None = None
    video_bytes: bytes | None = None
    video_format: str = "mp4"
    frames: list[Image.Image] | None = None
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict)  # provider model id, usage, sampler...
    latent: Any = None  # the final latent (numpy, (1, C, h, w)) when the engine kept it (draft preview)
    source: bytes | None = None  # a hosted provider's file as delivered (kept when it carries C2PA)

    def __post_init__(self) -> None:
        if self.image is not None and not self.width:
            self.width, self.height = self.image.size


@dataclass(frozen=True)
class EngineInfo:
    """What an asset records about the engine that made it, and what `tierflow engines` lists."""

    id: str
    tier: Tier
    kind: str  # "local" | "hosted" | "tiny"
    pipeline: str  # diffusers class or provider model id
    repo: str | None = None
    revision: str | None = None
    available: bool = True
    availability: str = "ready"
    libraries: dict[str, str] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tier": self.tier.value,
            "kind": self.kind,
            "pipeline": self.pipeline,
            "repo": self.repo,
            "revision": self.revision,
            "available": self.available,
            "availability": self.availability,
            "libraries": dict(self.libraries),
            "description": self.description,
        }


class Engine(abc.ABC):
    """Base of every engine. Subclasses import torch / SDKs lazily, inside methods."""

    id: str
    tier: Tier
    # Video engines: valid frame counts are frame_step·k + 1 in min_frames..max_frames (0: capabilities').
    frame_step: int = 1
    min_frames: int = 1
    max_frames: int = 0
    default_frames: int = 0
    default_fps: int = 0  # 0: the stage's default

    def models(self) -> tuple[Engine, ...]:
        """The engines whose loaded pipelines this one renders with (itself; a composed engine: its parts).
        The runner renders on one of them at a time (a diffusers pipeline is not thread-safe)."""
        return (self,)

    def size_for(self, image: Image.Image, long_side: int | None = None) -> tuple[int, int]:
        """The output size for animating ``image`` (video engines fit it to their grid)."""
        return image.size

    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """Tasks and limits."""

    @abc.abstractmethod
    def describe(self) -> EngineInfo:
        """Identity, pinned revision, library versions and availability (cheap: no model load)."""

    @abc.abstractmethod
    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        """Yield one :class:`Rendered` per seed (or one video) as each finishes."""

    def close(self) -> None:
        """Release models and memory; the engine may be used again (it reloads)."""

    def decode_latent(self, latent: Any) -> Image.Image:
        """The full-quality image of a latent this engine kept (decode-on-keep)."""
        from tierflow.domain.errors import EngineUnavailable

        raise EngineUnavailable(f"engine {self.id!r} cannot decode latents", field="engine",
                                fix="keep the preview image, or re-render the draft with a local engine")

    # -- shared validation (diffusers' check_inputs habit: name the field and the fix) --
    def prepare(self, request: RenderRequest) -> RenderRequest:
        """Fill engine defaults into ``request`` and validate it against :meth:`capabilities`."""
        caps = self.capabilities()
        if request.task not in caps.tasks:
            raise InvalidInput(
                f"engine {self.id!r} cannot do {request.task}",
                field="engine",
                fix=f"choose an engine with {request.task} (see `tierflow engines`)",
            )
        if request.steps is None:
            request.steps = caps.default_steps
        if request.guidance is None:
            request.guidance = caps.default_guidance
        if request.task in (TASK_TXT2IMG, TASK_IMG2IMG, TASK_INPAINT):
            check_size(request.width, request.height, caps, self.id)
        if not 1 <= request.steps <= caps.max_steps:
            raise InvalidInput(
                f"{request.steps} is out of range", field="steps", fix=f"use 1..{caps.max_steps} for {self.id}"
            )
        if len(request.seeds) > caps.max_batch:
            raise InvalidInput(
                f"{len(request.seeds)} outputs is over the engine's maximum",
                field="n",
                fix=f"use at most {caps.max_batch} for {self.id}",
            )
        if request.strength is not None and not 0.0 < request.strength <= 1.0:
            raise InvalidInput(f"{request.strength} is out of range", field="strength", fix="use a value in (0, 1]")
        if request.task in (TASK_IMG2IMG, TASK_INPAINT, TASK_UPSCALE, TASK_IMG2VID) and request.init_image is None:
            raise InvalidInput("an init image is required", field="image", fix=f"pass an image for {request.task}")
        return request


@runtime_checkable
class PricedEngine(Protocol):
    """What the guard may ask an engine about its price, beyond the price table (declared, not guessed).

    ``estimate_credits``: a hosted engine's own estimate for a prepared request. ``priced_parts``: an
    engine that runs other renders (the tiled creative pass) lists them, and costs their sum.
    """

    def estimate_credits(self, request: RenderRequest) -> float: ...


@runtime_checkable
class ComposedEngine(Protocol):
    def priced_parts(self, request: RenderRequest) -> list[tuple[Engine, RenderRequest]]: ...


def check_size(width: int, height: int, caps: Capabilities, engine_id: str) -> None:
    """Both sides within the engine's range and on its size multiple; the error states the allowed range."""
    for name, value in (("width", width), ("height", height)):
        if not caps.min_size <= value <= caps.max_size:
            dw, dh = caps.default_size
            raise InvalidInput(
                f"{width}x{height} is outside {caps.min_size}–{caps.max_size} px per side for {engine_id}",
                field="size",
                fix=f"use sides from {caps.min_size} to {caps.max_size} in multiples of {caps.size_multiple} "
                    f"(e.g. {dw}x{dh}, its default)",
            )
        if value % caps.size_multiple:
            raise InvalidInput(
                f"{name} {value} is not a multiple of {caps.size_multiple}",
                field="size",
                fix=f"round {name} to a multiple of {caps.size_multiple} (e.g. {value - value % caps.size_multiple})",
            )


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the libraries an asset's pixels depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out
