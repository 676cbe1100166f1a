"""FLUX on fal (schnell for drafts, dev for finals) through fal-client's synchronous ``run``.

One call per seed; fal honours seeds but tierflow treats them as best-effort (another provider's
FLUX, another GPU), so ``Capabilities.seeded`` is False. Images come back as URLs (downloaded
here) or ``data:`` URIs (``sync_mode``). fal-client fixes its hosts at import time
(``FAL_RUN_HOST``, always https), so ``base_url`` swaps the SDK's HTTP client for one whose
transport sends every request to that URL instead, e.g. :class:`~tierflow.engines.hosted.fakes.FakeFal`.

fal-client retries 408/409/429 and dropped connections itself (up to 10 attempts, 0.1 s doubling);
tierflow's :mod:`~tierflow.engines.hosted.retry` adds 5xx on top and bounds the whole call.
"""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
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


@dataclass(frozen=True)
class FalPreset:
    id: str
    tier: Tier
    application: str  # fal endpoint id for txt2img
    img2img_application: str | None
    description: str
    default_size: tuple[int, int]
    max_size: int
    default_steps: int
    max_steps: int
    default_guidance: float  # 0: the endpoint takes no guidance_scale
    credits_per_megapixel: float  # default: 1 credit = US$0.01 at fal's list price per megapixel


FAL_PRESETS: dict[str, FalPreset] = {
    "fal-flux-schnell": FalPreset(
        id="fal-flux-schnell",
        tier=Tier.DRAFT,
        application="fal-ai/flux/schnell",
        img2img_application=None,
        description="FLUX.1 [schnell] on fal: hosted drafts in 1-4 steps",
        default_size=(512, 512),
        max_size=2048,
        default_steps=4,
        max_steps=12,
        default_guidance=0.0,
        credits_per_megapixel=0.3,
    ),
    "fal-flux-dev": FalPreset(
        id="fal-flux-dev",
        tier=Tier.FINAL,
        application="fal-ai/flux/dev",
        img2img_application="fal-ai/flux/dev/image-to-image",
        description="FLUX.1 [dev] on fal: hosted finals, image-to-image hand-off",
        default_size=(1024, 1024),
        max_size=2048,
        default_steps=28,
        max_steps=50,
        default_guidance=3.5,
        credits_per_megapixel=2.5,
    ),
}


class FalFluxEngine(Engine):
    """txt2img (and img2img where the preset has an image-to-image endpoint) on fal."""

    def __init__(
        self,
        preset: FalPreset | str,
        *,
        key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        sync_mode: bool = False,
        safety_checker: bool = True,
    ) -> None:
        if isinstance(preset, str):
            if preset not in FAL_PRESETS:
                raise InvalidInput(f"unknown fal preset {preset!r}", field="engine",
                                   fix=f"use one of {', '.join(FAL_PRESETS)}")
            preset = FAL_PRESETS[preset]
        self.preset = preset
        self.id = preset.id
        self.tier = preset.tier
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self.sync_mode = sync_mode
        self.safety_checker = safety_checker
        self._key = key
        self._sdk: Any = None

    # -- identity ---------------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        p = self.preset
        tasks = (TASK_TXT2IMG, TASK_IMG2IMG) if p.img2img_application else (TASK_TXT2IMG,)
        return Capabilities(
            tasks=tasks,
            min_size=256,
            max_size=p.max_size,
            size_multiple=16,
            default_size=p.default_size,
            default_steps=p.default_steps,
            max_steps=p.max_steps,
            default_guidance=p.default_guidance,
            max_batch=16,
            seeded=False,
            family="fal-flux",
        )

    def key(self) -> str | None:
        return self._key or os.environ.get("FAL_KEY") or None

    def describe(self) -> EngineInfo:
        ready = self.key() is not None
        return EngineInfo(
            id=self.id,
            tier=self.tier,
            kind="hosted",
            pipeline=self.preset.application,
            available=ready,
            availability="ready" if ready else "no API key: set FAL_KEY",
            libraries=library_versions("fal-client", "tierflow"),
            description=self.preset.description,
        )

    # -- pricing ----------------------------------------------------------------------------
    def credits_for_size(self, width: int, height: int) -> float:
        """Credits for one output image, priced by megapixels as fal bills FLUX."""
        return round(width * height / 1_000_000 * self.preset.credits_per_megapixel, 4)

    def estimate_credits(self, request: RenderRequest) -> float:
        """Credits to reserve before the calls."""
        return round(self.credits_for_size(request.width, request.height) * len(request.seeds), 4)

    # -- rendering --------------------------------------------------------------------------
    def client(self) -> Any:
        key = self.key()
        if key is None:
            raise EngineUnavailable(f"{self.id} needs a fal API key", field="engine",
                                    fix="set FAL_KEY (from fal.ai/dashboard/keys), or pass key=")
        if self._sdk is None:
            import fal_client

            if self.base_url is None:
                self._sdk = fal_client.SyncClient(key=key, default_timeout=self.retry.timeout)
            else:
                self._sdk = _rebased_client_class()(key=key, default_timeout=self.retry.timeout, base_url=self.base_url)
        return self._sdk

    def close(self) -> None:
        self._sdk = None

    def render(self, request: RenderRequest, progress: ProgressCallback | None = None) -> Iterator[Rendered]:
        request = self.prepare(request)
        if request.width % 16 or request.height % 16:
            raise InvalidInput("fal FLUX sizes must be multiples of 16", field="size", fix="round width and height to 16")
        client = self.client()
        application = self.preset.img2img_application if request.task == TASK_IMG2IMG else self.preset.application
        count = len(request.seeds)
        for index, seed in enumerate(request.seeds):
            if request.cancel.is_set():
                raise Cancelled("the render was cancelled", field="job")
            if progress:
                progress(Progress(0, 1, index, count, f"waiting for {application}"))
            arguments = self._arguments(request, int(seed))
            t0 = time.perf_counter()
            try:
                result = call_with_retry(
                    lambda: client.run(
                        application,
                        arguments,
                        timeout=self.retry.timeout,
                        # The timeout header also stops fal-client from retrying a timed-out call itself.
                        start_timeout=max(self.retry.timeout, 1.5),
                    ),
                    _classify,
                    self.retry,
                    cancel=request.cancel,
                )
                image, item, delivered = self._first_image(result, application)
            except (Cancelled, EngineFailed, EngineUnavailable, InvalidInput):
                raise
            except Exception as e:  # noqa: BLE001 - every SDK/transport error becomes a domain error here
                raise self._translate(e, application) from e
            width, height = image.size
            metadata = {
                "provider": "fal",
                "model": application,
                "seed": result.get("seed", seed),
                "timings": result.get("timings") or {},
                "usage": {"images": 1, "megapixels": round(width * height / 1_000_000, 4)},
                "credits": self.credits_for_size(width, height),
                "content_type": item.get("content_type"),
            }
            if progress:
                progress(Progress(1, 1, index, count))
            yield Rendered(index=index, seed=int(seed), image=image, seconds=time.perf_counter() - t0, metadata=metadata,
                           source=delivered)

    def _arguments(self, request: RenderRequest, seed: int) -> dict[str, Any]:
        args: dict[str, Any] = {
            "prompt": request.prompt,
            "num_inference_steps": int(request.steps or self.preset.default_steps),
            "seed": seed,
            "num_images": 1,
            "enable_safety_checker": self.safety_checker,
            "output_format": "png",
            "sync_mode": self.sync_mode,
        }
        if self.preset.default_guidance:
            args["guidance_scale"] = float(request.guidance if request.guidance is not None else self.preset.default_guidance)
        if request.task == TASK_IMG2IMG:
            # The image-to-image endpoint renders at the init image's size; the request's size is honoured here.
            init = request.init_image.convert("RGB").resize((request.width, request.height))
            buffer = io.BytesIO()
            init.save(buffer, format="PNG")
            args["image_url"] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
            args["strength"] = float(request.strength if request.strength is not None else 0.6)
        else:
            args["image_size"] = {"width": request.width, "height": request.height}
        return args

    def _first_image(self, result: Any, application: str) -> tuple[Any, dict[str, Any], bytes]:
        from PIL import Image, UnidentifiedImageError

        if not isinstance(result, dict):
            raise EngineFailed(f"{application} sent a malformed response", field="engine", fix="retry later")
        images = result.get("images") or []
        if not images:
            raise EngineFailed(f"{application} returned no image", field="engine", fix="retry, or rephrase the prompt")
        flagged = result.get("has_nsfw_concepts") or []
        if flagged and flagged[0]:
            raise EngineFailed(f"{application} withheld the image (flagged by fal's safety checker)", field="prompt",
                               fix="rephrase the prompt")
        item = images[0]
        url = item.get("url") if isinstance(item, dict) else None
        if not url:
            raise EngineFailed(f"{application} sent an image without a URL", field="engine", fix="retry later")
        if url.startswith("data:"):
            data = base64.b64decode(url.split(",", 1)[1])
        else:
            import httpx

            response = httpx.get(url, timeout=self.retry.timeout, follow_redirects=True)
            response.raise_for_status()
            data = response.content
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError) as e:
            raise EngineFailed(f"{application} returned an unreadable image", field="engine", fix="retry later") from e
        return image.convert("RGB"), item, data

    def _translate(self, exc: Exception, application: str) -> Exception:
        import fal_client
        import httpx

        if isinstance(exc, fal_client.FalClientHTTPError):
            code = exc.status_code
            if code in (401, 403):
                return EngineUnavailable(f"fal rejected the API key ({code})", field="engine", fix="check FAL_KEY")
            if _is_content_policy(exc):
                return EngineFailed(f"{application} refused the prompt (content policy)", field="prompt",
                                    fix="rephrase the prompt or change the reference image")
            if code == 429:
                return EngineFailed(f"{application} kept rate-limiting", field="engine",
                                    fix="wait and retry, or raise the fal concurrency limit")
            if code >= 500:
                return EngineFailed(f"{application} failed with {code} after {self.retry.attempts} attempts",
                                    field="engine", fix="retry later; the provider is having trouble")
            return EngineFailed(f"{application} rejected the request ({code}: {str(exc)[:160]})", field="engine",
                                fix="check the prompt, size and steps")
        if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
            # The request went out and may be billed; it failed rather than being unavailable.
            return EngineFailed(f"{application} did not answer within {self.retry.timeout:g} s", field="engine",
                                fix="retry, or raise the hosted timeout")
        if isinstance(exc, httpx.ConnectError):
            return EngineUnavailable(f"cannot reach fal ({exc})", field="engine", fix="check the network and the base URL")
        if isinstance(exc, httpx.HTTPStatusError):
            return EngineFailed(f"could not download the image from {application} ({exc.response.status_code})",
                                field="engine", fix="retry later")
        if isinstance(exc, ValueError):  # json.JSONDecodeError and friends
            return EngineFailed(f"{application} sent a malformed response", field="engine", fix="retry later")
        return EngineFailed(f"{application} failed: {exc}".splitlines()[0], field="engine", fix="retry later")


def _is_content_policy(exc: Any) -> bool:
    try:
        body = exc.response.json()
    except ValueError:
        return False
    detail = body.get("detail") if isinstance(body, dict) else None
    items = detail if isinstance(detail, list) else [detail]
    return any(isinstance(i, dict) and i.get("type") == "content_policy_violation" for i in items) or (
        exc.error_type == "content_policy_violation"
    )


def _classify(exc: Exception) -> Verdict:
    import fal_client

    if isinstance(exc, fal_client.FalClientHTTPError) and exc.status_code in RETRY_STATUSES:
        headers = {k.lower(): v for k, v in (exc.response_headers or {}).items()}
        if headers.get("x-fal-retryable") == "false":
            return Verdict(False)
        return Verdict(True, retry_after_seconds(headers.get("retry-after")))
    return Verdict(False)


@lru_cache(maxsize=1)
def _rebased_client_class() -> type:
    """A ``fal_client.SyncClient`` whose HTTP client sends every request to ``base_url``."""
    from dataclasses import dataclass as _dataclass
    from functools import cached_property

    import fal_client
    import httpx
    from fal_client.client import USER_AGENT

    class RebaseTransport(httpx.BaseTransport):
        def __init__(self, base_url: str) -> None:
            self.base = httpx.URL(base_url)
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.url = request.url.copy_with(scheme=self.base.scheme, host=self.base.host, port=self.base.port)
            request.headers["Host"] = self.base.netloc.decode()
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    @_dataclass(frozen=True)
    class RebasedSyncClient(fal_client.SyncClient):
        base_url: str = ""

        @cached_property
        def _client(self) -> httpx.Client:
            return httpx.Client(
                transport=RebaseTransport(self.base_url),
                headers={"Authorization": self._auth.header_value, "User-Agent": USER_AGENT},
                timeout=self.default_timeout,
                follow_redirects=True,
            )

    return RebasedSyncClient
