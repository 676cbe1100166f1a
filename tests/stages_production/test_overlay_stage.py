"""Typography overlay as a stage: a new asset with the layer spec; the original is untouched."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from sqlalchemy import select

from tierflow.domain.errors import InvalidInput
from tierflow.domain.models import JobStatus, Stage
from tierflow.imaging.typography import TextLayer
from tierflow.provenance.export import export_asset
from tierflow.provenance.png import COMPOSITE, read_png_metadata
from tierflow.stages.overlay import overlay
from tierflow.stages.sources import get_asset
from tierflow.storage.tables import GenerationRow
from tests.stages_production.helpers import generation_count, pixels


def test_overlay_is_a_new_asset_with_its_layer_and_the_original_is_untouched(services, kept, tmp_path):
    before = pixels(services, kept)
    layer = TextLayer(text="LAUNCH DAY", color="#ff0000", position="bottom", stroke_width=1)
    result = overlay(services, kept.id, layer)
    asset = result.assets[0]
    assert asset.stage == Stage.OVERLAY and asset.parent_ids == [kept.id]
    assert asset.params["layer"] == layer.to_dict() and asset.params["overlay_of"] == kept.id
    assert asset.engine_id == "pillow-overlay" and asset.params["libraries"]["pillow"]
    assert asset.sha256 != kept.sha256 and result.credits == 0
    # The original: same row, same blob bytes, same pixels.
    again = get_asset(services, kept.id)
    assert again.sha256 == kept.sha256
    assert hashlib.sha256(services.blobs.get(kept.sha256, "png")).hexdigest() == kept.sha256
    assert np.array_equal(pixels(services, again), before)
    after = pixels(services, asset)
    assert (np.abs(after.astype(int) - before).sum(axis=2) > 0).mean() > 0.005  # text was drawn
    with services.db.read() as s:
        job = s.scalars(select(GenerationRow).where(GenerationRow.id == asset.generation_id)).one()
    assert job.status == JobStatus.SUCCEEDED.value and job.stage == "overlay" and job.outputs == 1
    meta = read_png_metadata(export_asset(services, asset.id, tmp_path / "o.png")["path"].read_bytes())
    assert meta["digital_source_type"] == COMPOSITE


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        (TextLayer(text="SALE", font="/nowhere/Missing.ttf"), "font"),
        (TextLayer(text="发布日"), "font"),  # the shipped font has no CJK glyphs
        (TextLayer(text="SALE", box=(40, 40, 64, 64)), "box"),
        (TextLayer(text="SALE", color="not-a-colour"), "color"),
        (TextLayer(text="  "), "text"),
    ],
)
def test_bad_layers_are_refused_and_nothing_is_written(services, kept, layer, field):
    rows = generation_count(services)
    with pytest.raises(InvalidInput) as e:
        overlay(services, kept.id, layer)
    assert e.value.field == field and e.value.fix
    assert generation_count(services) == rows
