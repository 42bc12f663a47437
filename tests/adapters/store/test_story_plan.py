"""Writing a story plan (`apply_story_plan`): set-based, in one transaction, and idempotent.

The plan's rules are the store's: an entry that may be posted makes its story news, once; history
creates stories that are never posted and joins stories without touching `updated_at`; the first
naming of an entity in a story decides whether it is the story's main one; the directory counts the
operator's stories. A plan (or a part of one) written again, or an entry placed meanwhile, changes
nothing: the enrichment loop writes history in parts and may stop between two, or crash.
"""

from __future__ import annotations

from bot.adapters.store import SQLiteStore
from bot.core.cluster import Features
from bot.core.stories import Placed, StoryPlanItem

T0 = 1_800_000_000.0


def features(n: int) -> Features:
    return Features({f"w{n}": 1.0}, frozenset(), frozenset(), T0 + n)


async def entry(store: SQLiteStore, feed_id: int, key: str, state: str) -> int:
    async with store.transaction() as db:
        cur = await db.execute(
            "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash, state)"
            " VALUES (?, ?, ?, ?, ?, 'h', ?) RETURNING id",
            (feed_id, key, key, T0, T0, state),
        )
        row = await cur.fetchone()
    return int(row[0])


async def rows(store: SQLiteStore, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await store._fetchall(sql, params)]


async def test_a_plan_creates_joins_announces_and_names_as_entry_by_entry(store: SQLiteStore) -> None:
    alpha = (await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")).id
    beta = (await store.add_feed("https://beta.example/feed", now=T0, name="Beta")).id
    await store.sync_watchlist([("Helix Labs", ("Helix",))], T0)
    old, new, fresh, later = (
        await entry(store, alpha, "old", "seen"),
        await entry(store, beta, "new", "released"),
        await entry(store, alpha, "fresh", "released"),
        await entry(store, beta, "later", "seen"),
    )
    plan = [
        StoryPlanItem(old, -1, True, "Old news", T0 - 60, features(1), ("models", "chips"), ("Helix", "Orca")),
        StoryPlanItem(new, -1, False, "Old news", T0 - 60, features(2), ("chips", "policy"), ("Orca", "Zed")),
        StoryPlanItem(fresh, -2, True, "Fresh", T0, features(3), ("policy",), ("Zed",)),
        StoryPlanItem(later, -2, False, "Fresh", T0, features(4), (), ("Helix Labs",)),
    ]
    placed = await store.apply_story_plan(plan, T0 + 10)
    first, second = placed[0][0], placed[2][0]
    assert placed == [(first, Placed.HISTORY), (first, Placed.NEWS), (second, Placed.NEWS), (second, Placed.HISTORY)]
    assert await rows(store, "SELECT id, headline, published_at, source_count, announced_at, updated_at,"
                             " signature FROM stories ORDER BY id") == [
        (first, "Old news", T0 - 60, 2, T0 + 10, T0 + 10, await signature_of(features(2))),
        (second, "Fresh", T0, 2, T0 + 10, T0 + 10, await signature_of(features(4))),
    ]  # fmt: skip
    assert await rows(store, "SELECT id, story_id FROM entries ORDER BY id") == [
        (old, first), (new, first), (fresh, second), (later, second)]  # fmt: skip
    assert await store.story_topics(first) == ["models", "chips", "policy"], "in the order given"
    assert await store.story_entities(first) == ["Helix Labs", "Zed", "Orca"], "main, then the most mentioned"
    mentions = await rows(store, "SELECT e.name, m.story_id, m.is_main, m.published_at FROM entity_mentions m"
                                 " JOIN entities e ON e.id = m.entity_id ORDER BY m.story_id, e.name")  # fmt: skip
    assert mentions == [("Helix Labs", first, 1, T0 - 60), ("Orca", first, 0, T0 - 60), ("Zed", first, 0, T0 - 60),
                        ("Helix Labs", second, 0, T0), ("Zed", second, 1, T0)]  # fmt: skip
    assert await rows(store, "SELECT s.id, e.name FROM stories s JOIN entities e ON e.id = s.main_entity_id"
                             " ORDER BY s.id") == [(first, "Helix Labs"), (second, "Zed")]  # fmt: skip
    assert await rows(store, "SELECT name, origin, mention_count, promoted FROM entities ORDER BY name") == [
        ("Helix Labs", "config", 2, 1), ("Orca", "discovered", 1, 0), ("Zed", "discovered", 2, 1)]  # fmt: skip
    assert await rows(store, "SELECT alias FROM entity_aliases ORDER BY alias") == [
        ("helix",), ("helix labs",), ("orca",), ("zed",)]  # fmt: skip


async def signature_of(f: Features) -> str:
    from bot.adapters.store.sqlite_stories import features_to_json

    return features_to_json(f)


async def test_history_joining_news_touches_nothing_a_post_shows(store: SQLiteStore) -> None:
    feed = (await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")).id
    news = await entry(store, feed, "news", "released")
    [(story, placed)] = await store.apply_story_plan([StoryPlanItem(news, -1, True, "N", T0, features(1), (), ())], T0)
    assert placed is Placed.NEWS
    seen = await entry(store, feed, "seen", "seen")
    assert await store.apply_story_plan([StoryPlanItem(seen, story, False, "N", T0, features(2), (), ())], T0 + 50) == [
        (story, Placed.HISTORY)]  # fmt: skip
    assert await rows(store, "SELECT announced_at, updated_at FROM stories") == [(T0, T0)]
    grown = await entry(store, feed, "grown", "released")
    assert await store.apply_story_plan([StoryPlanItem(grown, story, False, "N", T0, features(3), (), ())],
                                        T0 + 90) == [(story, Placed.GROWN)]  # fmt: skip
    assert await rows(store, "SELECT announced_at, updated_at FROM stories") == [(T0, T0 + 90)]


async def test_a_plan_written_again_or_in_parts_places_each_entry_once(store: SQLiteStore) -> None:
    feed = (await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")).id
    ids = [await entry(store, feed, f"e{n}", "seen") for n in range(4)]
    plan = [
        StoryPlanItem(ids[0], -1, True, "One", T0, features(0), ("a",), ("Acme",)),
        StoryPlanItem(ids[1], -1, False, "One", T0, features(1), ("b",), ("Beta",)),
        StoryPlanItem(ids[2], -2, True, "Two", T0, features(2), (), ("Acme",)),
        StoryPlanItem(ids[3], -2, False, "Two", T0, features(3), (), ()),
    ]
    first = await store.apply_story_plan(plan[:1], T0)  # a part written, then the process died
    assert len(first) == 1
    again = await store.apply_story_plan(plan, T0)  # the whole plan once more: its first entry is placed
    second = again[0][0]
    assert again == [(second, Placed.HISTORY), (second, Placed.HISTORY)], (
        "the entry joining the story of a left-out creator waits too (planned anew later); the rest is written"
    )
    assert await store.apply_story_plan(plan, T0) == [], "written again: nothing new"
    assert await rows(store, "SELECT id, source_count FROM stories ORDER BY id") == [(first[0][0], 1), (second, 1)]
    assert await rows(store, "SELECT story_id FROM entries ORDER BY id") == [
        (first[0][0],), (None,), (second,), (second,)]  # fmt: skip
    assert await rows(store, "SELECT name, mention_count FROM entities ORDER BY name") == [("Acme", 2)]
    assert await rows(store, "SELECT story_id, topic FROM story_topics") == [(first[0][0], "a")]


async def test_a_plan_joining_a_story_gone_meanwhile_leaves_that_entry_for_later(store: SQLiteStore) -> None:
    feed = (await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")).id
    e1, e2 = await entry(store, feed, "e1", "released"), await entry(store, feed, "e2", "released")
    plan = [
        StoryPlanItem(e1, 999, False, "Gone", T0, features(1), (), ()),
        StoryPlanItem(e2, -1, True, "Here", T0, features(2), (), ()),
    ]
    [(story, placed)] = await store.apply_story_plan(plan, T0)
    assert placed is Placed.NEWS
    assert await rows(store, "SELECT id, story_id FROM entries ORDER BY id") == [(e1, None), (e2, story)]
    assert [e.id for e in await store.released_entries()] == [e1], "planned again with the next batch"
