"""Mentions rolled up to the entities their entities are parts of (`family_mentions`, schema v13).

For each entity that has parts, one row per story that names it or one of its parts (at any depth),
with the story's date and scope and the member the story is about: the entity itself when named,
else the nearest part named, by name among parts as near. The rows are written with the mentions,
rebuilt for an entity whose parts change, built by the upgrade for the stories stored before, and go
with their story; a family's timeline count and pages are then one range of one index. A week's top
entities count a part's stories under the entities it is part of, once each.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.core.cluster import Features
from bot.core.stories import StoryPlanItem

T0 = 1_800_000_000.0
DAY = 86_400.0
NAMES = ("Root", "Alpha", "Beta", "Gamma", "Delta", "Eps")


async def family_rows(store: SQLiteStore) -> set[tuple[str, int, float, int | None, str]]:
    rows = await store._fetchall(
        "SELECT a.name, f.story_id, f.published_at, f.scope_feed_id, p.name FROM family_mentions f"
        " JOIN entities a ON a.id = f.ancestor_id JOIN entities p ON p.id = f.part_id"
    )
    return {(str(r[0]), int(r[1]), float(r[2]), r[3], str(r[4])) for r in rows}


async def model(store: SQLiteStore) -> set[tuple[str, int, float, int | None, str]]:
    """The rows the rule gives, computed from the mentions and the parents as they are now."""
    entities = {int(r[0]): (str(r[1]), r[2]) for r in await store._fetchall("SELECT id, name, parent_id FROM entities")}
    mentions: dict[int, list[int]] = {}
    story_of: dict[int, tuple[float, int | None]] = {}
    for entity_id, story_id, published, scope in await store._fetchall(
        "SELECT entity_id, story_id, published_at, scope_feed_id FROM entity_mentions"
    ):
        mentions.setdefault(int(story_id), []).append(int(entity_id))
        story_of[int(story_id)] = (float(published), scope)

    def ancestors(entity_id: int) -> list[tuple[int, int]]:  # (ancestor, depth), the entity's parent first
        out, depth, at = [], 0, entities[entity_id][1]
        while at is not None:
            depth += 1
            out.append((int(at), depth))
            at = entities[int(at)][1]
        return out

    parents = {int(p) for _, p in entities.values() if p is not None}
    rows = set()
    for story_id, named in mentions.items():
        best: dict[int, tuple[int, str, int]] = {}
        for entity_id in named:
            for ancestor, depth in [(entity_id, 0), *ancestors(entity_id)]:
                if ancestor in parents:
                    key = (depth, entities[entity_id][0], entity_id)
                    best[ancestor] = min(best.get(ancestor, key), key)
        published, scope = story_of[story_id]
        rows |= {(entities[a][0], story_id, published, scope, name) for a, (_, name, _) in best.items()}
    return rows


async def test_the_rows_follow_the_mentions_and_every_change_of_parents(store: SQLiteStore) -> None:
    rng = random.Random(13)
    seeds = [
        Seed(f"story {n}", T0 - rng.randrange(30) * DAY, tuple(rng.sample([*NAMES, "Other"], rng.randint(1, 3))),
             feeds=("own:7",) if rng.random() < 0.2 else ("wire",))
        for n in range(60)
    ]  # fmt: skip
    await store.sync_watchlist([(name, ()) for name in NAMES], T0, parents={"Alpha": "Root", "Beta": "Root"})
    ids = await seed_store(store, seeds)
    assert await family_rows(store) == await model(store) != set()
    # a story that names a nearer member later is about that one now
    entry = await store._fetchall("SELECT id FROM entries WHERE story_id = ?", (ids[0],))
    async with store.transaction() as db:
        await db.execute("UPDATE entries SET story_id = NULL WHERE id = ?", (entry[0][0],))
    await store.apply_story_plan(
        [StoryPlanItem(int(entry[0][0]), ids[0], False, "story 0", seeds[0].published_at,
                       Features({}, frozenset(), frozenset(), T0), (), ("Root", "Gamma"))], T0)  # fmt: skip
    assert ("Root", ids[0], seeds[0].published_at, None, "Root") in await family_rows(store)
    assert await family_rows(store) == await model(store)
    for _ in range(12):
        tree = {}
        for child in rng.sample(NAMES, rng.randint(0, 4)):
            options = [n for n in NAMES if n != child and not _under(n, child, tree)]
            tree[child] = rng.choice(options).lower()  # by alias, any case, as the config may spell it
        await store.sync_watchlist([(name, ()) for name in NAMES], T0, parents=tree)
        assert await family_rows(store) == await model(store), tree
    await store.sync_watchlist([(name, ()) for name in NAMES], T0, parents={})
    assert await family_rows(store) == set(), "no parts, no rows"


def _under(entity: str, ancestor: str, tree: dict[str, str]) -> bool:
    """Whether `entity` is `ancestor` or one of its parts in `tree` (child → parent, lower-cased)."""
    at: str | None = entity
    while at is not None:
        if at.lower() == ancestor.lower():
            return True
        at = next((c for c in tree if c.lower() == at.lower()), None)
        at = tree.get(at) if at is not None else None
    return False


async def test_a_story_that_goes_takes_its_family_rows(store: SQLiteStore) -> None:
    await store.sync_watchlist([("Root", ()), ("Alpha", ())], T0, parents={"Alpha": "Root"})
    await seed_store(store, [Seed("public", T0, ("Alpha",)), Seed("own", T0, ("Alpha",), feeds=("own:7",))])
    assert {r[4] for r in await family_rows(store)} == {"Alpha"} and len(await family_rows(store)) == 2
    own = next(f for f in await store.list_feeds() if f.name == "own:7")
    await store.unfollow_feed(7, own.id)
    assert [r[0] for r in await family_rows(store)] == ["Root"]
    root = await store.find_entity("Root")
    assert root is not None and await store.timeline_count(root[0], None, viewer=7) == 1


@pytest.mark.sqlite_only
async def test_a_familys_count_and_pages_read_one_range_of_one_index(store: SQLiteStore) -> None:
    await store.sync_watchlist([("Root", ()), ("Alpha", ()), ("Beta", ())], T0,
                               parents={"Alpha": "Root", "Beta": "alpha"})  # fmt: skip
    await seed_store(store, [Seed(f"s{n}", T0 + n, (NAMES[n % 3],), ("t",)) for n in range(9)])
    root = await store.find_entity("Root")
    assert root is not None
    statements: list[str] = []
    await store._db.set_trace_callback(statements.append)
    assert await store.timeline_count(root[0], None, viewer=7) == 9
    assert await store.timeline_count(root[0], None, "t") == 9
    assert len(await store.timeline_events(root[0], None, 3, before=(T0 + 5, 0))) == 3
    assert len(await store.entity_events("root", 5)) == 5
    await store._db.set_trace_callback(None)
    reads = [s for s in statements if "family_mentions" in s]
    assert len(reads) == 4, statements
    for sql in reads:
        plan = [str(r[3]) for r in await store._fetchall("EXPLAIN QUERY PLAN " + sql)]
        walks = [p for p in plan if p.startswith(("SEARCH", "SCAN")) and " m " in f"{p} "]
        assert len(walks) == 1 and "INDEX family_mentions_timeline" in walks[0], plan
        assert not any("entity_mentions" in p for p in plan), plan


async def test_upgrading_to_13_rolls_up_the_mentions_stored_before(tmp_path: Path) -> None:
    path = tmp_path / "v12.db"
    old = await SQLiteStore.open(path, migrate_to=12)
    feed = await old.add_feed("https://wire.example/feed.xml", now=T0, name="Wire")
    async with old.transaction() as db:  # as version 12 stored them: no rolled-up rows
        await db.execute("INSERT INTO entities (id, name, origin, created_at, parent_id) VALUES"
                         " (1, 'Anthropic', 'config', 1.0, NULL), (2, 'Claude', 'config', 1.0, 1),"
                         " (3, 'Claude Code', 'config', 1.0, 2), (4, 'OpenAI', 'config', 1.0, NULL)")  # fmt: skip
        await db.execute("INSERT INTO entity_aliases (alias, entity_id) VALUES ('anthropic', 1), ('claude', 2),"
                         " ('claude code', 3), ('openai', 4)")  # fmt: skip
        for story_id, entities in ((1, (1,)), (2, (3,)), (3, (2, 3)), (4, (4,)), (5, (3, 1))):
            await db.execute("INSERT INTO stories (id, headline, published_at, created_at, updated_at)"
                             " VALUES (?, ?, ?, 1.0, 1.0)", (story_id, f"story {story_id}", T0 + story_id))  # fmt: skip
            await db.execute("INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at,"
                             " content_hash, state, story_id) VALUES (?, ?, ?, ?, 1.0, 'h', 'released', ?)",
                             (feed.id, f"k{story_id}", f"story {story_id}", T0 + story_id, story_id))  # fmt: skip
            await db.executemany("INSERT INTO entity_mentions (entity_id, story_id, published_at) VALUES (?, ?, ?)",
                                 [(e, story_id, T0 + story_id) for e in entities])  # fmt: skip
    await old.close()

    store = await SQLiteStore.open(path)
    try:
        assert await family_rows(store) == await model(store)
        assert sorted((a, s, p) for a, s, _, _, p in await family_rows(store)) == [
            ("Anthropic", 1, "Anthropic"), ("Anthropic", 2, "Claude Code"), ("Anthropic", 3, "Claude"),
            ("Anthropic", 5, "Anthropic"), ("Claude", 2, "Claude Code"), ("Claude", 3, "Claude"),
            ("Claude", 5, "Claude Code"),
        ]  # fmt: skip
        assert await store.timeline_count(1, None) == 4
        assert [(e.story_id, e.part) for e in await store.timeline_events(1, None, 10)] == [
            (1, ""), (2, "Claude Code"), (3, "Claude"), (5, "")]  # fmt: skip
    finally:
        await store.close()


# --- /recap: the week's top entities ----------------------------------------------------------


async def test_a_weeks_top_entities_count_a_parts_stories_under_its_parent_once(store: SQLiteStore) -> None:
    start, end = T0 - 3 * DAY, T0 + 4 * DAY
    seeds = [Seed(f"OpenAI {n}", T0 + n, ("OpenAI",), ("models",)) for n in range(4)]
    seeds += [Seed(f"Claude {n}", T0 + n, ("Claude", "Anthropic"), ("models",)) for n in range(2)]
    seeds += [Seed(f"Code {n}", T0 + n, ("Claude Code", "Claude", "Anthropic"), ("code",)) for n in range(2)]
    seeds += [Seed("Anthropic itself", T0, ("Anthropic",), ("funding",)),
              Seed("Code, as server 7 tells it", T0, ("Claude Code",), ("code",), feeds=("own:7",)),
              Seed("Last week", start - 1, ("Claude",), ("models",))]  # fmt: skip
    await seed_store(store, seeds)
    await store.sync_watchlist([("Anthropic", ()), ("Claude", ()), ("Claude Code", ()), ("OpenAI", ())], T0,
                               parents={"Claude": "Anthropic", "Claude Code": "Claude"})  # fmt: skip
    # mainly about: OpenAI 4, Claude 2, Claude Code 2 (+1 for server 7), Anthropic 1; rolled up, each story
    # once per entity it counts for: Anthropic 5 (6), Claude 4 (5), OpenAI 4, Claude Code 2 (3)
    assert await store.week_top_entities(start, end, 3) == ["Anthropic", "Claude", "OpenAI"]
    assert await store.week_top_entities(start, end, 5, viewer=7) == ["Anthropic", "Claude", "OpenAI", "Claude Code"]
    assert await store.week_top_entities(start, end, 5, "code") == ["Anthropic", "Claude", "Claude Code"]
    assert await store.week_top_entities(start, end, 5, "funding") == ["Anthropic"]
    await store.sync_watchlist([("Claude", ()), ("Claude Code", ())], T0, parents={})
    assert await store.week_top_entities(start, end, 2) == ["OpenAI", "Claude"], "no parts: each its own"


async def test_the_recap_names_the_parent_of_the_weeks_parts(store: SQLiteStore) -> None:
    from zoneinfo import ZoneInfo

    from bot.core.recap import IsoWeek
    from bot.services.recap import RecapService

    seeds = [Seed(f"OpenAI {n}", T0 + n, ("OpenAI",)) for n in range(3)]
    seeds += [Seed(f"Claude {n}", T0 + n, ("Claude",)) for n in range(2)] + [Seed("Code", T0, ("Claude Code",))]
    await seed_store(store, seeds)
    await store.sync_watchlist([("Anthropic", ()), ("Claude", ()), ("Claude Code", ())], T0,
                               parents={"Claude": "Anthropic", "Claude Code": "Anthropic"})  # fmt: skip
    utc = ZoneInfo("UTC")
    recap = await RecapService(store).for_week(1, IsoWeek.at(T0, utc), utc)
    assert recap.story_count == 6
    assert recap.top_entities[:2] == ("Anthropic", "OpenAI"), "three stories about its parts: as many as OpenAI's"
