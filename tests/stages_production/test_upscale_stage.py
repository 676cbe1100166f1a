"""Upscale as a stage: exact target size, lineage, readiness warnings, targets that are not larger."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Stage
from tierflow.stages.cleanup import inpaint
from tierflow.stages.draft import draft
from tierflow.stages.review import review
from tierflow.stages.upscale import plan_upscale, upscale
from tests.stages_production.helpers import generation_count, pixels, square_mask


def test_upscale_by_a_factor_records_its_parent_and_warns_about_an_unready_asset(services, project):
    raw = draft(services, project.id, "a red fox", n=1, seed=3, size="64x64").assets[0]
    result = upscale(services, raw.id, "x2")
    asset = result.assets[0]
    assert asset.stage == Stage.UPSCALE and asset.parent_ids == [raw.id]
    assert (asset.width, asset.height) == (128, 128) and pixels(services, asset).shape == (128, 128, 3)
    assert asset.params["upscaled_from"] == raw.id and asset.params["to"] == "x2"
    assert any("never reviewed" in w for w in result.warnings)
    assert any("never cleaned" in w for w in result.warnings)
    assert asset.params["warnings"] == result.warnings[:2]  # recorded with the asset too
    assert result.credits > 0


def test_a_kept_and_cleaned_asset_upscales_without_warnings(services, kept):
    cleaned = inpaint(services, kept.id, square_mask(), "a red door").assets[0]
    # The cleanup output inherits the review of the image it fixed.
    assert upscale(services, cleaned.id, "x2").warnings == []


def test_a_discarded_asset_warns(services, project):
    raw = draft(services, project.id, "a red fox", n=1, seed=3, size="64x64").assets[0]
    review(services, raw.id, "discard", seconds=1)
    plan = plan_upscale(services, raw.id, "x2")
    assert any("discarded" in w for w in plan.params["warnings"])


@pytest.mark.parametrize("to", ["x1", "x0.5", "0.9"])
def test_a_target_not_larger_than_the_source_is_refused(services, kept, to):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        plan_upscale(services, kept.id, to)
    assert e.value.field == "to" and "not larger than the source" in str(e.value)
    assert generation_count(services) == rows


def test_an_unknown_target_names_the_choices(services, kept):
    with pytest.raises(InvalidInput) as e:
        plan_upscale(services, kept.id, "huge")
    assert e.value.field == "to" and "2k" in e.value.fix
