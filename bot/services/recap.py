"""Weekly recaps: built from the store for /recap and the outbox, and the scheduler that queues them.

The scheduler is durable: the schedules and the last week queued live in `recap_schedules`, and a
recap is queued in the outbox as kind 'recap' with the week's key as its ref, whose unique index
makes it one delivery per channel and week however often it is queued. The loop sleeps until the
next post time (at most five minutes, so a changed wall clock is noticed) or until `wake()` (a
schedule was set or turned off).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import RecapSettings
from bot.core.checks import valid_timezone
from bot.core.choices import rank
from bot.core.limits import safe
from bot.core.quarantine import Stage
from bot.core.recap import (
    WEEKDAYS,
    IsoWeek,
    RankedStory,
    Recap,
    RecapSchedule,
    StoryBrief,
    StoryDetail,
    StoryHead,
    contenders,
    due_week,
    next_post_at,
    next_wake,
    normalize_time,
    top_per_topic,
    week_window,
)
from bot.core.topology import Shards
from bot.errors import UserError
from bot.services.isolation import Isolation
from bot.services.ports import RecapStore
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)

TOP_ENTITIES = 3
MAX_SLEEP = 300.0
MIN_SLEEP = 0.05
UTC = ZoneInfo("UTC")


def zone_named(name: str | None) -> ZoneInfo:
    """The zone called `name`, else UTC (a name this machine's tz database lacks included)."""
    if name and valid_timezone(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def check_timezone(name: str) -> str:
    """`name` without the spaces around it, when it is an IANA time zone this machine knows;
    UserError otherwise (what /recap-schedule set and /settings timezone accept)."""
    zone = name.strip()
    if not valid_timezone(zone):
        raise UserError(f"“{safe(zone, 100)}” is not a time zone I know; use a name such as Europe/Berlin.")
    return zone


@functools.cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted (read once)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_choices(current: str) -> list[str]:
    """At most 25 zone names for what is typed so far: those it begins first (`europe/b`), then those
    with a part it begins (`berlin`), then those holding it."""
    return rank(current, ((z, (z,)) for z in zone_names()))


class RecapService:
    """Builds the recap of a week for a server: its top stories per topic and the week's numbers."""

    def __init__(self, store: RecapStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def zone_of(self, guild_id: int) -> ZoneInfo:
        """The server's time zone (its setting, else its recap schedule's), UTC when it has none."""
        return zone_named(await self.store.guild_timezone(guild_id))

    async def weekly(self, guild_id: int, *, weeks_ago: int = 0, topic: str | None = None) -> Recap:
        """The recap of this week (`weeks_ago` = 0, so far) or an earlier one, in the server's zone."""
        zone = await self.zone_of(guild_id)
        week = IsoWeek.at(self.clock(), zone).shifted(-max(0, weeks_ago))
        return await self.for_week(guild_id, week, zone, topic)

    async def for_week(self, guild_id: int | None, week: IsoWeek, zone: ZoneInfo, topic: str | None = None) -> Recap:
        """The recap of `week` (local calendar of `zone`) as `guild_id` may see it."""
        start, end = week_window(week, zone)
        heads = await self.store.week_heads(start, end, topic, guild_id)  # only what this server may see
        # the store's thread counts the sources (SQLite runs without the GIL) while the contenders are chosen
        counting = asyncio.ensure_future(self.store.stories_sources(sorted(h[0] for h in heads)))
        try:
            sections = await self._sections(contenders(heads, topic=topic))
        except BaseException:
            counting.cancel()
            raise
        sources = await counting
        entities = await self.store.week_top_entities(start, end, TOP_ENTITIES, topic, guild_id)
        return Recap(week, zone.key, start, end, len(heads), sources, tuple(entities), sections, topic)

    async def _sections(self, groups: dict[str, list[StoryHead]]) -> tuple[tuple[str, tuple[StoryBrief, ...]], ...]:
        """The contenders' dates, topics and lines read; reach from the routes; ranked; their lines."""
        details = await self.store.story_details([story_id for group in groups.values() for story_id, _, _ in group])
        stories = {
            name: [RankedStory(story_id, details[story_id].published_at, sources, details[story_id].topics)
                   for story_id, sources, _ in group if story_id in details]
            for name, group in groups.items()
        }  # fmt: skip
        sections = top_per_topic(stories, await self.store.topic_guilds())
        return tuple((section.topic, tuple(_brief(s, details[s.story_id]) for s in section.stories))
                     for section in sections)  # fmt: skip


def _brief(story: RankedStory, detail: StoryDetail) -> StoryBrief:
    return StoryBrief(story, detail.headline, detail.tldr, detail.url)


async def scheduled_recap(store: RecapStore, guild_id: int, week_key: str) -> Recap:
    """The recap a scheduled delivery posts: its week, in the server's schedule's time zone."""
    schedule = await store.recap_schedule(guild_id)
    zone = zone_named(schedule.timezone if schedule else await store.guild_timezone(guild_id))
    return await RecapService(store).for_week(guild_id, IsoWeek.parse(week_key), zone)


def schedule_from_settings(settings: RecapSettings) -> RecapSchedule:
    """A [[recaps]] entry of the config as a schedule (the loader has checked its values)."""
    weekday = WEEKDAYS.index(settings.weekday.strip().lower())
    return RecapSchedule(settings.guild_id, settings.channel_id, weekday, settings.time, settings.timezone, "config")


def _nothing() -> None:
    return None


def _guild_of(schedule: RecapSchedule) -> int:
    return schedule.guild_id


class RecapScheduler:
    """Queues each server's weekly recap in the outbox at its local day and time, once per week."""

    def __init__(
        self,
        store: RecapStore,
        *,
        on_queued: Callable[[], None] = _nothing,
        clock: Callable[[], float] = time.time,
        max_sleep: float = MAX_SLEEP,
        shards: Shards | None = None,
    ) -> None:
        self.store = store
        self.shards = shards  # the servers whose recaps this process queues (None: all)
        self.on_queued = on_queued
        self.clock = clock
        self.max_sleep = max_sleep
        self.isolation = Isolation(store, Stage.RECAP, clock=clock)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look at the schedules again now (one was set or removed)."""
        self._wake.set()

    # --- what admins do ------------------------------------------------------------------------

    async def get(self, guild_id: int) -> RecapSchedule | None:
        """The server's schedule, if it has one."""
        return await self.store.recap_schedule(guild_id)

    def next_post(self, schedule: RecapSchedule) -> float:
        """When the schedule posts next (now, if it is due)."""
        return next_post_at(schedule, self.clock())

    async def set(
        self, guild_id: int, channel_id: int, weekday: int, at: str, timezone: str | None = None
    ) -> RecapSchedule:
        """Post the server's recap in `channel_id` every `weekday` (0 = Monday) at `at` (HH:MM or H:MM,
        stored as HH:MM) in `timezone` (None or blank: the server's time zone, else UTC). Setting a
        schedule again makes a broken one work again. UserError for a bad time or zone, or a schedule
        the config owns."""
        try:
            at = normalize_time(at)
        except ValueError as exc:
            raise UserError(f"The time “{safe(at.strip(), 40)}” {exc}.") from None
        if timezone and timezone.strip():
            zone = check_timezone(timezone)
        else:  # the server's own setting, else its current schedule's zone
            zone = zone_named(await self.store.guild_timezone(guild_id)).key
        if not 0 <= weekday <= 6:
            raise UserError("The weekday must be one of Monday to Sunday.")
        await self._check_not_config(guild_id)
        saved = await self.store.save_recap_schedule(
            RecapSchedule(guild_id, channel_id, weekday, at, zone, "discord"), self.clock()
        )
        self.wake()
        return saved

    async def off(self, guild_id: int) -> bool:
        """Stop the server's weekly recap; False when it had none."""
        await self._check_not_config(guild_id)
        removed = await self.store.remove_recap_schedule(guild_id)
        self.wake()
        return removed

    async def _check_not_config(self, guild_id: int) -> None:
        current = await self.store.recap_schedule(guild_id)
        if current is not None and current.origin == "config":
            raise UserError("This server's recap schedule comes from the bot's config file; ask the bot's operator.")

    async def sync_config(self, recaps: Sequence[RecapSettings]) -> None:
        """Bring [[recaps]] of the config into the store (at start-up)."""
        await self.store.sync_config_recaps([schedule_from_settings(r) for r in recaps], self.clock())
        self.wake()

    # --- the loop ------------------------------------------------------------------------------

    async def tick(self) -> float:
        """Queue every recap due now; return when to look again. A schedule that fails is retried
        with backoff, then quarantined (`bot.services.isolation`); the other servers' recaps go on."""
        now = self.clock()
        # a broken schedule's channel refused the last recap: not again until the schedule is set again
        departed = await self.store.departed_guilds()  # the bot was removed from these servers
        mine = [s for s in await self.store.recap_schedules() if self.shards is None or s.guild_id in self.shards]
        working = [s for s in mine if not s.broken and s.guild_id not in departed]
        wakes = await self.isolation.one_by_one(working, _guild_of, lambda s: self._look_at(s, now))
        return min([now + self.max_sleep, *(wake for _, wake in wakes)])

    async def _look_at(self, schedule: RecapSchedule, now: float) -> float:
        """Queue the schedule's recap if it is due; return when it is due next."""
        try:
            week = due_week(schedule, now)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            log.warning("the recap schedule of server %d is unusable: %s", schedule.guild_id, exc)
            return now + self.max_sleep
        if week is not None:
            await self._queue(schedule, week, now)
            schedule = replace(schedule, last_posted_week=week.key)
        return next_wake([schedule], now, self.max_sleep)

    async def _queue(self, schedule: RecapSchedule, week: IsoWeek, now: float) -> None:
        new = await self.store.enqueue("recap", None, week.key, [(schedule.guild_id, schedule.channel_id)], now)
        await self.store.mark_recap_posted(schedule.guild_id, week.key)
        if new:
            log.info("queued the recap of %s for server %d (channel %d)", week.key, schedule.guild_id,
                     schedule.channel_id)  # fmt: skip
            self.on_queued()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Queue recaps as they come due until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            wake_at = await self.tick()
            wait = max(MIN_SLEEP, wake_at - self.clock())
            log.debug("recap schedules looked at; next look in %.1f s", wait)
            await wait_any(stop, self._wake, timeout=wait)
