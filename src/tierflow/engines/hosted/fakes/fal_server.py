"""A loopback fake of fal's synchronous run endpoint (``https://fal.run/{owner}/{app}[/{path}]``).

Wire format, as fal-client sends and expects it: ``POST /fal-ai/flux/schnell`` with header
``Authorization: Key <FAL_KEY>`` and the model's JSON input (``prompt``, ``image_size``
``{width, height}``, ``num_inference_steps``, ``seed``, ``num_images``, ``image_url`` for
image-to-image, ...). The answer is ``{"images": [{"url", "width", "height", "content_type"}],
"seed", "has_nsfw_concepts", "timings", "prompt"}``; the image URLs point back at this fake
(``GET /files/{name}``), or are ``data:`` URIs when the input asks for ``sync_mode``. Errors are
``{"detail": ...}``; a content-policy refusal is a 422 whose detail has
``type: content_policy_violation``.
"""

from __future__ import annotations

import base64
import io
import itertools

from tierflow.engines.hosted.fakes.loopback import LoopbackServer, Recorded, Reply, gradient_png


class FakeFal(LoopbackServer):
    """Scriptable behaviours: ok, 429, 500, blocked (422 content policy), nsfw (image flagged),
    malformed (broken JSON), slow (answers after ``slow_seconds``), no_image (empty list)."""

    behaviours = frozenset({"ok", "429", "500", "blocked", "nsfw", "malformed", "slow", "no_image"})

    def __init__(self, *, key: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.key = key  # None: any non-empty key is accepted
        self.files: dict[str, bytes] = {}
        self._ids = itertools.count(1)

    def answer(self, request: Recorded) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "GET" and path.startswith("/files/"):
            data = self.files.get(path.removeprefix("/files/"))
            if data is None:
                return Reply.json(404, {"detail": "File not found"})
            return Reply(200, data, {"Content-Type": "image/png"})
        if request.method != "POST" or path.count("/") < 2:
            return Reply.json(404, {"detail": "Not Found"})
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Key ") or (self.key is not None and auth != f"Key {self.key}"):
            return Reply.json(401, {"detail": "No user found for Key ID and Secret"})
        behaviour = self._next()
        request_id = f"fake-{next(self._ids)}"
        ids = {"x-fal-request-id": request_id}
        if behaviour == "429":
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return Reply.json(429, {"detail": "Too many requests"}, **ids, **headers)
        if behaviour == "500":
            return Reply.json(500, {"detail": "Internal Server Error"}, **ids)
        if behaviour == "malformed":
            return Reply(200, b'{"images": [{"url": ', {"Content-Type": "application/json", **ids})
        if behaviour == "blocked":
            return Reply.json(422, {"detail": [{
                "loc": ["body", "prompt"],
                "msg": "The content could not be processed because it contained material flagged by a content checker.",
                "type": "content_policy_violation",
                "url": "https://docs.fal.ai/errors#content_policy_violation",
            }]}, **ids, **{"x-fal-retryable": "false"})
        try:
            body = request.json()
            prompt = str(body["prompt"])
        except (ValueError, KeyError, TypeError):
            return Reply.json(422, {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]})
        width, height = _output_size(body)
        seed = int(body.get("seed", 0))
        count = int(body.get("num_images", 1))
        images = []
        for index in range(0 if behaviour == "no_image" else count):
            png = gradient_png(width, height, f"{path}|{prompt}|{seed + index}")
            if body.get("sync_mode"):
                url = "data:image/png;base64," + base64.b64encode(png).decode()
            else:
                name = f"{request_id}-{index}.png"
                self.files[name] = png
                url = f"{self.url}/files/{name}"
            images.append({"url": url, "width": width, "height": height, "content_type": "image/png"})
        reply = Reply.json(200, {
            "images": images,
            "timings": {"inference": 0.01},
            "seed": seed,
            "has_nsfw_concepts": [behaviour == "nsfw"] * len(images),
            "prompt": prompt,
        }, **ids)
        if behaviour == "slow":
            reply.delay = self.slow_seconds
        return reply


PRESET_SIZES = {
    "square_hd": (1024, 1024), "square": (512, 512), "portrait_4_3": (768, 1024), "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768), "landscape_16_9": (1024, 576),
}


def _output_size(body: dict) -> tuple[int, int]:
    """fal's rule: ``image_size`` if given, else the size of ``image_url`` (image-to-image), else 1024x768."""
    size = body.get("image_size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str) and size in PRESET_SIZES:
        return PRESET_SIZES[size]
    image_url = body.get("image_url")
    if isinstance(image_url, str) and image_url.startswith("data:"):
        from PIL import Image

        data = base64.b64decode(image_url.split(",", 1)[1])
        return Image.open(io.BytesIO(data)).size
    return 1024, 768
