"""A server's topic routes from Discord: which of its channels gets which configured topic.

Also the name matching behind every admin autocomplete (`rank`). No discord.py here; every
mistake a person can fix is one `UserError` sentence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bot.config import Settings
from bot.core.choices import rank
from bot.core.limits import safe
from bot.core.routing import ALL_TOPICS, Route, RouteOrigin
from bot.errors import UserError
from bot.services.ports import DeliveryStore

NEVER_EVERYONE = "I never mention @everyone; choose a role, or leave the mention out."


def check_topic(settings: Settings, topic: str, *, allow_all: bool = False) -> str:
    """`topic` if it is a configured topic (or "*" when allowed); else UserError naming the topics."""
    name = topic.strip()
    names = [t.name for t in settings.topics]
    if name in names or (allow_all and name == ALL_TOPICS):
        return name
    known = ", ".join(names) or "none are configured"
    raise UserError(f"“{safe(name, 100)}” is not a topic here; the topics are: {safe(known, 1500)}.")


class TopicRoutes:
    """The routes one server sets from Discord; the config's routes are shown, never removed."""

    def __init__(self, settings: Settings, store: DeliveryStore, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._adding = asyncio.Lock()  # the count and the insert happen as one step

    @property
    def topic_names(self) -> list[str]:
        return [t.name for t in self.settings.topics]

    def check_topic(self, topic: str, *, allow_all: bool = False) -> str:
        """`topic` if it is a configured topic (or "*" when allowed); else UserError."""
        return check_topic(self.settings, topic, allow_all=allow_all)

    def topic_choices(self, query: str, *, allow_all: bool = False) -> list[str]:
        """Topic names matching `query`, best first; "*" (every topic) too when allowed."""
        names = [*self.topic_names, *([ALL_TOPICS] if allow_all else [])]
        return rank(query, ((n, (n,)) for n in names))

    async def add_route(
        self, guild_id: int, topic: str, channel_id: int, *, mention_role_id: int | None = None, publish: bool = False
    ) -> bool:
        """Route `topic` to a channel of the server (a thread or forum too), with the role its new posts
        mention and whether they are published; False when that route exists already, as it is.

        UserError when the server has as many routes as `limits.routes_per_server` allows, or when the
        role is @everyone (its id is the server's); a route that exists already (or a broken one set
        again, which mends it, or one set with other options, which it takes) is not a new one.
        """
        if mention_role_id == guild_id:
            raise UserError(NEVER_EVERYONE)
        route = Route(guild_id, self.check_topic(topic, allow_all=True), channel_id, origin=RouteOrigin.DISCORD,
                      mention_role_id=mention_role_id, publish=publish)  # fmt: skip
        async with self._adding:
            routes = await self.store.list_routes(guild_id)
            exists = any(r.topic == route.topic and r.channel_id == channel_id for r in routes)
            count = sum(r.guild_id == guild_id and r.origin is RouteOrigin.DISCORD for r in routes)
            most = self.settings.limits.routes_per_server
            if not exists and count >= most:
                raise UserError(
                    f"This server has {count} {'route' if count == 1 else 'routes'}, the most it may; "
                    "remove one with /topics unroute first."
                )
            return await self.store.add_route(route, self.clock())

    async def remove_route(self, guild_id: int, topic: str, channel_id: int) -> None:
        """Remove a route this server set; UserError when there is none or the config owns it."""
        name = topic.strip()
        route = next((r for r in await self.store.list_routes(guild_id)
                      if r.topic == name and r.channel_id == channel_id), None)  # fmt: skip
        if route is None:
            raise UserError("This server has no such route; /topics list shows the routes.")
        if route.origin is RouteOrigin.CONFIG:
            raise UserError("That route comes from the bot's config file; ask the bot's operator to remove it.")
        await self.store.remove_route(guild_id, name, channel_id)

    async def routes_by_topic(self, guild_id: int) -> dict[str, list[Route]]:
        """The server's routes per topic: every configured topic (maybe with none), then the rest."""
        grouped: dict[str, list[Route]] = {name: [] for name in self.topic_names}
        for route in await self.store.list_routes(guild_id):
            if route.guild_id == guild_id:
                grouped.setdefault(route.topic, []).append(route)
        return grouped
