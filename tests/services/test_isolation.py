"""No item stops a stage: a poison item at each stage (a stand-in that raises for one chosen entry,
story, delivery, event or schedule) is retried with backoff, then quarantined, while everything
else flows; and an item that kills the process each time is quarantined after its last attempt,
never retried in a loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fake_clock import Clock
from outbox_fakes import MessagesOnly

from bot.adapters.store import SQLiteStore
from bot.config import parse_settings
from bot.core.cards import Card
from bot.core.dedup import Decision, EntryState, NewEntry
from bot.core.identity import content_hash, entry_key, normalize_link
from bot.core.polls import PollRecord
from bot.core.quarantine import DEFAULT_POLICY, INTERRUPTED, RetryPolicy, Stage
from bot.core.recap import Recap, RecapSchedule
from bot.core.routing import Route
from bot.core.stories import EntryInput, plan_stories
from bot.core.types import FeedEvent, ParsedEntry
from bot.services.enrich import EnrichService, StoryChange
from bot.services.isolation import Isolation
from bot.services.outbox import MAX_ATTEMPTS, ChannelPacer, Outbox
from bot.services.recap import RecapScheduler
from bot.services.supervisor import Supervisor

T0 = 1_800_000_000.0
SETTINGS = parse_settings({"topics": [{"name": "news", "keywords": ["bakery", "council", "harbour", "museum"]}]})
HOUR = 3600.0


class ProcessKilledError(BaseException):
    """Stands for the process dying at that point (SIGKILL, OOM): nothing after it runs."""


TITLES = (
    "Bakery chain opens twenty shops in the north",
    "City council approves the new harbour plan",
    "Museum reopens its east wing after repairs",
    "Harbour workers agree a two-year pay deal",
)


async def release(
    store: SQLiteStore, titles: Sequence[str] = TITLES, *, at: float = T0, url: str = "https://local.example/feed"
) -> dict[str, int]:
    """Entries of one feed, released for planning; the ids of all entries by title."""
    feed = await store.add_feed(url, now=at, name="Local")
    entries = [ParsedEntry(f"id-{i}", f"https://local.example/{i}", t, summary=f"{t}. It happened on Monday.")
               for i, t in enumerate(titles)]  # fmt: skip
    new = [NewEntry(e, entry_key(e), normalize_link(e.link), content_hash(e), at + i, EntryState.PENDING)
           for i, e in enumerate(entries)]  # fmt: skip
    await store.record_poll(feed.id, PollRecord(now=at, status=200, next_poll_at=at + 600, max_new=100,
                                                decision=Decision(new=new)))  # fmt: skip
    rows = await store._fetchall("SELECT title, id FROM entries")
    return {str(r[0]): int(r[1]) for r in rows}


def poisoned_planner(poison: int, calls: list[list[int]]):  # type: ignore[no-untyped-def]
    """plan_stories, but raising for any batch that holds the entry `poison`."""

    def planner(entries: Sequence[EntryInput], *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append([e.entry_id for e in entries])
        if any(e.entry_id == poison for e in entries):
            raise ValueError(f"cannot plan entry {poison}")
        return plan_stories(entries, *args, **kwargs)

    return planner


async def carded_titles(store: SQLiteStore) -> set[str]:
    rows = await store._fetchall("SELECT headline FROM stories WHERE card IS NOT NULL")
    return {str(r[0]) for r in rows}


async def failure_row(store: SQLiteStore, stage: str, item: int) -> tuple[int, float, float | None, str] | None:
    rows = await store._fetchall(
        "SELECT attempts, retry_at, quarantined_at, error FROM item_failures WHERE stage = ? AND item_id = ?",
        (stage, item),
    )
    return (int(rows[0][0]), float(rows[0][1]), rows[0][2], str(rows[0][3])) if rows else None


# --- enrich: planning -------------------------------------------------------------------------


async def test_a_poison_entry_is_retried_alone_with_backoff_then_quarantined(store: SQLiteStore) -> None:
    ids = await release(store)
    poison = ids[TITLES[1]]
    clock, calls = Clock(T0 + HOUR), []
    service = EnrichService(store, SETTINGS, clock=clock)
    service.planner = poisoned_planner(poison, calls)

    changes = await service.run_once()
    assert len(changes) == 3 and all(c.created for c in changes), "the others became stories at once"
    assert await carded_titles(store) == set(TITLES) - {TITLES[1]}
    assert calls[0] == sorted(ids.values()), "first as one batch"
    assert sorted(map(tuple, calls[1:])) == [(i,) for i in sorted(ids.values())], "then each alone"
    attempts, _, quarantined, error = await failure_row(store, "story", poison) or (0, 0, None, "")
    assert (attempts, quarantined) == (2, None) and "ValueError: cannot plan entry" in error
    assert "Traceback" in error, "the trace is kept with the error"
    assert await failure_row(store, "story", ids[TITLES[0]]) is None, "a success leaves no trace"

    # held back while its backoff runs: the loop does not spin on it
    calls.clear()
    assert await service.run_once() == [] and calls == []
    waits = []
    while (row := await failure_row(store, "story", poison)) is not None and row[2] is None:
        waits.append(row[1] - clock.now)
        clock.now = row[1]
        await service.run_once()
        assert len(calls[-1]) == 1, "a failed entry is never again part of a batch"
    assert waits == [DEFAULT_POLICY.backoff(n) for n in range(2, DEFAULT_POLICY.max_attempts)]
    assert waits == sorted(waits) and waits[-1] > waits[0], "the waits grow"
    row = await failure_row(store, "story", poison)
    assert row is not None and row[0] == DEFAULT_POLICY.max_attempts and row[2] is not None
    assert await store.quarantine_counts() == {"story": 1}
    calls.clear()
    clock.now += 30 * 24 * HOUR
    assert await service.run_once() == [] and calls == [], "quarantined: never handled again"

    # new entries keep flowing past the quarantined one
    more = await release(store, ["Council names a new museum director"], at=clock.now, url="https://other.example/f")
    assert len(more) == 5
    assert [c.created for c in await service.run_once()] == [True]


async def test_an_entry_that_kills_the_process_each_time_is_quarantined_not_looped(store: SQLiteStore) -> None:
    ids = await release(store)
    poison = ids[TITLES[2]]
    clock = Clock(T0 + HOUR)

    def killer(entries: Sequence[EntryInput], *args, **kwargs):  # type: ignore[no-untyped-def]
        if any(e.entry_id == poison for e in entries):
            raise ProcessKilledError
        return plan_stories(entries, *args, **kwargs)

    restarts = 0
    for _ in range(20):  # a service manager restarting the bot after each death
        service = EnrichService(store, SETTINGS, clock=clock)
        service.planner = killer
        try:
            await service.start()
            await service.run_once()
            await service.run_once()
        except ProcessKilledError:
            restarts += 1
            clock.now += HOUR  # the restart comes after the backoff
            continue
        break
    # the batch died once; then the poison died alone on each of its remaining attempts
    assert restarts == DEFAULT_POLICY.max_attempts
    row = await failure_row(store, "story", poison)
    assert row is not None and row[2] is not None and row[3] == INTERRUPTED
    assert await carded_titles(store) == set(TITLES) - {TITLES[2]}
    assert await store.quarantine_counts() == {"story": 1}


# --- enrich: cards ----------------------------------------------------------------------------


class PoisonCards(EnrichService):
    poison_headline = TITLES[0]

    async def write_card(self, story_id: int, feeds, *, created: bool, model: bool = True) -> Card:  # type: ignore[no-untyped-def]
        entries = await self.store.story_entries(story_id)
        if entries and entries[0].title == self.poison_headline:
            raise RuntimeError("the card writer broke on this story")
        return await super().write_card(story_id, feeds, created=created, model=model)


async def test_a_story_whose_card_fails_is_retried_then_quarantined_and_not_routed(store: SQLiteStore) -> None:
    await release(store)
    clock, routed = Clock(T0 + HOUR), []
    service = PoisonCards(store, SETTINGS, clock=clock)

    async def on_changes(changes: list[StoryChange]) -> None:
        routed.extend(changes)

    service.on_changes = on_changes
    changes = await service.run_once()
    assert len(changes) == 3, "the other cards were written"
    assert await carded_titles(store) == set(TITLES) - {TITLES[0]}
    [poison] = [int(r[0]) for r in await store._fetchall("SELECT id FROM stories WHERE card IS NULL")]
    for _ in range(DEFAULT_POLICY.max_attempts):
        row = await failure_row(store, "card", poison)
        assert row is not None
        if row[2] is not None:
            break
        clock.now = row[1]
        assert await service.run_once() == []
    assert await store.quarantine_counts() == {"card": 1}
    # a restart does not try the quarantined card again either
    await PoisonCards(store, SETTINGS, clock=clock).start()
    row = await failure_row(store, "card", poison)
    assert row is not None and row[0] == DEFAULT_POLICY.max_attempts

    # once the cause is fixed, the operator releases it and it flows
    assert await store.release_quarantine(clock.now, "card") == 1
    fixed = EnrichService(store, SETTINGS, clock=clock)
    await fixed.start()
    assert TITLES[0] in await carded_titles(store)


# --- routing ----------------------------------------------------------------------------------


@dataclass
class Publisher(MessagesOnly):
    """Records what would reach Discord; raises a non-Discord error for chosen cards or channels."""

    sent: list[tuple[int, str]] = field(default_factory=list)  # (channel, headline)
    edits: list[tuple[int, int]] = field(default_factory=list)
    alerts: list[tuple[int, str]] = field(default_factory=list)
    recaps: list[tuple[int, str]] = field(default_factory=list)
    poison: str = ""  # a headline whose card cannot be rendered
    kill: str = ""  # a headline whose send kills the process
    next_id: int = 100

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        if card.headline == self.kill:
            raise ProcessKilledError
        if card.headline == self.poison:
            raise ValueError("embed field value too long for a bug to notice")
        self.sent.append((channel_id, card.headline))
        self.next_id += 1
        return self.next_id

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        if card.headline == self.poison:
            raise ValueError("cannot render the edit")
        self.edits.append((channel_id, message_id))

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        return None

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        self.alerts.append((guild_id, text))
        return 1

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        self.recaps.append((channel_id, recap.week.key))
        return 2


async def story(store: SQLiteStore, headline: str) -> int:
    async with store.transaction() as db:
        cur = await db.execute("INSERT INTO stories (headline, published_at, created_at, updated_at, announced_at)"
                               " VALUES (?, ?, ?, ?, ?) RETURNING id", (headline, T0, T0, T0, T0))  # fmt: skip
        story_id = int((await cur.fetchone())[0])
    card = Card(story_id, headline, f"https://news.example/{story_id}", "Alpha", T0, "", f"{headline}.", "w", "n",
                "c", topics=("news",))  # fmt: skip
    await store.save_card(story_id, card, T0)
    return story_id


def make_outbox(store: SQLiteStore, publisher: Publisher, clock: Clock) -> Outbox:
    return Outbox(store, publisher, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)


class PoisonRouting(Outbox):
    poison = 0

    async def _route(self, change: StoryChange, routes: Sequence[Route]) -> int:
        if change.story_id == self.poison:
            raise KeyError("a route table the code did not expect")
        return await super()._route(change, routes)


async def test_a_story_that_cannot_be_routed_does_not_stop_the_others(store: SQLiteStore) -> None:
    clock, publisher = Clock(), Publisher()
    box = PoisonRouting(store, publisher, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)
    await store.add_route(Route(1, "*", 10), T0)
    a, b, c = [await story(store, h) for h in TITLES[:3]]
    box.poison = b
    assert await box.route_changes([StoryChange(s, True) for s in (a, b, c)]) == 2
    await box.drain_once()
    assert publisher.sent == [(10, TITLES[0]), (10, TITLES[2])]
    row = await failure_row(store, "route", b)
    assert row is not None and row[0] == 1 and "KeyError" in row[3]
    # retried by the outbox loop when its backoff has passed, as the new story it was
    assert await box.retry_routing() == 0, "not before its time"
    while (row := await failure_row(store, "route", b)) is not None and row[2] is None:
        clock.now = row[1]
        assert await box.retry_routing() == 1
    assert await store.quarantine_counts() == {"route": 1}
    box.poison = 0
    await store.release_quarantine(clock.now)
    await store.begin_attempts(Stage.ROUTE, [b], clock.now, DEFAULT_POLICY, "new")  # as a failed try leaves it
    await store.record_item_failure(Stage.ROUTE, b, "x", clock.now - 60, DEFAULT_POLICY)
    clock.now += 2 * HOUR
    assert await box.retry_routing() == 1
    await box.drain_once()
    assert (10, TITLES[1]) in publisher.sent, "routed as new once it could be"


# --- the outbox: rendering and sending ----------------------------------------------------------


async def test_a_delivery_that_cannot_be_rendered_is_retried_then_quarantined(store: SQLiteStore) -> None:
    clock, publisher = Clock(), Publisher(poison=TITLES[1])
    box = make_outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    ids = [await story(store, h) for h in TITLES]
    await box.route_changes([StoryChange(s, True) for s in ids])
    await box.drain_once()
    assert publisher.sent == [(10, t) for t in TITLES if t != TITLES[1]], "the same channel went on past it"
    for _ in range(MAX_ATTEMPTS + 2):
        clock.now += 2 * MAX_ATTEMPTS * 900
        await box.drain_once()
    assert box.stats.quarantined == 1
    rows = await store._fetchall("SELECT state, attempts FROM deliveries WHERE story_id = ?", (ids[1],))
    assert [tuple(r) for r in rows] == [("failed", MAX_ATTEMPTS)]
    assert await store.quarantine_counts() == {"deliver": 1}
    [item] = await store.quarantined_items()
    assert item.stage == "deliver" and "ValueError: embed field value too long" in item.error
    assert await store.outbox_depth() == (0, None), "nothing left spinning in the outbox"

    # an edit that cannot be rendered: same rule, the message stays as it was
    publisher.poison = TITLES[2]
    await store.request_edits(ids[2], clock.now)
    for _ in range(MAX_ATTEMPTS + 2):
        await box.drain_once()
        clock.now += 2 * MAX_ATTEMPTS * 900
    assert await store.quarantine_counts() == {"deliver": 2}
    rows = await store._fetchall("SELECT state, needs_edit FROM deliveries WHERE story_id = ?", (ids[2],))
    assert [tuple(r) for r in rows] == [("sent", 0)]

    # released: the send is tried again and goes through once the cause is gone
    publisher.poison = ""
    assert await store.release_quarantine(clock.now, "deliver") == 2
    await box.drain_once()
    assert (10, TITLES[1]) in publisher.sent and publisher.edits[-1][0] == 10


async def test_a_delivery_that_kills_the_process_each_time_is_quarantined_at_its_last_attempt(
    store: SQLiteStore,
) -> None:
    clock, publisher = Clock(), Publisher(kill=TITLES[0])
    await store.add_route(Route(1, "*", 10), T0)
    ids = [await story(store, h) for h in TITLES[:2]]
    await make_outbox(store, publisher, clock).route_changes([StoryChange(s, True) for s in ids])
    deaths = 0
    for _ in range(3 * MAX_ATTEMPTS):  # restarted after each death, as a service manager does
        box = make_outbox(store, publisher, clock)
        try:
            await box.reconcile()
            while await box.drain_once():
                clock.now += 1000
        except ProcessKilledError:
            deaths += 1
            clock.now += 1000
            continue
        break
    assert deaths == MAX_ATTEMPTS
    assert publisher.sent == [(10, TITLES[1])]
    assert await store.quarantine_counts() == {"deliver": 1}
    [item] = await store.quarantined_items()
    assert item.error == INTERRUPTED


# --- feed events and recaps -------------------------------------------------------------------


class PoisonEvents(Outbox):
    poison = 0

    async def _announce(self, event: FeedEvent) -> None:
        if event.id == self.poison:
            raise TypeError("an event the code cannot word")
        await super()._announce(event)


async def test_a_feed_event_that_cannot_be_announced_does_not_block_the_others(store: SQLiteStore) -> None:
    clock, publisher = Clock(), Publisher()
    box = PoisonEvents(store, publisher, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)
    async with store.transaction() as db:
        for n in range(3):
            await db.execute("INSERT INTO events (kind, guild_id, detail, created_at) VALUES"
                             " ('feed_disabled', 1, ?, ?)", (f"HTTP 41{n}", T0))  # fmt: skip
    box.poison = 2
    await box.announce_events()
    await box.drain_once()
    assert [t for _, t in publisher.alerts if "HTTP 410" in t or "HTTP 412" in t] and len(publisher.alerts) == 2
    for _ in range(DEFAULT_POLICY.max_attempts + 1):
        clock.now += 2 * HOUR
        await box.announce_events()
    assert await store.quarantine_counts() == {"event": 1}
    assert [e.id for e in await store.unannounced_events()] == [2]


class PoisonRecaps(RecapScheduler):
    poison = 0

    async def _look_at(self, schedule: RecapSchedule, now: float) -> float:
        if schedule.guild_id == self.poison:
            raise ArithmeticError("a schedule the code cannot work out")
        return await super()._look_at(schedule, now)


async def test_a_recap_schedule_that_fails_does_not_stop_the_other_servers_recaps(store: SQLiteStore) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    monday_9 = datetime(2026, 3, 2, 9, 0, tzinfo=berlin).timestamp()
    clock = Clock(monday_9 - 60)
    scheduler = PoisonRecaps(store, clock=clock)
    for guild in (1, 2, 3):
        await scheduler.set(guild, guild * 10, 0, "09:00", "Europe/Berlin")
    scheduler.poison = 2
    clock.now = monday_9
    await scheduler.tick()
    rows = await store._fetchall("SELECT guild_id FROM deliveries WHERE kind = 'recap' ORDER BY guild_id")
    assert [int(r[0]) for r in rows] == [1, 3]
    for _ in range(DEFAULT_POLICY.max_attempts + 1):
        clock.now += 2 * HOUR
        await scheduler.tick()
    assert await store.quarantine_counts() == {"recap": 1}


# --- the rule itself --------------------------------------------------------------------------


async def test_a_batch_that_fails_counts_each_item_once_more_and_innocent_items_are_cleared(
    store: SQLiteStore,
) -> None:
    clock = Clock()
    isolation = Isolation(store, Stage.STORY, clock=clock, policy=RetryPolicy(max_attempts=3))
    seen: list[list[int]] = []

    async def work(group: list[int]) -> list[int]:
        seen.append(group)
        if 3 in group:
            raise ValueError("three")
        return group

    assert await isolation.in_batch([1, 2, 3, 4], int, work) == [[1], [2], [4]]
    assert seen == [[1, 2, 3, 4], [1], [2], [3], [4]]
    assert await store.attempted_items(Stage.STORY, [1, 2, 3, 4]) == {3: 2}
    clock.now += 3600
    assert await isolation.in_batch([3], int, work) == []
    assert (await store.quarantine_counts()) == {"story": 1}
    assert isolation.quarantined == 1 and isolation.failed == 2


async def test_the_supervisor_waits_longer_after_each_crash_in_a_row(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(0.0)
    supervisor = Supervisor(restart_delay=0.001, max_restart_delay=0.004, healthy_after=100.0, clock=clock)
    runs = 0
    done = asyncio.Event()

    async def crashing(stopping: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            clock.now += 500  # this run lasted long enough to count as healthy
        if runs == 6:
            done.set()
            await stopping.wait()
            return
        raise RuntimeError("the whole stage fails")

    with caplog.at_level("ERROR", logger="bot.services.supervisor"):
        supervisor.start("crashing", crashing)
        await asyncio.wait_for(done.wait(), 5)
        await supervisor.stop()
    pauses = [r.args[-1] for r in caplog.records if isinstance(r.args, tuple)]
    # doubled per crash in a row, capped; a healthy run starts the count again
    assert pauses == [0.001, 0.002, 0.001, 0.002, 0.004]
    assert supervisor.crashes == {"crashing": 5}


def test_the_policy_backs_off_exponentially_up_to_its_cap() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=30, factor=4, cap_seconds=3600)
    assert [policy.backoff(n) for n in range(1, 7)] == [30, 120, 480, 1920, 3600, 3600]
    assert not policy.exhausted(4) and policy.exhausted(5)
    assert policy.backoff(10**6) == 3600, "no overflow for absurd counts"
