"""Exported PNGs carry A1111 parameters, a tierflow lineage chunk and the IPTC source type."""

from __future__ import annotations

import pytest

from tierflow.domain.errors import InvalidInput
from tierflow.provenance.export import export_asset
from tierflow.provenance.png import COMPOSITE, TRAINED, read_png_metadata, source_type
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote


def test_export_embeds_parameters_lineage_and_source_type(services, project, tmp_path):
    d = draft(services, project.id, "a red fox, watercolor", n=1, seed=77, size="64x64").assets[0]
    f = promote(services, d.id, size="64x64").assets[0]
    out = export_asset(services, f.id, tmp_path / "final.png")
    meta = read_png_metadata(out["path"].read_bytes())
    params = meta["parameters"]
    assert params.startswith("a red fox, watercolor\n")
    assert "Seed: 77" in params and "Size: 64x64" in params and "Steps:" in params
    assert "Sampler:" in params and "CFG scale:" in params and "Model:" in params
    assert meta["tierflow"]["asset_id"] == f.id and meta["tierflow"]["ancestors"] == [d.id]
    assert meta["digital_source_type"] == TRAINED


def test_stored_blobs_already_carry_provenance(services, project):
    from tierflow.provenance.jpeg import read_jpeg_metadata
    from tierflow.stages.review import review

    d = draft(services, project.id, "a fox", n=1, seed=1, size="64x64").assets[0]
    assert d.format == "jpg"  # a draft preview: JPEG, its provenance in EXIF and XMP
    meta = read_jpeg_metadata(services.blobs.get(d.sha256, "jpg"))
    assert meta["tierflow"]["asset_id"] == d.id and meta["tierflow"]["decoder"] == "taesd"
    assert meta["parameters"].startswith("a fox\n") and "Seed: 1" in meta["parameters"]
    assert meta["digital_source_type"] == TRAINED
    kept = review(services, d.id, "keep", seconds=1)
    assert kept.format == "png"  # kept: lossless PNG of the full decode
    meta = read_png_metadata(services.blobs.get(kept.sha256, "png"))
    assert meta["tierflow"]["asset_id"] == d.id and meta["tierflow"]["decoder"] == "vae"
    assert "Seed: 1" in meta["parameters"]


def test_edits_are_marked_composite():
    assert source_type("cleanup") == COMPOSITE and source_type("overlay") == COMPOSITE
    assert source_type("draft") == TRAINED and source_type("upscale") == TRAINED


def test_export_refuses_a_wrong_extension_or_missing_folder(services, project, tmp_path):
    d = draft(services, project.id, "a fox", n=1, seed=1, size="64x64").assets[0]
    with pytest.raises(InvalidInput) as e:
        export_asset(services, d.id, tmp_path / "x.jpg")
    assert e.value.field == "out"
    with pytest.raises(InvalidInput):
        export_asset(services, d.id, tmp_path / "nope" / "x.png")
