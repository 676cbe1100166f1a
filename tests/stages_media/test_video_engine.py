"""Image-to-video engine on the tiny Wan 2.2 TI2V pipeline: a real MP4, seeded, validated, cancellable."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tierflow.domain.errors import Cancelled, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import TASK_IMG2VID, TASK_TXT2IMG, RenderRequest
from tierflow.engines.local.diffusers_base import LocalPreset
from tierflow.engines.local.ltx_video import LtxImageToVideoEngine
from tierflow.engines.local.wan_video import WanImageToVideoEngine, check_video_source, encode_mp4
from tierflow.engines.tiny.build_video import NAME, ensure_built_video


def _source(size: tuple[int, int] = (64, 64)) -> Image.Image:
    img = Image.new("RGB", size, (30, 60, 140))
    ImageDraw.Draw(img).ellipse((8, 8, size[0] - 20, size[1] - 20), fill=(230, 180, 40))
    return img


@pytest.fixture(scope="module")
def engine(models_dir: Path) -> WanImageToVideoEngine:
    folder = ensure_built_video(models_dir)
    preset = LocalPreset(
        id="tiny-video", tier=Tier.VIDEO, repo=str(folder), revision=None, kind="tiny", dtype="float32",
        default_size=(64, 64), default_steps=2, max_size=256,
    )
    eng = WanImageToVideoEngine(preset, offline=True, device="cpu")
    yield eng
    eng.close()


def _request(**kw) -> RenderRequest:
    base = dict(task=TASK_IMG2VID, prompt="camera pans slowly", seeds=[7], width=64, height=64, steps=2,
                init_image=_source(), frames=5, fps=8)
    base.update(kw)
    return RenderRequest(**base)


def _read_mp4(data: bytes) -> tuple[list[np.ndarray], dict]:
    import imageio.v3 as iio

    frames = list(iio.imiter(io.BytesIO(data), extension=".mp4"))
    meta = iio.immeta(io.BytesIO(data), extension=".mp4")
    return frames, meta


def test_tiny_wan_renders_a_readable_mp4(engine: WanImageToVideoEngine) -> None:
    seen = []
    (out,) = list(engine.render(_request(), progress=seen.append))
    assert out.video_format == "mp4" and out.video_bytes and out.seed == 7
    assert (out.width, out.height) == (64, 64)
    assert len(out.frames) == 5 and all(f.size == (64, 64) for f in out.frames)
    frames, meta = _read_mp4(out.video_bytes)
    assert len(frames) == 5
    assert frames[0].shape == (64, 64, 3)
    assert meta["fps"] == pytest.approx(8)
    assert meta["codec"] == "h264"
    # The file holds what the engine returned: luma within H.264 error (yuv420p halves chroma, and the
    # tiny model's random-weight frames are pixel noise, so compare brightness, not colour).
    luma = np.array([0.299, 0.587, 0.114])
    for stored, returned in zip(frames, out.frames):
        assert np.abs(stored @ luma - np.asarray(returned) @ luma).mean() < 8
    denoise = [p for p in seen if p.message == "denoising"]
    assert [p.step for p in denoise] == [1, 2] and denoise[-1].total == 2


def test_same_seed_same_clip_other_seed_other_clip(engine: WanImageToVideoEngine) -> None:
    a = next(engine.render(_request(seeds=[3])))
    b = next(engine.render(_request(seeds=[3])))
    c = next(engine.render(_request(seeds=[4])))
    arr = lambda r: np.stack([np.asarray(f) for f in r.frames])  # noqa: E731
    assert np.array_equal(arr(a), arr(b))
    assert not np.array_equal(arr(a), arr(c))


def test_cancel_between_steps(engine: WanImageToVideoEngine) -> None:
    request = _request(steps=3)

    def cancel_after_first(progress) -> None:
        request.cancel.set()

    with pytest.raises(Cancelled):
        list(engine.render(request, progress=cancel_after_first))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"frames": 6}, "frames"),
        ({"frames": 1}, "frames"),
        ({"frames": 125}, "frames"),
        ({"width": 80}, "size"),  # not a multiple of 32
        ({"width": 512, "height": 512}, "size"),  # over the preset's max_size
        ({"width": 128, "height": 64}, "size"),  # stretches a square image
        ({"fps": 0}, "fps"),
        ({"init_image": None}, "image"),
        ({"init_image": b"not an image"}, "image"),
        ({"task": TASK_TXT2IMG}, "engine"),
        ({"seeds": [1, 2]}, "n"),
    ],
)
def test_bad_requests_name_the_field(engine: WanImageToVideoEngine, change: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        engine.prepare(_request(**change))
    assert err.value.field == field and err.value.fix


def test_frame_error_suggests_a_valid_count(engine: WanImageToVideoEngine) -> None:
    with pytest.raises(InvalidInput, match=r"nearest: 49"):
        engine.prepare(_request(frames=48))


def test_size_for_keeps_aspect_on_the_grid(engine: WanImageToVideoEngine) -> None:
    assert engine.size_for(Image.new("RGB", (1920, 1080)), 192) == (192, 96)  # 108 rounds to 96
    assert engine.size_for(Image.new("RGB", (1200, 1600)), 1024) == (192, 256)  # capped at max_size 256
    assert engine.size_for(Image.new("RGB", (300, 500)), 256) == (160, 256)
    assert engine.size_for(Image.new("RGB", (300, 500))) == (64, 64)  # preset default 64: min_size wins


def test_ltx_rules_differ(engine: WanImageToVideoEngine) -> None:
    ltx = LtxImageToVideoEngine(engine.preset, offline=True)
    assert ltx.prepare(_request(frames=9)).frames == 9
    with pytest.raises(InvalidInput, match=r"8k\+1"):
        ltx.prepare(_request(frames=5))
    assert ltx.pipeline_kwargs(_request())["frame_rate"] == 8


def test_video_of_a_video_is_refused() -> None:
    check_video_source("image")
    with pytest.raises(InvalidInput) as err:
        check_video_source("video")
    assert err.value.field == "asset" and "image" in err.value.fix


def test_encode_mp4_refuses_odd_sizes() -> None:
    with pytest.raises(InvalidInput) as err:
        encode_mp4([np.zeros((33, 32, 3), np.uint8)] * 2, fps=8)
    assert err.value.field == "size"


def test_tiny_build_is_reused(models_dir: Path) -> None:
    folder = ensure_built_video(models_dir)
    stamp = (folder / "model_index.json").stat().st_mtime_ns
    assert ensure_built_video(models_dir) == folder == models_dir / NAME
    assert (folder / "model_index.json").stat().st_mtime_ns == stamp
    assert not list(models_dir.glob(".build-*"))  # no staging left behind
