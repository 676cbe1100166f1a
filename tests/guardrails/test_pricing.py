"""Pricing: the formula, the default draft/final economics, overrides, usage and bad input."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Tier
from tierflow.domain.pricing import DEFAULT_PRICES, PriceTable, Rate, price, price_from_usage, units


def test_default_draft_costs_at_most_a_tenth_of_a_default_final():
    final = price("sdxl", Tier.FINAL, "txt2img", 1024, 1024, 30)
    for steps in (1, 2, 3, 4):
        draft = price("sd-turbo", Tier.DRAFT, "txt2img", 512, 512, steps)
        assert draft <= final / 10
    assert final == 60.0  # 1.0 MP × 30 steps × 2.0 credits
    assert price("sd-turbo", "draft", "txt2img", 512, 512, 4) == 1.0  # 0.25 MP × 4 × 1.0


def test_credits_scale_with_megapixels_steps_and_count():
    one = price("e", "final", "txt2img", 512, 512, 10)
    assert price("e", "final", "txt2img", 1024, 512, 10) == pytest.approx(2 * one)
    assert price("e", "final", "txt2img", 512, 512, 20) == pytest.approx(2 * one)
    assert price("e", "final", "txt2img", 512, 512, 10, count=3) == pytest.approx(3 * one)


def test_video_scales_with_frames_and_upscale_with_output_megapixels():
    clip = price("wan", "video", "img2vid", 1024, 1024, 10, frames=8)
    assert clip == pytest.approx(1.0 * 10 * 8 * 0.5)
    assert price("wan", "video", "img2vid", 1024, 1024, 10, frames=16) == pytest.approx(2 * clip)
    # 1024² ×4 → 4096² = 16 MP at 1.0 credit per output MP; steps do not matter to an upscaler
    assert price("esrgan", "upscale", "upscale", 1024, 1024, 1, scale=4) == pytest.approx(16.0)
    assert price("esrgan", "upscale", "upscale", 1024, 1024, 50, scale=2) == pytest.approx(4.0)


def test_engine_override_beats_tier_rate_and_base_is_per_output():
    table = PriceTable.from_dict({
        "tiers": {"draft": {"per_unit": 2.0, "base": 0.5}},
        "engines": {"flux-schnell": {"per_unit": 3.0, "base": 1.0}},
    })
    assert table.price("sd-turbo", "draft", "txt2img", 1024, 1024, 1, count=2) == pytest.approx(2 * (0.5 + 2.0))
    assert table.price("flux-schnell", "final", "txt2img", 1024, 1024, 4) == pytest.approx(1.0 + 3.0 * 4)
    # tiers not named keep the default
    assert table.price("sdxl", "final", "txt2img", 1024, 1024, 30) == DEFAULT_PRICES.price(
        "sdxl", "final", "txt2img", 1024, 1024, 30
    )
    assert PriceTable.from_dict(table.to_dict()) == table


def test_price_from_usage_sums_priced_units_and_ignores_unpriced_counters():
    rates = {"output_image": 39.0, "input_tokens": 0.0003}
    usage = {"output_image": 2, "input_tokens": 1000, "total_token_count": 4000}
    assert price_from_usage(rates, usage) == pytest.approx(78.3)
    table = PriceTable.from_dict({"usage": {"gemini-flash-image": rates}})
    assert table.price_usage("gemini-flash-image", usage) == pytest.approx(78.3)
    with pytest.raises(InvalidInput, match="engine_id"):
        table.price_usage("other", usage)
    with pytest.raises(InvalidInput, match="none of the priced units"):
        price_from_usage(rates, {"seconds": 3})
    with pytest.raises(InvalidInput, match="usage.output_image"):
        price_from_usage(rates, {"output_image": -1})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"task": "txt2img", "width": 0, "height": 512, "steps": 1}, "width"),
        ({"task": "txt2img", "width": 512, "height": 512.5, "steps": 1}, "height"),
        ({"task": "txt2img", "width": 512, "height": 512, "steps": 0}, "steps"),
        ({"task": "img2vid", "width": 512, "height": 512, "steps": 4}, "frames"),
        ({"task": "upscale", "width": 512, "height": 512, "steps": 1}, "scale"),
        ({"task": "paint", "width": 512, "height": 512, "steps": 1}, "task"),
    ],
)
def test_bad_requests_name_the_field(kwargs, field):
    with pytest.raises(InvalidInput) as err:
        units(**kwargs)
    assert err.value.field == field


def test_bad_tier_count_and_table_are_rejected():
    with pytest.raises(InvalidInput) as err:
        price("e", "sketch", "txt2img", 512, 512, 1)
    assert err.value.field == "tier"
    with pytest.raises(InvalidInput) as err:
        price("e", "draft", "txt2img", 512, 512, 1, count=0)
    assert err.value.field == "count"
    with pytest.raises(InvalidInput, match="unknown price key"):
        PriceTable.from_dict({"tiers": {"draft": {"per_unit": 1, "per_step": 2}}})
    with pytest.raises(InvalidInput, match="unknown section"):
        PriceTable.from_dict({"tier": {}})
    with pytest.raises(InvalidInput) as err:
        Rate(per_unit=-1)
    assert err.value.field == "per_unit"
