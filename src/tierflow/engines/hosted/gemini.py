"""Gemini image models (Gemini 2.5 Flash Image, Gemini 3 Pro Image) through the google-genai SDK.

One ``generateContent`` call per output. img2img sends the init image as an inline reference
part next to the prompt: that is how a draft is handed off to a hosted final, since the
provider treats seeds as best-effort (``Capabilities.seeded`` is False). The SDK's own retries
stay off (no ``retry_options``); :mod:`tierflow.engines.hosted.retry` owns the policy.
``base_url`` points the SDK anywhere, e.g. at :class:`~tierflow.engines.hosted.fakes.FakeGemini`.
"""

from __future__ import annotations

import io
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tierflow.domain.errors import Cancelled, EngineFailed, EngineUnavailable, InvalidInput
from tierflow.domain.models import Tier
from tierflow.engines.base import (
    TASK_IMG2IMG,
    TASK_TXT2IMG,
    Capabilities,
    Engine,
    EngineInfo,
    Progress,
    ProgressCallback,
    Rendered,
    RenderRequest,
    library_versions,
)
from tierflow.engines.hosted.retry import RETRY_STATUSES, RetryPolicy, Verdict, call_with_retry, retry_after_seconds

KEY_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
ASPECT_RATIOS = {
    "1:1": 1.0, "2:3": 2 / 3, "3:2": 3 / 2, "3:4": 3 / 4, "4:3": 4 / 3,
    "4:5": 4 / 5, "5:4": 5 / 4, "9:16": 9 / 16, "16:9": 16 / 9, "21:9": 21 / 9,
}
RATIO_TOLERANCE = 0.02  # the provider picks the pixels; a size within 2% of a ratio names that ratio
# Longest side up to which each image_size is asked for (1K outputs are up to 1536 px wide at 21:9).
IMAGE_SIZE_LIMITS = (("1K", 1536), ("2K", 3072), ("4K", 6144))
BLOCKING_FINISH = {
    "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
    "RECITATION", "IMAGE_RECITATION",
}


@dataclass(frozen=True)
class GeminiRates:
    """Credits per 1,000 tokens (default: 1 credit = US$0.01 at the published list prices), and the
    token counts the provider bills for images, so a quote covers everything a call sends and gets."""

    input_per_1k: float
    output_image_per_1k: float
    output_text_per_1k: float
    image_tokens: int  # output tokens one image up to 2K is billed as
    image_tokens_4k: int = 2000  # output tokens one 4K image is billed as
    input_image_tokens: int = 258  # input tokens per reference image (per tile when input_image_tile is set)
    input_image_tile: int | None = None  # tile side: an image over half of it on a side is billed per tile


def reference_image_tokens(width: int, height: int, rates: GeminiRates) -> int:
    """Input tokens one reference image is billed as: flat, or per ``input_image_tile`` tile (an image no
    larger than half a tile on both sides is one tile)."""
    tile = rates.input_image_tile
    if tile is None or (width <= tile // 2 and height <= tile // 2):
        return rates.input_image_tokens
    return rates.input_image_tokens * math.ceil(width / tile) * math.ceil(height / tile)


def text_token_bound(text: str) -> int:
    """An upper bound on the tokens of ``text``: a byte-level tokenizer never makes more tokens than bytes."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class GeminiPreset:
    id: str
    tier: Tier
    model: str  # provider model id
    description: str
    image_sizes: tuple[str, ...]  # () when the model takes no image_size option
    max_size: int
    default_size: tuple[int, int]
    rates: GeminiRates


GEMINI_PRESETS: dict[str, GeminiPreset] = {
    "gemini-2.5-flash-image": GeminiPreset(
        id="gemini-2.5-flash-image",
        tier=Tier.DRAFT,
        model="gemini-2.5-flash-image",
        description="Gemini 2.5 Flash Image: fast hosted drafts at about 1 megapixel",
        image_sizes=(),
        max_size=1536,
        default_size=(1024, 1024),
        rates=GeminiRates(input_per_1k=0.03, output_image_per_1k=3.0, output_text_per_1k=0.25, image_tokens=1290,
                          image_tokens_4k=1290, input_image_tokens=258, input_image_tile=768),
    ),
    "gemini-3-pro-image": GeminiPreset(
        id="gemini-3-pro-image",
        tier=Tier.FINAL,
        model="gemini-3-pro-image-preview",
        description="Gemini 3 Pro Image: hosted finals at 1K, 2K or 4K",
        image_sizes=("1K", "2K", "4K"),
        max_size=6144,
        default_size=(2048, 2048),
        rates=GeminiRates(input_per_1k=0.2, output_image_per_1k=12.0, output_text_per_1k=1.2, image_tokens=1120,
                          image_tokens_4k=2000, input_image_tokens=560),
    ),
}


def _prompt_text(request: RenderRequest) -> str:
    """The text part sent: no negative-prompt field in the API, so it is said in words (and priced)."""
    if request.negative_prompt:
        return f"{request.prompt}\nAvoid: {request.negative_prompt}"
    return request.prompt


def aspect_ratio_for(width: int, height: int) -> str:
    """The Gemini aspect ratio a requested size names; InvalidInput when it names none."""
    wanted = width / height
    name, ratio = min(ASPECT_RATIOS.items(), key=lambda item: abs(item[1] - wanted))
    if abs(ratio - wanted) / ratio > RATIO_TOLERANCE:
        raise InvalidInput(
            f"{width}x{height} matches no aspect ratio Gemini can render",
            field="size",
            fix=f"use a size with one of the ratios {', '.join(ASPECT_RATIOS)} (e.g. 1024x1024)",
        )
    return name


def image_size_for(width: int, height: int, sizes: tuple[str, ...]) -> str | None:
    """``1K``/``2K``/``4K`` by the longest side, for models that take the option."""
    if not sizes:
        return None
    longest = max(width, height)
    for name, limit in IMAGE_SIZE_LIMITS:
        if name in sizes and longest <= limit:
            return name
    return sizes[-1]


class GeminiImageEngine(Engine):
    """txt2img and reference-image img2img on a Gemini image model."""

    def __init__(
        self,
        preset: GeminiPreset | str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        rates: GeminiRates | None = None,
    ) -> None:
        if isinstance(preset, str):
            if preset not in GEMINI_PRESETS:
                raise InvalidInput(
                    f"unknown Gemini preset {preset!r}", field="engine", fix=f"use one of {', '.join(GEMINI_PRESETS)}"
                )
            preset = GEMINI_PRESETS[preset]
        self.preset = preset
        self.id = preset.id
        self.tier = preset.tier
        self.rates = rates or preset.rates
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._api_key = api_key
        self._sdk: Any = None

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        p = self.preset
        return Capabilities(
            tasks=(TASK_TXT2IMG, TASK_IMG2IMG),
            min_size=256,
            max_size=p.max_size,
            size_multiple=8,
            default_size=p.default_size,
            default_steps=1,
            max_steps=100,  # steps mean nothing to the provider; accepted and recorded
            default_guidance=0.0,
            max_batch=8,
            seeded=False,
            family="gemini",
        )

    def api_key(self) -> str | None:
        return self._api_key or next((os.environ[k] for k in KEY_ENV if os.environ.get(k)), None)

    def describe(self) -> EngineInfo:
        ready = self.api_key() is not None
        return EngineInfo(
            id=self.id,
            tier=self.tier,
            kind="hosted",
            pipeline=self.preset.model,
            repo=None,
            revision=None,
            available=ready,
            availability="ready" if ready else "no API key: set GEMINI_API_KEY",
            libraries=library_versions("google-genai", "tierflow"),
            description=self.preset.description,
        )

    # -- pricing ----------------------------------------------------------------------------
    def credits_from_usage(self, usage: dict[str, Any]) -> float:
        """Credits for one call from the provider's reported token usage."""
        r = self.rates
        prompt = usage.get("prompt_token_count") or 0
        output = usage.get("candidates_token_count") or 0
        image = usage.get("output_image_token_count")
        image = output if image is None else image
        text = max(0, output - image)
        return round(
            prompt / 1000 * r.input_per_1k + image / 1000 * r.output_image_per_1k + text / 1000 * r.output_text_per_1k, 4
        )

    def estimate_credits(self, request: RenderRequest) -> float:
        """Credits to reserve before the call: per output, every input token it sends (the prompt with its
        "Avoid:" line, bounded by its bytes, and the reference image) and the billed image tokens."""
        size = image_size_for(request.width, request.height, self.preset.image_sizes)
        tokens = self.rates.image_tokens_4k if size == "4K" else self.rates.image_tokens
        prompt = text_token_bound(_prompt_text(request))
        if request.task == TASK_IMG2IMG and request.init_image is not None:
            prompt += reference_image_tokens(*request.init_image.size, self.rates)
        per_image = self.credits_from_usage(
            {"prompt_token_count": prompt, "candidates_token_count": tokens, "output_image_token_count": tokens}
        )
        return round(per_image * len(request.seeds), 4)

    # -- rendering --------------------------------------------------------------------------
    def client(self) -> Any:
        key = self.api_key()
        if key is None:
            raise EngineUnavailable(
                f"{self.id} needs a Gemini API key",
                field="engine",
                fix="set GEMINI_API_KEY (or GOOGLE_API_KEY), or pass api_key=",
            )
        if self._sdk is None:
            from google import genai
            from google.genai import types

            self._sdk = genai.Client(
                api_key=key,
                vertexai=False,
                http_options=types.HttpOptions(base_url=self.base_url, timeout=int(self.retry.timeout * 1000)),
            )
        return self._sdk

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
        self._sdk = None

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        request = self.prepare(request)
        ratio = request.extra.get("aspect_ratio") or aspect_ratio_for(request.width, request.height)
        if ratio not in ASPECT_RATIOS:
            raise InvalidInput(f"{ratio!r} is not a Gemini aspect ratio", field="aspect_ratio",
                               fix=f"use one of {', '.join(ASPECT_RATIOS)}")
        size = request.extra.get("image_size") or image_size_for(request.width, request.height, self.preset.image_sizes)
        if size is not None and size not in self.preset.image_sizes:
            raise InvalidInput(f"{self.id} does not take image_size {size!r}", field="image_size",
                               fix=f"use one of {', '.join(self.preset.image_sizes) or 'none (leave it out)'}")
        client = self.client()
        contents = self._contents(request)
        count = len(request.seeds)
        for index, seed in enumerate(request.seeds):
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            if progress:
                progress(Progress(0, 1, index, count, f"waiting for {self.preset.model}"))
            config = self._config(ratio, size, int(seed))
            t0 = time.perf_counter()
            try:
                response = call_with_retry(
                    lambda: client.models.generate_content(model=self.preset.model, contents=contents, config=config),
                    _classify,
                    self.retry,
                    cancel=request.cancel,
                )
            except (Cancelled, EngineFailed, EngineUnavailable):
                raise
            except Exception as e:  # noqa: BLE001 - every SDK/transport error becomes a domain error here
                raise self._translate(e) from e
            image, metadata, delivered = self._parse(response)
            metadata["credits"] = self.credits_from_usage(metadata["usage"])
            metadata["aspect_ratio"] = ratio
            if size:
                metadata["image_size"] = size
            if progress:
                progress(Progress(1, 1, index, count))
            yield Rendered(index=index, seed=int(seed), image=image, seconds=time.perf_counter() - t0, metadata=metadata,
                           source=delivered)

    def _contents(self, request: RenderRequest) -> list[Any]:
        from google.genai import types

        parts = [types.Part.from_text(text=_prompt_text(request))]
        if request.task == TASK_IMG2IMG:
            buffer = io.BytesIO()
            request.init_image.convert("RGB").save(buffer, format="PNG")
            parts.append(types.Part.from_bytes(data=buffer.getvalue(), mime_type="image/png"))
        return [types.Content(role="user", parts=parts)]

    def _config(self, ratio: str, size: str | None, seed: int) -> Any:
        from google.genai import types

        return types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=ratio, image_size=size),
            seed=seed,
        )

    def _parse(self, response: Any) -> tuple[Any, dict[str, Any], bytes]:
        from PIL import Image, UnidentifiedImageError

        model = getattr(response, "model_version", None) or self.preset.model
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and feedback.block_reason is not None:
            reason = _name(feedback.block_reason)
            raise EngineFailed(
                f"{model} refused the prompt (block reason {reason})",
                field="prompt",
                fix="rephrase the prompt or change the reference image",
            )
        candidates = response.candidates or []
        for candidate in candidates:
            reason = _name(candidate.finish_reason)
            if reason in BLOCKING_FINISH:
                raise EngineFailed(
                    f"{model} withheld the image (finish reason {reason})",
                    field="prompt",
                    fix="rephrase the prompt or change the reference image",
                )
        texts = []
        for candidate in candidates:
            for part in (candidate.content.parts if candidate.content and candidate.content.parts else []):
                blob = part.inline_data
                if blob is not None and (blob.mime_type or "").startswith("image/") and blob.data:
                    try:
                        image = Image.open(io.BytesIO(blob.data))
                        image.load()
                    except (UnidentifiedImageError, OSError) as e:
                        raise EngineFailed(f"{model} returned an unreadable image", field="engine",
                                           fix="retry; report it if it persists") from e
                    return (image.convert("RGB"), {"provider": "google", "model": model, "usage": _usage(response)},
                            blob.data)
                if part.text:
                    texts.append(part.text.strip())
        said = f": {' '.join(texts)[:160]}" if texts else ""
        raise EngineFailed(f"{model} returned no image{said}", field="engine",
                           fix="rephrase the prompt to ask for an image, or retry")

    def _translate(self, exc: Exception) -> Exception:
        from google.genai import errors
        from pydantic import ValidationError

        model = self.preset.model
        if isinstance(exc, errors.APIError):
            code = exc.code or 0
            detail = (exc.message or exc.status or "").splitlines()[0] if (exc.message or exc.status) else ""
            if code in (401, 403) or (code == 400 and "API key" in detail):
                return EngineUnavailable(f"{model} rejected the API key ({code} {detail})", field="engine",
                                         fix="check GEMINI_API_KEY")
            if code == 404:
                return EngineUnavailable(f"{model} is not served at this endpoint ({detail})", field="engine",
                                         fix="check the model id and base URL")
            if code == 429:
                return EngineFailed(f"{model} kept rate-limiting after {self.retry.attempts} attempts", field="engine",
                                    fix="wait and retry, or raise the provider quota")
            if code >= 500:
                return EngineFailed(f"{model} failed with {code} {exc.status or ''} after {self.retry.attempts} attempts",
                                    field="engine", fix="retry later; the provider is having trouble")
            return EngineFailed(f"{model} rejected the request ({code} {detail})", field="engine",
                                fix="check the prompt and image")
        if _is(exc, "TimeoutException") or isinstance(exc, TimeoutError):
            # The request went out and may be billed; it failed rather than being unavailable.
            return EngineFailed(f"{model} did not answer within {self.retry.timeout:g} s", field="engine",
                                fix="retry, or raise the hosted timeout")
        if _is(exc, "ConnectError") or isinstance(exc, ConnectionError):
            return EngineUnavailable(f"cannot reach the Gemini API ({exc})", field="engine",
                                     fix="check the network and the base URL")
        if isinstance(exc, (errors.UnknownApiResponseError, ValidationError, ValueError)):
            return EngineFailed(f"{model} sent a malformed response", field="engine", fix="retry later")
        return EngineFailed(f"{model} failed: {exc}".splitlines()[0], field="engine", fix="retry later")


def _classify(exc: Exception) -> Verdict:
    from google.genai import errors

    if isinstance(exc, errors.APIError) and exc.code in RETRY_STATUSES:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return Verdict(True, retry_after_seconds(headers.get("retry-after") if headers is not None else None))
    return Verdict(False)


def _usage(response: Any) -> dict[str, Any]:
    meta = response.usage_metadata
    if meta is None:
        return {}
    usage = {
        "prompt_token_count": meta.prompt_token_count,
        "candidates_token_count": meta.candidates_token_count,
        "total_token_count": meta.total_token_count,
    }
    details = meta.candidates_tokens_details or []
    image = [d.token_count or 0 for d in details if _name(d.modality) == "IMAGE"]
    if image:
        usage["output_image_token_count"] = sum(image)
    return {k: v for k, v in usage.items() if v is not None}


def _name(value: Any) -> str | None:
    if value is None:
        return None
    return getattr(value, "name", None) or str(value)


def _is(exc: Exception, class_name: str) -> bool:
    """httpx and httpx2 (both possible under google-genai) share exception class names, not classes."""
    return any(cls.__name__ == class_name for cls in type(exc).__mro__)
