"""/timeline's service on a real store: names, unknown names, windows, pages and who sees what."""

from __future__ import annotations

import pytest
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.config import Settings, TopicSettings
from bot.core.timeline import TimelinePage
from bot.errors import UserError
from bot.services import timeline as timeline_module
from bot.services.timeline import TimelineService, unknown_entity

T0 = 1_800_000_000.0
DAY = 86_400.0
SETTINGS = Settings(topics=(TopicSettings("chips"), TopicSettings("cloud")))


@pytest.fixture
async def acme(store: SQLiteStore) -> list[int]:
    """25 stories about Acme, one a day up to T0; the newest is told only by server 7's own feed."""
    seeds = [Seed(f"Acme {n}", T0 - (24 - n) * DAY, ("Acme",), ("chips",) if n % 2 else ("cloud",),
                  feeds=("own:7",) if n == 24 else ("wire",)) for n in range(25)]  # fmt: skip
    seeds.append(Seed("Anthropic news", T0, ("Anthropic",)))
    return await seed_store(store, seeds, aliases={"Acme": ("Acme Corp",)})


@pytest.fixture
def service(store: SQLiteStore) -> TimelineService:
    return TimelineService(store, SETTINGS, clock=lambda: T0 + 60)


async def test_an_unknown_name_suggests_the_closest(service: TimelineService, acme: list[int]) -> None:
    with pytest.raises(UserError) as caught:
        await service.open(1, "Acmee", 30, None)
    assert str(caught.value) == "No entity named “Acmee” — did you mean **Acme**?"
    with pytest.raises(UserError, match="start typing"):
        await service.open(1, "qqqqqq", 30, None)
    with pytest.raises(UserError, match="not a topic here"):
        await service.open(1, "Acme", 30, "sports")
    assert unknown_entity("X", ["A", "B", "C"]) == "No entity named “X” — did you mean **A**, **B** or **C**?"


async def test_autocomplete_offers_names_and_aliases(service: TimelineService, acme: list[int]) -> None:
    assert [(m.canonical, m.label) for m in await service.choices("acme c")] == [("Acme", "acme corp → Acme")]
    assert [m.canonical for m in await service.choices("")] == ["Acme", "Anthropic"], "most mentioned first"
    assert [m.canonical for m in await service.choices("a")] == ["Acme", "Anthropic"]


async def test_the_window_pages_and_the_newest_page_is_full(service: TimelineService, acme: list[int]) -> None:
    query = await service.open(1, "acme corp", 10, None)
    assert (query.entity, query.total, query.pages) == ("Acme", 9, 1), "stories 15 to 23: 24 is server 7's own"
    everything = await service.open(1, "Acme", 0, None)
    assert (everything.total, everything.pages) == (24, 3)
    newest = await service.page(everything, everything.last_page)
    assert [e.story_id for e in newest.events] == acme[14:24]
    middle = await service.page(everything, 1, newest)
    oldest = await service.page(everything, 0, middle)
    assert [e.story_id for e in middle.events] == acme[4:14]
    assert [e.story_id for e in oldest.events] == acme[:4], "the oldest page holds the rest"
    back_up = await service.page(everything, 1, oldest)
    assert back_up.events == middle.events
    assert (await service.page(everything, 1)).events == middle.events, "with no neighbour: by offset"
    assert (await service.page(everything, 0)).events == oldest.events
    assert (await service.page(everything, 99)).page == 2


async def test_a_servers_own_story_shows_to_it_alone(service: TimelineService, acme: list[int]) -> None:
    own = await service.open(7, "Acme", 0, None)
    assert own.total == 25
    page = await service.page(own, own.last_page)
    assert page.events[-1].story_id == acme[24]
    assert (await service.open(8, "Acme", 0, None)).total == 24


async def test_topic_and_the_whole_history(service: TimelineService, acme: list[int]) -> None:
    chips = await service.open(1, "Acme", 5, "chips")
    assert chips.total == 2  # the last 5 days: stories 20 to 24, of them about chips 21 and 23
    whole = await service.whole_history(chips)
    assert (whole.window.whole, whole.total, whole.topic) == (True, 12, "chips")
    empty = await service.open(1, "Anthropic", 0, "chips")
    assert empty.total == 0
    assert await service.page(empty, 0) == TimelinePage(empty, 0, ())


async def test_the_names_are_refreshed_in_the_background(
    service: TimelineService, store: SQLiteStore, acme: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert [m.canonical for m in await service.choices("ze")] == []
    await seed_store(store, [Seed("Zeta", T0, ("Zeta",))])
    assert [m.canonical for m in await service.choices("ze")] == [], "a keystroke never waits for the store"
    monkeypatch.setattr(timeline_module, "DIRECTORY_TTL", 0.0)
    await service.choices("ze")  # starts the refresh
    assert service._refreshing is not None
    await service._refreshing
    assert [m.canonical for m in await service.choices("ze")] == ["Zeta"]
