"""Weekly recaps, pure: ISO weeks across years, week windows across DST changes, when a schedule is
due (and when it is not), and the ranking of the week's stories."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.recap import (
    OTHER_TOPIC,
    IsoWeek,
    RankedStory,
    RecapSchedule,
    StoryHead,
    contenders,
    covered_week,
    due_week,
    guild_masks,
    next_post_at,
    next_wake,
    normalize_time,
    occurrence,
    parse_time,
    rank_key,
    story_reach,
    top_per_topic,
    week_window,
)

BERLIN, NEW_YORK, UTC_ZONE = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("UTC")
HOUR = 3600.0


def at(zone: ZoneInfo, *args: int) -> float:
    """The UNIX time of a local wall-clock time."""
    return datetime(*args, tzinfo=zone).timestamp()  # type: ignore[misc]


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()  # type: ignore[misc]


# --- ISO weeks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "key"),
    [
        (date(2025, 12, 29), "2026-W01"),  # a Monday of December opens the next year's week 1
        (date(2026, 1, 1), "2026-W01"),
        (date(2026, 12, 31), "2026-W53"),  # 2026 starts on a Thursday: 53 weeks
        (date(2027, 1, 3), "2026-W53"),  # a Sunday of January closes the last year's week 53
        (date(2027, 1, 4), "2027-W01"),
        (date(2021, 1, 3), "2020-W53"),
    ],
)
def test_iso_week_of_a_day_across_year_boundaries(day: date, key: str) -> None:
    assert IsoWeek.of_date(day).key == key
    assert IsoWeek.parse(key) == IsoWeek.of_date(day)


def test_weeks_shift_across_years_of_52_and_53_weeks() -> None:
    assert IsoWeek(2026, 52).shifted(1) == IsoWeek(2026, 53)
    assert IsoWeek(2026, 53).shifted(1) == IsoWeek(2027, 1)
    assert IsoWeek(2025, 52).shifted(1) == IsoWeek(2026, 1)
    assert IsoWeek(2026, 1).shifted(-1) == IsoWeek(2025, 52)
    assert IsoWeek(2026, 5).shifted(-104) == IsoWeek(2024, 5)  # 2024 and 2025 have 52 weeks each
    assert IsoWeek(2027, 5).shifted(-53) == IsoWeek(2026, 5)  # 2026 has 53
    assert IsoWeek(2025, 52) < IsoWeek(2026, 1)


@pytest.mark.parametrize("bad", ["2026-5", "2026-W5", "26-W05", "2026-W05 ", "2025-W53", "2026-W00"])
def test_a_malformed_or_impossible_week_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        IsoWeek.parse(bad)


def test_the_week_of_an_instant_depends_on_the_zone() -> None:
    sunday_night_utc = utc(2026, 3, 29, 23, 30)  # Monday 01:30 in Berlin, Sunday 19:30 in New York
    assert IsoWeek.at(sunday_night_utc, UTC_ZONE).key == "2026-W13"
    assert IsoWeek.at(sunday_night_utc, BERLIN).key == "2026-W14"
    assert IsoWeek.at(sunday_night_utc, NEW_YORK).key == "2026-W13"


# --- week windows ------------------------------------------------------------------------------


def test_a_utc_week_is_seven_days_from_monday_midnight() -> None:
    start, end = week_window(IsoWeek(2026, 1), UTC_ZONE)
    assert start == utc(2025, 12, 29)
    assert end - start == 7 * 24 * HOUR


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [(BERLIN, IsoWeek(2026, 13), IsoWeek(2026, 43)), (NEW_YORK, IsoWeek(2026, 10), IsoWeek(2026, 44))],
)
def test_dst_change_weeks_are_167_and_169_hours_and_weeks_tile(
    zone: ZoneInfo, spring: IsoWeek, autumn: IsoWeek
) -> None:
    start, end = week_window(spring, zone)
    assert end - start == 167 * HOUR
    assert start == at(zone, *_ymd(spring.monday()))
    autumn_start, autumn_end = week_window(autumn, zone)
    assert autumn_end - autumn_start == 169 * HOUR
    assert week_window(spring.shifted(1), zone)[0] == end, "each week starts where the last ended"
    assert week_window(autumn.shifted(-1), zone)[1] == autumn_start


def _ymd(day: date) -> tuple[int, int, int]:
    return day.year, day.month, day.day


def test_the_stories_of_an_instant_fall_in_exactly_one_week() -> None:
    week = IsoWeek(2026, 13)
    start, end = week_window(week, BERLIN)
    assert IsoWeek.at(start, BERLIN) == week
    assert IsoWeek.at(end - 1, BERLIN) == week
    assert IsoWeek.at(end, BERLIN) == week.shifted(1)


# --- schedules -----------------------------------------------------------------------------------


def schedule(weekday: int = 0, time: str = "09:00", zone: str = "Europe/Berlin", **kw: object) -> RecapSchedule:
    return RecapSchedule(1, 2, weekday, time, zone, **kw)  # type: ignore[arg-type]


def test_parse_time_takes_a_24_hour_clock_only() -> None:
    assert parse_time("09:05").strftime("%H:%M") == "09:05"
    assert parse_time(" 23:59 ").hour == 23
    assert parse_time("9:05").strftime("%H:%M") == "09:05"
    for bad in ("24:00", "12:60", "noon", "09:05:00", "9", ""):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_time(bad)


@pytest.mark.parametrize(("text", "normal"), [("9:05", "09:05"), ("09:05", "09:05"), (" 0:00 ", "00:00"),
                                              ("23:59", "23:59")])  # fmt: skip
def test_one_time_of_day_parser_takes_h_mm_and_hh_mm_and_gives_hh_mm(text: str, normal: str) -> None:
    assert normalize_time(text) == normal


@pytest.mark.parametrize("bad", ["25:00", "24:00", "9:5", "0905", "9h05", "09:05:00", "-1:00", "09:0５", "", "9"])
def test_the_time_of_day_parser_refuses_with_one_sentence_of_what_it_wants(bad: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_time(bad)
    assert str(caught.value) == "must be HH:MM on a 24-hour clock, such as 09:05 or 17:30"


def test_a_broken_schedule_is_never_due_and_wakes_nobody() -> None:
    monday_9 = at(BERLIN, 2026, 3, 2, 9, 0)
    working = schedule(0, "09:00", updated_at=utc(2026, 1, 1))
    broken = schedule(0, "08:00", updated_at=utc(2026, 1, 1), broken_at=utc(2026, 2, 23), broken_reason="403")
    assert broken.broken and not working.broken
    assert due_week(broken, monday_9) is None, "its channel refused it: not posted again"
    assert due_week(working, monday_9) == IsoWeek(2026, 9)
    assert next_wake([broken], monday_9 - HOUR, 300.0) == monday_9 - HOUR + 300.0, "only the cap"
    assert next_wake([broken, working], monday_9 - 60, 300.0) == monday_9


def test_a_monday_recap_covers_last_week_and_a_friday_recap_its_own() -> None:
    week = IsoWeek(2026, 10)
    assert [covered_week(week, day) for day in range(7)] == [week.shifted(-1)] * 4 + [week] * 3


def test_due_at_the_minute_not_before_and_once() -> None:
    s = schedule(0, "09:00", updated_at=utc(2026, 1, 1))
    monday_9 = at(BERLIN, 2026, 3, 2, 9, 0)
    assert due_week(s, monday_9 - 1) is None
    assert due_week(s, monday_9) == IsoWeek(2026, 9), "Monday of week 10: last week's recap"
    assert due_week(s, monday_9 + 6 * HOUR) == IsoWeek(2026, 9)
    posted = schedule(0, "09:00", updated_at=utc(2026, 1, 1), last_posted_week="2026-W09")
    assert due_week(posted, monday_9 + 60) is None, "never twice"
    assert next_post_at(posted, monday_9 + 60) == at(BERLIN, 2026, 3, 9, 9, 0)


def test_missed_this_week_posts_on_return_but_missed_long_ago_never() -> None:
    s = schedule(4, "17:30", "America/New_York", updated_at=utc(2026, 1, 1), last_posted_week="2026-W08")
    friday = at(NEW_YORK, 2026, 3, 6, 17, 30)  # week 10's Friday: the bot was down then
    assert due_week(s, friday + 2 * 24 * HOUR) == IsoWeek(2026, 10), "back on Sunday: posted once"
    assert due_week(s, at(NEW_YORK, 2026, 3, 9, 8, 0)) is None, "back the Monday after: that week is past"
    assert due_week(s, at(NEW_YORK, 2026, 3, 20, 17, 29)) is None, "weeks 10 and 11 missed: nothing until 17:30"
    assert due_week(s, at(NEW_YORK, 2026, 3, 20, 17, 30)) == IsoWeek(2026, 12)


def test_a_schedule_set_after_this_weeks_time_starts_next_week() -> None:
    set_at = at(BERLIN, 2026, 3, 4, 12, 0)  # Wednesday; the schedule says Monday 09:00
    s = schedule(0, "09:00", updated_at=set_at)
    assert due_week(s, set_at + 60) is None
    assert next_post_at(s, set_at + 60) == at(BERLIN, 2026, 3, 9, 9, 0)
    same_minute = schedule(2, "12:00", updated_at=set_at)  # its own time, this very minute: counts
    assert due_week(same_minute, set_at) == IsoWeek(2026, 9)


def test_a_time_skipped_by_dst_posts_an_hour_later_and_a_repeated_one_once() -> None:
    spring = schedule(6, "02:30")  # Sunday 29 March 2026: Berlin skips 02:00-03:00
    assert occurrence(spring, IsoWeek(2026, 13)) == utc(2026, 3, 29, 1, 30), "03:30 summer time"
    autumn = schedule(6, "02:30")  # Sunday 25 October 2026: Berlin has 02:30 twice
    first = occurrence(autumn, IsoWeek(2026, 43))
    assert first == utc(2026, 10, 25, 0, 30), "the first 02:30 (summer time)"
    due_at = schedule(6, "02:30", updated_at=utc(2026, 1, 1))
    assert due_week(due_at, first) == IsoWeek(2026, 43)
    done = schedule(6, "02:30", updated_at=utc(2026, 1, 1), last_posted_week="2026-W43")
    assert due_week(done, first + HOUR) is None, "the second 02:30 posts nothing"


def test_next_post_and_wake_times() -> None:
    s = schedule(0, "09:00", "UTC", updated_at=utc(2026, 1, 1))
    now = utc(2026, 3, 3, 10, 0)  # Tuesday: this week's Monday has passed, not yet posted
    assert next_post_at(s, now) == utc(2026, 3, 2, 9, 0), "due now"
    assert next_wake([s], now, 300.0) == utc(2026, 3, 2, 9, 0)
    posted = schedule(0, "09:00", "UTC", updated_at=utc(2026, 1, 1), last_posted_week="2026-W09")
    assert next_wake([posted], now, 300.0) == now + 300.0, "a week away: look again in five minutes"
    assert next_wake([], now, 300.0) == now + 300.0


# --- ranking -----------------------------------------------------------------------------------


def story(story_id: int, sources: int, published: float, *topics: str, reach: int = 0) -> RankedStory:
    return RankedStory(story_id, published, sources, topics, reach)


def test_reach_counts_servers_once_with_star_routes() -> None:
    masks = guild_masks({"security": frozenset({1, 2}), "models": frozenset({2, 3}), "*": frozenset({9})})
    assert story_reach(("security", "models"), masks) == 4
    assert story_reach(("chips",), masks) == 1
    assert story_reach((), {}) == 0


def test_ranking_sources_then_reach_then_recency_then_id() -> None:
    ranked = sorted(
        [story(1, 2, 100.0, reach=5), story(2, 3, 50.0, reach=0), story(3, 2, 100.0, reach=6),
         story(4, 2, 200.0, reach=5), story(5, 2, 200.0, reach=5)],
        key=rank_key,
    )  # fmt: skip
    assert [s.story_id for s in ranked] == [2, 3, 5, 4, 1]


def test_top_per_topic_ranks_each_section_and_puts_other_last() -> None:
    routes = {"security": frozenset({1, 2, 3}), "models": frozenset({1})}
    groups = {
        "security": [story(2, 5, 10.0, "security"), story(5, 2, 30.0, "security"), story(6, 2, 20.0, "security"),
                     story(7, 5, 10.0, "security", "models")],
        "models": [story(1, 5, 10.0, "models", "security"), story(3, 1, 10.0, "models")],
        OTHER_TOPIC: [story(4, 9, 10.0)],
        "empty": [],
    }  # fmt: skip
    sections = top_per_topic(groups, routes, per_topic=2)
    assert [(s.topic, [x.story_id for x in s.stories]) for s in sections] == [
        ("security", [7, 2]),  # five sources and reach 3 each: the newer id first
        ("models", [1, 3]),
        (OTHER_TOPIC, [4]),  # most sources of all, yet Other comes last
    ]
    assert sections[0].stories[0].reach == 3


def head(story_id: int, sources: int, main: str = "a") -> StoryHead:
    return (story_id, sources, main)


def test_contenders_are_the_stories_that_can_make_their_sections_top() -> None:
    heads = [head(1, 9), head(2, 3), head(3, 3), head(4, 1), head(5, 3), head(6, 2, "b"), head(7, 1, OTHER_TOPIC)]
    groups = contenders(heads, per_topic=2)
    assert {name: [h[0] for h in group] for name, group in groups.items()} == {
        "a": [1, 2, 3, 5],  # the second most sourced has 3: every story with 3 may beat another by reach
        "b": [6],
        OTHER_TOPIC: [7],
    }
    asked = contenders(heads, per_topic=2, topic="chips")
    assert list(asked) == ["chips"], "stories of an asked topic form one section"
    assert contenders([]) == {}


def test_contenders_then_ranking_equal_a_full_sort() -> None:
    routes = {"a": frozenset({1}), "b": frozenset({1, 2, 3})}
    stories = [story(n, n % 4, float(n), "a" if n % 3 else "b", "b" if n % 5 == 0 else "a") for n in range(1, 200)]
    masks = guild_masks(routes)
    expected: dict[str, list[int]] = {}
    for s in sorted((s._replace(reach=story_reach(s.topics, masks)) for s in stories), key=rank_key):
        if len(expected.setdefault(s.topics[0], [])) < 3:
            expected[s.topics[0]].append(s.story_id)
    by_id = {s.story_id: s for s in stories}
    heads: list[StoryHead] = [(s.story_id, s.sources, s.topics[0]) for s in stories]
    groups = contenders(heads, per_topic=3)
    assert sum(len(g) for g in groups.values()) < len(stories) / 3, "most stories are never weighed"
    sections = top_per_topic({n: [by_id[h[0]] for h in g] for n, g in groups.items()}, routes, per_topic=3)
    assert {s.topic: [x.story_id for x in s.stories] for s in sections} == expected
