"""A feed item's picture on its way through the store, on both engines: written with the entry,
updated with it, read back for the stages after ingest (released, history, a story's entries), and
kept in the story's card; a card stored before cards had pictures still loads. Also the figures
behind /status's sparkline: the recent ingest cycles, and when a server's own entries came in."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from bot.adapters.store import SQLiteStore
from bot.adapters.store.sqlite_stories import card_from_json, card_to_json
from bot.core.cards import Card
from bot.core.cluster import Features
from bot.core.dedup import ChangedEntry, KnownIndex, decide
from bot.core.identity import content_hash
from bot.core.polls import PollRecord
from bot.core.stories import StoryPlanItem
from bot.core.types import FeedOrigin, ParsedEntry
from bot.services.ports import Store

T0 = 1_800_000_000.0
PICTURE = "https://cdn.example/orca.jpg"


def poll(entries: list[ParsedEntry], *, subscribed: bool, known: KnownIndex | None = None) -> PollRecord:
    decision = decide(entries, known or KnownIndex.of([]), now=T0, subscribed=subscribed, max_age_seconds=86_400)
    return PollRecord(now=T0, status=200, next_poll_at=T0 + 60, max_new=10, decision=decision)


def item(key: str, image_url: str) -> ParsedEntry:
    return ParsedEntry(
        key, f"https://wire.example/{key}", f"Story {key}", "Text.", published=T0 - 60, image_url=image_url
    )


async def story_of(store: Store, entry_id: int) -> int:
    """The story a plan of one entry makes of it."""
    features = Features({"x": 1.0}, frozenset(), frozenset(), T0)
    placed = await store.apply_story_plan([StoryPlanItem(entry_id, -1, True, "Story", T0, features, (), ())], T0)
    return placed[0][0]


async def test_an_entrys_picture_is_stored_and_read_back_for_every_later_stage(store: Store) -> None:
    feed = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    await store.record_poll(feed.id, poll([item("old", "https://cdn.example/old.png")], subscribed=False))
    released = await store.record_poll(feed.id, poll([item("new", PICTURE), item("bare", "")], subscribed=True))
    assert len(released) == 2
    news = {e.title: e.image_url for e in await store.released_entries(10)}
    assert news == {"Story new": PICTURE, "Story bare": ""}, "none given: the column's default, ''"
    assert [e.image_url for e in await store.history_entries(10)] == ["https://cdn.example/old.png"]

    [new] = [e for e in await store.released_entries(10) if e.title == "Story new"]
    [entry] = await store.story_entries(await story_of(store, new.id))
    assert entry.image_url == PICTURE


async def test_a_changed_entry_takes_its_new_picture(store: Store) -> None:
    feed = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    await store.record_poll(feed.id, poll([item("a", PICTURE)], subscribed=True))
    [stored] = await store.released_entries(10)
    changed = replace(item("a", "https://cdn.example/other.png"), summary="Text, corrected.")
    record = poll([], subscribed=True)
    decision = replace(record.decision, changed=[ChangedEntry(stored.id, changed, content_hash(changed))])  # type: ignore[arg-type]
    await store.record_poll(feed.id, replace(record, decision=decision))
    [again] = await store.released_entries(10)
    assert (again.summary, again.image_url) == ("Text, corrected.", "https://cdn.example/other.png")


def card(image_url: str = "") -> Card:
    return Card(
        story_id=1, headline="Helix ships Orca-7", url="https://wire.example/new", source="Wire", published_at=T0,
        hook="", what_changed="Helix shipped it.", why_it_matters="", what_to_do_next="", who_should_care="",
        image_url=image_url,
    )  # fmt: skip


async def test_the_cards_picture_is_kept_with_the_card(store: Store) -> None:
    feed = await store.add_feed("https://wire.example/feed", now=T0, name="Wire")
    await store.record_poll(feed.id, poll([item("new", PICTURE)], subscribed=True))
    [new] = await store.released_entries(10)
    story_id = await story_of(store, new.id)
    await store.save_card(story_id, replace(card(PICTURE), story_id=story_id), T0)
    stored = await store.get_card(story_id)
    assert stored is not None and stored.image_url == PICTURE


def test_a_card_stored_before_pictures_loads_without_one() -> None:
    old = asdict(card())
    del old["image_url"]
    loaded = card_from_json(json.dumps(old))
    assert loaded == card() and loaded.image_url == ""
    assert card_from_json(card_to_json(card(PICTURE))).image_url == PICTURE


async def test_recent_cycles_and_a_servers_own_entry_times(store: Store) -> None:
    ours = await store.add_feed("https://ours.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=7)
    theirs = await store.add_feed("https://theirs.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=8)
    await store.record_cycle(T0 - 90_000, T0 - 89_990, 1, 5, 0)  # more than a day ago
    await store.record_cycle(T0 - 100, T0 - 90, 2, 3, 0)
    await store.record_cycle(T0 - 10, T0 - 1, 2, 1, 1)
    await store.record_poll(ours.id, poll([item("a", ""), item("b", "")], subscribed=True))
    await store.record_poll(theirs.id, poll([item("c", "")], subscribed=True))
    since = T0 - 86_400
    assert await store.recent_cycles(since) == [(T0 - 100, T0 - 90, 3), (T0 - 10, T0 - 1, 1)]
    assert await store.own_entry_times(7, since) == [T0, T0], "its own feed's entries only"
    assert await store.own_entry_times(9, since) == [], "a server that follows nothing"
    assert await store.own_entry_times(7, T0 + 1) == [], "none since then"


async def test_status_reads_a_servers_recent_entries_by_an_index_range_per_feed(sqlite_store: SQLiteStore) -> None:
    """/status's count of a server's new entries never walks its feeds' whole history (schema v15)."""
    plan = await sqlite_store._fetchall(
        "EXPLAIN QUERY PLAN SELECT e.first_seen_at FROM subscriptions s JOIN entries e ON e.feed_id = s.feed_id"
        " WHERE s.guild_id = ? AND e.first_seen_at >= ? ORDER BY e.first_seen_at DESC LIMIT ?",
        (1, 0.0, 10),
    )
    assert any("entries_feed_seen (feed_id=? AND first_seen_at>?)" in str(row[3]) for row in plan), plan
