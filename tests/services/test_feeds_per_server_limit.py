"""A server at `limits.feeds_per_server` is refused before any fetch; the config's feeds and other
servers' feeds do not count. Real fetcher, parser and store; a local feed server on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from page_server import RSS, InlineParser, PageServer, loopback_fetcher, page_server, rss

from bot.adapters.store import SQLiteStore
from bot.config import LimitsSettings, Settings, TopicSettings
from bot.errors import UserError
from bot.services.enrich import EnrichService
from bot.services.subscriptions import Subscriptions

GUILD, OTHER_GUILD = 1001, 2002
SETTINGS = Settings(limits=LimitsSettings(feeds_per_server=2),
                    topics=(TopicSettings("security", keywords=("breach",)),))  # fmt: skip
FULL = "This server follows 2 feeds, the most it may; remove one with /feeds remove first."


@pytest.fixture
async def server() -> AsyncIterator[PageServer]:
    """The same small RSS feed at every path."""
    async with page_server() as pages:
        pages.default = (200, RSS, rss("Alpha"))
        yield pages


@pytest.fixture
async def subs(store: SQLiteStore) -> AsyncIterator[Subscriptions]:
    async with loopback_fetcher() as public:
        yield Subscriptions(SETTINGS, store, public, InlineParser(), EnrichService(store, SETTINGS))


async def test_subscribe_is_refused_at_the_limit_before_any_fetch(subs: Subscriptions, server: PageServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    hits = server.hits

    with pytest.raises(UserError) as refused:
        await subs.subscribe(server.url("/c.xml"), GUILD)
    assert str(refused.value) == FULL
    assert server.hits == hits, "nothing was fetched"
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_the_cooldown_gate_is_not_reached_when_the_server_is_full(
    subs: Subscriptions, server: PageServer
) -> None:
    gate: list[str] = []
    await subs.subscribe(server.url("/a.xml"), GUILD, before_fetch=lambda: gate.append("a"))
    await subs.subscribe(server.url("/b.xml"), GUILD, before_fetch=lambda: gate.append("b"))
    with pytest.raises(UserError, match="the most it may"):
        await subs.subscribe(server.url("/c.xml"), GUILD, before_fetch=lambda: gate.append("c"))
    assert gate == ["a", "b"], "a full server costs no cooldown"


async def test_a_refusing_gate_stops_the_fetch(subs: Subscriptions, server: PageServer) -> None:
    def wait() -> None:
        raise UserError("Please wait.")

    with pytest.raises(UserError, match="Please wait"):
        await subs.subscribe(server.url("/a.xml"), GUILD, before_fetch=wait)
    with pytest.raises(UserError, match="Please wait"):
        await subs.test_feed(server.url("/a.xml"), before_fetch=wait)
    assert server.hits == 0
    assert await subs.feeds_of(GUILD) == []


async def test_removing_a_feed_makes_room(subs: Subscriptions, server: PageServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    await subs.pause(GUILD, server.url("/b.xml"))
    with pytest.raises(UserError, match="the most it may"):  # a paused feed still counts
        await subs.subscribe(server.url("/c.xml"), GUILD)
    await subs.remove(GUILD, server.url("/a.xml"))
    await subs.subscribe(server.url("/c.xml"), GUILD)
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_config_feeds_and_other_servers_feeds_do_not_count(
    subs: Subscriptions, server: PageServer, store: SQLiteStore
) -> None:
    for n in range(3):
        await store.add_feed(f"https://config.example/{n}.xml", now=time.time())  # the operator's
    await subs.subscribe(server.url("/x.xml"), OTHER_GUILD)
    await subs.subscribe(server.url("/y.xml"), OTHER_GUILD)
    await subs.subscribe(server.url("/a.xml"), GUILD)
    await subs.subscribe(server.url("/b.xml"), GUILD)
    assert [len(await subs.feeds_of(g)) for g in (GUILD, OTHER_GUILD)] == [2, 2]


async def test_two_adds_at_once_cannot_pass_the_limit_together(subs: Subscriptions, server: PageServer) -> None:
    await subs.subscribe(server.url("/a.xml"), GUILD)
    outcomes = await asyncio.gather(subs.subscribe(server.url("/b.xml"), GUILD),
                                    subs.subscribe(server.url("/c.xml"), GUILD), return_exceptions=True)  # fmt: skip
    refused = [o for o in outcomes if isinstance(o, UserError)]
    assert len(refused) == 1 and str(refused[0]) == FULL
    assert len(await subs.feeds_of(GUILD)) == 2


async def test_the_sentence_counts_one_feed_in_the_singular(store: SQLiteStore, server: PageServer) -> None:
    settings = Settings(limits=LimitsSettings(feeds_per_server=1))
    async with loopback_fetcher() as public:
        subs = Subscriptions(settings, store, public, InlineParser(), EnrichService(store, settings))
        await subs.subscribe(server.url("/a.xml"), GUILD)
        with pytest.raises(UserError, match=r"^This server follows 1 feed, the most it may; "):
            await subs.subscribe(server.url("/b.xml"), GUILD)
