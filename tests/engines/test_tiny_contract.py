"""The tiny draft, final and FLUX engines pass the shared engine contract."""

from __future__ import annotations

import pytest

from tests.engines.contract import EngineContract
from tierflow.config import Settings
from tierflow.engines.catalog import build_registry


@pytest.fixture(scope="module")
def registry(models_dir, tmp_path_factory):
    return build_registry(Settings(home=tmp_path_factory.mktemp("home"), preset="tiny", models_path=models_dir))


class TestTinyDraft(EngineContract):
    @pytest.fixture()
    def engine(self, registry):
        return registry.get("tiny-draft")


class TestTinyFinal(EngineContract):
    @pytest.fixture()
    def engine(self, registry):
        return registry.get("tiny-final")


class TestTinyFlux(EngineContract):
    @pytest.fixture()
    def engine(self, registry):
        return registry.get("tiny-flux")


def test_tiny_weights_reload_from_disk_only(models_dir):
    """The tiny pipeline is saved with save_pretrained and loaded back with local_files_only."""
    from diffusers import StableDiffusionPipeline

    from tierflow.engines.tiny.build import ensure_built

    folder = ensure_built(models_dir, "tiny-sd")
    assert (folder / "model_index.json").exists()
    import json

    saved = json.loads((folder / "tokenizer" / "tokenizer.json").read_text())
    assert saved["model"]["type"] == "BPE" and saved["model"]["merges"], "our own vocabulary and merges"
    pipe = StableDiffusionPipeline.from_pretrained(folder, local_files_only=True)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    ids = pipe.tokenizer("a red fox").input_ids
    assert ids[0] == pipe.tokenizer.bos_token_id and ids[-1] == pipe.tokenizer.eos_token_id


def test_engines_loading_together_on_threads_all_get_real_weights(models_dir, tmp_path):
    """A draft and a final engine warming up at once (the studio's first request) both load fully."""
    from concurrent.futures import ThreadPoolExecutor

    from tierflow.engines.base import TASK_TXT2IMG, RenderRequest

    for _ in range(3):  # a fresh registry each round: every round is a first load
        fresh = build_registry(Settings(home=tmp_path, preset="tiny", models_path=models_dir))
        engines = [fresh.get("tiny-draft"), fresh.get("tiny-final"), fresh.get("tiny-inpaint")]
        with ThreadPoolExecutor(len(engines)) as pool:
            pipes = list(pool.map(lambda e: e.load(), engines))
        for pipe in pipes:
            assert not any(p.is_meta for p in pipe.unet.parameters()), "a pipeline was left with meta tensors"
        out = next(iter(engines[0].render(RenderRequest(task=TASK_TXT2IMG, prompt="a cat", seeds=[1], width=64, height=64))))
        assert out.image.size == (64, 64)
