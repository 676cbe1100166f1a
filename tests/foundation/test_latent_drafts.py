"""Latent drafts: tiny-decoder previews, decode-on-keep, latent promote, against plain diffusers."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tierflow.domain.errors import InvalidInput
from tierflow.engines.local.latents import latent_from_bytes
from tierflow.provenance.export import export_asset
from tierflow.provenance.png import read_png_metadata
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote
from tierflow.stages.review import review

SIZE = "64x64"


def pixels(services, asset) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(services.blobs.get(asset.sha256, asset.format))).convert("RGB"), np.int16)


def stored_latent(services, asset) -> np.ndarray:
    ref = asset.params["latent"]
    return latent_from_bytes(services.blobs.get(ref["sha256"], ref["format"]))


@pytest.fixture(scope="module")
def plain_sd(models_dir):
    """The tiny draft model as a user would load it with diffusers alone."""
    from diffusers import StableDiffusionPipeline

    from tierflow.engines.tiny.build import ensure_built

    pipe = StableDiffusionPipeline.from_pretrained(ensure_built(models_dir, "tiny-sd"), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_a_draft_is_a_preview_with_its_latent_beside_it(services, project):
    a = draft(services, project.id, "a red fox", n=2, seed=11, size=SIZE).assets[1]
    assert a.format == "jpg" and a.params["decoder"] == "taesd"
    latent = stored_latent(services, a)
    assert latent.shape == (1, 4, 8, 8) and latent.dtype == np.float32  # the dtype it was computed in
    assert a.params["latent"]["shape"] == [1, 4, 8, 8]


def test_decode_on_keep_is_the_full_decode_of_the_stored_latent(services, project, plain_sd):
    a = draft(services, project.id, "a red fox", n=2, seed=11, size=SIZE).assets[1]
    latent = stored_latent(services, a)
    kept = review(services, a.id, "keep", seconds=2)
    assert kept.format == "png" and kept.params["decoder"] == "vae" and kept.params["preview_decoder"] == "taesd"
    assert kept.params["preview_sha256"] == a.sha256 and not services.blobs.exists(a.sha256, "jpg")
    with torch.inference_mode():
        decoded = plain_sd.vae.decode(torch.from_numpy(latent) / plain_sd.vae.config.scaling_factor).sample
    expected = np.asarray(plain_sd.image_processor.postprocess(decoded, output_type="pil")[0], np.int16)
    assert np.array_equal(pixels(services, kept), expected)


def test_a_kept_draft_equals_plain_diffusers_for_the_same_seed(services, project, plain_sd):
    d = draft(services, project.id, "a lighthouse at dusk", n=3, seed=21, size=SIZE)
    for asset in (d.assets[0], d.assets[2]):
        kept = review(services, asset.id, "star", seconds=1)
        steps = kept.params["steps"]
        plain = plain_sd("a lighthouse at dusk", num_inference_steps=steps, guidance_scale=0.0, width=64, height=64,
                         generator=torch.Generator("cpu").manual_seed(asset.seed)).images[0]
        diff = np.abs(pixels(services, kept) - np.asarray(plain, np.int16)).max()
        assert diff <= 1, f"seed {asset.seed}: max abs difference {diff}/255"


def test_the_full_decode_runs_once(services, project, monkeypatch):
    a = draft(services, project.id, "a fox", n=1, seed=3, size=SIZE).assets[0]
    engine = services.engines.get("tiny-draft")
    calls = []
    original = engine.decode_latent
    monkeypatch.setattr(engine, "decode_latent", lambda latent: calls.append(1) or original(latent))
    first = review(services, a.id, "keep", seconds=1)
    again = review(services, a.id, "star", seconds=1)
    export_asset(services, a.id, services.settings.home / "out.png")
    assert len(calls) == 1 and first.sha256 == again.sha256


def test_discarding_keeps_the_preview(services, project, monkeypatch):
    a = draft(services, project.id, "a fox", n=1, seed=3, size=SIZE).assets[0]
    assert review(services, a.id, "discard", seconds=1).format == "jpg"


def test_export_of_a_preview_is_the_lossless_full_decode(services, project, tmp_path):
    a = draft(services, project.id, "a fox", n=1, seed=4, size=SIZE).assets[0]
    out = export_asset(services, a.id, tmp_path / "draft.png")
    meta = read_png_metadata(out["path"].read_bytes())
    assert meta["tierflow"]["asset_id"] == a.id and "Seed: 4" in meta["parameters"]
    assert out["asset"]["params"]["decoder"] == "vae" and out["asset"]["format"] == "png"


def test_promote_starts_from_the_draft_latent(services, project, monkeypatch, models_dir):
    from diffusers import StableDiffusionXLImg2ImgPipeline

    from tierflow.engines.tiny.build import ensure_built

    d = draft(services, project.id, "a lighthouse", n=2, seed=9, size=SIZE).assets[1]
    latent = stored_latent(services, d)
    review(services, d.id, "keep", seconds=3)
    final_engine = services.engines.get("tiny-final")
    seen = []
    original = final_engine.render

    def spy(request, progress=None):
        seen.append(request.init_latent)
        yield from original(request, progress)

    monkeypatch.setattr(final_engine, "render", spy)
    final = promote(services, d.id, strength=0.5, size=SIZE).assets[0]
    assert final.params["handoff"] == "latent" and final.params["init"] == "latent"
    assert np.array_equal(seen[0], latent)
    # the same as img2img from that latent with plain diffusers: no VAE encode round trip
    pipe = StableDiffusionXLImg2ImgPipeline.from_pretrained(ensure_built(models_dir, "tiny-sdxl"), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    plain = pipe("a lighthouse", image=torch.from_numpy(latent), strength=0.5, num_inference_steps=final.params["steps"],
                 guidance_scale=final.params["guidance"], original_size=(64, 64), target_size=(64, 64),
                 generator=torch.Generator("cpu").manual_seed(d.seed)).images[0]
    assert np.abs(pixels(services, final) - np.asarray(plain, np.int16)).max() <= 1
    # ...and not what the image handoff (VAE encode of the decoded draft) would have given
    kept = Image.fromarray(pixels(services, _asset(services, d.id)).astype(np.uint8))
    via_image = pipe("a lighthouse", image=kept, strength=0.5, num_inference_steps=final.params["steps"],
                     guidance_scale=final.params["guidance"], original_size=(64, 64), target_size=(64, 64),
                     generator=torch.Generator("cpu").manual_seed(d.seed)).images[0]
    assert np.abs(pixels(services, final) - np.asarray(via_image, np.int16)).max() > 8


def _asset(services, asset_id):
    from tierflow.stages.sources import get_asset

    return get_asset(services, asset_id)


def test_promote_across_latent_spaces_hands_off_the_image(services, project, monkeypatch):
    import dataclasses

    d = draft(services, project.id, "a lighthouse", n=1, seed=9, size=SIZE).assets[0]
    review(services, d.id, "keep", seconds=3)
    final_engine = services.engines.get("tiny-final")
    caps = final_engine.capabilities()
    monkeypatch.setattr(final_engine, "capabilities", lambda: dataclasses.replace(caps, latent_space="another-vae"))
    final = promote(services, d.id, strength=0.5, size=SIZE).assets[0]
    assert final.params["handoff"] == "image" and "init" not in final.params


def test_the_orphan_sweep_spares_draft_latents(services, project):
    from tierflow.stages.recovery import sweep_orphan_blobs

    a = draft(services, project.id, "a fox", n=1, seed=5, size=SIZE).assets[0]
    sweep_orphan_blobs(services, older_than=0.0)
    assert services.blobs.exists(a.params["latent"]["sha256"], "npy") and services.blobs.exists(a.sha256, "jpg")


def test_the_fast_path_switches_off_cleanly(services, project, monkeypatch):
    monkeypatch.setenv("TIERFLOW_FAST", "off")
    a = draft(services, project.id, "a fox", n=1, seed=5, size=SIZE).assets[0]
    assert a.format == "png" and "latent" not in a.params and "decoder" not in a.params
    assert review(services, a.id, "keep", seconds=1).sha256 == a.sha256  # nothing to decode


def test_an_unknown_fast_path_step_names_the_setting(services, project, monkeypatch):
    monkeypatch.setenv("TIERFLOW_FAST", "cache,warp")
    with pytest.raises(InvalidInput) as e:
        draft(services, project.id, "a fox", n=1, seed=5, size=SIZE)
    assert e.value.field == "TIERFLOW_FAST" and "warp" in str(e.value)


def test_prompt_embeddings_are_computed_once_per_prompt(services, project):
    draft(services, project.id, "a fox", n=2, seed=5, size=SIZE)
    draft(services, project.id, "a fox", n=2, seed=6, size=SIZE)
    cache = services.engines.get("tiny-draft").prompt_cache
    assert cache.misses == 1 and cache.hits == 3


def test_the_thumbnail_shows_the_stored_pixels_before_and_after_keep(services, project):
    """A preview's thumbnail is made from the preview; keeping refreshes it from the full decode."""
    from tierflow.stages.persist import make_thumbnail

    a = draft(services, project.id, "a red fox", n=1, seed=12, size=SIZE).assets[0]
    preview = Image.open(io.BytesIO(services.blobs.get(a.sha256, "jpg"))).convert("RGB")
    thumb = np.asarray(Image.open(io.BytesIO(services.blobs.get(a.thumb_sha256, "webp"))).convert("RGB"), np.int16)
    assert np.abs(thumb - np.asarray(preview, np.int16)).mean() < 8  # the preview, through JPEG and WebP
    kept = review(services, a.id, "keep", seconds=1)
    full = Image.open(io.BytesIO(services.blobs.get(kept.sha256, "png")))
    assert kept.thumb_sha256 != a.thumb_sha256 and not services.blobs.exists(a.thumb_sha256, "webp")
    assert services.blobs.get(kept.thumb_sha256, "webp") == make_thumbnail(full)


def test_the_store_knows_the_latent_blob_format():
    """storage looks a latent up by its extension (assets_repo.sha_in_use) without importing engine code."""
    from tierflow.engines.local.latents import LATENT_FORMAT
    from tierflow.storage.assets_repo import LATENT_BLOB_FORMAT

    assert LATENT_FORMAT == LATENT_BLOB_FORMAT
