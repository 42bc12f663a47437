"""Removing a feed removes the stories only it told: a story with no source left must not live on
as nobody's — and so, by the old rule, everybody's — story (posted after a restart to every
server's routes, shown in everyone's /timeline and /recap)."""

from __future__ import annotations

import pytest

from bot.adapters.store import SQLiteStore
from bot.core.types import FeedOrigin
from bot.errors import StorageError
from bot.services.guilds import GuildLifecycle

T0 = 1_800_000_000.0


async def told_by(store: SQLiteStore, headline: str, *feed_ids: int) -> int:
    """A story with one entry in each of `feed_ids` (all of one scope: the store refuses a mix), a
    card, a topic and a queued delivery."""
    origins = {f.id: f.origin for f in await store.list_feeds()}
    public = any(origins[f] is not FeedOrigin.DISCORD for f in feed_ids)
    async with store.transaction() as db:
        cur = await db.execute("INSERT INTO stories (headline, published_at, created_at, updated_at, card,"
                               " scope_feed_id, announced_at) VALUES (?, ?, ?, ?, '{}', ?, ?) RETURNING id",
                               (headline, T0, T0, T0, None if public else feed_ids[0], T0))  # fmt: skip
        story = int((await cur.fetchone())[0])
        for n, feed in enumerate(feed_ids):
            await db.execute(
                "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash, state,"
                " story_id) VALUES (?, ?, ?, ?, ?, 'h', 'released', ?)",
                (feed, f"{headline}-{n}", headline, T0, T0, story),
            )
        await db.execute("INSERT INTO story_topics (story_id, topic) VALUES (?, 'news')", (story,))
    await store.enqueue("card", story, "", [(1, 10)], T0)
    return story


async def headlines(store: SQLiteStore) -> list[str]:
    return [str(r[0]) for r in await store._fetchall("SELECT headline FROM stories ORDER BY id")]


async def test_removing_a_feed_removes_the_stories_only_it_told(store: SQLiteStore) -> None:
    mine = await store.add_feed("https://a.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    wire = await store.add_feed("https://wire.example/feed", now=T0)
    only = await told_by(store, "Told only by the server's feed", mine.id)
    await told_by(store, "Told by the wire", wire.id)

    assert await store.remove_feed(mine.id)
    assert await headlines(store) == ["Told by the wire"]
    rows = await store._fetchall("SELECT count(*) FROM deliveries WHERE story_id = ?", (only,))
    assert rows[0][0] == 0, "its waiting post went with it"
    assert await store.story_audience(only) == frozenset(), "a story gone is nobody's"


async def test_the_store_refuses_an_entry_in_a_story_of_another_scope(store: SQLiteStore) -> None:
    """Clustering keeps scopes apart; the database keeps them apart too, whatever code writes."""
    mine = await store.add_feed("https://a.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    theirs = await store.add_feed("https://b.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    wire = await store.add_feed("https://wire.example/feed", now=T0)
    public, private = await told_by(store, "public", wire.id), await told_by(store, "private", mine.id)
    for feed, story in ((mine.id, public), (wire.id, private), (theirs.id, private)):
        with pytest.raises(StorageError, match="joins only a story of its own scope"):
            await told_by_entry(store, feed, story)
        async with store.transaction() as db:
            cur = await db.execute("INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at,"
                                   " content_hash, state) VALUES (?, ?, 't', ?, ?, 'h', 'released') RETURNING id",
                                   (feed, f"loose-{feed}-{story}", T0, T0))  # fmt: skip
            entry = (await cur.fetchone())[0]
        with pytest.raises(StorageError, match="joins only a story of its own scope"):
            async with store.transaction() as db:
                await db.execute("UPDATE entries SET story_id = ? WHERE id = ?", (story, entry))
    await told_by_entry(store, mine.id, private)  # its own scope: fine


async def told_by_entry(store: SQLiteStore, feed_id: int, story_id: int) -> None:
    async with store.transaction() as db:
        await db.execute("INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash,"
                         " state, story_id) VALUES (?, ?, 't', ?, ?, 'h', 'released', ?)",
                         (feed_id, f"k-{feed_id}-{story_id}", T0, T0, story_id))  # fmt: skip


async def test_purging_a_departed_server_removes_the_stories_only_its_feeds_told(store: SQLiteStore) -> None:
    mine = await store.add_feed("https://a.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    theirs = await store.add_feed("https://b.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    await told_by(store, "Server one's news", mine.id)
    await told_by(store, "Server two's news", theirs.id)
    guilds = GuildLifecycle(store, clock=lambda: T0 + 30 * 86400, grace_seconds=86400)
    await store.mark_guild_left(1, T0)
    assert await guilds.purge_due() == 1
    assert await headlines(store) == ["Server two's news"]


async def test_a_shared_feeds_stories_reach_every_server_that_follows_it_and_not_one_that_paused_it(
    store: SQLiteStore,
) -> None:
    shared = await store.add_feed("https://shared.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    assert await store.follow_feed(2, shared.id, T0) and not await store.follow_feed(2, shared.id, T0)
    story = await told_by(store, "Shared news", shared.id)
    assert await store.story_audience(story) == frozenset({1, 2})
    assert (await store.story_recipients(story)).followers == frozenset({1, 2})
    await store.set_follow_paused(2, shared.id, True)
    assert (await store.story_recipients(story)).followers == frozenset({1}), "a server that paused it gets no post"
    assert await store.story_audience(story) == frozenset({1, 2}), "but still sees it in its own reads"
    assert await store.unfollow_feed(1, shared.id) == 1
    assert (await store.story_recipients(story)).followers == frozenset(), "followed only by a server that paused it"
    assert await store.story_audience(story) == frozenset({2})
    assert await store.unfollow_feed(2, shared.id) == 0
    assert await store.story_audience(story) == frozenset(), "nobody follows it: nobody sees it"


async def test_upgrading_keeps_every_servers_feeds_as_followed(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "v8.db"
    old = await SQLiteStore.open(path, migrate_to=8)
    async with old.transaction() as db:  # as version 8 wrote it: the adding server on the feed row
        await db.execute(
            "INSERT INTO feeds (url, origin, added_by_guild_id, paused, created_at)"
            " VALUES ('https://a.example/f', 'discord', 5, 1, 1.0), ('https://b.example/f', 'config', NULL, 0, 2.0)"
        )
    await old.close()
    store = await SQLiteStore.open(path)
    try:
        [a, b] = await store.list_feeds()
        assert await store.feed_followers(a.id) == [5] and await store.feed_followers(b.id) == []
        [followed] = await store.guild_feeds(5)
        assert followed.id == a.id and followed.paused, "its pause carried over"
    finally:
        await store.close()


async def test_audiences_of_several_stories_in_one_read_agree_with_one_by_one(store: SQLiteStore) -> None:
    mine = await store.add_feed("https://a.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    wire = await store.add_feed("https://wire.example/feed", now=T0)
    daily = await store.add_feed("https://daily.example/feed", now=T0)
    await store.follow_feed(2, mine.id, T0)
    ids = [await told_by(store, "private", mine.id), await told_by(store, "public", wire.id),
           await told_by(store, "two operator feeds", wire.id, daily.id), 999]  # fmt: skip
    together = await store.story_audiences(ids)
    assert together == {i: await store.story_audience(i) for i in ids}
    assert together == {ids[0]: frozenset({1, 2}), ids[1]: None, ids[2]: None, 999: frozenset()}
