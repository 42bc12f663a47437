"""History yields to news: a fresh item is posted as fast while a history is being built.

A history batch looks for released entries waiting (only once ingest woke the loop) before it plans,
between the parts its plan is written in, and before each card; when news waits it stops there and
leaves the rest as it was: entries in no story (planned again later), cards for the next history
batch. Nothing is lost, nothing is placed twice, and news then goes first; after news the build
waits a moment (`NEWS_GRACE`, ended by a wake-up) so that its posts go out first.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.types import ParsedEntry
from bot.services import enrich as enrich_module
from bot.services.enrich import HISTORY_BATCH, HISTORY_CHUNK, EnrichService, StoryChange

T0 = 1_800_000_000.0
DAY = 86_400.0
SETTINGS = parse_settings({"entities": [{"name": "Helix Labs", "aliases": ["Helix"]}]})
NEWS = ParsedEntry("news", "https://beta.example/news", "Council approves the harbour plan",
                   summary="The city council approved the harbour plan on Monday.")  # fmt: skip


def notes(count: int) -> list[tuple[ParsedEntry, float]]:
    """Entries that each make a story of their own, a day apart."""
    return [(ParsedEntry(f"old-{n}", f"https://alpha.example/{n}", f"Helix Labs note number {n} on topic {n * 7}",
                         summary=f"Helix Labs wrote note {n}."), T0 - (n + 1) * DAY) for n in range(count)]  # fmt: skip


async def store_entries(
    store: SQLiteStore, feed_id: int, state: EntryState, *entries: tuple[ParsedEntry, float]
) -> None:
    new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), at, state) for e, at in entries]
    await store.record_poll(feed_id, PollRecord(now=T0, status=200, next_poll_at=T0 + 600, max_new=10,
                                                decision=Decision(new=new)))  # fmt: skip


async def count(store: SQLiteStore, sql: str) -> int:
    return int((await store._fetchall(sql))[0][0])


async def build(store: SQLiteStore, service: EnrichService) -> list[StoryChange]:
    """Run the loop's steps until nothing is left; the news it handed on."""
    news: list[StoryChange] = []
    while service.history_built or await store.history_left() or service._deferred:
        news += await service.run_once()
    return news


@pytest.fixture
async def feeds(store: SQLiteStore) -> tuple[int, int]:
    alpha = await store.add_feed("https://alpha.example/feed", now=T0, name="Alpha")
    beta = await store.add_feed("https://beta.example/feed", now=T0, name="Beta")
    return alpha.id, beta.id


async def test_a_history_batch_stops_between_its_parts_when_news_comes_and_loses_nothing(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta = feeds
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    await store_entries(store, alpha, EntryState.SEEN, *notes(HISTORY_BATCH))
    apply, parts = store.apply_story_plan, []

    async def news_comes_after_the_first_part(items: Any, now: float, **kw: Any) -> Any:
        parts.append(len(items))
        done = await apply(items, now, **kw)
        if len(parts) == 1:  # ingest releases news while the history batch is being written
            await store_entries(store, beta, EntryState.RELEASED, (NEWS, T0 - 60))
            service.wake()
        return done

    monkeypatch.setattr(store, "apply_story_plan", news_comes_after_the_first_part)
    assert await service.run_once() == []
    assert parts == [HISTORY_CHUNK], "the batch stopped after the part under way"
    assert await store.history_left() == HISTORY_BATCH - HISTORY_CHUNK, "the rest is left in no story"
    assert await count(store, "SELECT count(*) FROM stories WHERE card IS NULL") == HISTORY_CHUNK, "cards wait too"

    [change] = await service.run_once()
    assert change.created and await store.story_announced_at(change.story_id) == T0, "then the news, at once"
    assert await build(store, service) == []
    assert await store.history_left() == 0
    assert await count(store, "SELECT count(*) FROM stories") == HISTORY_BATCH + 1, "each note its story, once"
    assert await count(store, "SELECT count(*) FROM stories WHERE card IS NULL") == 0, "every card written"
    assert await count(store, "SELECT count(*) FROM stories WHERE announced_at IS NOT NULL") == 1
    assert await count(store, "SELECT count(*) FROM item_failures") == 0


async def test_news_waiting_before_the_plan_stops_the_history_batch_before_it_plans(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta = feeds
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    await store_entries(store, alpha, EntryState.SEEN, *notes(3))
    candidates, planned = store.story_features_since, []

    async def news_while_candidates_are_read(since: float) -> Any:
        await store_entries(store, beta, EntryState.RELEASED, (NEWS, T0 - 60))
        service.wake()
        return await candidates(since)

    def planner(entries: Any, *args: Any) -> Any:
        planned.append([e.entry_id for e in entries])
        return enrich_module.plan_stories(entries, *args)

    monkeypatch.setattr(store, "story_features_since", news_while_candidates_are_read)
    service.planner = planner
    assert await service.run_once() == [] and planned == [] and await store.history_left() == 3
    monkeypatch.setattr(store, "story_features_since", candidates)
    [change] = await service.run_once()
    assert change.created and len(planned) == 1
    await build(store, service)
    assert await store.history_left() == 0 and await count(store, "SELECT count(*) FROM stories") == 4


async def test_without_a_wake_up_a_history_batch_never_looks_for_news(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, _ = feeds
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    await store_entries(store, alpha, EntryState.SEEN, *notes(HISTORY_BATCH))
    released, looks = store.released_entries, []

    async def counted(*args: Any, **kwargs: Any) -> Any:
        looks.append(args)
        return await released(*args, **kwargs)

    monkeypatch.setattr(store, "released_entries", counted)
    await service.run_once()
    assert len(looks) == 1, "the one read that decides news or history"
    assert await store.history_left() == 0


async def test_a_part_that_fails_after_another_committed_places_every_entry_once(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch's isolation plans each entry alone after a failure: those an earlier part placed are
    left as they are, the others are placed, and the stories of the committed part get their cards."""
    alpha, _ = feeds
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    assert HISTORY_BATCH > HISTORY_CHUNK, "a batch is written in two parts at least"
    await store_entries(store, alpha, EntryState.SEEN, *notes(HISTORY_BATCH))
    apply, calls = store.apply_story_plan, []

    async def second_part_fails(items: Any, now: float, **kw: Any) -> Any:
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("the disk hiccuped")
        return await apply(items, now, **kw)

    monkeypatch.setattr(store, "apply_story_plan", second_part_fails)
    assert await service.run_once() == []
    assert calls[:2] == [HISTORY_CHUNK, min(HISTORY_CHUNK, HISTORY_BATCH - HISTORY_CHUNK)]
    assert len(calls) == 2 + HISTORY_BATCH, "then one by one"
    assert await store.history_left() == 0
    assert await count(store, "SELECT count(*) FROM stories") == HISTORY_BATCH
    assert await count(store, "SELECT count(*) FROM stories WHERE card IS NULL") == 0
    assert await count(store, "SELECT count(*) FROM item_failures") == 0, "the innocent entries leave no trace"


async def test_history_batches_reuse_the_feeds_they_read_until_a_wake_up(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, _ = feeds
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    await store_entries(store, alpha, EntryState.SEEN, *notes(3 * HISTORY_BATCH))
    list_feeds, reads = store.list_feeds, []

    async def counted() -> Any:
        reads.append(1)
        return await list_feeds()

    monkeypatch.setattr(store, "list_feeds", counted)
    await service.run_once()
    await service.run_once()
    assert len(reads) == 1
    service.wake()  # a feed may have been added: read them anew
    await service.run_once()
    assert len(reads) == 2 and await store.history_left() == 0


async def test_after_news_the_build_waits_for_its_posts_unless_woken(
    store: SQLiteStore, feeds: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha, beta = feeds
    monkeypatch.setattr(enrich_module, "NEWS_GRACE", 30.0)
    service = EnrichService(store, SETTINGS, clock=lambda: T0)
    handed: list[StoryChange] = []

    async def on_changes(changes: list[StoryChange]) -> None:
        handed.extend(changes)

    service.on_changes = on_changes
    await store_entries(store, alpha, EntryState.SEEN, *notes(HISTORY_BATCH))
    await store_entries(store, beta, EntryState.RELEASED, (NEWS, T0 - 60))
    stop = asyncio.Event()
    loop = asyncio.create_task(service.run_forever(stop))
    try:
        async with asyncio.timeout(10):
            while not handed:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert await store.history_left() == HISTORY_BATCH, "the news's posts go out first"
        service.wake()
        async with asyncio.timeout(10):
            while await store.history_left():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        service.wake()
        await asyncio.wait_for(loop, 10)
