"""The real sd-turbo preset, really loaded: its own loading code on an architecture-exact snapshot.

The snapshot has SD-Turbo's released architecture (engines/tiny/architectures.json) with random
fp16 weights, laid out in a Hugging Face cache at the preset's pinned revision, with TAESD at its
pinned revision beside it. `tierflow draft -e sd-turbo` then runs with the hub offline, exactly
as on a machine where `tierflow models pull sd-turbo` was run. Building the 2.5 GB snapshot takes
~20 s on an idle 2-core machine (kept in $TIERFLOW_TEST_MODELS between runs when that is set);
drafts are 64² and one step, so rendering is cheap — loading 1.3 B parameters is most of the time.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tierflow.engines.local.presets import get
from tierflow.engines.tiny.build_real import build_preset_snapshot

pytestmark = [
    pytest.mark.slow,
    # loading a preset touches no database: the PostgreSQL pass would repeat this run exactly
    pytest.mark.skipif(os.environ.get("TIERFLOW_TEST_POSTGRES") == "1", reason="database-independent; run on SQLite"),
]


@pytest.fixture(scope="module")
def hub_cache(models_dir):
    cache = models_dir / "hf-arch"
    build_preset_snapshot("sd-turbo", cache)
    return cache


def test_sd_turbo_drafts_offline_through_the_cli_and_keeps_equal_plain_diffusers(home, hub_cache):
    env = {**os.environ, "TIERFLOW_HOME": str(home), "TIERFLOW_PRESET": "real", "HF_HUB_CACHE": str(hub_cache),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}

    def cli(*args: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "tierflow", *args, "--json"], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    cli("project", "create", "real", "--min-drafts", "0")
    out = cli("draft", "a red fox in snow", "-p", "real", "-e", "sd-turbo", "-n", "2", "--seed", "5",
              "--size", "64x64")
    spec = get("sd-turbo")
    asset = out["assets"][1]
    params = asset["params"]
    assert asset["engine_id"] == "sd-turbo" and asset["format"] == "jpg" and params["decoder"] == "taesd"
    assert params["model"] == spec.repo and params["revision"] == spec.revision and params["steps"] == 1
    kept = cli("review", asset["id"], "--keep")["asset"]
    assert kept["format"] == "png" and kept["params"]["decoder"] == "vae"

    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(spec.repo, revision=spec.revision, variant="fp16",
                                                   torch_dtype=torch.float32, cache_dir=hub_cache,
                                                   local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    plain = pipe("a red fox in snow", num_inference_steps=1, guidance_scale=0.0, width=64, height=64,
                 generator=torch.Generator("cpu").manual_seed(asset["seed"])).images[0]
    blob = home / "blobs" / kept["sha256"][:2] / kept["sha256"][2:4] / f"{kept['sha256']}.png"
    ours = np.asarray(Image.open(io.BytesIO(blob.read_bytes())).convert("RGB"), np.int16)
    assert np.abs(ours - np.asarray(plain, np.int16)).max() <= 1
