"""A loopback fake of the Gemini API's ``generateContent`` for image models (v1beta REST).

Wire format, as google-genai sends and expects it:
``POST /{v1,v1beta}/models/{model}:generateContent`` (google-genai 3.x defaults to ``v1``) with header ``x-goog-api-key`` and a JSON body
``{"contents": [{"role": "user", "parts": [{"text": ...}, {"inlineData": {"mimeType", "data"}}]}],
"generationConfig": {"responseModalities": [...], "imageConfig": {"aspectRatio", "imageSize"}, "seed"}}``;
the answer is ``{"candidates": [{"content": {"parts": [{"inlineData": ...}]}, "finishReason"}],
"usageMetadata": {...}, "modelVersion": ...}``; errors are ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import base64
import io
import re

from tierflow.engines.hosted.fakes.loopback import LoopbackServer, Recorded, Reply, gradient_png

# Output pixels per aspect ratio at 1K, as the Gemini image models document them; 2K and 4K scale these.
SIZES_1K = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184), "4:3": (1184, 864),
    "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344), "16:9": (1344, 768), "21:9": (1536, 672),
}
SCALE = {"1K": 1, "2K": 2, "4K": 4}
# Output tokens billed per image, as the provider's price list gives them per model (Flash Image: 1290;
# 3 Pro Image: 1120 up to 2K, 2000 at 4K); input tokens per reference image (Flash: 258 per 768 px tile,
# one tile up to 384 px on both sides; 3 Pro: 560 per image).
IMAGE_TOKENS = {"1K": 1290, "2K": 1290, "4K": 2000}
IMAGE_TOKENS_BY_MODEL = {"gemini-3-pro-image-preview": {"1K": 1120, "2K": 1120, "4K": 2000}}
INPUT_IMAGE_TOKENS_BY_MODEL = {"gemini-3-pro-image-preview": 560}
_PATH = re.compile(r"^/(v1beta|v1alpha|v1)/models/(?P<model>[^/:]+):generateContent$")


class FakeGemini(LoopbackServer):
    """Scriptable behaviours: ok, 429, 500, blocked (promptFeedback), safety (finishReason),
    malformed (broken JSON), slow (answers after ``slow_seconds``), no_image (text only)."""

    behaviours = frozenset({"ok", "429", "500", "blocked", "safety", "malformed", "slow", "no_image"})

    def __init__(self, *, api_key: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key  # None: any non-empty key is accepted

    def answer(self, request: Recorded) -> Reply:
        match = _PATH.match(request.path.split("?")[0])
        if request.method != "POST" or not match:
            return _error(404, f"Method or path not found: {request.method} {request.path}", "NOT_FOUND")
        key = request.headers.get("x-goog-api-key", "")
        if not key or (self.api_key is not None and key != self.api_key):
            return _error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT")
        behaviour = self._next()
        if behaviour == "429":
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return _error(429, "Resource has been exhausted (e.g. check quota).", "RESOURCE_EXHAUSTED", **headers)
        if behaviour == "500":
            return _error(500, "An internal error has occurred. Please retry.", "INTERNAL")
        if behaviour == "malformed":
            return Reply(200, b'{"candidates": [{"content": {"parts": [', {"Content-Type": "application/json"})
        try:
            body = request.json()
            parts = body["contents"][-1]["parts"]
        except (ValueError, KeyError, IndexError, TypeError):
            return _error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        model = match.group("model")
        prompt = " ".join(p.get("text", "") for p in parts if isinstance(p, dict))
        prompt_tokens = max(1, len(prompt.split())) + sum(_input_image_tokens(model, data) for data in inline_images(parts))
        if behaviour == "blocked":
            return Reply.json(200, {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
                "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
                "modelVersion": model,
            })
        if behaviour == "safety":
            return Reply.json(200, {
                "candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
                "modelVersion": model,
            })
        if behaviour == "no_image":
            return Reply.json(200, {
                "candidates": [{"content": {"role": "model", "parts": [
                    {"text": "I can describe that scene, but here is no picture."}]}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": 12,
                                  "totalTokenCount": prompt_tokens + 12},
                "modelVersion": model,
            })
        config = body.get("generationConfig") or {}
        image_config = config.get("imageConfig") or {}
        ratio = image_config.get("aspectRatio", "1:1")
        size = image_config.get("imageSize", "1K")
        if ratio not in SIZES_1K or size not in SCALE:
            return _error(400, f"Unsupported image config: aspectRatio={ratio} imageSize={size}", "INVALID_ARGUMENT")
        width, height = (v * SCALE[size] for v in SIZES_1K[ratio])
        png = gradient_png(width, height, f"{model}|{prompt}|{config.get('seed')}")
        image_tokens = IMAGE_TOKENS_BY_MODEL.get(model, IMAGE_TOKENS)[size]
        payload = {
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(png).decode()}}]},
                "finishReason": "STOP",
                "index": 0,
            }],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": image_tokens,
                "totalTokenCount": prompt_tokens + image_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
                "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": image_tokens}],
            },
            "modelVersion": model,
            "responseId": f"fake-{len(self.requests)}",
        }
        reply = Reply.json(200, payload)
        if behaviour == "slow":
            reply.delay = self.slow_seconds
        return reply


def inline_images(parts: list) -> list[dict]:
    """The inline image blobs of a request's parts (proto JSON accepts camelCase and snake_case keys;
    google-genai 3.x sends ``inlineData`` with ``mime_type`` inside, and URL-safe base64 data)."""
    blobs = [p.get("inlineData") or p.get("inline_data") for p in parts if isinstance(p, dict)]
    return [
        {"mime_type": b.get("mimeType") or b.get("mime_type"), "bytes": _b64(b.get("data") or "")}
        for b in blobs
        if isinstance(b, dict)
    ]


def _input_image_tokens(model: str, blob: dict) -> int:
    if model in INPUT_IMAGE_TOKENS_BY_MODEL:
        return INPUT_IMAGE_TOKENS_BY_MODEL[model]
    from PIL import Image

    width, height = Image.open(io.BytesIO(blob["bytes"])).size
    if width <= 384 and height <= 384:
        return 258
    return 258 * -(-width // 768) * -(-height // 768)


def _b64(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _error(code: int, message: str, status: str, **headers: str) -> Reply:
    return Reply.json(code, {"error": {"code": code, "message": message, "status": status}}, **headers)
