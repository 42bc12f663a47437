"""The cooldown core: one use per cooldown per key, refusals record nothing, memory stays bounded.

Time is passed in (a plain number moved by the test): no sleeps, no wall clock.
"""

from __future__ import annotations

import pytest

from bot.core.quota import MAX_KEYS, Cooldowns

T0 = 1_000.0


def test_the_first_use_is_allowed_and_the_next_waits_out_the_rest_of_the_cooldown() -> None:
    cooldowns = Cooldowns(30)
    assert cooldowns.try_acquire("guild-1", T0) is None
    assert cooldowns.try_acquire("guild-1", T0 + 10) == pytest.approx(20)
    assert cooldowns.try_acquire("guild-1", T0 + 29.5) == pytest.approx(0.5)
    assert cooldowns.try_acquire("guild-1", T0 + 30) is None, "allowed again once the cooldown is over"
    assert cooldowns.try_acquire("guild-1", T0 + 31) == pytest.approx(29)


def test_a_refusal_records_nothing() -> None:
    cooldowns = Cooldowns(10)
    cooldowns.try_acquire(1, T0)
    for second in range(1, 10):  # asking again and again while waiting
        assert cooldowns.try_acquire(1, T0 + second) == pytest.approx(10 - second)
    assert cooldowns.try_acquire(1, T0 + 10) is None, "the wait did not grow with the refusals"


def test_keys_are_independent() -> None:
    cooldowns = Cooldowns(5)
    assert cooldowns.try_acquire(("fetch", 1), T0) is None
    assert cooldowns.try_acquire(("fetch", 2), T0) is None
    assert cooldowns.try_acquire(("read", 1), T0) is None
    assert cooldowns.try_acquire(("fetch", 1), T0 + 1) == pytest.approx(4)


def test_wait_only_looks() -> None:
    cooldowns = Cooldowns(5)
    assert cooldowns.wait("k", T0) is None
    assert cooldowns.try_acquire("k", T0) is None, "looking did not use the key's turn"
    assert cooldowns.wait("k", T0 + 2) == pytest.approx(3)
    assert cooldowns.wait("k", T0 + 5) is None


def test_a_clock_that_steps_back_never_makes_anyone_wait_longer_than_one_cooldown() -> None:
    cooldowns = Cooldowns(5)
    cooldowns.try_acquire("k", T0)
    assert cooldowns.try_acquire("k", T0 - 3600) == pytest.approx(5)


def test_expired_keys_are_forgotten_as_time_passes() -> None:
    cooldowns = Cooldowns(5)
    for key in range(1000):
        cooldowns.try_acquire(key, T0)
    assert len(cooldowns) == 1000
    cooldowns.try_acquire("later", T0 + 5)
    assert len(cooldowns) == 1, "only the key still cooling down is kept"


def test_above_max_keys_the_oldest_use_goes_first() -> None:
    cooldowns = Cooldowns(60, max_keys=3)
    for second, key in enumerate("abc"):
        cooldowns.try_acquire(key, T0 + second)
    assert cooldowns.try_acquire("d", T0 + 3) is None
    assert len(cooldowns) == 3
    assert cooldowns.wait("a", T0 + 4) is None, "the oldest was evicted: allowed again"
    assert cooldowns.wait("b", T0 + 4) == pytest.approx(57)
    assert cooldowns.wait("d", T0 + 4) == pytest.approx(59)


def test_memory_is_bounded_under_a_flood_of_keys() -> None:
    cooldowns = Cooldowns(3600, max_keys=500)
    for n in range(20_000):
        cooldowns.try_acquire(n, T0 + n / 1000)
    assert len(cooldowns) == 500
    assert MAX_KEYS == 100_000


@pytest.mark.parametrize(("seconds", "max_keys"), [(0, 10), (-1, 10), (float("nan"), 10), (5, 0)])
def test_nonsense_settings_are_refused(seconds: float, max_keys: int) -> None:
    with pytest.raises(ValueError, match=r"must be at least 1|positive number of seconds"):
        Cooldowns(seconds, max_keys=max_keys)


def test_a_released_use_no_longer_counts_but_a_later_one_is_kept() -> None:
    cooldowns = Cooldowns(10)
    assert cooldowns.try_acquire("k", T0) is None
    cooldowns.release("k", T0)
    assert cooldowns.try_acquire("k", T0 + 1) is None, "the released use did not count"
    cooldowns.release("k", T0)  # a stale release: the use at T0 + 1 stays
    assert cooldowns.try_acquire("k", T0 + 2) == pytest.approx(9)
    cooldowns.release("never-used", T0)  # nothing to forget: no error
