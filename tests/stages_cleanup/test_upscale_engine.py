"""Tiled ESRGAN upscaling through spandrel on the tiny x4 model: seams, targets, progress, errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save_file

from tierflow.domain.errors import Cancelled, EngineFailed, EngineUnavailable, InvalidInput
from tierflow.engines.base import TASK_UPSCALE, RenderRequest
from tierflow.engines.local.esrgan import (
    REAL_ESRGAN_X4PLUS,
    EsrganUpscaleEngine,
    UpscalePreset,
    parse_target,
    pass_plan,
    target_size,
    tile_starts,
)
from tierflow.engines.tiny.cleanup_engines import TinyEsrganUpscaleEngine, tiny_upscale_preset

SIZE = 96
RECEPTIVE_FIELD = 17  # 3x3 convs before upsampling in the tiny model (1 RRDB block = 15, +2)


def _image(w=SIZE, h=SIZE, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, w)[None, :, None] * np.array([1.0, 0.6, 0.3])
    return Image.fromarray(np.clip(base + rng.integers(-50, 50, (h, w, 3)), 0, 255).astype(np.uint8))


def _engine(models_dir, **preset) -> TinyEsrganUpscaleEngine:
    return TinyEsrganUpscaleEngine(dataclasses.replace(tiny_upscale_preset(models_dir), **preset), models_dir)


def _upscale(engine, image=None, progress=None, **kw):
    request = RenderRequest(task=TASK_UPSCALE, init_image=image or _image(), **kw)
    [out] = list(engine.render(request, progress=progress))
    return out


@pytest.fixture(scope="module")
def untiled(models_dir):
    return np.asarray(_upscale(_engine(models_dir, tile=4096), scale=4.0).image).astype(int)


def _seam_band(tile: int, overlap: int, scale: int = 4) -> np.ndarray:
    """Output pixels whose value can depend on a tile edge: overlaps widened by the receptive field."""
    starts = tile_starts(SIZE, tile, overlap)
    lr = np.zeros(SIZE, bool)
    for prev, start in zip(starts, starts[1:]):
        lr[max(0, start - RECEPTIVE_FIELD) : prev + tile + RECEPTIVE_FIELD] = True
    band = np.repeat(lr, scale)
    return band[:, None] | band[None, :]


def test_tiled_matches_untiled_away_from_seams_and_blends_at_them(models_dir, untiled):
    seams = _seam_band(56, 8)
    assert (~seams).sum() > 0.2 * seams.size  # enough pixels away from the seams to compare
    blended = np.asarray(_upscale(_engine(models_dir, tile=56, overlap=8), scale=4.0).image).astype(int)
    diff = np.abs(blended - untiled).max(axis=2)
    assert blended.shape == untiled.shape == (SIZE * 4, SIZE * 4, 3)
    assert diff[~seams].max() <= 1  # identical up to float rounding
    assert diff[seams].max() <= 3  # cosine-ramp blending hides the tile edges
    hard = np.asarray(_upscale(_engine(models_dir, tile=56, overlap=0), scale=4.0).image).astype(int)
    hard_diff = np.abs(hard - untiled).max(axis=2)
    assert hard_diff[_seam_band(56, 0)].max() > diff[seams].max()  # without overlap the seams show


def test_progress_per_tile_and_metadata(models_dir):
    seen = []
    out = _upscale(_engine(models_dir, tile=56, overlap=8), progress=seen.append, scale=4.0)
    assert [(p.step, p.total) for p in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert out.metadata["tiles"] == 4 and out.metadata["architecture"] == "ESRGAN"
    assert out.metadata["native_scale"] == 4 and out.seed is None


def test_cancel_between_tiles(models_dir):
    request = RenderRequest(task=TASK_UPSCALE, init_image=_image(), scale=4.0)
    seen = []

    def cancel_after_first(p):
        seen.append(p)
        request.cancel.set()

    with pytest.raises(Cancelled):
        list(_engine(models_dir, tile=56, overlap=8).render(request, progress=cancel_after_first))
    assert len(seen) == 1


def test_exact_long_edge_target_with_lanczos(models_dir):
    out = _upscale(_engine(models_dir), image=_image(48, 32), extra={"target_long_edge": 150})
    assert out.image.size == (150, 100)
    assert out.metadata["native_size"] == [192, 128] and out.metadata["passes"] == 1


def test_targets_beyond_the_native_factor_take_two_passes(models_dir):
    out = _upscale(_engine(models_dir), image=_image(24, 16), extra={"target_long_edge": 200})
    assert out.image.size == (200, 133) and out.metadata["passes"] == 2


def test_upscale_is_deterministic_and_keeps_alpha(models_dir):
    engine = _engine(models_dir)
    rgba = _image(32, 32).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((32, 32)))
    a, b = _upscale(engine, image=rgba, scale=2.0), _upscale(engine, image=rgba, scale=2.0)
    assert a.image.mode == "RGBA" and a.image.size == (64, 64)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))


@pytest.mark.parametrize(
    "kw",
    [
        {"extra": {"target_long_edge": 64}},  # smaller than the 96 px source
        {"scale": 0.5},
        {"scale": 1.0},
        {},  # no target at all
        {"extra": {"target_long_edge": 8192}},  # over the preset's maximum (4096)
        {"extra": {"target_long_edge": "4k"}},  # the stage must parse_target() first
        {"scale": 2.0, "extra": {"target_long_edge": 384}},  # two targets at once
    ],
    ids=["smaller", "shrink-factor", "same", "none", "over-max", "text", "both"],
)
def test_bad_targets_name_the_to_field(models_dir, kw):
    with pytest.raises(InvalidInput) as e:
        _upscale(_engine(models_dir), **kw)
    assert e.value.field == "to" and e.value.fix


def test_target_helpers():
    assert parse_target("4K") == (None, 3840) and parse_target("2k") == (None, 2048)
    assert parse_target("x2") == (2.0, None) and parse_target("3") == (3.0, None)
    with pytest.raises(InvalidInput):
        parse_target("huge")
    assert target_size(1024, 576, long_edge=3840) == (3840, 2160)
    assert target_size(576, 1024, long_edge=2048) == (1152, 2048)
    assert pass_plan(1024, 1024, (3840, 3840), 4) == [(1024, 1024)]
    assert pass_plan(256, 256, (2048, 2048), 4) == [(256, 256), (512, 512)]


def test_offline_without_weights_is_unavailable():
    engine = EsrganUpscaleEngine(
        dataclasses.replace(REAL_ESRGAN_X4PLUS, repo="tierflow-tests/absent-upscaler"), offline=True
    )
    assert not engine.describe().available
    with pytest.raises(EngineUnavailable) as e:
        _upscale(engine, scale=2.0)
    assert "tierflow models pull" in e.value.fix


def test_checksum_mismatch_and_foreign_file_are_refused(models_dir, tmp_path):
    engine = _engine(models_dir)
    engine.load()  # builds the tiny file
    bad_sum = EsrganUpscaleEngine(dataclasses.replace(engine.preset, sha256="0" * 64))
    with pytest.raises(EngineUnavailable, match="SHA-256"):
        bad_sum.load()
    import torch

    foreign = tmp_path / "foreign.safetensors"
    save_file({"encoder.weight": torch.zeros(2, 2)}, str(foreign))
    with pytest.raises(EngineFailed):
        EsrganUpscaleEngine(UpscalePreset(id="foreign", path=str(foreign))).load()


def test_bad_tiling_is_refused():
    with pytest.raises(InvalidInput) as e:
        EsrganUpscaleEngine(UpscalePreset(id="x", path="/nowhere", tile=64, overlap=40))
    assert e.value.field == "tile"
