"""Formats: MP4 and JPEG are signed; a format C2PA cannot carry is delivered unsigned and says so."""

from __future__ import annotations

import dataclasses
import io

from PIL import Image

from tierflow.provenance import c2pa_manifest, signer
from tierflow.provenance.credentials import sign_export
from tierflow.provenance.export import export_asset
from tierflow.provenance.verify import verify_bytes


def test_a_video_export_is_signed_as_created_from_its_source_image(services, chain, tmp_path):
    from tierflow.stages.video import video

    clip = video(services, chain.final.id, "the waves roll in", frames=5, fps=8, seed=1).assets[0]
    out = export_asset(services, clip.id, tmp_path / "clip.mp4")
    assert out["credentials"]["signed"]
    data = out["path"].read_bytes()
    assert data[4:8] == b"ftyp"
    report = verify_bytes(data, services.settings.home, fmt="mp4")
    assert report["status"] == "valid", report["message"]
    assert [link["title"].split()[0] for link in report["chain"]] == ["video", "final", "draft"]
    assert report["chain"][1]["relationship"] == "inputTo"
    created = report["actions"][0]
    assert created["action"] == "c2pa.created" and created["digitalSourceType"].endswith("/trainedAlgorithmicMedia")
    assert created["parameters"]["org.tierflow.seed"] == clip.seed
    assert (tmp_path / "clip.mp4.json").exists()  # the lineage sidecar is still written


def test_a_jpeg_is_signed_with_an_ingredient_and_verifies(services, chain):
    home = services.settings.home
    identity = signer.signing_identity(home)
    anchors = signer.trust_anchors(home)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "teal").save(buf, format="JPEG", quality=90)
    parent = services.blobs.get(chain.draft.sha256, "png")
    ingredient = c2pa_manifest.Ingredient(parent, "png", chain.draft.id, f"draft {chain.draft.id}.png", "parentOf")
    asset = dataclasses.replace(chain.overlay, format="jpg", parent_ids=[chain.draft.id])
    manifest = c2pa_manifest.manifest_for(asset, [ingredient])
    signed = c2pa_manifest.sign(buf.getvalue(), "jpg", manifest, [ingredient], chain_pem=identity.chain_pem,
                                key_pem=identity.key_pem, anchors=anchors)
    assert signed[:2] == b"\xff\xd8"
    report = verify_bytes(signed, home, fmt="jpg")
    assert report["status"] == "valid" and [a["action"] for a in report["actions"]] == ["c2pa.opened", "c2pa.edited"]
    assert report["chain"][1]["status"] == "unsigned"  # a plain parent: named, not trusted blindly


def test_a_format_c2pa_cannot_carry_is_unsigned_with_a_warning(services, chain):
    odd = dataclasses.replace(chain.draft, format="bmp")
    data, credentials = sign_export(services, odd, b"BM not really")
    assert data == b"BM not really" and credentials["signed"] is False
    assert ".bmp" in credentials["warning"] and "unsigned" in credentials["warning"]
