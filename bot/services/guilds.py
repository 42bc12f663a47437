"""Servers come and go: when the bot is removed from one, its waiting posts are dropped at once and
what it set up (feeds added from Discord, routes, recap schedule, settings) is removed after a
grace period — unless the bot is added back in time, when everything is as it was."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from bot.core.quarantine import Stage
from bot.core.topology import Shards
from bot.services.isolation import Isolation
from bot.services.ports import FailureStore, GuildStore
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)

GRACE_SECONDS = 7 * 24 * 3600.0  # a server kicked by mistake gets a week to invite the bot back
LOOK_EVERY_SECONDS = 3600.0


class LifecycleStore(GuildStore, FailureStore, Protocol):
    """What the server lifecycle reads and writes."""


class GuildLifecycle:
    """What happens to a server's data when the bot leaves it or comes back."""

    def __init__(
        self,
        store: LifecycleStore,
        *,
        clock: Callable[[], float] = time.time,
        grace_seconds: float = GRACE_SECONDS,
        shards: Shards | None = None,
    ) -> None:
        self.store = store
        self.shards = shards  # the servers whose data this process purges (None: all)
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.purging = Isolation(store, Stage.PURGE, clock=clock)  # one server's failure holds up no other

    async def left(self, guild_id: int) -> int:
        """The bot was removed from the server: drop its waiting deliveries now; returns how many."""
        dropped = await self.store.mark_guild_left(guild_id, self.clock())
        log.info("removed from server %d: %d waiting deliveries dropped; its data goes in %.0f days unless"
                 " I am added back", guild_id, dropped, self.grace_seconds / 86400)  # fmt: skip
        return dropped

    async def joined(self, guild_id: int) -> None:
        """The bot is in the server (again): nothing of it is purged."""
        if await self.store.mark_guild_back(guild_id):
            log.info("back in server %d before its grace period ended: its feeds and routes are kept", guild_id)

    async def purge_due(self) -> int:
        """Purge the servers whose grace period is over; returns how many."""
        due = [g for g in await self.store.guilds_left_before(self.clock() - self.grace_seconds)
               if self.shards is None or g in self.shards]  # fmt: skip
        purged = await self.purging.one_by_one(due, int, self._purge)
        return len(purged)

    async def _purge(self, guild_id: int) -> None:
        feeds = await self.store.purge_guild(guild_id)
        log.info("server %d left %.0f days ago: purged its %d feeds, routes, recap schedule and settings",
                 guild_id, self.grace_seconds / 86400, feeds)  # fmt: skip

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Purge due servers now and then, until `stop` is set."""
        while not stop.is_set():
            await self.purge_due()
            await wait_any(stop, timeout=LOOK_EVERY_SECONDS)
