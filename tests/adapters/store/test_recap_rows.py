"""The rows behind /timeline and /recap, on a small store written through the store's own code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.core.recap import RecapSchedule
from bot.core.routing import Route

T0 = 1_800_000_000.0  # 2027-01-15, a Friday
DAY = 86_400.0
ACME_DAYS = range(23)  # Acme: a story a day, 0 to 22 days before T0


@pytest.fixture
async def acme(store: SQLiteStore) -> list[int]:
    """23 stories about Acme, the oldest first; every third about chips; story 0 has three sources."""
    seeds = [
        Seed(f"Acme story {n}", T0 - (22 - n) * DAY, ("Acme",), ("chips",) if n % 3 == 0 else ("cloud",),
             feeds=("wire", "daily", "weekly") if n == 0 else ("wire",),
             what_changed=f"Acme did thing {n}. More text." if n % 2 == 0 else "",
             url=f"https://acme.example/{n}" if n % 2 == 0 else "")
        for n in ACME_DAYS
    ]  # fmt: skip
    return await seed_store(store, seeds, aliases={"Acme": ("ACME Corp", "acme inc")})


async def test_events_count_and_pages_by_offset_and_by_key(store: SQLiteStore, acme: list[int]) -> None:
    entity = await store.find_entity("acme corp")
    assert entity is not None and entity[1] == "Acme"
    assert await store.timeline_count(entity[0], None) == 23
    assert await store.timeline_count(entity[0], T0 - 10 * DAY) == 11

    newest = await store.timeline_events(entity[0], None, 10)
    assert [e.story_id for e in newest] == acme[13:], "the newest ten, oldest first"
    older = await store.timeline_events(entity[0], None, 10, before=(newest[0].published_at, newest[0].story_id))
    assert older == await store.timeline_events(entity[0], None, 10, skip=10)
    assert [e.story_id for e in older] == acme[3:13]
    oldest = await store.timeline_events(entity[0], None, 3, oldest=True)
    assert [e.story_id for e in oldest] == acme[:3]
    newer = await store.timeline_events(entity[0], None, 10, after=(oldest[-1].published_at, oldest[-1].story_id))
    assert newer == older
    assert await store.timeline_events(entity[0], T0 - 2 * DAY, 10) == newest[-3:]


async def test_an_event_is_a_story_once_with_its_sources_line_and_link(store: SQLiteStore, acme: list[int]) -> None:
    entity_id = (await store.find_entity("Acme") or (0, ""))[0]
    first, second = await store.timeline_events(entity_id, None, 2, oldest=True)
    assert (first.story_id, first.sources, first.published_at) == (acme[0], 3, T0 - 22 * DAY)
    assert first.text == "Acme did thing 0.", "the card's first changed line"
    assert first.url == "https://acme.example/0"
    assert second.text == "Acme story 1", "no card: the headline"
    assert second.url.startswith("https://wire.example/"), "no card: the first entry's link"


async def test_a_topic_and_other_servers_stories_are_left_out_of_counts_and_pages(
    store: SQLiteStore, acme: list[int]
) -> None:
    entity_id = (await store.find_entity("Acme") or (0, ""))[0]
    assert await store.timeline_count(entity_id, None, "chips") == 8
    chips = await store.timeline_events(entity_id, None, 10, topic="chips")
    assert [e.story_id for e in chips] == acme[0::3]
    mine = await seed_store(store, [Seed("Acme, told by server 7's feed", T0 - 0.5 * DAY, ("Acme",), ("chips",),
                                         feeds=("own:7",))])  # fmt: skip
    for viewer in (None, 8):
        assert await store.timeline_count(entity_id, None, viewer=viewer) == 23
        assert await store.timeline_count(entity_id, None, "chips", viewer=viewer) == 8
        page = await store.timeline_events(entity_id, None, 3, viewer=viewer)
        assert [e.story_id for e in page] == acme[20:23]
    assert await store.timeline_count(entity_id, None, "chips", viewer=7) == 9
    page = await store.timeline_events(entity_id, None, 3, viewer=7)
    assert [e.story_id for e in page] == [acme[21], *mine, acme[22]]
    await store.unfollow_feed(7, (await store.list_feeds())[-1].id)
    assert await store.timeline_count(entity_id, None, viewer=7) == 23, "unfollowed: gone from its reads too"


async def test_names_aliases_and_the_directory(store: SQLiteStore, acme: list[int]) -> None:
    await seed_store(store, [Seed("Zed once", T0, ("Zed",))])
    async with store.transaction() as db:  # a name seen in one story only: discovered, not yet promoted
        await db.execute("UPDATE entities SET promoted = 0, origin = 'discovered' WHERE name = 'Zed'")
    assert await store.find_entity("  ACME   INC ") == await store.find_entity("Acme")
    assert await store.find_entity("Nobody") is None
    rows = await store.entity_directory(100)
    assert {(r.canonical, r.text) for r in rows} == {("Acme", "acme"), ("Acme", "acme corp"), ("Acme", "acme inc")}
    assert {r.mentions for r in rows} == {23}


async def test_names_only_a_servers_own_feed_told_are_known_to_that_server_alone(store: SQLiteStore) -> None:
    await seed_store(store, [Seed("Zed's first", T0, ("Zed",), feeds=("own:7",)),
                             Seed("Zed again", T0 + 1, ("Zed",), feeds=("own:7",)),
                             Seed("Public Acme", T0, ("Acme",))])  # fmt: skip
    async with store.transaction() as db:  # as clustering finds them: discovered names
        await db.execute("UPDATE entities SET promoted = 0, origin = 'discovered', mention_count = 0")
        await db.execute("UPDATE entities SET promoted = 1, mention_count = 1 WHERE name = 'Acme'")
    assert await store.find_entity("zed", 8) is None and await store.find_entity("zed") is None
    assert await store.find_entity("zed", 7) == await store.find_entity("Zed", 7) != None  # noqa: E711
    assert {r.canonical for r in await store.entity_directory(100)} == {"Acme"}
    own = await store.own_entity_directory(7, 100)
    assert [(r.canonical, r.mentions) for r in own] == [("Zed", 2)]
    assert await store.own_entity_directory(8, 100) == []


async def test_a_weeks_stories_sources_entities_and_briefs(store: SQLiteStore) -> None:
    start, end = T0 - 4 * DAY, T0 + 3 * DAY
    ids = await seed_store(store, [
        Seed("Big", T0, ("Acme", "Beta"), ("chips", "cloud"), feeds=("a", "b", "c"), what_changed="Big news.",
             hook="The hook.", url="https://x.example/big"),
        Seed("Small", T0 - DAY, ("Beta",), ("cloud",), what_changed="Line one.\nLine two."),
        Seed("Bare", T0 - 2 * DAY, ("Beta",), feeds=("own:7",)),
        Seed("Last week", start - 1, ("Acme",), ("chips",)),
        Seed("Next week", end, ("Acme",), ("chips",)),
    ])  # fmt: skip
    heads = await store.week_heads(start, end, viewer=7)
    assert sorted(heads) == [(ids[0], 3, "chips"), (ids[1], 1, "cloud"), (ids[2], 1, "")]
    assert sorted(await store.week_heads(start, end, viewer=8)) == sorted(heads)[:2], "8 does not see 7's story"
    assert sorted(await store.week_heads(start, end, "cloud")) == [(ids[0], 3, "cloud"), (ids[1], 1, "cloud")]
    assert await store.stories_sources(ids[:3]) == 5  # a, b, c, wire, own:7
    assert await store.stories_sources(ids[:2]) == 4
    assert await store.stories_sources([]) == 0
    assert await store.week_top_entities(start, end, 2, viewer=7) == ["Beta", "Acme"], "the main entity of two"
    assert await store.week_top_entities(start, end, 2) == ["Acme", "Beta"], "the other servers see one Beta story"
    assert await store.week_top_entities(start, end, 5, "chips") == ["Acme"]
    async with store.transaction() as db:  # a name seen in passing: not shown
        await db.execute("UPDATE entities SET promoted = 0, origin = 'discovered' WHERE name = 'Beta'")
    assert await store.week_top_entities(start, end, 2) == ["Acme"]
    details = await store.story_details([ids[0], ids[1], ids[2], 999])
    assert details[ids[0]] == (T0, ("chips", "cloud"), "Big", "The hook.", "https://x.example/big")
    assert details[ids[1]].tldr == "Line one.", "no hook: the first line of what changed"
    bare = details[ids[2]]
    assert (bare.topics, bare.headline, bare.tldr) == ((), "Bare", "")
    assert bare.url.startswith("https://own-7.example/"), "no card: the first entry's link"
    assert 999 not in details


async def test_topic_guilds_from_working_routes(store: SQLiteStore) -> None:
    for route in (Route(1, "chips", 10), Route(2, "chips", 20), Route(2, "*", 21), Route(3, "cloud", 30)):
        await store.add_route(route, T0)
    await store.mark_channel_broken(30, "403", T0)
    assert await store.topic_guilds() == {"chips": frozenset({1, 2}), "*": frozenset({2})}


async def test_schedules_keep_their_time_unless_changed_and_weeks_only_move_forward(store: SQLiteStore) -> None:
    plan = RecapSchedule(1, 10, 0, "09:00", "Europe/Berlin")
    saved = await store.save_recap_schedule(plan, T0)
    assert (saved.updated_at, saved.last_posted_week, saved.origin) == (T0, None, "discord")
    assert (await store.save_recap_schedule(plan, T0 + 60)).updated_at == T0, "the same plan: unchanged"
    await store.mark_recap_posted(1, "2027-W02")
    await store.mark_recap_posted(1, "2026-W50")
    moved = await store.save_recap_schedule(RecapSchedule(1, 11, 0, "09:00", "Europe/Berlin"), T0 + 120)
    assert (moved.channel_id, moved.updated_at, moved.last_posted_week) == (11, T0 + 120, "2027-W02")
    assert await store.recap_schedule(1) == moved
    assert await store.guild_timezone(1) == "Europe/Berlin"
    await store.set_alerts_channel(1, None, T0)
    async with store.transaction() as db:
        await db.execute("UPDATE guild_settings SET timezone = 'Asia/Tokyo' WHERE guild_id = 1")
    assert await store.guild_timezone(1) == "Asia/Tokyo", "the server's own setting first"
    assert await store.guild_timezone(2) is None
    assert await store.remove_recap_schedule(1) is True
    assert await store.remove_recap_schedule(1) is False


async def test_config_schedules_replace_discord_ones_and_go_with_the_config(store: SQLiteStore) -> None:
    await store.save_recap_schedule(RecapSchedule(1, 10, 0, "09:00", "UTC"), T0)
    await store.save_recap_schedule(RecapSchedule(2, 20, 4, "17:00", "UTC"), T0)
    config = [RecapSchedule(1, 11, 6, "18:00", "UTC", "config"), RecapSchedule(3, 30, 0, "08:00", "UTC", "config")]
    await store.sync_config_recaps(config, T0 + 1)
    assert [(s.guild_id, s.channel_id, s.origin) for s in await store.recap_schedules()] == [
        (1, 11, "config"), (2, 20, "discord"), (3, 30, "config")]  # fmt: skip
    await store.sync_config_recaps(config, T0 + 2)
    assert (await store.recap_schedule(3) or config[0]).updated_at == T0 + 1, "a restart changes nothing"
    await store.sync_config_recaps(config[:1], T0 + 3)
    assert [s.guild_id for s in await store.recap_schedules()] == [1, 2]


async def test_a_refused_channel_breaks_the_schedule_posting_there_until_it_is_saved_again(
    store: SQLiteStore,
) -> None:
    plan = RecapSchedule(1, 10, 0, "09:00", "UTC")
    await store.save_recap_schedule(plan, T0)
    await store.mark_recap_posted(1, "2027-W02")
    assert await store.break_recap_schedule(1, 11, "403", T0 + 1) is None, "another channel: not this schedule"
    assert await store.break_recap_schedule(2, 10, "403", T0 + 1) is None, "another server"
    broken = await store.break_recap_schedule(1, 10, "403 Forbidden: Missing Access", T0 + 1)
    assert broken is not None and (broken.broken_at, broken.broken_reason) == (T0 + 1, "403 Forbidden: Missing Access")
    assert await store.break_recap_schedule(1, 10, "404", T0 + 2) is None, "broken once: the first reason stays"
    assert await store.recap_schedules() == [broken]
    again = await store.save_recap_schedule(plan, T0 + 3)
    assert (again.broken_at, again.broken_reason, again.updated_at, again.last_posted_week) == (
        None, None, T0, "2027-W02")  # fmt: skip


async def test_the_servers_own_time_zone_comes_before_its_schedules(store: SQLiteStore) -> None:
    await store.save_recap_schedule(RecapSchedule(1, 10, 0, "09:00", "Europe/Berlin"), T0)
    await store.set_alerts_channel(1, 99, T0)
    await store.set_guild_timezone(1, "Asia/Tokyo", T0)
    assert await store.guild_timezone(1) == "Asia/Tokyo"
    assert await store.get_alerts_channel(1) == 99, "the other setting is kept"
    await store.set_guild_timezone(1, None, T0)
    assert await store.guild_timezone(1) == "Europe/Berlin", "cleared: the schedule's zone"
    await store.set_guild_timezone(2, "America/New_York", T0)
    assert (await store.guild_timezone(2), await store.get_alerts_channel(2)) == ("America/New_York", None)


async def test_the_new_indexes_exist(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "i.db")
    await store.close()
    with sqlite3.connect(tmp_path / "i.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"stories_week", "entities_directory", "entity_aliases_entity", "entries_story_feed",
            "entries_feed_story"} <= names  # fmt: skip
