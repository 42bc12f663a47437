"""The commands' cooldowns: the refusal sentence, who shares a cooldown, and that a refusal costs nothing.

Unit level: fake interactions and fake clocks (no sleeps, no Discord); the /feeds cog runs with the
real subscription service on a real store, its fetcher a fake that counts fetches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any

import pytest
from discord import app_commands

from bot.adapters.feeds import parse_document
from bot.adapters.store import SQLiteStore
from bot.app.cooldowns import CommandCooldowns
from bot.app.tree import describe_error
from bot.config import LimitsSettings, Settings, TopicSettings
from bot.core.types import FetchResult, ParsedFeed
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.subscriptions import Subscriptions
from cogs.feeds._commands import Feeds
from cogs.recap import Recaps
from cogs.timeline import Timeline

GUILD, OTHER_GUILD = 1001, 2002
ALICE, BOB = 11, 22
WALL = 1_800_000_000.0  # what Discord's timestamps count in
LIMITS = LimitsSettings(fetch_cooldown_seconds=30, read_cooldown_seconds=3)
SETTINGS = Settings(limits=LIMITS, topics=(TopicSettings("security", keywords=("breach",)),))


class Clocks:
    """The monotonic clock the cooldowns count with and the wall clock, moved together by the test."""

    def __init__(self) -> None:
        self.monotonic = 500.0
        self.wall = WALL

    def advance(self, seconds: float) -> None:
        self.monotonic += seconds
        self.wall += seconds


def cooldowns_on(clocks: Clocks, limits: LimitsSettings = LIMITS) -> CommandCooldowns:
    return CommandCooldowns(limits, clock=lambda: clocks.monotonic, wall_clock=lambda: clocks.wall)


# --- fake interactions ---------------------------------------------------------------------------


@dataclass
class Response:
    done: bool = False
    deferred: list[dict[str, Any]] = field(default_factory=list)
    sent: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kw: Any) -> None:
        self.deferred.append(kw)
        self.done = True

    async def send_message(self, content: str | None = None, **kw: Any) -> None:
        self.sent.append((content, kw))
        self.done = True


@dataclass
class Followup:
    sent: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    async def send(self, content: str | None = None, **kw: Any) -> None:
        self.sent.append((content, kw))


@dataclass
class Interaction:
    user_id: int = ALICE
    guild_id: int | None = GUILD
    name: str | None = None  # the command's qualified name; None: no command object
    response: Response = field(default_factory=Response)
    followup: Followup = field(default_factory=Followup)

    @property
    def user(self) -> SimpleNamespace:
        return SimpleNamespace(id=self.user_id)

    @property
    def command(self) -> SimpleNamespace | None:
        return None if self.name is None else SimpleNamespace(qualified_name=self.name, name=self.name)


def ask(interaction: Interaction) -> Any:
    return interaction  # the fake stands in for discord.Interaction


# --- the helper ----------------------------------------------------------------------------------


def test_a_second_fetch_in_the_server_is_refused_with_a_relative_timestamp() -> None:
    clocks = Clocks()
    cooldowns = cooldowns_on(clocks)
    cooldowns.check_fetch(ask(Interaction(name="feeds add")))
    clocks.advance(12)
    with pytest.raises(UserError) as refused:
        cooldowns.check_fetch(ask(Interaction(name="feeds test")))
    assert str(refused.value) == (
        f"Please wait — this server fetched a feed moments ago; you can run /feeds test again <t:{int(WALL) + 30}:R>."
    )


def test_the_fetch_cooldown_is_the_servers_not_the_members() -> None:
    cooldowns = cooldowns_on(Clocks())
    cooldowns.check_fetch(ask(Interaction(user_id=ALICE, name="feeds add")))
    with pytest.raises(UserError, match="this server fetched a feed moments ago"):
        cooldowns.check_fetch(ask(Interaction(user_id=BOB, name="feeds add")))  # another admin, same server
    cooldowns.check_fetch(ask(Interaction(user_id=ALICE, guild_id=OTHER_GUILD, name="feeds add")))


def test_the_read_cooldown_is_the_members_across_timeline_and_recap() -> None:
    clocks = Clocks()
    cooldowns = cooldowns_on(clocks)
    cooldowns.check_read(ask(Interaction(user_id=ALICE, name="timeline")))
    clocks.advance(1.2)
    with pytest.raises(UserError) as refused:
        cooldowns.check_read(ask(Interaction(user_id=ALICE, name="recap")))
    assert str(refused.value) == f"Please wait — you can run /recap again <t:{int(WALL) + 3}:R>."
    cooldowns.check_read(ask(Interaction(user_id=BOB, name="recap")))  # someone else may read
    with pytest.raises(UserError, match="you can run /timeline again"):  # the member's, in every server
        cooldowns.check_read(ask(Interaction(user_id=ALICE, guild_id=OTHER_GUILD, name="timeline")))


def test_a_refusal_does_not_lengthen_the_wait() -> None:
    clocks = Clocks()
    cooldowns = cooldowns_on(clocks)
    cooldowns.check_read(ask(Interaction(name="timeline")))
    for _ in range(2):
        clocks.advance(1)
        with pytest.raises(UserError, match=rf"<t:{int(WALL) + 3}:R>"):  # the same moment each time
            cooldowns.check_read(ask(Interaction(name="timeline")))
    clocks.advance(1)
    cooldowns.check_read(ask(Interaction(name="timeline")))  # three seconds after the one that counted


def test_the_moment_shown_is_never_before_the_wait_is_over() -> None:
    clocks = Clocks()
    clocks.wall = WALL + 0.25
    cooldowns = cooldowns_on(clocks, LimitsSettings(read_cooldown_seconds=2.5))
    cooldowns.check_read(ask(Interaction(name="recap")))
    with pytest.raises(UserError, match=rf"<t:{int(WALL) + 3}:R>"):  # 2.75 rounded up, not down
        cooldowns.check_read(ask(Interaction(name="recap")))


def test_without_a_command_object_the_given_name_is_used() -> None:
    cooldowns = cooldowns_on(Clocks())
    cooldowns.check_fetch(ask(Interaction()), "/feeds test")
    with pytest.raises(UserError, match="you can run /feeds test again"):
        cooldowns.check_fetch(ask(Interaction()), "/feeds test")


def test_the_error_handler_shows_the_refusal_as_it_is() -> None:
    cooldowns = cooldowns_on(Clocks())
    cooldowns.check_read(ask(Interaction(name="timeline")))
    with pytest.raises(UserError) as refused:
        cooldowns.check_read(ask(Interaction(name="timeline")))
    error = app_commands.CommandInvokeError(SimpleNamespace(name="timeline"), refused.value)  # type: ignore[arg-type]
    assert describe_error(error) == (str(refused.value), False)


# --- the cogs ------------------------------------------------------------------------------------


def rss(*titles: str) -> bytes:
    when = format_datetime(datetime.fromtimestamp(WALL, UTC))
    items = "".join(f"<item><title>{t}</title><link>https://news.example/{n}</link><guid>urn:{n}</guid>"
                    f"<description>{t}. More text.</description><pubDate>{when}</pubDate></item>"
                    for n, t in enumerate(titles))  # fmt: skip
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Test News</title>'
            f"<link>https://news.example/</link>{items}</channel></rss>").encode()  # fmt: skip


@dataclass
class CountingFetcher:
    """Serves the same feed for every address and counts the fetches."""

    fetches: list[str] = field(default_factory=list)

    async def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                    trusted: bool = True) -> FetchResult:  # fmt: skip
        self.fetches.append(url)
        return FetchResult(200, url, rss("Alpha", "Beta"), content_type="application/rss+xml")


class InlineParser:
    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        return parse_document(body, url, content_type)


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def fetcher() -> CountingFetcher:
    return CountingFetcher()


@pytest.fixture
def feeds_cog(store: SQLiteStore, fetcher: CountingFetcher, clocks: Clocks) -> Feeds:
    subs = Subscriptions(SETTINGS, store, fetcher, InlineParser(), EnrichService(store, SETTINGS))
    services = SimpleNamespace(subscriptions=subs, routes=SimpleNamespace())
    bot = SimpleNamespace(services=services, store=store, cooldowns=cooldowns_on(clocks))
    return Feeds(bot)  # type: ignore[arg-type]


async def test_feeds_add_then_test_in_the_same_server_is_refused_without_a_fetch(
    feeds_cog: Feeds, fetcher: CountingFetcher, clocks: Clocks
) -> None:
    first = Interaction(name="feeds add")
    await feeds_cog.add.callback(feeds_cog, ask(first), "https://news.example/a.xml")
    assert first.followup.sent[0][0] is not None and first.followup.sent[0][0].startswith("Added **Test News**")
    assert first.response.deferred == [{"ephemeral": True, "thinking": True}]

    clocks.advance(5)
    with pytest.raises(UserError, match=rf"you can run /feeds test again <t:{int(WALL) + 30}:R>\.$"):
        await feeds_cog.test.callback(feeds_cog, ask(Interaction(user_id=BOB, name="feeds test")),
                                      "https://news.example/b.xml")  # fmt: skip
    assert fetcher.fetches == ["https://news.example/a.xml"], "the refusal came before any fetch"

    clocks.advance(25)
    card_run = Interaction(name="feeds test")
    await feeds_cog.test.callback(feeds_cog, ask(card_run), "https://news.example/b.xml")
    assert card_run.followup.sent[0][0] == "The newest entry would get this card (nothing was stored):"
    assert len(fetcher.fetches) == 2


async def test_a_mistake_caught_before_the_fetch_costs_no_cooldown(feeds_cog: Feeds, fetcher: CountingFetcher) -> None:
    with pytest.raises(UserError, match="starting with http"):
        await feeds_cog.add.callback(feeds_cog, ask(Interaction(name="feeds add")), "  ")
    with pytest.raises(UserError, match="Only http:// and https://"):
        await feeds_cog.test.callback(feeds_cog, ask(Interaction(name="feeds test")), "ftp://news.example/a.xml")
    with pytest.raises(UserError, match="is not a topic here"):
        await feeds_cog.add.callback(feeds_cog, ask(Interaction(name="feeds add")), "https://news.example/a.xml",
                                     "sports")  # fmt: skip
    assert fetcher.fetches == []
    await feeds_cog.add.callback(feeds_cog, ask(Interaction(name="feeds add")), "https://news.example/a.xml")
    with pytest.raises(UserError, match="follows that feed already"):  # a duplicate: said at once, not "wait"
        await feeds_cog.add.callback(feeds_cog, ask(Interaction(name="feeds add")), "https://news.example/a.xml")
    assert len(fetcher.fetches) == 1


@dataclass
class RefusingTimeline:
    """A timeline service that knows no entity; counts the questions it gets."""

    asked: list[str] = field(default_factory=list)

    async def open(self, guild_id: int, entity: str, days: int, topic: str | None) -> Any:
        self.asked.append(entity)
        raise UserError("I know no one called that.")


async def test_timeline_is_refused_by_the_cooldown_before_the_store_is_read(clocks: Clocks) -> None:
    service = RefusingTimeline()
    cooldowns = cooldowns_on(clocks)
    bot = SimpleNamespace(services=SimpleNamespace(timeline=service, routes=SimpleNamespace()), cooldowns=cooldowns)
    cog = Timeline(bot)  # type: ignore[arg-type]
    cooldowns.check_read(ask(Interaction(name="recap")))  # a /recap answered a moment ago
    clocks.advance(1)
    with pytest.raises(UserError, match=rf"^Please wait — you can run /timeline again <t:{int(WALL) + 3}:R>\.$"):
        await cog.timeline.callback(cog, ask(Interaction(name="timeline")), "Acme")
    assert service.asked == []
    clocks.advance(2)
    with pytest.raises(UserError, match="I know no one"):
        await cog.timeline.callback(cog, ask(Interaction(name="timeline")), "Acme")
    assert service.asked == ["Acme"]


async def test_a_read_the_command_refuses_costs_no_cooldown(clocks: Clocks) -> None:
    service = RefusingTimeline()
    bot = SimpleNamespace(services=SimpleNamespace(timeline=service, routes=SimpleNamespace()),
                          cooldowns=cooldowns_on(clocks))  # fmt: skip
    cog = Timeline(bot)  # type: ignore[arg-type]
    for name in ("Acmy", "Acme"):  # a mistyped name, then the right one at once
        with pytest.raises(UserError, match="I know no one"):  # (this fake knows no one at all)
            await cog.timeline.callback(cog, ask(Interaction(name="timeline")), name)
    assert service.asked == ["Acmy", "Acme"]


def test_reading_counts_only_an_answered_read() -> None:
    cooldowns = cooldowns_on(Clocks())
    with pytest.raises(UserError, match="no such topic"), cooldowns.reading(ask(Interaction(name="recap"))):
        raise UserError("no such topic")
    with cooldowns.reading(ask(Interaction(name="recap"))):
        pass  # answered
    with pytest.raises(UserError, match="you can run /recap again"), cooldowns.reading(ask(Interaction(name="recap"))):
        raise AssertionError("a refused read never runs")


@dataclass
class CountingRecap:
    asked: int = 0

    async def weekly(self, guild_id: int, *, weeks_ago: int, topic: str | None) -> Any:
        self.asked += 1
        raise UserError("Nothing this week.")


async def test_recap_shares_the_members_read_cooldown(clocks: Clocks) -> None:
    recap = CountingRecap()
    routes = SimpleNamespace(check_topic=lambda name: name)
    cooldowns = cooldowns_on(clocks)
    bot = SimpleNamespace(services=SimpleNamespace(recap=recap, routes=routes), cooldowns=cooldowns)
    cog = Recaps(bot)  # type: ignore[arg-type]
    cooldowns.check_read(ask(Interaction(name="timeline")))  # a /timeline a moment ago
    with pytest.raises(UserError, match="you can run /recap again"):
        await cog.recap.callback(cog, ask(Interaction(name="recap")))
    assert recap.asked == 0
    with pytest.raises(UserError, match="Nothing this week"):
        await cog.recap.callback(cog, ask(Interaction(user_id=BOB, name="recap")))
    assert recap.asked == 1
