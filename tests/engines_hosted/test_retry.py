"""The retry policy on its own: which errors retry, how long it waits, where it stops."""

from __future__ import annotations

import random
import threading

import pytest

from tierflow.domain.errors import Cancelled
from tierflow.engines.hosted.retry import RetryPolicy, Verdict, call_with_retry, retry_after_seconds


class Status(Exception):
    def __init__(self, code: int, retry_after: float | None = None) -> None:
        self.code, self.retry_after = code, retry_after


def classify(exc: Exception) -> Verdict:
    if isinstance(exc, Status) and (exc.code == 429 or exc.code >= 500):
        return Verdict(True, exc.retry_after)
    return Verdict(False)


def flaky(*codes: int | None, retry_after: float | None = None):
    calls = []

    def attempt():
        calls.append(1)
        code = codes[len(calls) - 1] if len(calls) <= len(codes) else None
        if code is not None:
            raise Status(code, retry_after)
        return "image"

    return attempt, calls


def test_backoff_is_exponential_capped_and_jittered_downwards():
    policy = RetryPolicy(base_delay=1.0, max_delay=5.0, jitter=0.5)
    rng = random.Random(0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        waits = [policy.backoff(retry, rng) for _ in range(50)]
        assert all(ceiling * 0.5 <= w <= ceiling for w in waits)
        assert len(set(waits)) > 1  # jitter spreads clients apart
    assert RetryPolicy(jitter=0.0).backoff(3) == 4.0


def test_retries_429_then_succeeds_and_sleeps_the_backoff():
    attempt, calls = flaky(429, 503)
    slept: list[float] = []
    policy = RetryPolicy(attempts=4, base_delay=0.5, jitter=0.0)
    assert call_with_retry(attempt, classify, policy, sleep=slept.append) == "image"
    assert len(calls) == 3 and slept == [0.5, 1.0]


def test_retry_after_overrides_the_backoff():
    attempt, _ = flaky(429, retry_after=7.0)
    slept: list[float] = []
    call_with_retry(attempt, classify, RetryPolicy(base_delay=0.1, total=60), sleep=slept.append)
    assert slept == [7.0]


def test_gives_up_after_the_attempts_and_reraises_the_last_error():
    attempt, calls = flaky(500, 500, 500, 500, 500)
    with pytest.raises(Status) as info:
        call_with_retry(attempt, classify, RetryPolicy(attempts=3, jitter=0), sleep=lambda s: None)
    assert info.value.code == 500 and len(calls) == 3


def test_client_errors_are_not_retried():
    attempt, calls = flaky(400)
    with pytest.raises(Status):
        call_with_retry(attempt, classify, RetryPolicy(), sleep=lambda s: None)
    assert len(calls) == 1


def test_a_wait_past_the_total_budget_fails_now():
    attempt, calls = flaky(429, retry_after=120.0)
    slept: list[float] = []
    with pytest.raises(Status):
        call_with_retry(attempt, classify, RetryPolicy(total=30.0), sleep=slept.append)
    assert len(calls) == 1 and slept == []


def test_cancel_during_the_wait_stops_the_retries():
    attempt, calls = flaky(500, 500, 500)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    with pytest.raises(Cancelled):
        call_with_retry(attempt, classify, RetryPolicy(base_delay=5.0, jitter=0, total=60), cancel=cancel)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("3", 3.0), (" 0 ", 0.0), ("1.5", 1.5), (None, None), ("", None), ("soon", None),
     ("Sun, 22 Nov 2026 10:00:30 GMT", 30.0)],
)
def test_retry_after_header_parsing(header, seconds):
    import email.utils

    now = email.utils.parsedate_to_datetime("Sun, 22 Nov 2026 10:00:00 GMT").timestamp()
    assert retry_after_seconds(header, now=now) == seconds
