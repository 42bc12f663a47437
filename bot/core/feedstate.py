"""Pure decisions about a feed's own state: permanent redirects, status summaries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.types import Feed

# A permanent redirect must be seen on this many polls in a row before the stored URL moves:
# one misconfigured deploy should not move a subscription for good.
REDIRECT_CONFIRMATIONS = 2


@dataclass(frozen=True, slots=True)
class RedirectVerdict:
    moved_to: str | None  # the candidate new URL being confirmed
    moved_count: int
    move_now: bool


def judge_redirect(target: str | None, moved_to: str | None, moved_count: int) -> RedirectVerdict:
    """Track a permanent redirect across polls; move the feed once it has persisted."""
    if target is None:
        return RedirectVerdict(None, 0, move_now=False)
    count = moved_count + 1 if target == moved_to else 1
    if count >= REDIRECT_CONFIRMATIONS:
        return RedirectVerdict(None, 0, move_now=True)
    return RedirectVerdict(target, count, move_now=False)


class FeedState(StrEnum):
    OK = "ok"
    PAUSED = "paused"
    BACKING_OFF = "backing off"
    DISABLED = "disabled"


def feed_state(feed: Feed) -> FeedState:
    """How a feed is doing, as /feeds list shows it."""
    if feed.disabled_at is not None:
        return FeedState.DISABLED
    if feed.paused:
        return FeedState.PAUSED
    if feed.failures > 0:
        return FeedState.BACKING_OFF
    return FeedState.OK
