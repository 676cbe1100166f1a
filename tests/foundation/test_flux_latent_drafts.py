"""FLUX latent drafts: packed latents unpacked, a TAEF1 preview, decode-on-keep equal to plain FluxPipeline.

`tiny-flux` is FLUX.1-schnell's pipeline at toy width (16-channel VAE with FLUX's scaling and shift
factors, 2x2 packed latents) with a 16-channel AutoencoderTiny in TAEF1's place, so every FLUX step
of the latent-draft path runs here for real: draft on the FLUX engine, keep, promote FLUX → FLUX.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from tierflow.engines.local.latents import latent_from_bytes
from tierflow.stages.draft import draft
from tierflow.stages.promote import promote
from tierflow.stages.review import review

SIZE = "64x64"
PROMPT = "a lighthouse at dusk"
T5 = 256  # the FLUX engine's max_sequence_length (schnell's); FluxPipeline's own default is 512


def pixels(services, asset) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(services.blobs.get(asset.sha256, asset.format))).convert("RGB"), np.int16)


def stored_latent(services, asset) -> np.ndarray:
    ref = asset.params["latent"]
    return latent_from_bytes(services.blobs.get(ref["sha256"], ref["format"]))


def seeded(seed: int) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(seed)


@pytest.fixture(scope="module")
def plain_flux(models_dir):
    """The tiny FLUX model as a user would load it with diffusers alone."""
    from diffusers import FluxPipeline

    from tierflow.engines.tiny.build import ensure_built

    pipe = FluxPipeline.from_pretrained(ensure_built(models_dir, "tiny-flux"), local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_a_flux_draft_keeps_the_unpacked_latent_and_previews_it_with_taef1(services, project, plain_flux, models_dir):
    from diffusers import AutoencoderTiny, FluxPipeline

    from tierflow.engines.tiny.build import ensure_built

    a = draft(services, project.id, PROMPT, n=1, seed=11, size=SIZE, engine="tiny-flux").assets[0]
    assert a.engine_id == "tiny-flux" and a.format == "jpg" and a.params["decoder"] == "taesd"
    latent = stored_latent(services, a)
    assert latent.shape == (1, 16, 8, 8) and a.params["latent"]["shape"] == [1, 16, 8, 8]  # unpacked, 64² → 8²
    # the latent is FluxPipeline's own, unpacked
    packed = plain_flux(PROMPT, num_inference_steps=a.params["steps"], guidance_scale=0.0, width=64, height=64,
                        max_sequence_length=T5, generator=seeded(a.seed), output_type="latent").images
    assert np.array_equal(latent, plain_flux._unpack_latents(packed, 64, 64, plain_flux.vae_scale_factor).numpy())
    # the preview is what diffusers' documented TAEF1 swap (pipe.vae = AutoencoderTiny) shows, through JPEG
    taef1 = AutoencoderTiny.from_pretrained(ensure_built(models_dir, "tiny-taef1"), local_files_only=True)
    swapped = FluxPipeline.from_pipe(plain_flux, vae=taef1)
    via_taef1 = np.asarray(swapped(PROMPT, num_inference_steps=a.params["steps"], guidance_scale=0.0, width=64,
                                   height=64, max_sequence_length=T5, generator=seeded(a.seed)).images[0], np.int16)
    preview = pixels(services, a)
    full = np.asarray(plain_flux(PROMPT, num_inference_steps=a.params["steps"], guidance_scale=0.0, width=64,
                                 height=64, max_sequence_length=T5, generator=seeded(a.seed)).images[0], np.int16)
    assert np.abs(preview - via_taef1).mean() < 4 < np.abs(preview - full).mean()


def test_keeping_a_flux_draft_equals_plain_flux_for_the_same_seed(services, project, plain_flux):
    d = draft(services, project.id, PROMPT, n=2, seed=21, size=SIZE, engine="tiny-flux")
    for asset in d.assets:
        kept = review(services, asset.id, "keep", seconds=1)
        assert kept.format == "png" and kept.params["decoder"] == "vae" and kept.params["preview_decoder"] == "taesd"
        plain = plain_flux(PROMPT, num_inference_steps=kept.params["steps"], guidance_scale=0.0, width=64, height=64,
                           max_sequence_length=T5, generator=seeded(asset.seed), output_type="pil").images[0]
        diff = np.abs(pixels(services, kept) - np.asarray(plain, np.int16)).max()
        assert diff <= 1, f"seed {asset.seed}: max abs difference {diff}/255"


def test_a_flux_to_flux_promote_starts_from_the_draft_latent(services, project, plain_flux):
    from diffusers import FluxImg2ImgPipeline

    d = draft(services, project.id, PROMPT, n=1, seed=9, size=SIZE, engine="tiny-flux").assets[0]
    latent = stored_latent(services, d)
    final = promote(services, d.id, strength=0.5, size=SIZE, engine="tiny-flux").assets[0]
    assert final.params["handoff"] == "latent" and final.params["init"] == "latent"
    assert (final.width, final.height) == (64, 64)
    img2img = FluxImg2ImgPipeline.from_pipe(plain_flux)
    plain = img2img(PROMPT, image=torch.from_numpy(latent), strength=0.5, num_inference_steps=final.params["steps"],
                    guidance_scale=0.0, width=64, height=64, max_sequence_length=T5, generator=seeded(d.seed)).images[0]
    assert np.abs(pixels(services, final) - np.asarray(plain, np.int16)).max() <= 1


def test_flux_prompt_embeddings_are_cached_per_prompt_and_change_nothing(services, project, monkeypatch):
    """The fast path's prompt cache covers FLUX (CLIP pooled + T5 sequence): computed once per prompt,
    and the image is the one the text path gives."""
    first = draft(services, project.id, PROMPT, n=2, seed=31, size=SIZE, engine="tiny-flux").assets
    draft(services, project.id, PROMPT, n=1, seed=32, size=SIZE, engine="tiny-flux")
    cache = services.engines.get("tiny-flux").prompt_cache
    assert cache.misses == 1 and cache.hits == 2  # one lookup per forward pass: 3 outputs, one encode
    monkeypatch.setenv("TIERFLOW_FAST", "tiny,batch")  # the same render without the cache
    services.engines.get("tiny-flux").close()  # the fast path is read when the engine loads
    again = draft(services, project.id, PROMPT, n=2, seed=31, size=SIZE, engine="tiny-flux").assets
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(stored_latent(services, a), stored_latent(services, b))
