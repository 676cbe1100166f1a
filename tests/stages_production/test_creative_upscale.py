"""The upscale stage's creative pass on the tiny preset: size, lineage, closeness, seams, credits, errors.

The tiny engines have random weights: their VAE does not reconstruct an image (a tiny img2img
differs from its input by ~60/255 at any strength), so "close" here can only mean "bounded"; that
tiling keeps the composition and blends without seams is checked exactly with a fake engine in
tests/stages_media/test_tiles.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tierflow.domain.errors import BudgetExhausted, EngineFailed, InvalidInput
from tierflow.domain.models import JobStatus, Stage
from tierflow.stages.draft import draft
from tierflow.stages.sources import get_asset
from tierflow.stages.upscale import plan_upscale_steps, upscale
from tests.stages_production.helpers import generation_count, pixels

TILE, OVERLAP = 64, 16  # 64 px tiles over a 128 px upscale: 3 x 3 tiles


def _ledger(services, generation_id: str) -> dict[str, float]:
    """What the generation's reservation reserved, committed and refunded (one scope's entries)."""
    from tierflow.storage.ledger_repo import LedgerRepo
    from tierflow.storage.generations_repo import GenerationsRepo

    with services.db.read() as s:
        row = GenerationsRepo(s).row(generation_id)
        entries = [e for e in LedgerRepo(s).for_reservation(row.reservation_id) if e.scope.value == "project"]
    out = {"reserve": 0.0, "commit": 0.0, "refund": 0.0}
    for e in entries:
        out[e.kind.value] = out.get(e.kind.value, 0.0) + abs(e.amount)
    return out


def _status(services, generation_id: str) -> str:
    from tierflow.storage.generations_repo import GenerationsRepo

    with services.db.read() as s:
        return GenerationsRepo(s).row(generation_id).status


@pytest.fixture(scope="module")
def runs(services, kept):
    """One quoted creative upscale in 3x3 tiles, and the same pass in one tile covering the image."""
    plans = plan_upscale_steps(services, kept.id, "x2", creative=0.25, creative_tile=TILE)
    quote = sum(services.guard.quote(p) for p in plans)
    tiled = upscale(services, kept.id, "x2", creative=0.25, creative_tile=TILE)
    whole = upscale(services, kept.id, "x2", creative=0.25, creative_tile=128)
    return {"quote": quote, "tiled": tiled, "whole": whole}


def test_the_pass_keeps_the_target_size_and_records_lineage_and_params(services, kept, runs):
    result = runs["tiled"]
    asset = result.assets[0]
    plain = get_asset(services, asset.parent_ids[0])
    assert (asset.width, asset.height) == (plain.width, plain.height) == (128, 128)
    assert pixels(services, asset).shape == (128, 128, 3)
    # source → upscaled → creative
    assert asset.stage == plain.stage == Stage.UPSCALE and plain.parent_ids == [kept.id]
    assert asset.generation_id == result.generation_id != plain.generation_id
    assert asset.params["creative"] == {"strength": 0.25, "engine": "tiny-final", "tile": TILE, "overlap": OVERLAP,
                                        "tiles": 9}
    assert asset.params["creative_of"] == plain.id and asset.seed == kept.seed and asset.prompt == kept.prompt
    assert asset.engine_id == "tiny-final" and plain.engine_id == "tiny-upscale"
    assert "creative" not in plain.params


def test_the_pass_changes_pixels_within_bounds(services, runs):
    asset = runs["tiled"].assets[0]
    plain = pixels(services, get_asset(services, asset.parent_ids[0])).astype(float)
    diff = np.abs(pixels(services, asset).astype(float) - plain).mean()
    print(f"creative vs plain upscale: mean abs diff {diff:.1f} of 255")
    # Random tiny weights repaint far more than a real model at 0.25 would; a broken blend (unnormalised
    # weights, misplaced tiles) pushes this towards the full range.
    assert 1.0 < diff < 48.0


def test_no_seam_at_tile_borders(services, runs):
    tiled = pixels(services, runs["tiled"].assets[0]).astype(float)
    whole = pixels(services, runs["whole"].assets[0]).astype(float)
    assert runs["whole"].assets[0].params["creative"]["tiles"] == 1
    diff = np.abs(tiled - whole)
    borders = np.zeros(128, bool)
    for edge in (48, 64, 112):  # tiles start at 0, 48, 64 (the last flush) and end at 64, 112, 128
        borders[edge - 1 : edge + 1] = True
    for axis, name in ((0, "column"), (1, "row")):
        profile = diff.mean(axis=(axis, 2))
        at, away = profile[borders].max(), profile[~borders].max()
        print(f"{name} mean abs diff, tiled vs one tile: at tile borders max {at:.1f}, elsewhere max {away:.1f}")
        assert at <= away  # the difference is not concentrated where the tiles meet


def test_quote_equals_reserved_equals_spent(services, runs):
    result = runs["tiled"]
    asset = result.assets[0]
    plain = get_asset(services, asset.parent_ids[0])
    steps = [_ledger(services, plain.generation_id), _ledger(services, result.generation_id)]
    reserved, spent = (round(sum(s[k] for s in steps), 6) for k in ("reserve", "commit"))
    print(f"quote {runs['quote']}, reserved {reserved}, spent {spent}, result {result.credits}")
    assert runs["quote"] == pytest.approx(reserved, abs=1e-6) == pytest.approx(spent, abs=1e-6)
    assert result.credits == pytest.approx(runs["quote"], abs=1e-6)
    # 9 tiles × (64² px = 1/256 MP) × int(4 steps × 0.25) = 1 step × the final tier's 2 credits/MP·step
    assert steps[1]["commit"] == pytest.approx(9 * round(2.0 / 256, 6), abs=1e-6)
    assert steps[1]["commit"] > steps[0]["commit"] > 0


def test_a_budget_that_covers_only_the_upscale_refuses_before_rendering(services, project):
    from tierflow.guardrails.budget import grant

    source = draft(services, project.id, "a red fox", n=1, seed=3, size="64x64")
    up, creative = (services.guard.quote(p) for p in
                    plan_upscale_steps(services, source.assets[0].id, "x2", creative=0.3, creative_tile=TILE))
    grant(services, project.name, source.credits + up + creative / 2)
    rows = generation_count(services)
    with pytest.raises(BudgetExhausted):
        upscale(services, source.assets[0].id, "x2", creative=0.3, creative_tile=TILE)
    assert generation_count(services) == rows  # neither step was admitted
    assert upscale(services, source.assets[0].id, "x2").credits == pytest.approx(up)  # the upscale alone fits


def test_a_failed_upscale_refunds_both_steps(services, project, monkeypatch):
    source = draft(services, project.id, "a red fox", n=1, seed=3, size="64x64").assets[0]
    engine = services.engines.get("tiny-upscale")

    def broken(request, progress=None):
        raise EngineFailed("tiny-upscale failed: out of memory", field="engine")
        yield  # a generator, like every engine's render

    monkeypatch.setattr(engine, "render", broken)
    rows = generation_count(services)
    with pytest.raises(EngineFailed):
        upscale(services, source.id, "x2", creative=0.25, creative_tile=TILE)
    from sqlalchemy import select

    from tierflow.storage.tables import GenerationRow

    with services.db.read() as s:
        new = list(s.scalars(select(GenerationRow.id).where(GenerationRow.project_id == project.id)
                             .order_by(GenerationRow.created_at)))[-2:]
    assert generation_count(services) == rows + 2
    assert [_status(services, g) for g in new] == [JobStatus.FAILED.value, JobStatus.CANCELLED.value]
    for g in new:
        ledger = _ledger(services, g)
        assert ledger["commit"] == 0 and ledger["refund"] == pytest.approx(ledger["reserve"]) and ledger["reserve"] > 0


@pytest.mark.parametrize("value", [0.6, -0.1, 1.0, float("nan"), True])
def test_a_strength_out_of_range_names_the_option_and_the_range(services, kept, value):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        plan_upscale_steps(services, kept.id, "x2", creative=value)
    assert e.value.field == "creative" and "--creative" in str(e.value) and "(0, 0.5]" in str(e.value)
    assert "\n" not in str(e.value) and generation_count(services) == rows


def test_strength_zero_is_a_plain_upscale(services, kept):
    plans = plan_upscale_steps(services, kept.id, "x2", creative=0)
    assert len(plans) == 1 and "creative" not in plans[0].params


@pytest.mark.parametrize("options, field", [
    ({"creative_engine": "tiny-final"}, "creative"),  # a pass option without a strength
    ({"creative": 0.25, "creative_engine": "tiny-upscale"}, "creative_engine"),  # not an img2img engine
    ({"creative": 0.25, "creative_engine": "nope"}, "creative_engine"),
    ({"creative": 0.25, "creative_tile": 60}, "creative_tile"),  # not a multiple of 8
    ({"creative": 0.25, "creative_tile": 4096}, "creative_tile"),  # over the engine's maximum
    ({"creative": 0.25, "creative_prompt": "  "}, "creative_prompt"),
])
def test_bad_pass_options_are_refused_with_the_field(services, kept, options, field):
    with pytest.raises(InvalidInput) as e:
        plan_upscale_steps(services, kept.id, "x2", **options)
    assert e.value.field == field
