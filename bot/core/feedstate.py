"""Pure decisions about a feed's own state: permanent redirects, status summaries."""

from __future__ import annotations

from dataclasses import dataclass

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
