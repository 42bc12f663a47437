"""A server's feeds in and out as OPML: what an import follows, what it leaves out and why; what an
export holds (that server's own feeds, nothing else).

A loopback page server, the real fetcher (its address policy accepts 127.0.0.1 only: the SSRF guard
refuses any other address), the real parser and a real store (both engines).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from page_server import RSS, InlineParser, PageServer, one_host_fetcher, opml, page_server, rss

from bot.adapters.feeds import OpmlError, parse_opml
from bot.adapters.store import SQLiteStore
from bot.config import LimitsSettings, Settings, TopicSettings
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.subscriptions import MAX_IMPORT_BYTES, Skipped, SkipReason, Subscriptions

GUILD, OTHER_GUILD = 1001, 2002
SETTINGS = Settings(
    topics=(TopicSettings("security", keywords=("breach",)), TopicSettings("models", ("model",))),
    limits=LimitsSettings(feeds_per_server=6),
)


@pytest.fixture
async def server() -> AsyncIterator[PageServer]:
    async with page_server() as pages:
        for name in ("one", "two", "three", "four", "five", "six", "seven"):
            pages.pages[f"/{name}.xml"] = (200, RSS, rss("Alpha", "Beta", title=f"Feed {name}"))
        yield pages


@pytest.fixture
async def subs(store: SQLiteStore) -> AsyncIterator[Subscriptions]:
    async with one_host_fetcher() as fetcher:
        yield Subscriptions(SETTINGS, store, fetcher, InlineParser(), EnrichService(store, SETTINGS))


async def test_an_import_follows_the_good_feeds_and_names_each_left_out_with_its_reason(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    await subs.subscribe(server.url("/one.xml"), GUILD)
    operator = await store.add_feed(server.url("/seven.xml"), now=time.time())  # the bot's own feed
    server.pages["/page.html"] = (200, "text/html", b"<!DOCTYPE html><html><body>hi</body></html>")
    private = server.url("/two.xml").replace("127.0.0.1", "127.0.0.2")
    data = opml(
        ("Two", server.url("/two.xml"), "security"),
        ("Three", server.url("/three.xml"), "Tech blogs"),  # a folder that is no topic here
        ("Two again", server.url("/two.xml#top")),  # the same address, written differently
        ("One", server.url("/one.xml")),
        ("Operator", operator.url),
        ("Local file", "file:///etc/passwd"),
        ("Inside", private),
        ("Gone", server.url("/gone.xml")),
        ("A page", server.url("/page.html")),
    )
    paths_before = len(server.paths)

    summary = await subs.import_opml(GUILD, data, added_by=42)

    assert [(r.title, r.topic, r.entry_count) for r in summary.added] == [("Feed two", "security", 2),
                                                                          ("Feed three", "", 2)]  # fmt: skip
    assert set(summary.skipped) == {  # the summary groups them by reason
        Skipped("Local file", SkipReason.INVALID, "Only http:// and https:// feed addresses work"),
        Skipped("Two again", SkipReason.DUPLICATE),
        Skipped("One", SkipReason.ALREADY),
        Skipped("Operator", SkipReason.OPERATOR),
        Skipped("Inside", SkipReason.PRIVATE),
        Skipped("Gone", SkipReason.UNREACHABLE, "HTTP 404 Not Found"),
        Skipped("A page", SkipReason.NOT_A_FEED, "looks like an HTML page"),
    }
    assert sorted(server.paths[paths_before:]) == ["/gone.xml", "/page.html", "/three.xml", "/two.xml"]
    listed = [(f.url, f.forced_topics) for f in await subs.feeds_of(GUILD)]
    assert listed == [(server.url("/one.xml"), ()), (server.url("/two.xml"), ("security",)),
                      (server.url("/three.xml"), ())]  # fmt: skip
    assert await subs.feeds_of(OTHER_GUILD) == []
    assert await store.released_entries() == [], "an import posts nothing: what the feeds have is stored as seen"


async def test_over_the_limit_the_first_feeds_of_the_file_are_followed_and_the_rest_never_fetched(
    subs: Subscriptions, server: PageServer
) -> None:
    await subs.subscribe(server.url("/one.xml"), GUILD)
    await subs.subscribe(server.url("/two.xml"), GUILD)  # 2 of 6: room for 4
    names = ("three", "four", "five", "six", "seven")
    data = opml(("Broken", server.url("/gone.xml")), *((n, server.url(f"/{n}.xml")) for n in names))
    paths_before = len(server.paths)

    summary = await subs.import_opml(GUILD, data)

    assert [r.feed.url for r in summary.added] == [server.url(f"/{n}.xml") for n in ("three", "four", "five", "six")]
    assert summary.skipped == [Skipped("Broken", SkipReason.UNREACHABLE, "HTTP 404 Not Found"),
                               Skipped("seven", SkipReason.OVER_LIMIT)]  # fmt: skip
    assert "/seven.xml" not in server.paths[paths_before:], "a feed over the limit is never fetched"
    assert len(await subs.feeds_of(GUILD)) == 6


async def test_a_feed_another_server_follows_is_followed_without_a_fetch(
    subs: Subscriptions, server: PageServer
) -> None:
    await subs.subscribe(server.url("/one.xml"), OTHER_GUILD)
    paths_before = len(server.paths)
    summary = await subs.import_opml(GUILD, opml(("One", server.url("/one.xml"), "models")))
    assert [(r.feed.url, r.topic) for r in summary.added] == [(server.url("/one.xml"), "models")]
    assert server.paths[paths_before:] == []


async def test_the_cooldown_is_asked_once_before_the_first_fetch_and_its_refusal_stores_nothing(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    asked: list[str] = []

    def refuse() -> None:
        asked.append("fetch")
        raise UserError("Please wait.")

    data = opml(("One", server.url("/one.xml")), ("Two", server.url("/two.xml")))
    with pytest.raises(UserError, match="Please wait"):
        await subs.import_opml(GUILD, data, before_fetch=refuse)
    assert asked == ["fetch"] and server.paths == [] and await store.list_feeds() == []

    summary = await subs.import_opml(GUILD, data, before_fetch=lambda: asked.append("again"))
    assert asked == ["fetch", "again"] and len(summary.added) == 2


async def test_out_of_time_the_rest_is_named_not_tried(subs: Subscriptions, server: PageServer) -> None:
    summary = await subs.import_opml(GUILD, opml(("One", server.url("/one.xml"))), time_budget=0)
    assert summary.added == [] and summary.skipped == [Skipped("One", SkipReason.NO_TIME)]
    assert server.paths == []


async def test_a_file_that_is_no_opml_or_too_large_or_declares_entities_is_refused(
    subs: Subscriptions, store: SQLiteStore
) -> None:
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
            b"<opml><body><outline text='&lol2;' xmlUrl='https://news.example/feed'/></body></opml>")  # fmt: skip
    for data, message in [
        (b"<html><body>hi</body></html>", "not an OPML document"),
        (bomb, "DOCTYPE or entities"),
        (bomb.decode().replace('"1.0"?', '"1.0" encoding="utf-16"?').encode("utf-16"), "DOCTYPE or entities"),
        (opml(("x", "https://news.example/" + "x" * MAX_IMPORT_BYTES)), "larger than"),
    ]:
        with pytest.raises(OpmlError, match=message):
            await subs.import_opml(GUILD, data)
    assert await store.list_feeds() == []


async def test_an_export_holds_the_servers_own_feeds_with_their_topics_and_nothing_else(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    await store.add_feed(server.url("/seven.xml"), now=time.time(), name="Operator feed")
    await subs.subscribe(server.url("/one.xml"), GUILD, topic="security")
    await subs.subscribe(server.url("/two.xml"), GUILD)
    await subs.subscribe(server.url("/three.xml"), OTHER_GUILD, topic="models")
    await subs.subscribe(server.url("/two.xml"), OTHER_GUILD, topic="models")  # shared, B's own topic

    feeds, _skipped = parse_opml(await subs.export_opml(GUILD))
    assert [(f.url, f.title, f.category) for f in feeds] == [
        (server.url("/one.xml"), "Feed one", "security"), (server.url("/two.xml"), "Feed two", "")]  # fmt: skip
    other, _skipped = parse_opml(await subs.export_opml(OTHER_GUILD))
    assert [(f.url, f.category) for f in other] == [(server.url("/three.xml"), "models"),
                                                    (server.url("/two.xml"), "models")]  # fmt: skip
    with pytest.raises(UserError, match="follows no feeds of its own yet"):
        await subs.export_opml(3003)


async def test_an_export_imported_into_another_server_gives_it_the_same_feeds_and_topics_without_a_fetch(
    subs: Subscriptions, server: PageServer
) -> None:
    await subs.subscribe(server.url("/one.xml"), GUILD, topic="security")
    await subs.subscribe(server.url("/two.xml"), GUILD, topic="models")
    paths_before = len(server.paths)

    summary = await subs.import_opml(OTHER_GUILD, await subs.export_opml(GUILD))

    assert [(r.feed.url, r.topic) for r in summary.added] == [(server.url("/one.xml"), "security"),
                                                             (server.url("/two.xml"), "models")]  # fmt: skip
    assert summary.skipped == [] and server.paths[paths_before:] == []
    again = await subs.import_opml(OTHER_GUILD, await subs.export_opml(GUILD))
    assert [s.reason for s in again.skipped] == [SkipReason.ALREADY, SkipReason.ALREADY] and again.added == []
