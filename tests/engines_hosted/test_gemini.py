"""GeminiImageEngine through the real google-genai SDK against the loopback FakeGemini."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from tierflow.domain.errors import EngineFailed, EngineUnavailable, InvalidInput
from tierflow.engines.base import RenderRequest
from tierflow.engines.hosted.fakes import FakeGemini
from tierflow.engines.hosted.fakes.gemini_server import inline_images
from tierflow.engines.hosted.gemini import GeminiImageEngine, aspect_ratio_for, image_size_for
from tierflow.engines.hosted.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=0.5, total=10.0)


@pytest.fixture()
def fake():
    with FakeGemini(api_key="test-key") as server:
        yield server


def engine(fake: FakeGemini, preset: str = "gemini-2.5-flash-image", **kw) -> GeminiImageEngine:
    kw.setdefault("api_key", "test-key")
    return GeminiImageEngine(preset, base_url=fake.url, retry=kw.pop("retry", FAST), **kw)


def txt2img(**kw) -> RenderRequest:
    base = dict(task="txt2img", prompt="a red fox in the snow", width=1024, height=1024, seeds=[3])
    base.update(kw)
    return RenderRequest(**base)


def test_txt2img_returns_the_image_usage_and_model(fake):
    eng = engine(fake)
    [out] = list(eng.render(txt2img()))
    assert out.image.size == (1024, 1024) and out.seed == 3
    meta = out.metadata
    assert meta["provider"] == "google" and meta["model"] == "gemini-2.5-flash-image"
    assert meta["usage"]["candidates_token_count"] == 1290
    assert meta["usage"]["output_image_token_count"] == 1290
    assert meta["usage"]["total_token_count"] == meta["usage"]["prompt_token_count"] + 1290
    assert meta["credits"] == eng.credits_from_usage(meta["usage"]) > 3.8  # 1290 image tokens at 3 credits/1k
    [sent] = fake.requests
    assert sent.path.endswith("/models/gemini-2.5-flash-image:generateContent")
    assert sent.headers["x-goog-api-key"] == "test-key"
    body = sent.json()
    assert body["contents"][0]["parts"][0]["text"] == "a red fox in the snow"
    assert body["generationConfig"]["seed"] == 3
    assert body["generationConfig"]["imageConfig"] == {"aspectRatio": "1:1"}  # flash takes no image size


def test_pro_asks_for_the_image_size_and_aspect_ratio(fake):
    slower = RetryPolicy(attempts=1, timeout=10.0)  # the fake encodes a 2688x1536 PNG
    [out] = list(engine(fake, "gemini-3-pro-image", retry=slower).render(txt2img(width=2048, height=1152)))
    config = fake.requests[-1].json()["generationConfig"]["imageConfig"]
    assert config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert out.image.size == (2688, 1536) and out.metadata["model"] == "gemini-3-pro-image-preview"


def test_img2img_sends_the_init_image_as_an_inline_reference_part(fake):
    init = Image.new("RGB", (96, 64), (200, 30, 30))
    list(engine(fake).render(txt2img(task="img2img", init_image=init, strength=0.5, width=1344, height=768)))
    parts = fake.requests[-1].json()["contents"][0]["parts"]
    assert parts[0]["text"] == "a red fox in the snow"
    [inline] = inline_images(parts)
    assert inline["mime_type"] == "image/png"
    sent = Image.open(io.BytesIO(inline["bytes"]))
    assert sent.size == (96, 64) and sent.convert("RGB").getpixel((5, 5)) == (200, 30, 30)


def test_each_seed_is_one_call_and_yields_in_order(fake):
    outs = list(engine(fake).render(txt2img(seeds=[1, 2, 3])))
    assert [o.index for o in outs] == [0, 1, 2] and [o.seed for o in outs] == [1, 2, 3]
    assert [r.json()["generationConfig"]["seed"] for r in fake.requests] == [1, 2, 3]


def test_429_is_retried_and_then_succeeds(fake):
    fake.script("429", "429")
    [out] = list(engine(fake).render(txt2img()))
    assert out.image is not None and len(fake.requests) == 3


def test_429_honours_retry_after(fake):
    fake.retry_after = "1"
    fake.script("429")
    t0 = time.perf_counter()
    list(engine(fake).render(txt2img()))
    assert time.perf_counter() - t0 >= 0.95  # the server's 1 s, not the policy's 0.01 s backoff
    assert len(fake.requests) == 2


def test_500_is_retried_and_then_succeeds(fake):
    fake.script("500")
    [out] = list(engine(fake).render(txt2img()))
    assert out.image is not None and len(fake.requests) == 2


def test_persistent_500_is_engine_failed_after_the_attempts():
    with FakeGemini(default="500") as fake:
        with pytest.raises(EngineFailed, match="500 INTERNAL after 3 attempts"):
            list(engine(fake).render(txt2img()))
        assert len(fake.requests) == 3


@pytest.mark.parametrize(("behaviour", "message"), [
    ("blocked", "refused the prompt \\(block reason SAFETY\\)"),
    ("safety", "withheld the image \\(finish reason IMAGE_SAFETY\\)"),
])
def test_a_safety_block_is_engine_failed_naming_the_prompt(fake, behaviour, message):
    fake.script(behaviour)
    with pytest.raises(EngineFailed, match=message) as info:
        list(engine(fake).render(txt2img()))
    assert info.value.field == "prompt" and "rephrase" in info.value.fix
    assert len(fake.requests) == 1  # a refusal is an answer, not retried


def test_malformed_json_is_engine_failed(fake):
    fake.script("malformed")
    with pytest.raises(EngineFailed, match="malformed response"):
        list(engine(fake).render(txt2img()))


def test_a_response_without_an_image_is_engine_failed_and_quotes_the_text(fake):
    fake.script("no_image")
    with pytest.raises(EngineFailed, match="returned no image: I can describe"):
        list(engine(fake).render(txt2img()))


def test_a_slow_response_times_out_as_engine_failed(fake):
    # EngineFailed, not EngineUnavailable: the request reached the provider (and may be billed).
    fake.slow_seconds = 3.0
    fake.script("slow")
    t0 = time.perf_counter()
    with pytest.raises(EngineFailed, match="did not answer within 0.5 s"):
        list(engine(fake).render(txt2img()))
    assert time.perf_counter() - t0 < 2.0 and len(fake.requests) == 1


def test_missing_key_is_engine_unavailable_naming_the_variable(fake, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    eng = GeminiImageEngine("gemini-2.5-flash-image", base_url=fake.url, retry=FAST)
    assert not eng.describe().available
    with pytest.raises(EngineUnavailable) as info:
        list(eng.render(txt2img()))
    assert "GEMINI_API_KEY" in info.value.fix and info.value.field == "engine"
    assert fake.requests == []


def test_key_from_the_environment_and_a_wrong_key_is_unavailable(fake, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "test-key")
    eng = GeminiImageEngine("gemini-2.5-flash-image", base_url=fake.url, retry=FAST)
    assert eng.describe().available
    assert len(list(eng.render(txt2img()))) == 1
    with pytest.raises(EngineUnavailable, match="rejected the API key"):
        list(engine(fake, api_key="wrong").render(txt2img()))


def test_unreachable_endpoint_is_engine_unavailable():
    with FakeGemini() as fake:
        url = fake.url
    with pytest.raises(EngineUnavailable, match="cannot reach"):
        list(GeminiImageEngine("gemini-2.5-flash-image", api_key="k", base_url=url, retry=FAST).render(txt2img()))


def test_sizes_map_to_ratios_or_fail_naming_the_fix():
    assert aspect_ratio_for(512, 512) == "1:1" and aspect_ratio_for(1344, 768) == "16:9"
    assert aspect_ratio_for(768, 1024) == "3:4"
    with pytest.raises(InvalidInput, match="matches no aspect ratio") as info:
        aspect_ratio_for(1024, 256)
    assert info.value.field == "size" and "21:9" in info.value.fix
    assert image_size_for(1024, 1024, ("1K", "2K", "4K")) == "1K"
    assert image_size_for(4096, 4096, ("1K", "2K", "4K")) == "4K"
    assert image_size_for(4096, 4096, ()) is None


def test_capabilities_describe_and_estimate():
    eng = GeminiImageEngine("gemini-3-pro-image", api_key="k")
    caps = eng.capabilities()
    assert caps.seeded is False and "img2img" in caps.tasks
    info = eng.describe()
    assert info.kind == "hosted" and info.pipeline == "gemini-3-pro-image-preview" and "google-genai" in info.libraries
    # 1120 image tokens at 12 credits/1k per output, two outputs.
    assert eng.estimate_credits(txt2img(width=2048, height=2048, seeds=[1, 2])) == pytest.approx(2 * 13.44, abs=0.01)
    with pytest.raises(InvalidInput, match="unknown Gemini preset"):
        GeminiImageEngine("gemini-9")
