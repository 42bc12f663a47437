"""End to end: history — what a feed holds when it is followed, and items too old to post, become
stories that /timeline and /recap show but that are never posted (issue 14).

The rule under test: an entry stored as *seen* (a feed's items when it is followed — from the
config's [[feeds]] or with /feeds add —, items too old to post, a config feed's first poll) is
history: it joins stories with its own date, entities and topics, and is never posted: not at
subscription, not by the start-up recovery after a restart, not when a route is added later. A
*released* entry (new since the feed was followed, and recent) is news, and is posted.

The real bot (`python -m bot run`) serves two guilds of the fake Discord, A and B. Three feeds hold
eight weeks of invented local news, dated relative to now: two operator feeds (config [[feeds]]) —
one event of week 3 is told by both — and A's own feed (/feeds add in A), whose word MARKER must
never reach B. Every item sits well inside its ISO week (UTC, the servers' zone: no /settings
timezone, no schedule), never near Monday 00:00, and is more than 72 hours old (the clustering
window), so a fresh item never joins it.

A test never sleeps to prove that something did *not* happen: it waits until the database shows the
history built (every stored entry in a story, every story carded), then makes a later event happen —
a fresh item — and waits for that one. The timeouts are "did not hang" bounds, never expectations
of speed.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fake_discord import (
    BotProcess,
    FakeChannel,
    FakeDiscord,
    StartBot,
    option,
    sub,
)
from feed_server import FeedServer, Item, LocalFeed
from servers import (
    JSON,
    LINK,
    MARKER,
    TIMELINE,
    TIMEOUT,
    Server,
    ask,
    card_urls,
    follow,
    item,
    read_db,
    seen_by,
    start,
    stop,
    timeline,
    wait_posted,
)

from bot.core.recap import IsoWeek, week_window

pytestmark = pytest.mark.e2e

# the story builder sleeps up to 30 s (its idle wait) before it takes history that no news woke it for
HISTORY_TIMEOUT = 70.0
DAY = 86_400
HOUR = 3_600
UTC = ZoneInfo("UTC")
ENTITY = "Ferrowick Council"  # in the config's watchlist; the operator's feeds and A's own write about it
CONFIG = (
    "[polling]\ninterval_seconds = 1\nmax_new_per_poll = 20\nmax_age_hours = 48\nallow_private_addresses = true\n\n"
    "[limits]\nfetch_cooldown_seconds = 1e-6\nread_cooldown_seconds = 1e-6\n\n"
    '[[topics]]\nname = "civic"\nkeywords = ["council", "library", "bridge", "buses"]\n\n'
    f'[[entities]]\nname = "{ENTITY}"\n'
)
LINE = re.compile(r"\*\*(?P<n>\d+)\.\*\* <t:(?P<stamp>\d+):d> — .*\]\((?P<url>[^)\s]+)\) · (?P<sources>\d+) sources?")


# --- the two servers (the conftest's `servers`; helpers in servers.py) ---------------------------


def bot_config(a: Server, b: Server, operator: Iterable[LocalFeed]) -> str:
    """A poll a second; the operator's feeds; every topic of A and of B to its #news."""
    parts = [CONFIG]
    parts += [f'[[feeds]]\nurl = "{feed.url}"\nname = "{feed.title}"\n' for feed in operator]
    parts += [f'[[routes]]\nguild_id = {s.id}\ntopic = "*"\nchannel_id = {s.news.id}\n' for s in (a, b)]
    return "\n".join(parts)


# --- eight weeks of news -------------------------------------------------------------------------


def at(base: IsoWeek, weeks_ago: int, day: int, hour: int) -> int:
    """UNIX seconds of `day` (0 Monday … 6 Sunday) at `hour` UTC, in the ISO week `weeks_ago` before `base`."""
    start, _ = week_window(base.shifted(-weeks_ago), UTC)
    return int(start) + day * DAY + hour * HOUR


@dataclass(frozen=True)
class Story:
    """A story the bot should make of the archive: its items (one per source) and its week."""

    weeks_ago: int
    items: tuple[Item, ...]
    about_entity: bool = True

    @property
    def published(self) -> int:
        return int(min(i.published for i in self.items))

    @property
    def links(self) -> set[str]:
        return {i.link for i in self.items}

    @property
    def sources(self) -> int:
        return len(self.items)


@dataclass
class Archive:
    """The feeds and the stories their eight weeks of items make: `operator` (wire and daily, the
    config's) and `own` (A's own desk)."""

    base: IsoWeek  # the week the test started in ("this week": weeks_ago 0)
    wire: LocalFeed
    daily: LocalFeed
    desk: LocalFeed
    operator: list[Story]
    own: list[Story]

    def visible_to_a(self) -> list[Story]:
        return self.operator + self.own

    def visible_to_b(self) -> list[Story]:
        return self.operator


def eight_weeks(feeds: FeedServer, now: float) -> Archive:
    """Three feeds, each holding items spread over the last eight weeks (Tuesday to Thursday of a
    week, between 09:00 and 18:00 UTC: the newest, a week-1 Tuesday, at least five days old)."""
    base = IsoWeek.at(now, UTC)
    wire = feeds.add_feed("wire", title="Wire Service")
    daily = feeds.add_feed("daily", title="The Daily Courier")
    desk = feeds.add_feed(MARKER, title="Zephyrine Desk")

    def story(weeks_ago: int, *told: tuple[LocalFeed, str, int, int, str, str], entity: bool = True) -> Story:
        items = tuple(item(feed, key, title, text, at(base, weeks_ago, day, hour))
                      for feed, key, day, hour, title, text in told)  # fmt: skip
        for told_item in items:
            next(f for f in (wire, daily, desk) if told_item.guid.startswith(f"{f.name}-")).publish(told_item)
        return Story(weeks_ago, items, about_entity=entity)

    operator = [
        story(8, (wire, "bus-depot", 1, 10, "Ferrowick Council approves a bus depot on the ring road",
                  "Ferrowick Council approved plans for a bus depot on the ring road. "
                  "Building starts in the autumn.")),
        story(7, (daily, "harvest-fair", 3, 10, "Harvest fair draws record crowds to Elmstead",
                  "The harvest fair drew record crowds to Elmstead on Saturday. The pie stalls sold out by noon."),
              entity=False),
        story(6, (wire, "street-trees", 2, 10, "Ferrowick Council plants four hundred street trees",
                  "Ferrowick Council planted four hundred street trees along the high street. "
                  "Volunteers watered them.")),
        story(5, (wire, "swimming-baths", 1, 15, "Ferrowick Council reopens the old swimming baths",
                  "Ferrowick Council reopened the old swimming baths after a year of repairs. "
                  "Children swim free on Sundays.")),
        story(4, (daily, "lantern-regatta", 2, 13, "Lantern regatta returns to the Wend estuary",
                  "The lantern regatta returned to the Wend estuary after three years. Sixty boats sailed at dusk."),
              entity=False),
        story(3,  # one event, two sources two hours apart
              (wire, "millbrook-bridge", 2, 9, "Ferrowick Council opens the rebuilt Millbrook bridge",
               "Ferrowick Council opened the rebuilt Millbrook bridge on Wednesday. "
               "The old bridge was closed for two years."),
              (daily, "millbrook-bridge-opens", 2, 11, "Ferrowick Council opens rebuilt Millbrook bridge",
               "Ferrowick Council opened the rebuilt Millbrook bridge on Wednesday. "
               "Cyclists crossed it within the hour.")),
        story(3, (daily, "choir-prize", 3, 16, "Elmstead school choir wins the regional prize",
                  "The Elmstead school choir won the regional prize in Tarnford. It sings at the harvest fair next."),
              entity=False),
        story(2, (wire, "budget", 3, 11, "Ferrowick Council sets next year's budget",
                  "Ferrowick Council set next year's budget at its evening meeting. "
                  "Parking charges stay the same.")),
        story(1, (wire, "library-hours", 1, 14, "Ferrowick Council extends library opening hours",
                  "Ferrowick Council extended the opening hours of the central library. It now closes at nine.")),
    ]  # fmt: skip
    own = [
        story(7, (desk, "night-buses", 1, 12, "Ferrowick Council adds night buses, Zephyrine learns",
                  "Ferrowick Council will add night buses at weekends, the Zephyrine desk learned. "
                  "The first runs in spring.")),
        story(4, (desk, "town-hall", 3, 9, "Ferrowick Council repaints the town hall",
                  "Ferrowick Council repainted the town hall in its old colours. Zephyrine readers chose the green.")),
        story(2, (desk, "chess-club", 2, 18, "A chess club opens in the Millbrook reading room",
                  "A chess club opened in the Millbrook reading room. Zephyrine readers play there on Tuesdays."),
              entity=False),
    ]  # fmt: skip
    assert all(now - s.published > 4 * DAY for s in operator + own), "older than the clustering window"
    return Archive(base, wire, daily, desk, operator, own)


def skate_park(archive: Archive) -> Item:
    """A fresh item of the wire about the entity."""
    return item(archive.wire, "skate-park", "Ferrowick Council opens a skate park by the river",
                "Ferrowick Council opened a skate park by the river this morning. It is lit until ten.")  # fmt: skip


def indoor_market(archive: Archive) -> Item:
    """A fresh item of A's own desk."""
    return item(archive.desk, "market-indoors", "The Millbrook market moves indoors for the winter",
                "The Millbrook market moved into the old corn exchange. "
                "Zephyrine readers found the cheese stall.")  # fmt: skip


def harbour_master(archive: Archive) -> Item:
    """An item of the wire dated four weeks ago: too old to post."""
    return item(archive.wire, "harbour-master", "Ferrowick Council names a harbour master",
                "Ferrowick Council named a new harbour master for the Wend estuary. "
                "She starts in the new year.", at(archive.base, 4, 1, 10))  # fmt: skip


def ferry_timetable(archive: Archive) -> Item:
    """A fresh item of the wire about something else."""
    return item(archive.wire, "ferry-timetable", "The Tarnford ferry keeps its summer timetable",
                "The Tarnford ferry keeps its summer timetable until December. "
                "The last boat leaves at eight.")  # fmt: skip


# --- the bot -------------------------------------------------------------------------------------


async def wait_history_built(fake: FakeDiscord, tmp_path: Path, entries: int) -> None:
    """Wait until `entries` entries are stored, each in a story, and every story has its card: the
    bot has done all it will ever do with them."""

    def history_built() -> bool:
        rows = read_db(tmp_path, "SELECT (SELECT count(*) FROM entries),"
                                 " (SELECT count(*) FROM entries WHERE state = 'seen' AND story_id IS NULL),"
                                 " (SELECT count(*) FROM entries WHERE story_id IS NULL),"
                                 " (SELECT count(*) FROM stories WHERE card IS NULL)")  # fmt: skip
        return rows == [(entries, 0, 0, 0)]

    await fake.wait_for(history_built, HISTORY_TIMEOUT)


async def recap(fake: FakeDiscord, server: Server, archive: Archive, weeks_ago: int) -> JSON:
    """/recap weeks_ago:N, asked by the server's reader, of the week `weeks_ago` before the test's week
    (one more if a Monday 00:00 UTC passed since the test began)."""
    turned = 1 if IsoWeek.at(time.time(), UTC) != archive.base else 0
    data = await ask(fake, server, "recap", [option("weeks_ago", weeks_ago + turned)], user=server.reader)
    [embed] = data["embeds"]
    return dict(embed)


# --- what the fake saw ---------------------------------------------------------------------------


def cards_everywhere(fake: FakeDiscord, *servers: Server) -> dict[str, Counter[str]]:
    """The cards in every channel of the servers, by `<guild> #<channel>` (channels without any left out)."""
    found = {f"{s.guild.name} #{c.name}": card_urls(fake, c) for s in servers for c in s.guild.channels.values()}
    return {where: cards for where, cards in found.items() if cards}


def posted_card_urls(fake: FakeDiscord) -> list[str]:
    """The url of every card the bot sent to a channel (each POST of a message, whatever became of it)."""
    posts = fake.find_requests("POST", re.compile(r"/channels/\d+/messages"))
    return [e["url"] for r in posts for e in (r.json or {}).get("embeds", []) if e.get("url")]


def assert_only_posted(fake: FakeDiscord, a: Server, b: Server, items: Sequence[Item], why: str = "") -> None:
    """The channels of A and B hold these items' cards, once each in each #news, and no other card was
    ever sent to a channel."""
    once = Counter({i.link: 1 for i in items})
    expected = {f"{s.guild.name} #news": once for s in (a, b)} if items else {}
    assert cards_everywhere(fake, a, b) == expected, why
    assert sorted(posted_card_urls(fake)) == sorted(2 * [i.link for i in items]), why


def timeline_lines(embed: JSON) -> list[tuple[int, str, int]]:
    """(date, link, sources) of each line of a /timeline page, in the order shown."""
    lines = str(embed.get("description", "")).split("\n")
    parsed = [LINE.fullmatch(line) for line in lines]
    assert all(parsed), f"every line is '**n.** <date> — [what changed](link) · N sources': {lines}"
    first = int(parsed[0]["n"]) if parsed and parsed[0] else 1
    assert [int(m["n"]) for m in parsed if m] == list(range(first, first + len(lines))), "numbered in order"
    return [(int(m["stamp"]), m["url"], int(m["sources"])) for m in parsed if m]


def assert_timeline_is(embed: JSON, stories: Sequence[Story]) -> None:
    """The page lists exactly these stories, each once, oldest first, each with its date (its first
    item's), its link (one of its items') and its number of sources."""
    expected = sorted(stories, key=lambda s: s.published)
    shown_lines = timeline_lines(embed)
    assert [(stamp, sources) for stamp, _, sources in shown_lines] == [(s.published, s.sources) for s in expected], (
        embed["description"]
    )
    for (_, url, _), story in zip(shown_lines, expected, strict=True):
        assert url in story.links, f"{url} is a link of {story.links}"
    count = "1 story" if len(expected) == 1 else f"{len(expected)} stories"
    assert embed["footer"]["text"] == f"Page 1/1 · {count} in the whole history", "the default: the whole history"


def assert_recap_lists(embed: JSON, stories: Sequence[Story]) -> None:
    """The recap lists exactly these stories, each once (one link of each), and says how many."""
    links = LINK.findall(str(embed["description"]))
    for story in stories:
        assert len(story.links & set(links)) == 1, f"{story.links} listed once in {embed['description']}"
    assert len(links) == len(stories), f"{len(stories)} stories, nothing else: {embed['description']}"
    count = "1 story" if len(stories) == 1 else f"{len(stories)} stories"
    assert f"**{count}** from **" in embed["description"], embed["description"]


# --- setting up: the archive followed from the config and with /feeds add --------------------------


async def archive_followed(
    fake: FakeDiscord, a: Server, b: Server, feeds: FeedServer, start_bot: StartBot, tmp_path: Path,
    *, config_feeds: str = "wire daily", kick: bool = True, also: Callable[[Archive], list[Item]] | None = None,
) -> tuple[Archive, BotProcess, list[Item]]:  # fmt: skip
    """The bot starts with the operator's feeds named in `config_feeds` in its config, and A adds its
    desk with /feeds add; returns once every item they hold is history (in a story, carded).

    With `kick`, the wire then publishes a fresh item (not about the entity, of this week): news,
    which wakes the story builder at once; it is returned once posted in A's and B's #news. The items
    `also` makes are published on their feeds with it."""
    archive = eight_weeks(feeds, time.time())
    operator = [feeds.feeds[name] for name in config_feeds.split()]
    bot = await start(start_bot, fake, a, b, bot_config(a, b, operator))
    for feed in operator:
        await feeds.wait_fetched(feed, times=2, timeout=TIMEOUT)
    followed = await follow(fake, a, archive.desk)
    assert "stored as seen" in followed["content"], "nothing of what the feed holds is posted"
    kicked = [ferry_timetable(archive)] if kick else []
    archive.wire.publish(*kicked)
    for extra in also(archive) if also else []:
        next(f for f in feeds.feeds.values() if extra.guid.startswith(f"{f.name}-")).publish(extra)
    await wait_history_built(fake, tmp_path, sum(len(feed.items) for feed in (*operator, archive.desk)))
    await wait_posted(fake, *((s.news, {i.link for i in kicked}) for s in (a, b)))
    return archive, bot, kicked


def fields_of(fake: FakeDiscord, channel: FakeChannel, url: str) -> dict[str, str]:
    """The fields of the card of `url` in the channel."""
    [embed] = [e for m in fake.messages(channel) for e in m.embeds if e.get("url") == url]
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


# --- 1. nothing of the history is posted ---------------------------------------------------------


async def test_feeds_holding_eight_weeks_of_news_added_from_the_config_and_with_feeds_add_post_none_of_it(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    """No fresh item until the history is built: nothing but the feeds' archives reaches the bot
    (so nothing wakes the story builder: it takes the history at its next idle wake-up)."""
    a, b = servers
    archive, _, _ = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path, kick=False)
    stories = archive.operator + archive.own

    # one story per event (the bridge told by two feeds is one), none of them news, nothing queued
    [(made, history, sources)] = read_db(tmp_path, "SELECT count(*), count(*) FILTER (WHERE announced_at IS NULL),"
                                                   " max(source_count) FROM stories")  # fmt: skip
    assert (made, history, sources) == (len(stories), len(stories), 2)
    assert read_db(tmp_path, "SELECT count(*) FROM deliveries") == [(0,)], "nothing queued to be posted"

    # a fresh item of each kind of feed is news: posted once in each routed channel of its audience
    skate, market = skate_park(archive), indoor_market(archive)
    archive.wire.publish(skate)
    archive.desk.publish(market)
    await wait_posted(fake_discord, (a.news, {skate.link, market.link}), (b.news, {skate.link}))

    assert cards_everywhere(fake_discord, a, b) == {
        f"{a.guild.name} #news": Counter({skate.link: 1, market.link: 1}),
        f"{b.guild.name} #news": Counter({skate.link: 1}),
    }, "the fresh items only, once each, where the routes go"
    assert sorted(posted_card_urls(fake_discord)) == sorted([skate.link, market.link, skate.link])
    assert read_db(tmp_path, "SELECT count(*) FROM stories WHERE announced_at IS NOT NULL") == [(2,)]
    # the history is read, not posted: the fresh card's Timeline lists the entity's past stories
    [library] = [s for s in stories if s.weeks_ago == 1]
    [town_hall] = [s for s in archive.own if s.weeks_ago == 4]
    in_a, in_b = fields_of(fake_discord, a.news, skate.link), fields_of(fake_discord, b.news, skate.link)
    assert library.links <= set(LINK.findall(in_a.get(TIMELINE, ""))), in_a
    assert library.links <= set(LINK.findall(in_b.get(TIMELINE, ""))), in_b
    assert town_hall.links <= set(LINK.findall(in_a[TIMELINE])), "A's own history in A's card"
    assert MARKER not in json.dumps(in_b).casefold(), "and not in B's"


# --- 2. /timeline: the whole history, oldest first, with dates ------------------------------------


async def test_timeline_lists_an_entitys_history_oldest_to_newest_with_dates_and_a_two_source_story_once(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    archive, _, kicked = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path)
    about = [s for s in archive.visible_to_a() if s.about_entity]

    told = await timeline(fake_discord, a, ENTITY)
    assert told["title"] == f"⏳ Timeline: {ENTITY}"
    assert_timeline_is(told, about)  # eight weeks, the oldest first, each with its date
    [bridge] = [s for s in about if s.sources == 2]
    lines = told["description"].split("\n")
    [line] = [line for line in lines if any(link in line for link in bridge.links)]  # the two-source story once
    assert line.endswith("· 2 sources")

    # `days` narrows it (to a cut-off at least six hours from any story's date)
    days = next(d for d in range(30, 40) if all(abs(time.time() - d * DAY - s.published) > 6 * HOUR for s in about))
    narrowed = await timeline(fake_discord, a, ENTITY, option("days", days))
    recent = [s for s in about if s.published >= time.time() - days * DAY]
    assert 0 < len(recent) < len(about)
    assert [stamp for stamp, _, _ in timeline_lines(narrowed)] == sorted(s.published for s in recent)
    count = "1 story" if len(recent) == 1 else f"{len(recent)} stories"
    assert narrowed["footer"]["text"] == f"Page 1/1 · {count} in the last {days} days"

    assert_only_posted(fake_discord, a, b, kicked, "reading the history posts none of it")


# --- 3. /recap weeks_ago:N -----------------------------------------------------------------------


async def test_recap_of_a_past_week_lists_that_weeks_history_and_none_of_the_other_weeks(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    archive, _, kicked = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path)

    for weeks_ago in (3, 8, 5):
        week = archive.base.shifted(-weeks_ago)
        shown_recap = await recap(fake_discord, b, archive, weeks_ago)
        assert shown_recap["title"] == f"📰 Weekly recap — {week.key}"
        assert shown_recap["description"].startswith(f"Week {week.week} of {week.year} · ")
        assert_recap_lists(shown_recap, [s for s in archive.operator if s.weeks_ago == weeks_ago])
    week_3 = await recap(fake_discord, b, archive, 3)
    assert "**2 stories** from **2 sources**" in week_3["description"], "the bridge (2 sources) and the choir"
    assert "· 2 sources" in week_3["description"]

    empty = await recap(fake_discord, b, archive, 12)  # before the feeds' oldest items
    assert empty["description"].endswith("No stories were published in this week.")
    assert_only_posted(fake_discord, a, b, kicked)


# --- 4. isolation holds for history --------------------------------------------------------------


async def test_a_servers_own_feeds_history_shows_in_its_timeline_and_recap_and_nowhere_in_another_servers(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b = servers
    archive, _, kicked = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path)

    assert_timeline_is(await timeline(fake_discord, a, ENTITY), [s for s in archive.visible_to_a() if s.about_entity])
    assert_timeline_is(await timeline(fake_discord, b, ENTITY), [s for s in archive.visible_to_b() if s.about_entity])
    for weeks_ago in (4, 7):  # weeks with a story of A's own desk and one of the operator's
        for server, stories in ((a, archive.visible_to_a()), (b, archive.visible_to_b())):
            shown_recap = await recap(fake_discord, server, archive, weeks_ago)
            assert_recap_lists(shown_recap, [s for s in stories if s.weeks_ago == weeks_ago])

    seen = seen_by(fake_discord, b)
    assert seen, "B was shown something (else the check below proves nothing)"
    for text in seen:
        assert MARKER not in text.casefold(), f"B saw A's own feed: {text[:2000]}"
    assert any(MARKER in text.casefold() for text in seen_by(fake_discord, a)), "A did see its own history"
    assert_only_posted(fake_discord, a, b, kicked)


# --- 5. a restart -------------------------------------------------------------------------------


async def test_a_restart_posts_none_of_the_history_nor_an_item_too_old_nor_a_new_config_feeds_first_poll(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    """The daily is not in the config at first. The wire, already followed, publishes an item dated
    four weeks ago (too old to post: history) with the fresh one; then the bot restarts with the daily
    added to the config, and the wire publishes another fresh item."""
    a, b = servers
    archive, bot, kicked = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path, config_feeds="wire",
                                                  also=lambda made: [harbour_master(made)])  # fmt: skip
    old = harbour_master(archive)
    stored = len(archive.wire.items) + len(archive.desk.items)
    [(state,)] = read_db(tmp_path, "SELECT state FROM entries WHERE link = ?", (old.link,))
    assert state == "seen", "too old to post"
    await stop(bot)

    await start(start_bot, fake_discord, a, b, bot_config(a, b, [archive.wire, archive.daily]))
    await feeds.wait_fetched(archive.daily, times=2, timeout=TIMEOUT)
    skate = skate_park(archive)
    archive.wire.publish(skate)
    await wait_posted(fake_discord, (a.news, {skate.link}), (b.news, {skate.link}))
    await wait_history_built(fake_discord, tmp_path, stored + 1 + len(archive.daily.items))

    assert_only_posted(fake_discord, a, b, [*kicked, skate], "the fresh items only, once in each routed channel")
    delivered = read_db(tmp_path, "SELECT DISTINCT e.link FROM deliveries d JOIN entries e ON e.story_id = d.story_id")
    assert sorted(delivered) == sorted((i.link,) for i in [*kicked, skate])
    # the new config feed's history joined the stories (the wire's bridge story has two sources now)
    harbour = Story(4, (old,))
    assert_timeline_is(await timeline(fake_discord, b, ENTITY),
                       [s for s in [*archive.operator, harbour] if s.about_entity] + [Story(0, (skate,))])  # fmt: skip


# --- 6. a route added after the history exists ----------------------------------------------------


async def test_a_route_added_after_the_history_gets_none_of_it_and_a_fresh_item_is_posted_once_in_each_channel(
    fake_discord: FakeDiscord, servers: tuple[Server, Server], feeds: FeedServer, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A and B each route every topic to #briefs too once the history is built; the bot restarts
    (its start-up recovery routes what has no delivery yet: history must not be among it)."""
    a, b = servers
    archive, bot, kicked = await archive_followed(fake_discord, a, b, feeds, start_bot, tmp_path)
    for server in (a, b):
        routed = await ask(fake_discord, server, "topics", sub("route", topic="*", channel=server.briefs),
                           channels=[server.briefs])  # fmt: skip
        assert routed["content"].endswith(f"will be posted in <#{server.briefs.id}>."), routed["content"]
    await stop(bot)
    await start(start_bot, fake_discord, a, b, bot_config(a, b, [archive.wire, archive.daily]))

    market, skate = indoor_market(archive), skate_park(archive)
    archive.desk.publish(market)
    archive.wire.publish(skate)
    await wait_posted(fake_discord, (a.news, {skate.link, market.link}), (a.briefs, {skate.link, market.link}),
                      (b.news, {skate.link}), (b.briefs, {skate.link}))  # fmt: skip

    fresh_ones = Counter({skate.link: 1, market.link: 1})
    before = Counter({i.link: 1 for i in kicked})  # posted before the routes to #briefs existed
    assert cards_everywhere(fake_discord, a, b) == {
        f"{a.guild.name} #news": before + fresh_ones,
        f"{a.guild.name} #briefs": fresh_ones,
        f"{b.guild.name} #news": before + Counter({skate.link: 1}),
        f"{b.guild.name} #briefs": Counter({skate.link: 1}),
    }, "the fresh items only, once in each routed channel"
    assert len(posted_card_urls(fake_discord)) == 2 * len(kicked) + 6
