"""The store interface. The SQLite store implements it; a PostgreSQL store could follow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.core.types import Feed, FeedOrigin


class Store(Protocol):
    """Everything Wirebrief keeps. All times are UNIX seconds (UTC)."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""

    async def schema_version(self) -> int:
        """The schema version of the open database."""

    async def add_feed(
        self,
        url: str,
        *,
        now: float,
        name: str = "",
        origin: FeedOrigin = FeedOrigin.CONFIG,
        forced_topics: Sequence[str] = (),
        guild_id: int | None = None,
    ) -> Feed:
        """Subscribe to `url` (idempotent: an existing feed is returned unchanged)."""

    async def get_feed(self, feed_id: int) -> Feed | None:
        """The feed with this id, if any."""

    async def get_feed_by_url(self, url: str) -> Feed | None:
        """The feed with this exact URL, if any."""

    async def list_feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""

    async def remove_feed(self, feed_id: int) -> bool:
        """Unsubscribe; its entries go with it. False when there was no such feed."""

    async def set_feed_paused(self, feed_id: int, paused: bool) -> bool:
        """Pause or resume polling. False when there was no such feed."""
