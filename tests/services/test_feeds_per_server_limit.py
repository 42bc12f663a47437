"""A server at `limits.feeds_per_server` is refused before any fetch; the config's feeds and other
servers' feeds do not count. Real fetcher, parser and store; a local feed server on loopback."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web

from bot.adapters.feeds import Fetcher, parse_document
from bot.adapters.store import SQLiteStore
from bot.config import LimitsSettings, Settings, TopicSettings
from bot.core.types import ParsedFeed
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.subscriptions import Subscriptions

GUILD, OTHER_GUILD = 1001, 2002
SETTINGS = Settings(limits=LimitsSettings(feeds_per_server=2),
                    topics=(TopicSettings("security", keywords=("breach",)),))  # fmt: skip
FULL = "This server follows 2 feeds, the most it may; remove one with /feeds remove first."
RSS = "application/rss+xml"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any connect outside 127.0.0.0/8 and ::1 fails the test."""
    real_connect = socket.socket.connect
    outside: list[str] = []

    def connect(self: socket.socket, address: Any) -> None:
        if self.family not in (socket.AF_INET, socket.AF_INET6):
            return real_connect(self, address)
        host = str(address[0] if isinstance(address, tuple) else address)
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            outside.append(host)
            raise AssertionError(f"test tried to connect to {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
    assert not outside, f"connected outside loopback: {outside}"


@dataclass
class FeedServer:
    """Serves the same small RSS feed at every path; counts the requests."""

    base: str = ""
    hits: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    async def handle(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        when = format_datetime(datetime.now(UTC))
        body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {request.path}</title>'
                f"<link>https://news.example/</link><item><title>Alpha</title><link>https://news.example/1</link>"
                f"<guid>urn:1</guid><pubDate>{when}</pubDate></item></channel></rss>")  # fmt: skip
        return web.Response(body=body.encode(), content_type=RSS)


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feeds = FeedServer()
    app = web.Application()
    app.router.add_get("/{tail:.*}", feeds.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    feeds.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield feeds
    await runner.cleanup()


class InlineParser:
    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        return parse_document(body, url, content_type)


@pytest.fixture
async def subs(store: SQLiteStore) -> AsyncIterator[Subscriptions]:
    public = Fetcher(user_agent="wirebrief-test", timeout_seconds=10, is_allowed_address=lambda ip: ip.is_loopback)
    async with public:
        yield Subscriptions(SETTINGS, store, public, InlineParser(), EnrichService(store, SETTINGS))


async def test_subscribe_is_refused_at_the_limit_before_any_fetch(subs: Subscriptions, server: FeedServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    hits = len(server.hits)

    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/c.xml"), GUILD)
    assert str(refused.value) == FULL
    assert len(server.hits) == hits, "nothing was fetched"
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_the_cooldown_gate_is_not_reached_when_the_server_is_full(
    subs: Subscriptions, server: FeedServer
) -> None:
    gate: list[str] = []
    await subs.subscribe(server.url("/a.xml"), GUILD, before_fetch=lambda: gate.append("a"))
    await subs.subscribe(server.url("/b.xml"), GUILD, before_fetch=lambda: gate.append("b"))
    with pytest.raises(UserError, match="the most it may"):
        await subs.subscribe(server.url("/c.xml"), GUILD, before_fetch=lambda: gate.append("c"))
    assert gate == ["a", "b"], "a full server costs no cooldown"


async def test_a_refusing_gate_stops_the_fetch(subs: Subscriptions, server: FeedServer) -> None:
    def wait() -> None:
        raise UserError("Please wait.")

    with pytest.raises(UserError, match="Please wait"):
        await subs.subscribe(server.url("/a.xml"), GUILD, before_fetch=wait)
    with pytest.raises(UserError, match="Please wait"):
        await subs.test_feed(server.url("/a.xml"), before_fetch=wait)
    assert server.hits == []
    assert await subs.feeds_of(GUILD) == []


async def test_removing_a_feed_makes_room(subs: Subscriptions, server: FeedServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    await subs.pause(GUILD, server.url("/b.xml"))
    with pytest.raises(UserError, match="the most it may"):  # a paused feed still counts
        await subs.subscribe(server.url("/c.xml"), GUILD)
    await subs.remove(GUILD, server.url("/a.xml"))
    await subs.subscribe(server.url("/c.xml"), GUILD)
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_config_feeds_and_other_servers_feeds_do_not_count(
    subs: Subscriptions, server: FeedServer, store: SQLiteStore
) -> None:
    for n in range(3):
        await store.add_feed(f"https://config.example/{n}.xml", now=time.time())  # the operator's
    await subs.subscribe(server.url("/x.xml"), OTHER_GUILD)
    await subs.subscribe(server.url("/y.xml"), OTHER_GUILD)
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    assert [len(await subs.feeds_of(g)) for g in (GUILD, OTHER_GUILD)] == [2, 2]


async def test_two_adds_at_once_cannot_pass_the_limit_together(subs: Subscriptions, server: FeedServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    outcomes = await asyncio.gather(subs.subscribe(server.url("/b.xml"), GUILD),
                                    subs.subscribe(server.url("/c.xml"), GUILD), return_exceptions=True)  # fmt: skip
    refused = [o for o in outcomes if isinstance(o, UserError)]
    assert len(refused) == 1 and str(refused[0]) == FULL
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_the_sentence_counts_one_feed_in_the_singular(store: SQLiteStore, server: FeedServer) -> None:
    settings = Settings(limits=LimitsSettings(feeds_per_server=1))
    public = Fetcher(user_agent="wirebrief-test", timeout_seconds=10, is_allowed_address=lambda ip: ip.is_loopback)
    async with public:
        subs = Subscriptions(settings, store, public, InlineParser(), EnrichService(store, settings))
        await subs.subscribe(server.url("/a.xml"), GUILD)
        with pytest.raises(UserError, match=r"^This server follows 1 feed, the most it may; "):
            await subs.subscribe(server.url("/b.xml"), GUILD)
