"""Cards written in parallel past one process (issue 15): the enrich process that clusters queues a
card job per story, and every enrich process claims jobs, writes their cards and routes them. Two
`PostgresStore`s on one database stand for two processes: each card is written once, by one of
them, with one model call per story; a writer that dies leaves its stories to the other after the
lease; a source that joins while a card is written is written and routed after it."""

from __future__ import annotations

import asyncio
import contextlib

from bot.adapters.store.postgres import PostgresStore
from bot.config import parse_settings
from bot.core.cards import Draft, StoryInput
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.types import ParsedEntry
from bot.services.enrich import CARD_LEASE_SECONDS, EnrichService, StoryChange

T0 = 1_800_000_000.0
SETTINGS = parse_settings({"topics": [{"name": "chips", "keywords": ["chip"]}]})
TOPICS = ("wafer", "router", "compiler", "battery", "satellite", "database", "browser", "kernel", "sensor",
          "antenna", "turbine", "codec")  # fmt: skip


class SlowModel:
    """A model that takes a moment, so that both writers are at work at once."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def summarize(self, story: StoryInput) -> Draft:
        self.calls.append(story.story_id)
        await asyncio.sleep(0.02)
        lead = story.sources[0]
        return Draft(
            hook=lead.title,
            what_changed=lead.text,
            why_it_matters="Chips matter.",
            what_to_do_next="Read on.",
            who_should_care="Engineers",
            written_by="slow-model",
            by_model=True,
        )


def entry(i: int, word: str, source: str) -> ParsedEntry:
    return ParsedEntry(f"{source}-{i}", f"https://{source}.example/{word}",
                       f"{word.title()} chip maker {word} ships a new {word} line",
                       summary=f"The {word} maker shipped a new {word} line on Monday.")  # fmt: skip


async def release(store: PostgresStore, url: str, entries: list[ParsedEntry], at: float) -> None:
    feed = await store.add_feed(url, now=T0, name=url.split("/")[2])
    new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), at, EntryState.PENDING) for e in entries]
    await store.record_poll(feed.id, PollRecord(now=T0, status=200, next_poll_at=T0 + 600, max_new=50,
                                                decision=Decision(new=new)))  # fmt: skip


class Process:
    """One enrich process: its service, its model and what it handed to routing."""

    def __init__(self, store: PostgresStore, now: list[float]) -> None:
        self.model = SlowModel()
        self.service = EnrichService(store, SETTINGS, summarizer=self.model, clock=lambda: now[0])
        self.service.card_jobs = True
        self.routed: list[StoryChange] = []

        async def routed(changes: list[StoryChange]) -> None:
            self.routed += changes

        self.service.on_changes = routed

    async def drain(self) -> None:
        while await self.service.write_claimed():
            pass


async def test_two_processes_write_each_card_once_and_share_the_work(
    two_pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_pg
    now = [T0 + 3600]
    leader, other = Process(a, now), Process(b, now)
    await release(a, "https://alpha.example/feed", [entry(i, w, "alpha") for i, w in enumerate(TOPICS)], T0)
    assert await leader.service.run_once() == []  # clustered and queued, nothing written yet
    assert await a.card_jobs_waiting() == len(TOPICS)
    assert await a.stories_without_card() != []

    await asyncio.gather(leader.drain(), other.drain())
    calls = leader.model.calls + other.model.calls
    assert len(calls) == len(set(calls)) == len(TOPICS)  # one model call per story, by one process
    assert leader.model.calls and other.model.calls  # both wrote cards
    routed = leader.routed + other.routed
    assert sorted(c.story_id for c in routed) == sorted(calls) and all(c.created for c in routed)
    assert await a.stories_without_card() == [] and await a.card_jobs_waiting() == 0
    for story_id in calls:
        card = await b.get_card(story_id)
        assert card is not None and card.written_by == "slow-model"

    # a second source of one story: its card is refreshed (no model call) and its posts edited
    await release(b, "https://beta.example/feed", [entry(0, TOPICS[0], "beta")], T0 + 60)
    assert await leader.service.run_once() == []
    before = len(calls)
    await asyncio.gather(leader.drain(), other.drain())
    grown = [c for c in leader.routed + other.routed if not c.created]
    assert len(grown) == 1 and len(leader.model.calls + other.model.calls) == before
    card = await a.get_card(grown[0].story_id)
    assert card is not None and [r.url for r in card.related] == ["https://beta.example/" + TOPICS[0]]


async def test_a_dead_writers_stories_are_written_by_the_other_after_the_lease(
    two_pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_pg
    now = [T0 + 3600]
    leader = Process(a, now)
    await release(a, "https://alpha.example/feed", [entry(i, w, "alpha") for i, w in enumerate(TOPICS[:3])], T0)
    await leader.service.run_once()
    held = await b.claim_card_jobs(now[0], CARD_LEASE_SECONDS, 10)  # the other process claims, then dies
    assert len(held) == 3
    await leader.drain()
    assert leader.model.calls == []  # still held by the dead one
    now[0] += CARD_LEASE_SECONDS + 1
    await leader.drain()
    assert sorted(leader.model.calls) == sorted(s for s, _ in held)
    assert sorted(c.story_id for c in leader.routed if c.created) == sorted(s for s, _ in held)
    assert await a.card_jobs_waiting() == 0


async def test_a_source_joining_while_the_card_is_written_is_routed_after_it(
    two_pg: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = two_pg
    now = [T0 + 3600]
    leader, other = Process(a, now), Process(b, now)
    await release(a, "https://alpha.example/feed", [entry(0, "wafer", "alpha")], T0)
    await leader.service.run_once()
    started = asyncio.Event()
    go_on = asyncio.Event()
    model = other.model.summarize

    async def held_model(story: StoryInput) -> Draft:
        started.set()
        await go_on.wait()
        return await model(story)

    other.model.summarize = held_model  # type: ignore[method-assign]
    writing = asyncio.create_task(other.service.write_claimed())
    await asyncio.wait_for(started.wait(), 30)
    await release(b, "https://beta.example/feed", [entry(0, "wafer", "beta")], T0 + 60)
    assert await leader.service.run_once() == []  # joined the story while its card is being written
    assert await leader.service.write_claimed() == 0  # the job is the other's until it is done
    go_on.set()
    assert await asyncio.wait_for(writing, 30) == 1
    assert [c.created for c in other.routed] == [True]
    await leader.drain()
    assert [c.created for c in leader.routed] == [False]  # then the joined source, as an edit
    card = await a.get_card(leader.routed[0].story_id)
    assert card is not None and len(card.related) == 1
    assert await a.card_jobs_waiting() == 0


async def test_a_plan_is_committed_with_its_card_jobs(two_pg: tuple[PostgresStore, PostgresStore]) -> None:
    """The jobs are queued in the plan's own transaction: a process that dies right after a plan
    leaves every story it placed with a job (no story committed without its card to write)."""
    a, _ = two_pg
    leader = Process(a, [T0 + 3600])
    await release(a, "https://alpha.example/feed", [entry(i, w, "alpha") for i, w in enumerate(TOPICS[:4])], T0)
    apply, seen = a.apply_story_plan, []

    async def dies_after_the_plan(items: object, now: float, **kw: bool) -> object:
        await apply(items, now, **kw)  # type: ignore[arg-type]
        seen.append(await a.card_jobs_waiting())
        raise asyncio.CancelledError  # the process stops here, before anything else is written

    a.apply_story_plan = dies_after_the_plan  # type: ignore[method-assign,assignment]
    with contextlib.suppress(asyncio.CancelledError):
        await leader.service.run_once()
    assert seen == [4]
    assert sorted(s for s, _ in await a.claim_card_jobs(T0 + 3600, CARD_LEASE_SECONDS, 10)) == sorted(
        s for (s,) in await a._fetchall("SELECT id FROM stories")
    )
