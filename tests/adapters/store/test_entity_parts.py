"""Entity parts in the store: parents set from the config, and the reads of an entity's stories (/timeline's
count and pages, the card's timeline and the Timeline button) that hold its parts' stories, each once."""

from __future__ import annotations

import random

import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.core.timeline import EntityEvent

T0 = 1_800_000_000.0
DAY = 86_400.0
PARENTS = {"Claude": "Anthropic", "Claude Code": "claude"}  # by name or alias, any case


async def entity_id(store: SQLiteStore, name: str) -> int:
    found = await store.find_entity(name)
    assert found is not None, name
    return found[0]


def lines(events: list[EntityEvent]) -> list[tuple[str, str]]:
    return [(e.text, e.part) for e in events]


@pytest.fixture
async def anthropic(store: SQLiteStore) -> list[int]:
    """Anthropic → Claude → Claude Code; six stories, one a day, the last told only by server 7's feed."""
    seeds = [
        Seed("Anthropic raises", T0 - 5 * DAY, ("Anthropic",), ("funding",)),
        Seed("Claude 4 ships", T0 - 4 * DAY, ("Claude",), ("models",)),
        Seed("Anthropic ships Claude Code", T0 - 3 * DAY, ("Claude Code", "Anthropic"), ("models",)),
        Seed("Claude Code meets Claude", T0 - 2 * DAY, ("Claude Code", "Claude"), ("models",)),
        Seed("OpenAI news", T0 - DAY, ("OpenAI",), ("models",)),
        Seed("Claude, as server 7's feed tells it", T0 - DAY / 2, ("Claude",), ("models",), feeds=("own:7",)),
    ]
    ids = await seed_store(store, seeds, aliases={"Claude": ("Claude Sonnet",)})
    names = [("Anthropic", ()), ("Claude", ("Claude Sonnet",)), ("Claude Code", ()), ("OpenAI", ())]
    await store.sync_watchlist(names, T0, parents=PARENTS)
    return ids


async def test_parents_are_set_from_the_config_and_cleared_with_it(store: SQLiteStore, anthropic: list[int]) -> None:
    async def parents() -> dict[str, str]:
        return {r.canonical: r.parent for r in await store.entity_directory(100) if r.parent}

    assert await parents() == {"Claude": "Anthropic", "Claude Code": "Claude"}
    await store.sync_watchlist([("Claude", ())], T0)  # no parents given: left as they are
    assert await parents() == {"Claude": "Anthropic", "Claude Code": "Claude"}
    await store.sync_watchlist([("Claude", ()), ("Claude Code", ())], T0, parents={"Claude Code": "Anthropic"})
    assert await parents() == {"Claude Code": "Anthropic"}, "Claude's part_of removed: its parent is cleared"
    await store.sync_watchlist([], T0, parents={})
    assert await parents() == {}
    own = await store.own_entity_directory(7, 100)
    assert {r.parent for r in own} == {""}


async def test_a_parents_timeline_holds_its_parts_stories_each_once(store: SQLiteStore, anthropic: list[int]) -> None:
    parent = await entity_id(store, "Anthropic")
    assert await store.timeline_count(parent, None) == 4
    assert lines(await store.timeline_events(parent, None, 10)) == [
        ("Anthropic raises", ""),
        ("Claude 4 ships", "Claude"),
        ("Anthropic ships Claude Code", ""),  # it names Anthropic itself: no part named, and once
        ("Claude Code meets Claude", "Claude"),  # two parts: the nearer one
    ]
    claude = await entity_id(store, "claude sonnet")
    assert await store.timeline_count(claude, None) == 3
    assert lines(await store.timeline_events(claude, None, 10)) == [
        ("Claude 4 ships", ""),
        ("Anthropic ships Claude Code", "Claude Code"),
        ("Claude Code meets Claude", ""),
    ]
    code = await entity_id(store, "Claude Code")
    assert lines(await store.timeline_events(code, None, 10)) == [
        ("Anthropic ships Claude Code", ""),
        ("Claude Code meets Claude", ""),
    ], "a part's timeline is its own: not its parent's"


async def test_window_topic_and_who_may_see(store: SQLiteStore, anthropic: list[int]) -> None:
    parent = await entity_id(store, "Anthropic")
    assert await store.timeline_count(parent, T0 - 3.5 * DAY) == 2
    assert await store.timeline_count(parent, None, "models") == 3
    assert lines(await store.timeline_events(parent, None, 10, topic="funding")) == [("Anthropic raises", "")]
    for viewer, count in ((None, 4), (8, 4), (7, 5)):
        assert await store.timeline_count(parent, None, viewer=viewer) == count
        assert len(await store.timeline_events(parent, None, 10, viewer=viewer)) == count
    newest = await store.timeline_events(parent, None, 1, viewer=7)
    assert lines(newest) == [("Claude, as server 7's feed tells it", "Claude")]


async def test_the_card_and_the_button_read_the_parts_too(store: SQLiteStore, anthropic: list[int]) -> None:
    events = await store.entity_events("anthropic", 10)
    assert [(e[1], e[4]) for e in events] == [
        ("Claude Code meets Claude", "Claude"),
        ("Anthropic ships Claude Code", ""),
        ("Claude 4 ships", "Claude"),
        ("Anthropic raises", ""),
    ], "newest first, each story once"
    assert [e[3] for e in events] == anthropic[3::-1]
    assert len(await store.entity_events("Anthropic", 10, viewer=7)) == 5
    assert [e[4] for e in await store.entity_events("CLAUDE SONNET", 2)] == ["", "Claude Code"]
    assert await store.entity_events("Anthropic", 0) == []
    assert await store.entity_events("Nobody", 10) == []


# --- against a model of the rule, on random stories ----------------------------------------------

FAMILY = ("Root", "Beta", "Alpha", "Gamma")  # Root's parts: Alpha and Beta (by name), then Gamma (Beta's)
TREE = {"Beta": "Root", "Alpha": "Root", "Gamma": "beta"}
ORDER = ("Root", "Alpha", "Beta", "Gamma")  # the family's order: nearest first, then by name


def about(entities: tuple[str, ...]) -> str | None:
    """The rule: a story is about the first member of the family it names ("" for Root itself)."""
    first = next((name for name in ORDER if name in entities), None)
    return None if first is None else ("" if first == "Root" else first)


async def test_counts_and_every_way_to_page_agree_with_the_rule(store: SQLiteStore) -> None:
    rng = random.Random(14)
    seeds = []
    for n in range(70):
        named = tuple(rng.sample([*FAMILY, "Other"], rng.randint(1, 3)))
        when = T0 - rng.randrange(40) * DAY  # many stories share a date: the key's story id decides
        seeds.append(Seed(f"story {n}", when, named, (rng.choice(("a", "b")),),
                          feeds=("own:7",) if rng.random() < 0.2 else ("wire",)))  # fmt: skip
    ids = await seed_store(store, seeds)
    await store.sync_watchlist([(name, ()) for name in FAMILY], T0, parents=TREE)
    root = await entity_id(store, "Root")
    for viewer in (None, 7):
        for topic in (None, "a"):
            for since in (None, T0 - 20 * DAY):
                expected = sorted(
                    (s.published_at, story_id, s.headline, part)
                    for s, story_id in zip(seeds, ids, strict=True)
                    if (part := about(s.entities)) is not None
                    and (viewer == 7 or s.feeds != ("own:7",))
                    and (topic is None or topic in s.topics)
                    and (since is None or s.published_at >= since)
                )
                want = [(headline, part) for _, _, headline, part in expected]
                assert await store.timeline_count(root, since, topic, viewer) == len(want)
                read = {"topic": topic, "viewer": viewer}
                assert lines(await store.timeline_events(root, since, 100, **read)) == want
                for size in (1, 3, 10):
                    # newest page first, then older pages by key, as the pager turns them
                    page = await store.timeline_events(root, since, size, **read)
                    pages = [page]
                    while page:
                        page = await store.timeline_events(
                            root, since, size, before=(page[0].published_at, page[0].story_id), **read
                        )
                        pages.insert(0, page)
                    assert [line for p in pages for line in lines(p)] == want
                    # from the oldest page, newer pages by key
                    page = await store.timeline_events(root, since, size, oldest=True, **read)
                    forward = list(page)
                    while page:
                        page = await store.timeline_events(
                            root, since, size, after=(page[-1].published_at, page[-1].story_id), **read
                        )
                        forward += page
                    assert lines(forward) == want
                    skipped = await store.timeline_events(root, since, size, skip=size, **read)
                    assert lines(skipped) == want[max(0, len(want) - 2 * size) : max(0, len(want) - size)]
