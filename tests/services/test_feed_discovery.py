"""/feeds add given a web page: the feed the page links to is found, fetched through the guard, followed.

A loopback page server, the real fetcher (its address policy accepts 127.0.0.1 only, so the SSRF
guard is on every fetch's path and refuses any other address), the real parser and a real store
(both engines).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from page_server import RSS, InlineParser, PageServer, one_host_fetcher, page_server, rss

from bot.adapters.store import SQLiteStore
from bot.config import Settings
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.subscriptions import NO_FEED_ON_PAGE, PRIVATE_ADDRESS, Subscriptions

GUILD, OTHER_GUILD = 1001, 2002
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Side</title>
<id>urn:atom</id><updated>2030-01-01T00:00:00Z</updated>
<entry><title>One</title><id>urn:atom:1</id><link href="https://news.example/a1"/><updated>2030-01-01T00:00:00Z</updated></entry>
</feed>"""


def page(*links: str) -> bytes:
    """An HTML page whose head holds `links` (the inside of each <link …>)."""
    head = "".join(f"<link {attrs}>" for attrs in links)
    return f"<!DOCTYPE html><html><head><title>Site</title>{head}</head><body><p>Hello</p></body></html>".encode()


@pytest.fixture
async def server() -> AsyncIterator[PageServer]:
    async with page_server() as pages:
        yield pages


@pytest.fixture
async def subs(store: SQLiteStore) -> AsyncIterator[Subscriptions]:
    async with one_host_fetcher() as fetcher:
        yield Subscriptions(Settings(), store, fetcher, InlineParser(), EnrichService(store, Settings()))


async def test_a_page_is_followed_through_the_rss_feed_it_links_to_and_says_how_many_others(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/blog/"] = (200, "text/html", page(
        'rel="alternate" type="application/atom+xml" href="atom.xml" title="Atom side"',
        'rel="alternate" type="application/rss+xml" href="/blog/rss.xml?x=1" title="Main feed"',
        'rel="alternate" type="application/feed+json" href="feed.json"',
    ))  # fmt: skip
    server.pages["/blog/rss.xml"] = (200, RSS, rss("Alpha", "Beta", title="Blog News"))
    server.pages["/blog/atom.xml"] = (200, "application/atom+xml", ATOM)

    result = await subs.subscribe(server.url("/blog/"), GUILD)

    assert result.discovery is not None
    assert (result.discovery.feed.url, result.discovery.feed.kind) == (server.url("/blog/rss.xml?x=1"), "RSS")
    assert (result.discovery.feed.title, result.discovery.others, result.discovery.page) == (
        "Main feed", 2, server.url("/blog/"))  # fmt: skip
    assert (result.title, result.entry_count) == ("Blog News", 2)
    [feed] = await store.list_feeds()
    assert feed.url == server.url("/blog/rss.xml?x=1"), "the feed's own address is stored, not the page's"
    assert server.paths == ["/blog/", "/blog/rss.xml"], "the page, then the one feed chosen"


async def test_a_page_with_only_an_atom_feed_gets_it(subs: Subscriptions, server: PageServer) -> None:
    server.pages["/"] = (200, "text/html", page('rel="alternate" type="application/atom+xml" href="/atom.xml"'))
    server.pages["/atom.xml"] = (200, "application/atom+xml", ATOM)
    result = await subs.subscribe(server.url("/"), GUILD)
    assert result.discovery is not None and result.discovery.feed.kind == "Atom"
    assert (result.title, result.discovery.others) == ("Atom Side", 0)


async def test_a_feed_the_page_links_to_at_another_address_is_refused_by_the_guard(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    elsewhere = server.url("/rss.xml").replace("127.0.0.1", "127.0.0.2")
    server.pages["/"] = (200, "text/html", page(f'rel="alternate" type="application/rss+xml" href="{elsewhere}"'))
    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/"), GUILD)
    assert str(refused.value) == PRIVATE_ADDRESS
    assert server.paths == ["/"], "the page only: the guard stopped the feed's fetch before it connected"
    assert await store.list_feeds() == []


async def test_a_linked_feed_that_fails_is_named_by_its_kind(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/"] = (200, "text/html", page('rel="alternate" type="application/rss+xml" href="/gone.xml"'))
    with pytest.raises(UserError) as missing:
        await subs.subscribe(server.url("/"), GUILD)
    assert str(missing.value) == "The page links to an RSS feed, but I could not fetch it: HTTP 404 Not Found."

    server.pages["/gone.xml"] = (200, RSS, page())  # another page, not a feed: no second discovery
    with pytest.raises(UserError) as not_feed:
        await subs.subscribe(server.url("/"), GUILD)
    assert str(not_feed.value) == (
        "The page links to an RSS feed, but it is not a feed I can read: looks like an HTML page."
    )
    assert await store.list_feeds() == []


async def test_a_page_naming_only_unusable_addresses_names_no_feed(subs: Subscriptions, server: PageServer) -> None:
    server.pages["/"] = (200, "text/html", page(
        'rel="alternate" type="application/rss+xml" href="javascript:alert(1)"',
        'rel="alternate" type="application/rss+xml" href="ftp://news.example/feed"',
        'rel="alternate" type="application/rss+xml" href="https://user:pw@news.example/feed"',
        'rel="stylesheet" type="application/rss+xml" href="/rss.xml"',
        'rel="alternate" type="text/html" href="/other.html"',
    ))  # fmt: skip
    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/"), GUILD)
    assert str(refused.value) == NO_FEED_ON_PAGE
    assert server.paths == ["/"]


async def test_the_feed_found_is_one_this_server_follows_already(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    server.pages["/rss.xml"] = (200, RSS, rss("Alpha"))
    server.pages["/"] = (200, "text/html", page('rel="alternate" type="application/rss+xml" href="/rss.xml"'))
    await subs.subscribe(server.url("/rss.xml"), GUILD)
    with pytest.raises(UserError, match=r"^This server follows that feed already, as “Test News”\.$"):
        await subs.subscribe(server.url("/"), GUILD)

    shared = await subs.subscribe(server.url("/"), OTHER_GUILD)  # another server: followed, not added again
    assert shared.discovery is not None and shared.feed.url == server.url("/rss.xml")
    assert len(await store.list_feeds()) == 1
