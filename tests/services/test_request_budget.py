"""The outbox's global request budget: the bot's REST limit over every channel, split among the
discord processes by their part of the shards."""

from __future__ import annotations

from bot.core.topology import Shards
from bot.services.outbox import GLOBAL_REQUESTS_PER_SECOND, RequestBudget


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def sent_in(budget: RequestBudget, clock: Tick, seconds: float) -> int:
    """How many requests go in `seconds` when each waits as the budget says."""
    sent = 0
    while clock.now < seconds:
        wait = budget.delay()
        if wait == 0:
            sent += 1
        else:
            clock.now += wait
    return sent


def test_a_second_holds_the_rate_and_a_burst_no_more_than_a_seconds_worth() -> None:
    clock = Tick()
    budget = RequestBudget(10, clock=clock)
    burst = 0
    while budget.delay() == 0:
        burst += 1
    assert burst == 10  # one second's worth at once, then pacing
    clock.now = 0.0
    assert sent_in(RequestBudget(10, clock=clock), clock, 5.0) <= 10 + 5 * 10
    clock.now = 0.0
    assert sent_in(RequestBudget(10, clock=clock), clock, 5.0) >= 5 * 10


def test_each_discord_process_gets_its_shards_part_of_the_global_budget() -> None:
    assert RequestBudget.share(None).rate == GLOBAL_REQUESTS_PER_SECOND
    assert RequestBudget.share(Shards((0,), 4)).rate == GLOBAL_REQUESTS_PER_SECOND / 4
    assert RequestBudget.share(Shards((0, 1, 2), 4)).rate == GLOBAL_REQUESTS_PER_SECOND * 3 / 4
    parts = [RequestBudget.share(Shards((i,), 4)).rate for i in range(4)]
    assert sum(parts) == GLOBAL_REQUESTS_PER_SECOND  # together, never more than the one bot's limit
