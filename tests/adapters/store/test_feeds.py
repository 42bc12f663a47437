"""Feed rows in the SQLite store."""

from __future__ import annotations

from bot.adapters.store import SQLiteStore
from bot.core.types import FeedOrigin


async def test_add_feed_is_idempotent_and_keeps_the_first_values(store: SQLiteStore) -> None:
    a = await store.add_feed("https://a.example/f", now=1.0, name="A", forced_topics=["policy"])
    again = await store.add_feed("https://a.example/f", now=2.0, name="Other", origin=FeedOrigin.DISCORD)
    assert again == a
    assert a.forced_topics == ("policy",)
    assert a.origin is FeedOrigin.CONFIG and a.trusted
    assert a.display_name == "A"
    assert [f.id for f in await store.list_feeds()] == [a.id]


async def test_discord_feeds_are_untrusted(store: SQLiteStore) -> None:
    feed = await store.add_feed("https://b.example/f", now=1.0, origin=FeedOrigin.DISCORD, guild_id=5)
    assert not feed.trusted
    assert feed.display_name == "https://b.example/f"


async def test_pause_and_remove(store: SQLiteStore) -> None:
    feed = await store.add_feed("https://a.example/f", now=1.0)
    assert await store.set_feed_paused(feed.id, True)
    fetched = await store.get_feed(feed.id)
    assert fetched is not None and fetched.paused
    assert await store.remove_feed(feed.id)
    assert not await store.remove_feed(feed.id)
    assert await store.get_feed(feed.id) is None
    assert not await store.set_feed_paused(feed.id, False)
