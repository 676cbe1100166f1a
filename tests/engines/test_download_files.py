"""Download only what loads: one allow_patterns list for `tierflow models pull` and first use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tierflow.engines.local import loading
from tierflow.engines.local.presets import CATALOGUE, get

REV = "0123456789abcdef0123456789abcdef01234567"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def full_repo(models_dir, tmp_path_factory):
    """A repo as the hub holds it: default and fp16 weights, .bin copies, a root single-file checkpoint."""
    import torch
    from diffusers import StableDiffusionPipeline

    from tierflow.engines.tiny.build import ensure_built

    root = tmp_path_factory.mktemp("repo") / "snapshot"
    pipe = StableDiffusionPipeline.from_pretrained(ensure_built(models_dir, "tiny-sd"), local_files_only=True)
    pipe.save_pretrained(root, safe_serialization=True)
    pipe.to(torch.float16).save_pretrained(root, safe_serialization=True, variant="fp16")
    pipe.save_pretrained(root / "bin", safe_serialization=False)
    for f in (root / "bin").rglob("*.bin"):
        shutil.copy(f, root / f.parent.name / f.name)
    shutil.rmtree(root / "bin")
    (root / "sd_turbo.safetensors").write_bytes(b"single-file checkpoint")
    return root


def test_the_variant_list_is_what_from_pretrained_opens(full_repo, tmp_path):
    from diffusers import StableDiffusionPipeline
    from huggingface_hub.utils import filter_repo_objects

    patterns = loading.files_for("fp16")
    chosen = list(filter_repo_objects(_files(full_repo), allow_patterns=patterns))
    weights = [f for f in chosen if f.endswith((".safetensors", ".bin"))]
    # only the fp16 safetensors: no default-precision copy, no .bin, no root single-file checkpoint
    assert weights and all(".fp16." in f for f in weights), weights
    assert {Path(f).parent.name for f in weights} == {"unet", "vae", "text_encoder"}
    # ...and that is enough: the pipeline loads from a cache holding only those files, hub offline
    snap = tmp_path / "hub" / "models--org--model" / "snapshots" / REV
    for f in chosen:
        (snap / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(full_repo / f, snap / f)
    pipe = StableDiffusionPipeline.from_pretrained("org/model", revision=REV, variant="fp16",
                                                   cache_dir=tmp_path / "hub", local_files_only=True)
    assert pipe.unet is not None and pipe.text_encoder is not None


def test_pull_and_first_use_share_the_list(monkeypatch):
    from tierflow.delivery.cli.models import patterns_for

    asked = []
    monkeypatch.setattr(loading, "weights_present", lambda repo, revision: False)
    monkeypatch.setattr(loading, "download", lambda repo, revision, allow_patterns=None: asked.append(allow_patterns))

    class Refuse:
        @staticmethod
        def from_pretrained(*args, **kwargs):
            raise OSError("stop after the download")

    spec = get("sdxl-turbo")
    with pytest.raises(Exception):
        loading.load_pipeline(Refuse, spec.repo, spec.revision, offline=False,
                              allow_patterns=loading.files_for(spec.preset.variant))
    assert asked == [patterns_for(spec)]
    for spec in CATALOGUE:
        assert patterns_for(spec) == loading.files_for(spec.preset.variant, spec.filename)


def test_the_engine_asks_for_its_variant_files_on_first_use(monkeypatch, tmp_path):
    from tierflow.engines.local.stable_diffusion_xl import StableDiffusionXLEngine

    seen = {}

    def fake_load(cls, repo, revision, *, offline, allow_patterns=None, **kwargs):
        seen[repo] = allow_patterns
        raise loading.offline_error(repo, revision)

    monkeypatch.setattr(loading, "load_pipeline", fake_load)
    engine = StableDiffusionXLEngine(get("sdxl-turbo").preset, device="cpu")
    with pytest.raises(Exception):
        engine.load()
    assert seen["stabilityai/sdxl-turbo"] == loading.files_for("fp16")
