"""Poll scheduling arithmetic."""

from __future__ import annotations

import random

from bot.core.schedule import (
    MAX_HINT_SECONDS,
    backoff_delay,
    feed_hint,
    judge_failure,
    next_poll_after_failure,
    next_poll_after_success,
)


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def test_hint_is_the_largest_and_capped_at_a_day() -> None:
    assert feed_hint([None, 30, 3600, 120]) == 3600
    assert feed_hint([None]) == 0
    assert feed_hint([-5, 0]) == 0
    assert feed_hint([10 * 24 * 3600]) == MAX_HINT_SECONDS


def test_success_uses_interval_or_a_longer_hint_plus_up_to_ten_percent_jitter() -> None:
    assert next_poll_after_success(1000, 600, [None], FixedRandom(0)) == 1600
    assert next_poll_after_success(1000, 600, [None], FixedRandom(0.999)) < 1000 + 660
    assert next_poll_after_success(1000, 600, [3600], FixedRandom(0)) == 4600
    assert next_poll_after_success(1000, 600, [60], FixedRandom(0)) == 1600  # a hint never shortens
    assert next_poll_after_success(0, 1, [], FixedRandom(1.0)) == 1.1


def test_backoff_doubles_and_caps() -> None:
    assert [backoff_delay(n, 600) for n in (1, 2, 3, 4)] == [600, 1200, 2400, 4800]
    assert backoff_delay(40, 600) == 24 * 3600
    assert backoff_delay(1000, 1) == 24 * 3600  # huge exponents do not overflow


def test_retry_after_wins_when_longer_than_backoff() -> None:
    assert next_poll_after_failure(0, 60, 1, 900, FixedRandom(0)) == 900
    assert next_poll_after_failure(0, 60, 1, 5, FixedRandom(0)) == 60
    assert next_poll_after_failure(0, 60, 1, 10**9, FixedRandom(0)) == MAX_HINT_SECONDS


def test_disable_after_max_failures_or_at_once_when_gone() -> None:
    rng = FixedRandom(0)
    common = {"now": 0.0, "interval": 60.0, "max_failures": 3, "retry_after": None, "rng": rng}
    assert not judge_failure(previous_failures=1, gone=False, **common).disable  # type: ignore[arg-type]
    verdict = judge_failure(previous_failures=2, gone=False, **common)  # type: ignore[arg-type]
    assert verdict.disable and verdict.failures == 3
    assert judge_failure(previous_failures=0, gone=True, **common).disable  # type: ignore[arg-type]
