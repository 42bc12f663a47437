"""Per-key cooldowns, in memory and bounded: how often one server or one member may do a thing.

Pure: the caller passes the time (a monotonic clock in the bot, a fake one in tests). A key is
whatever names the one who is limited, e.g. `("fetch", guild_id)`. Only an allowed use is
recorded, so a refusal never lengthens the wait. Memory is bounded two ways: keys whose cooldown
is over are dropped as time passes, and above `max_keys` the least recently used key goes first
(it is then simply allowed again at its next use, which errs on the generous side).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

MAX_KEYS = 100_000


class Cooldowns:
    """One use per `seconds` per key."""

    def __init__(self, seconds: float, *, max_keys: int = MAX_KEYS) -> None:
        if not seconds > 0:
            raise ValueError(f"a cooldown lasts a positive number of seconds (got {seconds})")
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1 (got {max_keys})")
        self.seconds = seconds
        self.max_keys = max_keys
        self._last: OrderedDict[Hashable, float] = OrderedDict()  # oldest use first

    def __len__(self) -> int:
        return len(self._last)

    def wait(self, key: Hashable, now: float) -> float | None:
        """Seconds `key` must still wait at `now`, or None when it may go; records nothing."""
        last = self._last.get(key)
        if last is None:
            return None
        # a clock that stepped back never makes anyone wait longer than one cooldown
        left = min(last + self.seconds - now, self.seconds)
        return left if left > 0 else None

    def try_acquire(self, key: Hashable, now: float) -> float | None:
        """None: `key` may go, and this use is recorded; else the seconds left to wait (nothing recorded)."""
        self._forget_expired(now)
        left = self.wait(key, now)
        if left is not None:
            return left
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.max_keys:
            self._last.popitem(last=False)
        return None

    def release(self, key: Hashable, at: float) -> None:
        """Forget the use of `key` recorded at `at`: it turned out not to count (the command was
        refused after all). A later use of the key is left as it is."""
        if self._last.get(key) == at:
            del self._last[key]

    def _forget_expired(self, now: float) -> None:
        """Drop the oldest uses whose cooldown is over (uses are kept in the order they were made)."""
        while self._last:
            key, last = next(iter(self._last.items()))
            if now - last < self.seconds:
                return
            del self._last[key]
