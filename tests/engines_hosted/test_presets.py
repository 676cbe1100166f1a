"""The catalogue of real local presets, the FLUX family file, and the model cache helpers."""

from __future__ import annotations

import re

import pytest

from tierflow.domain.errors import EngineUnavailable, NotFound
from tierflow.domain.models import Tier
from tierflow.engines.base import TASK_IMG2IMG, RenderRequest
from tierflow.engines.local import loading, models_cache, presets
from tierflow.engines.local.flux import FluxEngine

HEX40 = re.compile(r"^[0-9a-f]{40}$")
REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def test_every_revision_is_a_commit_or_none_and_every_repo_is_well_formed():
    assert len(presets.CATALOGUE) == 8
    for spec in presets.CATALOGUE:
        assert spec.revision is None or HEX40.match(spec.revision), spec.id
        assert REPO.match(spec.repo), spec.id
        assert spec.preset.kind == "local" and spec.preset.memory_gb > 0
        w, h = spec.preset.default_size
        assert max(w, h) <= spec.preset.max_size


def test_the_catalogue_covers_every_tier_the_brief_names():
    ids = {tier: [s.id for s in presets.by_tier(tier)] for tier in Tier}
    assert ids[Tier.DRAFT] == ["sd-turbo", "sdxl-turbo"]
    assert ids[Tier.FINAL] == ["sdxl", "flux-schnell"]
    assert ids[Tier.CLEANUP] == ["sdxl-inpaint"]
    assert ids[Tier.UPSCALE] == ["realesrgan-x4plus"]
    assert ids[Tier.VIDEO] == ["wan2.2-ti2v-5b", "ltx-video"]
    assert presets.get("flux-schnell").engine_class == "flux"
    assert presets.get("flux-schnell").preset.dtype == "bfloat16"
    with pytest.raises(NotFound, match="no local preset") as info:
        presets.get("sd-1.5")
    assert "sd-turbo" in info.value.fix


def test_a_missing_real_preset_offline_names_the_fix():
    spec = presets.get("sdxl")

    class NeverCalled:
        @classmethod
        def from_pretrained(cls, *a, **kw):  # pragma: no cover - must not be reached
            raise AssertionError("the pipeline must not be constructed when weights are missing")

    with pytest.raises(EngineUnavailable) as info:
        loading.load_pipeline(NeverCalled, spec.repo, spec.revision, offline=True)
    text = str(info.value)
    assert "stabilityai/stable-diffusion-xl-base-1.0@462165984030" in text
    assert "tierflow models pull" in info.value.fix and "TIERFLOW_PRESET=tiny" in info.value.fix


def test_pull_offline_is_engine_unavailable(tmp_path):
    spec = presets.get("sd-turbo")
    with pytest.raises(EngineUnavailable, match="not on disk and the hub cannot be reached"):
        models_cache.pull(spec.repo, spec.revision, progress=False, cache_dir=tmp_path)


def _fake_cache(root, repo: str, commit: str, payload: bytes) -> None:
    """The layout huggingface_hub writes: blobs, refs/main, snapshots/<commit>/file -> blob."""
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "blobs").mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    blob = folder / "blobs" / ("b" * 64)
    blob.write_bytes(payload)
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "model_index.json").symlink_to(blob)


def test_list_and_remove_cached_models(tmp_path):
    assert models_cache.list_cached(tmp_path / "absent") == []
    _fake_cache(tmp_path, "stabilityai/sd-turbo", "a" * 40, b"x" * 4096)
    _fake_cache(tmp_path, "stabilityai/sdxl-turbo", "c" * 40, b"y" * 100)
    cached = models_cache.list_cached(tmp_path)
    assert [(m.repo, m.revision, m.refs) for m in cached] == [
        ("stabilityai/sd-turbo", "a" * 40, ("main",)),
        ("stabilityai/sdxl-turbo", "c" * 40, ("main",)),
    ]
    assert cached[0].size_bytes >= 4096
    assert models_cache.remove("stabilityai/sd-turbo", cache_dir=tmp_path) >= 4096
    assert [m.repo for m in models_cache.list_cached(tmp_path)] == ["stabilityai/sdxl-turbo"]
    with pytest.raises(NotFound, match="not in the model cache"):
        models_cache.remove("stabilityai/sd-turbo", cache_dir=tmp_path)


def test_flux_family_limits_and_arguments():
    spec = presets.get("flux-schnell")
    engine = FluxEngine(spec.preset, max_sequence_length=spec.max_sequence_length, offline=True)
    caps = engine.capabilities()
    assert caps.size_multiple == 16 and caps.family == "flux" and caps.default_steps == 4
    assert caps.default_guidance == 0.0
    request = RenderRequest(task=TASK_IMG2IMG, width=768, height=512)  # img2img too: its size is not the image's
    assert engine.pipeline_kwargs(request) == {"max_sequence_length": 256, "width": 768, "height": 512}
    assert engine.latent_drafts and spec.preset.tiny_decoder == "madebyollin/taef1"
    info = engine.describe()
    assert info.pipeline == "FluxPipeline" and info.revision == spec.revision and not info.available
