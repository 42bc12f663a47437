"""Weekly recaps, pure: ISO weeks in a time zone, when a schedule is due, and the story ranking.

Times are UNIX seconds; a week runs from Monday 00:00 to the next Monday 00:00 *local* time, so a
week with a daylight-saving change is 167 or 169 hours long. Local times that do not exist (the
hour skipped in spring) or exist twice (the hour repeated in autumn) follow PEP 495 with fold=0:
a skipped 02:30 happens at 03:30 new time, a repeated 02:30 at its first occurrence.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SAME_WEEK_FROM = 4  # a recap posted from Friday on covers its own week; earlier, the week before
PER_TOPIC = 5
OTHER_TOPIC = ""  # the section of stories without a topic
_WEEK_KEY = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
TIME_OF_DAY = "HH:MM on a 24-hour clock, such as 09:05 or 17:30"


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    """An ISO 8601 week: weeks start on Monday; week 1 holds the year's first Thursday."""

    year: int
    week: int

    def __post_init__(self) -> None:
        date.fromisocalendar(self.year, self.week, 1)  # ValueError for week 53 of a 52-week year

    @property
    def key(self) -> str:
        """`2026-W05`: the outbox ref of a scheduled recap, and what people read."""
        return f"{self.year:04d}-W{self.week:02d}"

    @classmethod
    def parse(cls, key: str) -> IsoWeek:
        """The week of a key such as `2026-W05`; ValueError when it is not one."""
        match = _WEEK_KEY.match(key)
        if match is None:
            raise ValueError(f"not an ISO week key: {key!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of_date(cls, day: date) -> IsoWeek:
        """The week that holds `day`."""
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def at(cls, when: float, zone: ZoneInfo) -> IsoWeek:
        """The week that holds the instant `when`, by the local calendar of `zone`."""
        return cls.of_date(datetime.fromtimestamp(when, zone).date())

    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    def shifted(self, weeks: int) -> IsoWeek:
        """The week `weeks` later (earlier when negative)."""
        return IsoWeek.of_date(self.monday() + timedelta(weeks=weeks))


def local_instant(day: date, at: time, zone: ZoneInfo) -> float:
    """The UNIX time of the local wall-clock time `at` on `day` in `zone` (fold=0, see the module)."""
    return datetime.combine(day, at, tzinfo=zone).timestamp()


def week_window(week: IsoWeek, zone: ZoneInfo) -> tuple[float, float]:
    """[start, end) of the week in `zone`: local Monday 00:00 to the next local Monday 00:00."""
    return local_instant(week.monday(), time(0), zone), local_instant(week.shifted(1).monday(), time(0), zone)


def parse_time(text: str) -> time:
    """A time of day: `HH:MM` or `H:MM` on a 24-hour clock, spaces around it ignored. The one parser
    of the config's [[recaps]] and of /recap-schedule set. ValueError otherwise, whose message says
    what is wanted (`must be HH:MM on a 24-hour clock, such as 09:05 or 17:30`): `25:00`, `9:5`,
    `0905`, `9h05` and `09:05:00` are refused."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"must be {TIME_OF_DAY}")
    return time(int(match[1]), int(match[2]))


def normalize_time(text: str) -> str:
    """The time of day `text` as stored and shown, always HH:MM (`9:05` → `09:05`); ValueError as
    `parse_time`."""
    return parse_time(text).strftime("%H:%M")


# --- the schedule ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecapSchedule:
    """When a server gets its weekly recap: a local weekday and time in an IANA time zone."""

    guild_id: int
    channel_id: int
    weekday: int  # 0 = Monday … 6 = Sunday
    time: str  # HH:MM, local
    timezone: str
    origin: str = "discord"  # or "config"
    last_posted_week: str | None = None  # the key of the last week queued for posting
    updated_at: float = 0.0  # when the schedule last changed: earlier times never count as missed
    broken_at: float | None = None  # when its channel refused the recap (403/404): it waits until set again
    broken_reason: str | None = None  # what Discord said then

    @property
    def broken(self) -> bool:
        """Whether the schedule's channel refused a recap: it is not posted until the schedule is set again."""
        return self.broken_at is not None

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone (ZoneInfoNotFoundError when this machine does not know it)."""
        return ZoneInfo(self.timezone)

    def same_plan(self, other: RecapSchedule) -> bool:
        """Whether both post at the same place and time (what a change of schedule is about)."""
        return (self.channel_id, self.weekday, self.time, self.timezone) == (
            other.channel_id, other.weekday, other.time, other.timezone)  # fmt: skip


def occurrence(schedule: RecapSchedule, week: IsoWeek) -> float:
    """The instant the schedule posts in `week` (local calendar of its zone)."""
    day = week.monday() + timedelta(days=schedule.weekday)
    return local_instant(day, parse_time(schedule.time), schedule.zone)


def covers_own_week(weekday: int) -> bool:
    """Whether a recap posted on `weekday` tells about its own week: from Friday on it does;
    earlier it tells about the week before (a Monday recap is about last week)."""
    return weekday >= SAME_WEEK_FROM


def covered_week(posting: IsoWeek, weekday: int) -> IsoWeek:
    """The week a recap posted on `weekday` of the week `posting` tells about."""
    return posting if covers_own_week(weekday) else posting.shifted(-1)


def due_week(schedule: RecapSchedule, now: float) -> IsoWeek | None:
    """The week whose recap should be queued now, if any.

    Due when this local week's post time has come, was not before the schedule was set, and that
    week's recap was not queued yet. A post time missed while the bot was down still counts in
    the same week; one of an earlier week never does. A broken schedule is never due.
    """
    if schedule.broken:
        return None
    posting = IsoWeek.at(now, schedule.zone)
    at = occurrence(schedule, posting)
    if now < at or at < schedule.updated_at:
        return None
    week = covered_week(posting, schedule.weekday)
    if schedule.last_posted_week is not None and _posted_since(schedule.last_posted_week, week):
        return None
    return week


def _posted_since(last_key: str, week: IsoWeek) -> bool:
    try:
        return IsoWeek.parse(last_key) >= week
    except ValueError:
        return False


def next_post_at(schedule: RecapSchedule, now: float) -> float:
    """The next post time strictly after `now`, or now's when it is due and not yet queued."""
    posting = IsoWeek.at(now, schedule.zone)
    at = occurrence(schedule, posting)
    if at > now or due_week(schedule, now) is not None:
        return at
    return occurrence(schedule, posting.shifted(1))


def next_wake(schedules: Iterable[RecapSchedule], now: float, cap: float) -> float:
    """When the scheduler must look again: the earliest next post time of a working schedule, at most
    `cap` seconds away."""
    return min([now + cap, *(next_post_at(s, now) for s in schedules if not s.broken)])


# --- ranking -----------------------------------------------------------------------------------


class RankedStory(NamedTuple):
    """What ranking needs of a story of the week (a tuple: a week has thousands of them)."""

    story_id: int
    published_at: float
    sources: int  # distinct feeds that carried it
    topics: tuple[str, ...]  # its topics, main topic first
    reach: int = 0  # servers whose routes its topics feed (filled in by the ranking)


def guild_masks(topic_guilds: Mapping[str, frozenset[int]]) -> dict[str, int]:
    """Each routed topic's servers as a bit mask (one bit per server): reach is then an OR and a count."""
    bits = {guild: 1 << n for n, guild in enumerate(sorted({g for gs in topic_guilds.values() for g in gs}))}
    return {topic: sum(bits[g] for g in guilds) for topic, guilds in topic_guilds.items()}


def story_reach(topics: Sequence[str], masks: Mapping[str, int]) -> int:
    """How many servers route any of `topics` (a `*` route takes every topic); `masks` from `guild_masks`."""
    mask = masks.get("*", 0)
    for topic in topics:
        mask |= masks.get(topic, 0)
    return mask.bit_count()


def rank_key(story: RankedStory) -> tuple[int, int, float, int]:
    """Most sources first, then the widest reach, then the newest (then the newer id: stable)."""
    return (-story.sources, -story.reach, -story.published_at, -story.story_id)


@dataclass(frozen=True, slots=True)
class Section:
    """One topic's best stories of the week, best first."""

    topic: str  # OTHER_TOPIC for stories without a topic
    stories: tuple[RankedStory, ...]


StoryHead = tuple[int, int, str]
"""A story of the week before its details are read, as the store gives it (thousands a week):
(story id, sources, main topic — OTHER_TOPIC when it has none)."""


class StoryDetail(NamedTuple):
    """What a recap needs of a contender: its date and topics to rank it, its line if it is shown."""

    published_at: float
    topics: tuple[str, ...]  # main topic first
    headline: str
    tldr: str  # one line
    url: str


def contenders(
    heads: Iterable[StoryHead], *, per_topic: int = PER_TOPIC, topic: str | None = None
) -> dict[str, list[StoryHead]]:
    """Per section (the main topic, or `topic` when one is asked for and `heads` are its stories),
    the stories that can be among its best `per_topic`: sources rank first, so only those with at
    least as many sources as the section's `per_topic`-th most sourced story."""
    groups: dict[str, list[StoryHead]] = {}
    for head in heads:
        groups.setdefault(head[2] if topic is None else topic, []).append(head)
    for name, group in groups.items():
        if len(group) > per_topic:
            floor = heapq.nlargest(per_topic, (h[1] for h in group))[-1]
            groups[name] = [h for h in group if h[1] >= floor]
    return groups


def top_per_topic(
    groups: Mapping[str, Iterable[RankedStory]],
    topic_guilds: Mapping[str, frozenset[int]],
    *,
    per_topic: int = PER_TOPIC,
) -> list[Section]:
    """The best `per_topic` stories of each section by `rank_key`, reach filled in from the routes of
    `topic_guilds`; sections in the order of their best story, Other last."""
    masks = guild_masks(topic_guilds)
    sections = []
    for name, group in groups.items():
        scored = sorted((s._replace(reach=story_reach(s.topics, masks)) for s in group), key=rank_key)
        if scored:
            sections.append(Section(name, tuple(scored[:per_topic])))
    sections.sort(key=lambda section: (section.topic == OTHER_TOPIC, rank_key(section.stories[0])))
    return sections


# --- the recap ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoryBrief:
    """One line of a recap: the story, its one-line TL;DR and its link."""

    story: RankedStory
    headline: str
    tldr: str
    url: str


@dataclass(frozen=True, slots=True)
class Recap:
    """Everything a recap embed shows."""

    week: IsoWeek
    timezone: str
    start: float
    end: float
    story_count: int
    source_count: int
    top_entities: tuple[str, ...]
    sections: tuple[tuple[str, tuple[StoryBrief, ...]], ...] = field(default=())
    topic: str | None = None  # the topic asked for, if any

    @property
    def empty(self) -> bool:
        """Whether the week had no story to show."""
        return not self.sections
