"""FalFluxEngine through the real fal-client SDK against the loopback FakeFal."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from tierflow.domain.errors import EngineFailed, EngineUnavailable, InvalidInput
from tierflow.engines.base import RenderRequest
from tierflow.engines.hosted.fakes import FakeFal
from tierflow.engines.hosted.fal import FalFluxEngine
from tierflow.engines.hosted.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=0.5, total=10.0)


@pytest.fixture()
def fake():
    with FakeFal(key="fal-test") as server:
        yield server


def engine(fake: FakeFal, preset: str = "fal-flux-schnell", **kw) -> FalFluxEngine:
    kw.setdefault("key", "fal-test")
    return FalFluxEngine(preset, base_url=fake.url, retry=kw.pop("retry", FAST), **kw)


def txt2img(**kw) -> RenderRequest:
    base = dict(task="txt2img", prompt="a red fox in the snow", width=512, height=384, seeds=[5])
    base.update(kw)
    return RenderRequest(**base)


def test_txt2img_downloads_the_image_from_the_returned_url(fake):
    eng = engine(fake)
    [out] = list(eng.render(txt2img()))
    assert out.image.size == (512, 384) and out.seed == 5
    assert out.metadata["provider"] == "fal" and out.metadata["model"] == "fal-ai/flux/schnell"
    assert out.metadata["usage"] == {"images": 1, "megapixels": 0.1966}
    assert out.metadata["credits"] == eng.credits_for_size(512, 384) == pytest.approx(0.059, abs=1e-3)
    [sent] = fake.requests  # the image download is not an API call
    assert sent.path == "/fal-ai/flux/schnell" and sent.headers["authorization"] == "Key fal-test"
    body = sent.json()
    assert body["image_size"] == {"width": 512, "height": 384}
    assert body["seed"] == 5 and body["num_inference_steps"] == 4 and "guidance_scale" not in body


def test_sync_mode_takes_the_image_from_a_data_uri(fake):
    [out] = list(engine(fake, sync_mode=True).render(txt2img()))
    assert out.image.size == (512, 384) and fake.files == {}


def test_dev_img2img_sends_the_init_image_and_strength(fake):
    init = Image.new("RGB", (64, 64), (10, 200, 10))
    req = txt2img(task="img2img", init_image=init, strength=0.4, width=256, height=256, steps=8)
    [out] = list(engine(fake, "fal-flux-dev").render(req))
    sent = fake.requests[-1]
    assert sent.path == "/fal-ai/flux/dev/image-to-image"
    body = sent.json()
    assert body["strength"] == 0.4 and body["guidance_scale"] == 3.5 and body["num_inference_steps"] == 8
    header, data = body["image_url"].split(",", 1)
    assert header == "data:image/png;base64"
    sent_image = Image.open(io.BytesIO(base64.b64decode(data)))
    assert sent_image.size == (256, 256) and sent_image.convert("RGB").getpixel((3, 3)) == (10, 200, 10)
    assert out.image.size == (256, 256)


def test_schnell_has_no_img2img(fake):
    with pytest.raises(InvalidInput, match="cannot do img2img"):
        list(engine(fake).render(txt2img(task="img2img", init_image=Image.new("RGB", (64, 64)))))


def test_429_is_retried_and_then_succeeds(fake):
    fake.script("429")
    [out] = list(engine(fake).render(txt2img()))
    assert out.image is not None and len(fake.requests) == 2


def test_500_is_retried_and_then_succeeds(fake):
    fake.script("500", "500")
    [out] = list(engine(fake).render(txt2img()))
    assert out.image is not None and len(fake.requests) == 3


def test_persistent_500_is_engine_failed():
    with FakeFal(default="500") as fake:
        with pytest.raises(EngineFailed, match="failed with 500 after 3 attempts"):
            list(engine(fake).render(txt2img()))
        assert len(fake.requests) == 3


def test_content_policy_refusal_is_engine_failed_naming_the_prompt(fake):
    fake.script("blocked")
    with pytest.raises(EngineFailed, match="refused the prompt \\(content policy\\)") as info:
        list(engine(fake).render(txt2img()))
    assert info.value.field == "prompt" and len(fake.requests) == 1


def test_a_flagged_image_is_withheld(fake):
    fake.script("nsfw")
    with pytest.raises(EngineFailed, match="safety checker"):
        list(engine(fake).render(txt2img()))


def test_malformed_json_is_engine_failed(fake):
    fake.script("malformed")
    with pytest.raises(EngineFailed, match="malformed response"):
        list(engine(fake).render(txt2img()))


def test_no_image_is_engine_failed(fake):
    fake.script("no_image")
    with pytest.raises(EngineFailed, match="returned no image"):
        list(engine(fake).render(txt2img()))


def test_a_slow_response_times_out_as_engine_failed_without_sdk_retries(fake):
    fake.script("slow", "slow", "slow")
    t0 = time.perf_counter()
    with pytest.raises(EngineFailed, match="did not answer within 0.5 s"):
        list(engine(fake).render(txt2img()))
    assert time.perf_counter() - t0 < 2.0 and len(fake.requests) == 1


def test_missing_key_is_engine_unavailable(fake, monkeypatch):
    monkeypatch.delenv("FAL_KEY", raising=False)
    eng = FalFluxEngine("fal-flux-dev", base_url=fake.url, retry=FAST)
    assert not eng.describe().available
    with pytest.raises(EngineUnavailable) as info:
        list(eng.render(txt2img()))
    assert "FAL_KEY" in info.value.fix and fake.requests == []


def test_wrong_key_is_engine_unavailable_and_env_key_works(fake, monkeypatch):
    with pytest.raises(EngineUnavailable, match="rejected the API key"):
        list(engine(fake, key="nope").render(txt2img()))
    monkeypatch.setenv("FAL_KEY", "fal-test")
    assert len(list(FalFluxEngine("fal-flux-schnell", base_url=fake.url, retry=FAST).render(txt2img()))) == 1


def test_sizes_must_be_multiples_of_16(fake):
    with pytest.raises(InvalidInput, match="multiple of 16"):
        list(engine(fake).render(txt2img(width=520)))
