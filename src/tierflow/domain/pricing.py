"""What a render costs, in credits, before it runs (local engines) or after (hosted usage).

The formula, per request::

    units   = MP × steps                 txt2img, img2img, inpaint
            = MP × steps × frames        img2vid
            = MP_out                     upscale (one forward pass; steps are ignored)
    credits = count × (base + per_unit × units)

where ``MP = width × height / 1024²`` (a 1024×1024 image is exactly 1.0), ``MP_out`` is the
*output* size of an upscale (``width × scale`` by ``height × scale``), and ``steps`` is the number
of denoising steps that actually run (for img2img, pass ``int(steps × strength)``). ``base`` and
``per_unit`` come from the engine's own rate when the table has one, else from its tier's rate.

Compute scales with pixels × steps to first order (UNet/DiT cost per latent token per step), so
this prices what the GPU does. With the default table a draft (512², 1–4 steps: 0.25–1.0 credit)
costs at most 1/60 of a final (1024², 30 steps: 60 credits).

Hosted engines bill by what the provider reports (tokens, images, seconds):
``price_from_usage(rate_per_unit, usage) = Σ rate_per_unit[k] × usage[k]``.

A table is plain data, so it can live in TOML::

    [tiers.final]
    base = 0.0
    per_unit = 2.0

    [engines."flux-schnell"]
    per_unit = 3.0

    [usage."gemini-2.5-flash-image"]
    output_image = 39.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Tier

# Same names as the tasks in tierflow.engines.base (the domain must not import the engine layer).
IMAGE_TASKS = ("txt2img", "img2img", "inpaint")
VIDEO_TASK = "img2vid"
UPSCALE_TASK = "upscale"
TASKS = (*IMAGE_TASKS, VIDEO_TASK, UPSCALE_TASK)

MEGAPIXEL = 1024 * 1024
CREDIT_DIGITS = 6  # prices are rounded so that sums of ledger rows stay exact enough to compare


def _tier(value: Tier | str) -> Tier:
    try:
        return Tier(value)
    except ValueError:
        raise InvalidInput(
            f"unknown tier {value!r}", field="tier", fix=f"use one of {', '.join(t.value for t in Tier)}"
        ) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Rate:
    """``base`` credits per output plus ``per_unit`` credits per unit (MP·step, MP·step·frame or MP)."""

    per_unit: float
    base: float = 0.0

    def __post_init__(self) -> None:
        for name in ("per_unit", "base"):
            value = getattr(self, name)
            if not _is_number(value) or value < 0:
                raise InvalidInput(f"{value!r} is not a price", field=name, fix="use a number ≥ 0")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str) -> Rate:
        """Read ``{"per_unit": .., "base": ..}``; unknown keys are an error, not ignored."""
        unknown = set(data) - {"per_unit", "base"}
        if unknown:
            raise InvalidInput(
                f"unknown price key(s) {sorted(unknown)} in {where}", field=where, fix="use per_unit and base"
            )
        if "per_unit" not in data:
            raise InvalidInput(f"{where} has no per_unit", field=where, fix="add per_unit = <credits per unit>")
        return cls(per_unit=data["per_unit"], base=data.get("base", 0.0))

    def to_dict(self) -> dict[str, float]:
        return {"per_unit": self.per_unit, "base": self.base}


DEFAULT_TIER_RATES: dict[Tier, Rate] = {
    Tier.DRAFT: Rate(per_unit=1.0),
    Tier.FINAL: Rate(per_unit=2.0),
    Tier.CLEANUP: Rate(per_unit=2.0),
    Tier.UPSCALE: Rate(per_unit=1.0),
    # Video latents are compressed in time (4× in Wan/LTX), so a frame costs less than an image.
    Tier.VIDEO: Rate(per_unit=0.5),
}


@dataclass(frozen=True)
class PriceTable:
    """Per-tier rates, per-engine overrides, and per-engine usage rates for hosted engines."""

    tiers: Mapping[Tier, Rate] = field(default_factory=lambda: dict(DEFAULT_TIER_RATES))
    engines: Mapping[str, Rate] = field(default_factory=dict)
    usage: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriceTable:
        """Build from a TOML-shaped dict; tiers not named keep their default rate."""
        unknown = set(data) - {"tiers", "engines", "usage"}
        if unknown:
            raise InvalidInput(
                f"unknown section(s) {sorted(unknown)} in the price table",
                field="pricing",
                fix="use [tiers.<tier>], [engines.<engine id>] and [usage.<engine id>]",
            )
        tiers = dict(DEFAULT_TIER_RATES)
        for name, rate in dict(data.get("tiers", {})).items():
            tiers[_tier(name)] = Rate.from_dict(rate, f"tiers.{name}")
        engines = {eid: Rate.from_dict(rate, f"engines.{eid}") for eid, rate in dict(data.get("engines", {})).items()}
        usage = {}
        for eid, rates in dict(data.get("usage", {})).items():
            for unit, value in dict(rates).items():
                if not _is_number(value) or value < 0:
                    raise InvalidInput(
                        f"{value!r} is not a price", field=f"usage.{eid}.{unit}", fix="use a number ≥ 0"
                    )
            usage[eid] = dict(rates)
        return cls(tiers=tiers, engines=engines, usage=usage)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tiers": {tier.value: rate.to_dict() for tier, rate in self.tiers.items()},
            "engines": {eid: rate.to_dict() for eid, rate in self.engines.items()},
            "usage": {eid: dict(rates) for eid, rates in self.usage.items()},
        }

    def rate_for(self, engine_id: str, tier: Tier | str) -> Rate:
        """The engine's own rate if it has one, else its tier's."""
        if engine_id in self.engines:
            return self.engines[engine_id]
        tier = _tier(tier)
        if tier not in self.tiers:
            raise InvalidInput(f"no price for tier {tier.value!r}", field="tier", fix=f"add [tiers.{tier.value}]")
        return self.tiers[tier]

    def price(
        self,
        engine_id: str,
        tier: Tier | str,
        task: str,
        width: int,
        height: int,
        steps: int,
        count: int = 1,
        frames: int | None = None,
        scale: float | None = None,
    ) -> float:
        """Credits for ``count`` outputs of ``task`` (see the module docstring for the formula)."""
        rate = self.rate_for(engine_id, tier)
        each = rate.base + rate.per_unit * units(task, width, height, steps, frames, scale)
        return round(_count(count) * each, CREDIT_DIGITS)

    def price_usage(self, engine_id: str, usage: Mapping[str, Any]) -> float:
        """Credits for a hosted render from the usage the provider reported."""
        if engine_id not in self.usage:
            raise InvalidInput(
                f"engine {engine_id!r} has no usage rates",
                field="engine_id",
                fix=f'add [usage."{engine_id}"] with a rate per reported unit',
            )
        return price_from_usage(self.usage[engine_id], usage)


DEFAULT_PRICES = PriceTable()


def price(
    engine_id: str,
    tier: Tier | str,
    task: str,
    width: int,
    height: int,
    steps: int,
    count: int = 1,
    frames: int | None = None,
    scale: float | None = None,
    *,
    table: PriceTable = DEFAULT_PRICES,
) -> float:
    """Credits for a request under ``table`` (the default table unless given)."""
    return table.price(engine_id, tier, task, width, height, steps, count, frames, scale)


def units(
    task: str, width: int, height: int, steps: int, frames: int | None = None, scale: float | None = None
) -> float:
    """Billable units of one output: MP·steps, MP·steps·frames (video) or output MP (upscale)."""
    if task not in TASKS:
        raise InvalidInput(f"unknown task {task!r}", field="task", fix=f"use one of {', '.join(TASKS)}")
    for name, value in (("width", width), ("height", height)):
        if not _is_int(value) or value <= 0:
            raise InvalidInput(f"{value!r} is not a size in pixels", field=name, fix="use a whole number > 0")
    megapixels = width * height / MEGAPIXEL
    if task == UPSCALE_TASK:
        if scale is None or not _is_number(scale) or scale <= 0:
            raise InvalidInput(f"{scale!r} is not an upscale factor", field="scale", fix="pass the factor, e.g. 4")
        return megapixels * scale * scale
    if not _is_int(steps) or steps < 1:
        raise InvalidInput(f"{steps!r} is not a step count", field="steps", fix="use a whole number ≥ 1")
    if task == VIDEO_TASK:
        if frames is None or not _is_int(frames) or frames < 1:
            raise InvalidInput(f"{frames!r} is not a frame count", field="frames", fix="pass frames ≥ 1 for video")
        return megapixels * steps * frames
    return megapixels * steps


def price_from_usage(rate_per_unit: Mapping[str, float], usage: Mapping[str, Any]) -> float:
    """``Σ rate[k] × usage[k]`` over the priced units; unpriced counters the provider adds are ignored."""
    priced = [unit for unit in rate_per_unit if unit in usage]
    if not priced:
        raise InvalidInput(
            f"the reported usage {sorted(usage)} has none of the priced units {sorted(rate_per_unit)}",
            field="usage",
            fix="add a rate for one of the units this provider reports",
        )
    total = 0.0
    for unit in priced:
        amount = usage[unit]
        if not _is_number(amount) or amount < 0:
            raise InvalidInput(f"{amount!r} is not a usage amount", field=f"usage.{unit}", fix="use a number ≥ 0")
        total += rate_per_unit[unit] * amount
    return round(total, CREDIT_DIGITS)


def _count(count: int) -> int:
    if not _is_int(count) or count < 1:
        raise InvalidInput(f"{count!r} is not a count", field="count", fix="use a whole number ≥ 1")
    return count
