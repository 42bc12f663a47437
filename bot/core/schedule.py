"""Poll scheduling arithmetic: when a feed is next due, after a success or a failure.

next poll = max(interval, the feed's own hint) + jitter, the hint being the largest of RSS
<ttl>, Cache-Control max-age / Expires and Retry-After, capped at 24 h. Failures back off
exponentially from the interval, never sooner than a Retry-After.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

MAX_HINT_SECONDS = 24 * 3600.0
MAX_BACKOFF_SECONDS = 24 * 3600.0
JITTER_FRACTION = 0.10


def feed_hint(hints: Iterable[float | None]) -> float:
    """The largest of the feed's own hints, clamped to [0, 24 h]; 0 when there is none."""
    values = [h for h in hints if h is not None and h > 0]
    return min(max(values, default=0.0), MAX_HINT_SECONDS)


def jittered(delay: float, rng: random.Random) -> float:
    """`delay` plus up to 10 % more, so feeds polled together drift apart."""
    return delay + delay * JITTER_FRACTION * rng.random()


def next_poll_after_success(now: float, interval: float, hints: Iterable[float | None], rng: random.Random) -> float:
    """When to poll again after a fetch that worked (200, 304 or an unchanged body)."""
    return now + jittered(max(interval, feed_hint(hints)), rng)


def backoff_delay(failures: int, interval: float) -> float:
    """Exponential backoff: the interval after one failure, doubling per failure, capped at 24 h."""
    if failures <= 1:
        return interval
    return float(min(interval * 2.0 ** min(failures - 1, 32), max(MAX_BACKOFF_SECONDS, interval)))


def next_poll_after_failure(
    now: float, interval: float, failures: int, retry_after: float | None, rng: random.Random
) -> float:
    """When to try again after the `failures`-th failure in a row."""
    delay = max(backoff_delay(failures, interval), min(retry_after or 0.0, MAX_HINT_SECONDS))
    return now + jittered(delay, rng)


@dataclass(frozen=True, slots=True)
class FailureVerdict:
    failures: int
    disable: bool
    next_poll_at: float


def judge_failure(
    *,
    now: float,
    interval: float,
    previous_failures: int,
    max_failures: int,
    gone: bool,
    retry_after: float | None,
    rng: random.Random,
) -> FailureVerdict:
    """Count the failure; disable after `max_failures` in a row, or at once on 410 Gone."""
    failures = previous_failures + 1
    disable = gone or failures >= max_failures
    return FailureVerdict(failures, disable, next_poll_after_failure(now, interval, failures, retry_after, rng))
