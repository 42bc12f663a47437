"""Subscriptions from Discord against a local feed server, the real fetcher and parser, and a real store.

Every socket is held to loopback (tests/conftest.py). The "public" feed server is a loopback
server that the fetcher's address policy is told to accept, so the SSRF guard is on its path
all the same; the refusal test uses the real policy.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from page_server import RSS, InlineParser, PageServer, loopback_fetcher, page_server, rss

from bot.adapters.feeds import FeedParser, Fetcher
from bot.adapters.store import SQLiteStore
from bot.config import PollingSettings, Settings, TopicSettings
from bot.core.cluster import Features
from bot.core.feedstate import FeedState, feed_state
from bot.core.stories import OPERATOR_SCOPE, StoryPlanItem, feed_scope
from bot.core.types import FeedOrigin
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.ingest import IngestService
from bot.services.subscriptions import NO_FEED_ON_PAGE, PRIVATE_ADDRESS, Subscriptions, check_url

GUILD, OTHER_GUILD = 1001, 2002
POLLING = PollingSettings(interval_seconds=600, max_new_per_poll=5, max_age_hours=48)
SETTINGS = Settings(
    polling=POLLING,
    topics=(TopicSettings("security", keywords=("breach", "vulnerability")), TopicSettings("models", ("model",))),
)


# --- the feed server, the service under test -------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[PageServer]:
    async with page_server() as pages:
        yield pages


@dataclass
class Wakes:
    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with loopback_fetcher() as public:
        yield public


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def subs(store: SQLiteStore, fetcher: Fetcher, wakes: Wakes) -> Subscriptions:
    return Subscriptions(SETTINGS, store, fetcher, InlineParser(), EnrichService(store, SETTINGS), wake=wakes)


# --- adding ----------------------------------------------------------------------------------------


async def test_add_stores_entries_as_seen_and_the_next_poll_releases_only_the_new_one(
    subs: Subscriptions, store: SQLiteStore, server: PageServer, fetcher: Fetcher
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha", "Beta", "Gamma"))
    before = time.time()

    result = await subs.subscribe(server.url("/feed.xml"), GUILD, topic="security", added_by=42)

    assert (result.title, result.entry_count, result.topic) == ("Test News", 3, "security")
    feed = result.feed
    assert (feed.url, feed.origin, feed.guild_id, feed.forced_topics) == (
        server.url("/feed.xml"), FeedOrigin.DISCORD, GUILD, ())  # fmt: skip
    [listed] = await subs.feeds_of(GUILD)
    assert listed.forced_topics == ("security",), "the topic is this server's subscription's"
    rows = await store._fetchall("SELECT guild_id, topic, added_by FROM subscriptions")
    assert rows == [(GUILD, "security", 42)]
    assert feed.subscribed and feed.entries_seen == 3 and feed.last_status == 200
    assert feed.display_name == "Test News"
    assert feed.next_poll_at >= before + POLLING.interval_seconds
    assert await store.released_entries() == [], "nothing is posted on subscribe"

    server.pages["/feed.xml"] = (200, RSS, rss("Alpha", "Beta", "Gamma", "Delta"))
    ingest = IngestService(store, fetcher, InlineParser(), POLLING)
    outcome = await ingest.poll_feed(feed)

    assert len(outcome.released) == 1
    assert [e.title for e in await store.released_entries()] == ["Delta"]


async def test_add_works_through_the_process_pool_parser(
    store: SQLiteStore, fetcher: Fetcher, server: PageServer
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    async with FeedParser(workers=1, timeout_seconds=30) as parser:
        subs = Subscriptions(SETTINGS, store, fetcher, parser, EnrichService(store, SETTINGS))
        result = await subs.subscribe(server.url("/feed.xml"), GUILD)
    assert result.entry_count == 1
    assert result.feed.forced_topics == ()


async def test_a_duplicate_in_the_same_server_is_refused_before_any_fetch(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    await subs.subscribe(server.url("/feed.xml"), GUILD)
    hits = server.hits

    with pytest.raises(UserError, match=r"^This server follows that feed already, as “Test News”\.$"):
        await subs.subscribe(server.url("/feed.xml"), GUILD)
    with pytest.raises(UserError, match="follows that feed already"):
        await subs.subscribe(server.url("/feed.xml#top") + " ", GUILD)  # the same feed, written differently
    assert server.hits == hits
    assert len(await store.list_feeds()) == 1


async def test_a_second_server_follows_the_same_feed_which_is_still_fetched_once(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    first = await subs.subscribe(server.url("/feed.xml"), GUILD)
    hits = server.hits
    second = await subs.subscribe(server.url("/feed.xml#top"), OTHER_GUILD)  # written differently
    assert second.feed.id == first.feed.id and server.hits == hits, "followed, not fetched again"
    assert len(await store.list_feeds()) == 1
    assert await store.feed_followers(first.feed.id) == [GUILD, OTHER_GUILD]
    assert [f.id for f in await subs.feeds_of(OTHER_GUILD)] == [first.feed.id]


async def test_each_follower_has_its_own_topic_for_a_shared_feed_and_routing_uses_it(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    feed = (await subs.subscribe(server.url("/feed.xml"), GUILD, topic="security")).feed
    await subs.subscribe(server.url("/feed.xml"), OTHER_GUILD, topic="models", added_by=7)
    assert [f.forced_topics for f in await subs.feeds_of(GUILD)] == [("security",)]
    assert [f.forced_topics for f in await subs.feeds_of(OTHER_GUILD)] == [("models",)]
    [story] = await seed_story(store, feed.id)
    audience = await store.story_recipients(story)
    assert audience.followers == frozenset({GUILD, OTHER_GUILD})
    assert dict(audience.topics) == {GUILD: ("security",), OTHER_GUILD: ("models",)}


async def test_a_server_mutes_and_unmutes_an_operator_feed_for_itself_only(
    subs: Subscriptions, store: SQLiteStore
) -> None:
    wire = await store.add_feed("https://wire.example/feed.xml", now=1.0, name="Wire")
    daily = await store.add_feed("https://daily.example/feed.xml", now=1.0, name="Daily")
    assert [(f.display_name, muted) for f, muted in await subs.operator_feeds(GUILD)] == [
        ("Wire", False), ("Daily", False)]  # fmt: skip
    assert (await subs.mute(GUILD, "Wire")).id == wire.id
    with pytest.raises(UserError, match=r"^“Wire” is muted here already\.$"):
        await subs.mute(GUILD, str(wire.id))
    with pytest.raises(UserError, match="no such feed of its own"):
        await subs.mute(GUILD, "https://elsewhere.example/feed.xml")
    assert [f.id for f in await subs.operator_feed_choices(GUILD, "", muted=True)] == [wire.id]
    assert [f.id for f in await subs.operator_feed_choices(GUILD, "", muted=False)] == [daily.id]
    [only_wire] = await seed_story(store, wire.id)
    [both] = await seed_story(store, wire.id, daily.id)
    assert not (await store.story_recipients(only_wire)).admits(GUILD), "muted: its story does not come"
    assert (await store.story_recipients(only_wire)).admits(OTHER_GUILD), "only for the server that muted it"
    assert (await store.story_recipients(both)).admits(GUILD), "a story another feed tells too still comes"
    await subs.unmute(GUILD, "wire")
    assert (await store.story_recipients(only_wire)).admits(GUILD)
    with pytest.raises(UserError, match="is not muted here"):
        await subs.unmute(GUILD, "Wire")


_KEYS = itertools.count()


async def seed_story(store: SQLiteStore, *feed_ids: int) -> list[int]:
    """One story told by an entry of each feed, in the scope clustering gives it."""
    feeds = {f.id: f for f in await store.list_feeds()}
    public = any(feeds[f].origin is not FeedOrigin.DISCORD for f in feed_ids)
    scope = OPERATOR_SCOPE if public else feed_scope(feed_ids[0])
    ref, out = -1, []
    for n, feed_id in enumerate(feed_ids):
        async with store.transaction() as db:
            cur = await db.execute(
                "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash, state)"
                " VALUES (?, ?, 'Story', 1.0, 1.0, 'h', 'released') RETURNING id",
                (feed_id, f"k{next(_KEYS)}"))  # fmt: skip
            entry = int((await cur.fetchone())[0])
        item = StoryPlanItem(entry, ref, n == 0, "Story", 1.0, Features({}, frozenset(), frozenset(), 1.0), (), (),
                             scope)  # fmt: skip
        [(ref, _)] = await store.apply_story_plan([item], 1.0)
        out = [ref]
    return out


async def test_unfollowing_affects_only_that_server_and_the_last_one_takes_the_feed_away(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    feed = (await subs.subscribe(server.url("/feed.xml"), GUILD)).feed
    await subs.subscribe(server.url("/feed.xml"), OTHER_GUILD)

    await subs.pause(OTHER_GUILD, str(feed.id))
    [mine] = await subs.feeds_of(GUILD)
    [theirs] = await subs.feeds_of(OTHER_GUILD)
    assert (mine.paused, theirs.paused) == (False, True), "a pause is the server's own"
    stored = await store.get_feed(feed.id)
    assert stored is not None and not stored.paused, "still polled: another server wants it"

    await subs.remove(GUILD, str(feed.id))
    assert await subs.feeds_of(GUILD) == [] and await store.get_feed(feed.id) is not None
    stored = await store.get_feed(feed.id)
    assert stored is not None and stored.paused, "its only follower left paused it: no longer polled"
    await subs.remove(OTHER_GUILD, str(feed.id))
    assert await store.list_feeds() == [], "the last follower gone, the feed goes"


async def test_an_operator_feed_is_not_followed_twice_from_discord(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    await store.add_feed(server.url("/feed.xml"), now=1_800_000_000.0)
    with pytest.raises(UserError, match="one of the bot's own"):
        await subs.subscribe(server.url("/feed.xml"), GUILD)


async def test_a_private_address_is_refused_when_private_addresses_are_not_allowed(
    store: SQLiteStore, server: PageServer
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    async with Fetcher.from_settings(PollingSettings(allow_private_addresses=False)) as fetcher:
        subs = Subscriptions(SETTINGS, store, fetcher, InlineParser(), EnrichService(store, SETTINGS))
        with pytest.raises(UserError) as refused:
            await subs.subscribe(server.url("/feed.xml"), GUILD)
        with pytest.raises(UserError) as refused_test:
            await subs.test_feed(server.url("/feed.xml"))

    assert str(refused.value) == PRIVATE_ADDRESS
    assert str(refused_test.value) == PRIVATE_ADDRESS
    assert server.hits == 0
    assert await store.list_feeds() == []


async def test_a_missing_feed_is_one_clear_sentence(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/gone.xml"), GUILD)
    assert str(refused.value) == "I could not fetch that feed: HTTP 404 Not Found."
    assert await store.list_feeds() == []


async def test_an_html_page_naming_no_feed_is_not_a_feed(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    page = b"<!DOCTYPE html><html><head><title>Hi</title></head><body>Hello</body></html>"
    server.pages["/"] = (200, "text/html", page)
    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/"), GUILD)
    assert str(refused.value) == NO_FEED_ON_PAGE
    with pytest.raises(UserError) as refused_test:
        await subs.test_feed(server.url("/"))
    assert str(refused_test.value) == "That is not a feed I can read: looks like an HTML page."
    assert await store.list_feeds() == []


async def test_an_unknown_topic_is_refused_with_the_topics_there_are(subs: Subscriptions, server: PageServer) -> None:
    with pytest.raises(UserError, match=r"^“sports” is not a topic here; the topics are: security, models\.$"):
        await subs.subscribe(server.url("/feed.xml"), GUILD, topic="sports")
    assert server.hits == 0


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Give me the address of a feed"),
        ("ftp://news.example/feed", "Only http:// and https://"),
        ("news.example/feed", "Only http:// and https://"),
        ("https://news.example/a feed", "spaces or control characters"),
        ("https://user:secret@news.example/feed", "Leave the user name and password out"),
        ("https:///feed", "no host name"),
        ("https://news.example:99999/feed", "invalid port"),
        ("https://news.example/" + "a" * 2000, "too long"),
    ],
)
def test_check_url_refuses_what_is_not_a_plain_web_address(url: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        check_url(url)


def test_check_url_trims() -> None:
    assert check_url("  https://news.example/feed.xml\n") == "https://news.example/feed.xml"


# --- testing a feed ----------------------------------------------------------------------------------


async def test_test_feed_gives_the_card_of_the_newest_entry_and_stores_nothing(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Old model news", "Breach at a big bank"))

    card = await subs.test_feed(server.url("/feed.xml"))

    assert card.headline == "Breach at a big bank"
    assert card.source == "Test News"
    assert card.url == "https://news.example/2"
    assert "security" in card.topics
    assert await store.list_feeds() == []


async def test_test_feed_of_an_empty_feed_says_so(subs: Subscriptions, server: PageServer) -> None:
    server.pages["/empty.xml"] = (200, RSS, rss())
    with pytest.raises(UserError, match="no entries yet"):
        await subs.test_feed(server.url("/empty.xml"))


# --- managing: only the server's own feeds -------------------------------------------------------------


async def test_only_the_owning_server_sees_and_manages_its_feed(
    subs: Subscriptions, server: PageServer, store: SQLiteStore, wakes: Wakes
) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    feed = (await subs.subscribe(server.url("/feed.xml"), GUILD)).feed
    assert wakes.count == 1, "subscribing wakes the loops: its entries are history to build"
    await store.add_feed("https://config.example/feed.xml", now=time.time())  # the operator's, no server's
    ref = str(feed.id)

    assert await subs.feeds_of(OTHER_GUILD) == []
    assert [f.id for f in await subs.feeds_of(GUILD)] == [feed.id]
    for action in (subs.remove, subs.pause, subs.resume):
        with pytest.raises(UserError, match=r"^This server has no such feed"):
            await action(OTHER_GUILD, ref)

    assert (await subs.pause(GUILD, ref)).id == feed.id
    assert feed_state(await store.get_feed(feed.id)) is FeedState.PAUSED  # type: ignore[arg-type]
    with pytest.raises(UserError, match="is paused already"):
        await subs.pause(GUILD, "Test News")  # by name, as typed without autocomplete
    await subs.resume(GUILD, server.url("/feed.xml"))  # by address
    assert wakes.count == 2
    assert feed_state(await store.get_feed(feed.id)) is FeedState.OK  # type: ignore[arg-type]
    with pytest.raises(UserError, match="is not paused"):
        await subs.resume(GUILD, ref)

    assert (await subs.remove(GUILD, ref)).id == feed.id
    assert await store.get_feed(feed.id) is None
    assert len(await store.list_feeds()) == 1, "the config feed stays"


async def test_resume_re_enables_a_disabled_feed(subs: Subscriptions, server: PageServer, store: SQLiteStore) -> None:
    server.pages["/feed.xml"] = (200, RSS, rss("Alpha"))
    feed = (await subs.subscribe(server.url("/feed.xml"), GUILD)).feed
    server.pages.pop("/feed.xml")
    ingest = IngestService(store, subs.fetcher, InlineParser(), PollingSettings(max_failures=1))
    await ingest.poll_feed(feed)
    disabled = await store.get_feed(feed.id)
    assert disabled is not None and feed_state(disabled) is FeedState.DISABLED

    await subs.resume(GUILD, str(feed.id))

    enabled = await store.get_feed(feed.id)
    assert enabled is not None and feed_state(enabled) is FeedState.OK
    assert enabled.next_poll_at <= time.time()


async def test_feed_choices_rank_the_servers_feeds(subs: Subscriptions, store: SQLiteStore) -> None:
    now = time.time()
    for url, name in [("https://a.example/rss", "Daily Security"), ("https://sec.example/feed", "Other"),
                      ("https://b.example/x", "Security Weekly"), ("https://c.example/y", "Models")]:  # fmt: skip
        await store.add_feed(url, now=now, name=name, origin=FeedOrigin.DISCORD, guild_id=GUILD)
    await store.add_feed("https://d.example/z", now=now, name="Security elsewhere", origin=FeedOrigin.DISCORD,
                         guild_id=OTHER_GUILD)  # fmt: skip

    names = [f.display_name for f in await subs.feed_choices(GUILD, "sec")]
    assert names == ["Security Weekly", "Other", "Daily Security"]  # a name's prefix, an address's, a word's
    assert len(await subs.feed_choices(GUILD, "")) == 4
