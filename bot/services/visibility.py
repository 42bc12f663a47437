"""Which stories a server may not see in /timeline and /recap.

The rule is the outbox's (`Store.story_audience`): a story told only by feeds that servers added
from Discord belongs to those servers. The whole list is read once and then again every few
minutes in the background; in between, only the stories newer than the last read are looked at,
which costs next to nothing. (A story that gains a public source stays hidden until the next full
read: the cache errs on the side of hiding.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.services.ports import VisibilityStore

log = logging.getLogger(__name__)

FULL_READ_EVERY = 300.0


class Visibility:
    """The story ids hidden from a server, kept up to date with the stories."""

    def __init__(
        self, store: VisibilityStore, *, ttl: float = FULL_READ_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._private: dict[int, frozenset[int]] = {}
        self._upto = -1  # stories up to this id are in _private (-1: nothing read yet)
        self._read_at = 0.0
        self._hidden: dict[int | None, tuple[int, ...]] = {}
        self._full: asyncio.Task[None] | None = None

    async def hidden(self, guild_id: int | None) -> tuple[int, ...]:
        """Stories `guild_id` may not see (None: a direct message, where only shared stories show)."""
        if self._upto < 0:
            await self._read_all()
        elif self.clock() - self._read_at > self.ttl and self._full is None:
            self._full = asyncio.create_task(self._read_all_quietly(), name="story-visibility")
        latest = await self.store.latest_story_id()
        if latest > self._upto:
            upto = self._upto
            self._merge(await self.store.private_stories(upto), latest)
        found = self._hidden.get(guild_id)
        if found is None:
            found = self._hidden[guild_id] = tuple(sorted(s for s, g in self._private.items() if guild_id not in g))
        return found

    def _merge(self, private: dict[int, frozenset[int]], upto: int) -> None:
        self._private.update(private)
        self._upto = max(self._upto, upto)
        if private:
            self._hidden.clear()

    async def _read_all(self) -> None:
        latest = await self.store.latest_story_id()
        private = await self.store.private_stories(0)
        self._private, self._upto, self._read_at = {}, -1, self.clock()
        self._hidden.clear()
        self._merge(private, latest)

    async def _read_all_quietly(self) -> None:
        try:
            await self._read_all()
        except Exception:
            log.exception("could not read which stories are private; keeping the last answer")
            self._read_at = self.clock()
        finally:
            self._full = None
