"""Inpaint and outpaint as stages: lineage, pixels outside the mask, bad masks and sizes, provenance."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import Stage
from tierflow.provenance.export import export_asset
from tierflow.provenance.png import COMPOSITE, TRAINED, read_png_metadata
from tierflow.stages.cleanup import inpaint, outpaint, plan_inpaint, plan_outpaint
from tierflow.stages.upscale import upscale
from tests.stages_production.helpers import generation_count, pixels, square_mask


def test_inpaint_repaints_the_mask_and_leaves_every_other_pixel_exactly(services, kept):
    result = inpaint(services, kept.id, square_mask(), "a red door")
    asset = result.assets[0]
    assert asset.stage == Stage.CLEANUP and asset.parent_ids == [kept.id]
    assert (asset.width, asset.height, asset.format) == (64, 64, "png")
    assert asset.seed == kept.seed  # the source's seed by default
    assert asset.params["cleanup"] == "inpaint" and asset.params["cleaned_from"] == kept.id
    before, after = pixels(services, kept), pixels(services, asset)
    keep = np.asarray(square_mask()) == 0
    # Tolerance 0: the engine composites the original back where the mask is black.
    assert np.array_equal(before[keep], after[keep])
    assert asset.params["unmasked_max_delta"] == 0
    assert np.abs(before[~keep].astype(int) - after[~keep]).mean() > 1.0  # the masked square was repainted
    assert result.credits > 0  # priced by the guard like any render


def test_inpaint_takes_a_mask_file(services, kept, tmp_path):
    path = tmp_path / "mask.png"
    square_mask().save(path)
    asset = inpaint(services, kept.id, path, "a red door").assets[0]
    assert asset.parent_ids == [kept.id]


@pytest.mark.parametrize(
    ("mask", "needle"),
    [
        (square_mask(size=(32, 32), box=(8, 8, 24, 24)), "32x32"),  # wrong size
        (Image.linear_gradient("L").resize((64, 64)), "not black and white"),  # a grey wash, not a mask
        (Image.new("L", (64, 64), 0), "all black"),
    ],
)
def test_bad_masks_are_refused_before_anything_is_written(services, kept, mask, needle):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        plan_inpaint(services, kept.id, mask, "a red door")
    assert e.value.field == "mask" and needle in str(e.value) and e.value.fix
    assert generation_count(services) == rows


def test_a_missing_mask_file_names_the_field(services, kept, tmp_path):
    with pytest.raises(InvalidInput) as e:
        plan_inpaint(services, kept.id, tmp_path / "nope.png", "a red door")
    assert e.value.field == "mask"


def test_outpaint_extends_the_canvas_and_keeps_the_original_beyond_the_feather(services, kept):
    asset = outpaint(services, kept.id, right=32, feather=8).assets[0]
    assert (asset.width, asset.height) == (96, 64)
    assert asset.parent_ids == [kept.id] and asset.params["cleanup"] == "outpaint"
    assert asset.params["right"] == 32 and asset.prompt == kept.prompt
    before, after = pixels(services, kept), pixels(services, asset)
    # Columns further than the feather from the new border are the original's, bit for bit.
    assert np.array_equal(before[:, : 64 - 8], after[:, : 64 - 8])
    assert asset.params["unmasked_max_delta"] == 0


def test_outpaint_beyond_the_engines_maximum_is_refused(services, kept):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        plan_outpaint(services, kept.id, right=2000)
    assert e.value.field == "right" and "maximum" in str(e.value)
    with pytest.raises(InvalidInput) as e:
        plan_outpaint(services, kept.id)
    assert e.value.field == "left"  # nothing to extend
    with pytest.raises(InvalidInput) as e:
        plan_outpaint(services, kept.id, right=8, feather=60)
    assert e.value.field == "feather"
    assert generation_count(services) == rows


def test_exports_mark_edits_and_everything_made_from_them_as_composites(services, kept, tmp_path):
    cleaned = inpaint(services, kept.id, square_mask(), "a red door").assets[0]
    bigger = upscale(services, cleaned.id, "x2").assets[0]
    assert bigger.parent_ids == [cleaned.id]
    for asset, expected in ((kept, TRAINED), (cleaned, COMPOSITE), (bigger, COMPOSITE)):
        out = export_asset(services, asset.id, tmp_path / f"{asset.id}.png")
        meta = read_png_metadata(out["path"].read_bytes())
        assert meta["digital_source_type"] == expected, asset.stage
        assert meta["tierflow"]["stage"] == asset.stage.value
