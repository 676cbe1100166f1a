"""How hosted engines retry: 429 and 5xx only, exponential backoff with jitter, ``Retry-After``
honoured, bounded in attempts and in total time. The SDK call is wrapped; the SDK's own retries
are switched off where it has a switch (google-genai) and documented where it has none (fal).
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tierflow.domain.errors import Cancelled

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries; ``timeout`` is per request, ``total`` bounds every attempt and sleep together."""

    attempts: int = 4  # including the first
    base_delay: float = 1.0
    max_delay: float = 20.0
    jitter: float = 0.5  # each sleep is the backoff times a factor in [1 - jitter, 1]
    timeout: float = 120.0
    total: float = 300.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), without a server hint."""
        delay = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        factor = 1.0 - self.jitter * (rng or random).random()
        return delay * factor


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Verdict:
    """What the engine says about one failed attempt."""

    retry: bool
    retry_after: float | None = None


def call_with_retry(
    attempt: Callable[[], T],
    classify: Callable[[Exception], Verdict],
    policy: RetryPolicy,
    *,
    cancel: threading.Event | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, the error is not retryable, or the bounds are spent.

    The last error is re-raised unchanged; the caller turns it into a domain error.
    """
    start = clock()
    for number in range(1, policy.attempts + 1):
        if cancel is not None and cancel.is_set():
            raise Cancelled("the render was cancelled", field="job")
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 - classify decides; unknown errors are re-raised
            verdict = classify(exc)
            if not verdict.retry or number == policy.attempts:
                raise
            wait = verdict.retry_after if verdict.retry_after is not None else policy.backoff(number, rng)
            if clock() - start + wait > policy.total:
                raise  # waiting would overrun the total budget: fail now rather than late
            if sleep is not None:
                sleep(wait)
            elif cancel is not None:
                cancel.wait(wait)  # wakes early on cancel; the loop head then raises Cancelled
            else:
                time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover
