"""Weekly recaps on a real store: the ranking and numbers, the scheduler (due, once, across restarts,
missed this week or long ago), admin mistakes, and the outbox posting the recap."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fake_clock import Clock
from news_store import Seed, seed_store
from outbox_fakes import MessagesOnly

from bot.adapters.store import SQLiteStore
from bot.config import RecapSettings
from bot.core.cards import Card
from bot.core.recap import IsoWeek, Recap, RecapSchedule
from bot.core.routing import Route
from bot.errors import UserError
from bot.services import outbox as outbox_module
from bot.services.recap import RecapScheduler, RecapService, scheduled_recap, zone_choices

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN).timestamp()  # week 10; its recap is about week 9
WEEK_9 = IsoWeek(2026, 9)
HOUR = 3600.0


async def week_nine(store: SQLiteStore) -> list[int]:
    """Stories of week 9 (Berlin): two chips stories with 3 sources, one cloud, one of server 7 alone."""
    thursday = datetime(2026, 2, 26, 12, 0, tzinfo=BERLIN).timestamp()
    for route in (Route(1, "chips", 10), Route(2, "chips", 20), Route(3, "cloud", 30)):
        await store.add_route(route, thursday)
    return await seed_store(store, [
        Seed("Chip A", thursday, ("Acme",), ("chips",), feeds=("a", "b", "c"), hook="A in one line.",
             url="https://x.example/a"),
        Seed("Chip B", thursday + HOUR, ("Acme",), ("chips",), feeds=("a", "b", "c"), url="https://x.example/b"),
        Seed("Cloud C", thursday, ("Beta",), ("cloud", "chips"), feeds=("a", "b", "c", "d")),
        Seed("Ours", thursday, ("Beta",), ("cloud",), feeds=("own:7",)),
        Seed("Week 10", MONDAY_9 - HOUR, ("Acme",), ("chips",)),
        Seed("Week 8", datetime(2026, 2, 22, 23, 30, tzinfo=BERLIN).timestamp(), ("Acme",), ("chips",)),
    ])  # fmt: skip


async def test_the_recap_of_a_week_ranks_and_counts(store: SQLiteStore) -> None:
    ids = await week_nine(store)
    recap = await RecapService(store).for_week(1, WEEK_9, BERLIN)
    assert (recap.week, recap.timezone, recap.story_count, recap.source_count) == (WEEK_9, "Europe/Berlin", 3, 4)
    assert recap.top_entities == ("Acme", "Beta")
    assert [(topic, [b.story.story_id for b in briefs]) for topic, briefs in recap.sections] == [
        ("cloud", [ids[2]]),  # four sources: first, under its main topic
        ("chips", [ids[1], ids[0]]),  # same sources and reach: the newer first
    ]
    chips = dict(recap.sections)["chips"]
    assert (chips[1].headline, chips[1].tldr, chips[1].url) == ("Chip A", "A in one line.", "https://x.example/a")
    own = await RecapService(store).for_week(7, WEEK_9, BERLIN)
    assert own.story_count == 4, "server 7 also sees the story of its own feed"


async def test_a_topic_and_an_empty_week(store: SQLiteStore) -> None:
    ids = await week_nine(store)
    chips = await RecapService(store).for_week(1, WEEK_9, BERLIN, topic="chips")
    assert [[b.story.story_id for b in briefs] for _, briefs in chips.sections] == [[ids[2], ids[1], ids[0]]]
    assert (chips.topic, chips.story_count) == ("chips", 3)
    empty = await RecapService(store).for_week(1, IsoWeek(2026, 20), BERLIN)
    assert empty.empty and empty.story_count == 0 and empty.top_entities == ()


async def test_top_entities_skip_the_ones_people_do_not_see(store: SQLiteStore) -> None:
    thursday = datetime(2026, 2, 26, 12, 0, tzinfo=BERLIN).timestamp()
    seeds = [Seed(f"About E{n}", thursday + k, (f"E{n:02d}",)) for n in range(14) for k in range(20 - n)]
    await seed_store(store, seeds)
    async with store.transaction() as db:  # the 13 most covered were seen in passing only
        await db.execute("UPDATE entities SET promoted = 0 WHERE name < 'E13'")
    recap = await RecapService(store).for_week(1, WEEK_9, BERLIN)
    assert recap.top_entities == ("E13",), "the ones seen in passing are left out"


async def test_weeks_ago_counts_in_the_servers_zone(store: SQLiteStore) -> None:
    await week_nine(store)
    await store.save_recap_schedule(_schedule(1), MONDAY_9)
    recap = await RecapService(store, clock=Clock(MONDAY_9)).weekly(1, weeks_ago=1)
    assert (recap.week, recap.timezone) == (WEEK_9, "Europe/Berlin")
    utc = await RecapService(store, clock=Clock(MONDAY_9)).weekly(2, weeks_ago=0)
    assert (utc.week, utc.timezone) == (IsoWeek(2026, 10), "UTC")
    assert (await scheduled_recap(store, 1, "2026-W09")).story_count == 3


def _schedule(guild: int, weekday: int = 0, at: str = "09:00", zone: str = "Europe/Berlin") -> RecapSchedule:
    return RecapSchedule(guild, guild * 10, weekday, at, zone)


async def deliveries(store: SQLiteStore) -> list[tuple[str, str, int, int]]:
    rows = await store._fetchall("SELECT kind, ref, guild_id, channel_id FROM deliveries ORDER BY id")
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_the_scheduler_queues_once_at_the_minute_and_never_twice_across_restarts(store: SQLiteStore) -> None:
    clock, woken = Clock(MONDAY_9 - 7 * 24 * HOUR), []
    scheduler = RecapScheduler(store, on_queued=lambda: woken.append(1), clock=clock)
    await scheduler.set(1, 10, 0, "09:00", "Europe/Berlin")
    clock.now = MONDAY_9 - 60
    assert await scheduler.tick() == MONDAY_9, "wake at the minute"
    assert await deliveries(store) == []
    clock.now = MONDAY_9
    await scheduler.tick()
    assert await deliveries(store) == [("recap", "2026-W09", 1, 10)]
    assert woken == [1]
    assert (await store.recap_schedule(1) or _schedule(1)).last_posted_week == "2026-W09"
    clock.now += 30
    await scheduler.tick()
    restarted = RecapScheduler(store, clock=clock)
    await restarted.sync_config([])
    await restarted.tick()
    assert len(await deliveries(store)) == 1, "once, however often and by whichever process it looks"


async def test_missed_this_week_posts_on_return_missed_last_week_never(store: SQLiteStore) -> None:
    clock = Clock(MONDAY_9 - 14 * 24 * HOUR)
    await RecapScheduler(store, clock=clock).set(1, 10, 0, "09:00", "Europe/Berlin")
    clock.now = MONDAY_9 - 7 * 24 * HOUR + 5 * 24 * HOUR  # down on week 9's Monday; back on Saturday
    back = RecapScheduler(store, clock=clock)
    await back.tick()
    assert await deliveries(store) == [("recap", "2026-W08", 1, 10)], "week 9's post, about week 8, once"
    clock.now = MONDAY_9 + 8 * 24 * HOUR  # down again across week 10's Monday; back on week 11's Tuesday
    await RecapScheduler(store, clock=clock).tick()
    assert [d[1] for d in await deliveries(store)] == ["2026-W08", "2026-W10"], "week 10's post is long past"


async def test_config_schedules_and_admin_mistakes(store: SQLiteStore) -> None:
    scheduler = RecapScheduler(store, clock=Clock(MONDAY_9))
    await scheduler.sync_config([RecapSettings(5, 50, "Friday", "17:30", "America/New_York")])
    config = await scheduler.get(5)
    assert config is not None and (config.weekday, config.origin) == (4, "config")
    with pytest.raises(UserError, match="config file"):
        await scheduler.set(5, 51, 0, "09:00", "UTC")
    with pytest.raises(UserError, match="config file"):
        await scheduler.off(5)
    with pytest.raises(UserError, match="HH:MM"):
        await scheduler.set(1, 10, 0, "9am", "UTC")
    with pytest.raises(UserError, match="not a time zone I know"):
        await scheduler.set(1, 10, 0, "09:00", "Mars/Base")
    saved = await scheduler.set(1, 10, 6, "7:05", " Asia/Tokyo ")
    assert (saved.time, saved.timezone, saved.weekday) == ("07:05", "Asia/Tokyo", 6)
    assert await scheduler.off(1) is True
    assert await scheduler.off(1) is False


@pytest.mark.parametrize("bad", ["25:00", "9:5", "0905", "9h05"])
async def test_recap_schedule_set_refuses_a_time_in_one_sentence(store: SQLiteStore, bad: str) -> None:
    scheduler = RecapScheduler(store, clock=Clock(MONDAY_9))
    with pytest.raises(UserError) as caught:
        await scheduler.set(1, 10, 0, bad, "UTC")
    assert str(caught.value) == f"The time “{bad}” must be HH:MM on a 24-hour clock, such as 09:05 or 17:30."
    assert await scheduler.get(1) is None


@pytest.mark.parametrize("written", ["9:05", "09:05"])
async def test_recap_schedule_set_takes_h_mm_and_hh_mm_and_stores_hh_mm(store: SQLiteStore, written: str) -> None:
    saved = await RecapScheduler(store, clock=Clock(MONDAY_9)).set(1, 10, 0, written, "UTC")
    assert saved.time == "09:05"


async def test_the_servers_time_zone_counts_for_recap_and_is_the_schedules_default(store: SQLiteStore) -> None:
    await week_nine(store)
    scheduler = RecapScheduler(store, clock=Clock(MONDAY_9))
    assert (await scheduler.set(1, 10, 0, "09:00")).timezone == "UTC", "no setting, no schedule: UTC"
    await store.set_guild_timezone(1, "Europe/Berlin", MONDAY_9)
    just_monday = MONDAY_9 - 8.5 * HOUR  # Monday 00:30 in Berlin, still Sunday 23:30 in UTC
    service = RecapService(store, clock=Clock(just_monday))
    assert (await service.weekly(1)).week == IsoWeek(2026, 10), "the week of the server's zone"
    assert (await scheduler.set(1, 10, 0, "09:00", "  ")).timezone == "Europe/Berlin", "the server's zone"
    assert (await scheduler.set(1, 10, 0, "09:00", "Asia/Tokyo")).timezone == "Asia/Tokyo", "a zone given wins"
    assert (await service.weekly(1)).timezone == "Europe/Berlin", "the setting over the schedule's zone"
    await store.set_guild_timezone(1, None, MONDAY_9)
    assert (await service.weekly(1)).timezone == "Asia/Tokyo", "cleared: the schedule's zone again"
    assert (await service.weekly(2)).week == IsoWeek(2026, 9), "a server with neither counts in UTC: still Sunday"


def test_zone_choices_are_at_most_25_those_begun_by_the_text_first() -> None:
    assert len(zone_choices("")) == 25
    assert zone_choices("europe/ber")[0] == "Europe/Berlin"
    assert zone_choices("America/")[:1] == ["America/Adak"]
    assert all(z.startswith("America/") for z in zone_choices("america/"))
    assert zone_choices("berlin") == ["Europe/Berlin"]
    assert zone_choices("Mars/") == []


async def test_a_broken_schedule_is_skipped_until_it_is_set_again(store: SQLiteStore) -> None:
    clock = Clock(MONDAY_9 - 7 * 24 * HOUR)
    scheduler = RecapScheduler(store, clock=clock, max_sleep=300.0)
    await scheduler.set(1, 10, 0, "09:00", "Europe/Berlin")
    broken = await store.break_recap_schedule(1, 10, "403 Forbidden: Missing Access", clock.now)
    assert broken is not None and broken.broken_reason == "403 Forbidden: Missing Access"
    clock.now = MONDAY_9
    assert await scheduler.tick() == MONDAY_9 + 300.0, "nothing to wait for"
    assert await deliveries(store) == []
    again = await scheduler.set(1, 10, 0, "09:00", "Europe/Berlin")
    assert not again.broken, "set again: its channel was fixed"
    await scheduler.tick()
    assert await deliveries(store) == [("recap", "2026-W09", 1, 10)]


async def test_the_loop_wakes_when_a_schedule_is_set(store: SQLiteStore) -> None:
    clock = Clock(MONDAY_9 - 60)
    scheduler = RecapScheduler(store, clock=clock, max_sleep=3600.0)
    stop = asyncio.Event()
    loop = asyncio.create_task(scheduler.run_forever(stop))
    await asyncio.sleep(0.05)
    await store.save_recap_schedule(_schedule(1, 0, "08:58"), MONDAY_9 - 3600)
    scheduler.wake()  # as /recap-schedule set does: the loop does not wait out its hour
    for _ in range(100):
        if await deliveries(store):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(loop, 2)
    assert await deliveries(store) == [("recap", "2026-W09", 1, 10)]


@dataclass
class RecapPublisher(MessagesOnly):
    sent: list[tuple[int, Recap, str]] = field(default_factory=list)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        raise AssertionError("no cards here")

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        raise AssertionError("no cards here")

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        return None

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        return 1

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        self.sent.append((channel_id, recap, nonce))
        return 4242


async def test_the_outbox_posts_the_queued_recap_once(store: SQLiteStore) -> None:
    await week_nine(store)
    clock = Clock(MONDAY_9)
    publisher = RecapPublisher()
    outbox = outbox_module.Outbox(store, publisher, clock=clock)  # type: ignore[arg-type]
    scheduler = RecapScheduler(store, on_queued=outbox.wake, clock=clock)
    await store.save_recap_schedule(_schedule(1), MONDAY_9 - 3600)
    await scheduler.tick()
    assert await outbox.drain_once() == 1
    [(channel, recap, nonce)] = publisher.sent
    assert (channel, recap.week, recap.story_count, recap.timezone) == (10, WEEK_9, 3, "Europe/Berlin")
    assert nonce.isdigit()
    await scheduler.tick()
    assert await outbox.drain_once() == 0
    assert len(publisher.sent) == 1
