"""Names found whatever their accents (issue 16): an entity is known by its case-folded aliases and,
beside them, by its accent-folded ones ("łódź" and "lodz"), so `/timeline Lodz` finds Łódź and a
story writing "Muller" joins the entity another story named "Müller"; an exact alias always wins over
a folded one. On both engines."""

from __future__ import annotations

from news_store import Seed, add_entry, feed_id, seed_store

from bot.adapters.store import SQLiteStore
from bot.adapters.store.postgres import PostgresStore
from bot.core.cluster import Features
from bot.core.stories import OPERATOR_SCOPE, StoryPlanItem

Store = SQLiteStore | PostgresStore
T0 = 1_800_000_000.0


async def discovered_story(store: Store, headline: str, names: tuple[str, ...], at: float) -> int:
    """A story naming `names`, none of them configured (discovered entities)."""
    entry = await add_entry(store, await feed_id(store, "wire", at), headline, f"https://wire.example/{at}", at)
    item = StoryPlanItem(entry, -1, True, headline, at, Features({}, frozenset(), frozenset(), at), (), names,
                         OPERATOR_SCOPE)  # fmt: skip
    [(story_id, _)] = await store.apply_story_plan([item], at)
    return story_id


async def test_a_configured_name_is_found_without_its_accents(store: Store) -> None:
    [story] = await seed_store(store, [Seed("Łódź opens a tram line", T0, entities=("Łódź",))])
    found = await store.find_entity("Lodz")
    assert found is not None and found[1] == "Łódź"
    assert await store.find_entity("ŁÓDŹ") == found and await store.find_entity("lodz ") == found
    events = await store.entity_events("LODZ", 10)
    assert [e[3] for e in events] == [story]


async def test_a_discovered_name_written_without_accents_joins_the_same_entity(store: Store) -> None:
    first = await discovered_story(store, "Müller & Söhne buys a mill", ("Müller & Söhne",), T0)
    second = await discovered_story(store, "Muller & Sohne sells the mill", ("Muller & Sohne",), T0 + 60)
    found = await store.find_entity("muller & sohne")
    assert found is not None and found[1] == "Müller & Söhne"  # shown as first written
    assert sorted(e[3] for e in await store.entity_events("Müller & Söhne", 10)) == sorted([first, second])


async def test_an_exact_alias_wins_over_a_folded_one(store: Store) -> None:
    await seed_store(store, [Seed("Muller wins", T0, entities=("Muller",)),
                             Seed("Müller loses", T0 + 60, entities=("Müller",))])  # fmt: skip
    plain, accented = await store.find_entity("muller"), await store.find_entity("müller")
    assert plain is not None and accented is not None
    assert (plain[1], accented[1]) == ("Muller", "Müller")
