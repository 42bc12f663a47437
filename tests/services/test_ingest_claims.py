"""Ingest claims feeds a few at a time, as polls finish: a claimed feed is polled at once (well within
its lease, however slow the other feeds are), and two ingest processes on one database share what is
due without polling a feed twice (run on both stores; on PostgreSQL the two services stand for two
processes only in their claims, which is what this checks)."""

from __future__ import annotations

import asyncio
import json

from fake_clock import Clock

from bot.adapters.store import SQLiteStore
from bot.config import PollingSettings
from bot.core.types import FetchResult, ParsedEntry, ParsedFeed
from bot.services.ingest import IngestService

GUARD = 30.0  # a hang guard only
FEEDS = 40


class Parser:
    async def parse(self, data: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        return ParsedFeed("News", url, tuple(ParsedEntry(**e) for e in json.loads(data)))


class GatedFetcher:
    """Holds every fetch until the test lets it go; records which feeds were fetched, by whom."""

    def __init__(self, name: str, log: list[tuple[str, str]], gate: asyncio.Event) -> None:
        self.name, self.log, self.gate = name, log, gate
        self.in_flight = 0
        self.most_in_flight = 0

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, trusted: bool = True
    ) -> FetchResult:
        self.log.append((self.name, url))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.gate.wait()
        self.in_flight -= 1
        return FetchResult(status=200, url=url, body=b"[]")


async def leased(store: SQLiteStore, now: float) -> int:
    return int((await store._fetchall("SELECT count(*) FROM feeds WHERE lease_until > ?", (now,)))[0][0])


async def test_feeds_are_claimed_as_polls_finish_and_two_processes_never_poll_one_feed_twice(
    store: SQLiteStore, clock: Clock
) -> None:
    for n in range(FEEDS):
        await store.add_feed(f"https://f{n}.example/feed.xml", now=clock())
    settings = PollingSettings(concurrency=2)  # at most 4 polls in flight per process
    gate, log = asyncio.Event(), []
    fetchers = [GatedFetcher("a", log, gate), GatedFetcher("b", log, gate)]
    services = [IngestService(store, f, Parser(), settings, clock=clock, shared=True) for f in fetchers]
    cycles = [asyncio.create_task(s.run_cycle()) for s in services]
    while sum(f.in_flight for f in fetchers) < 8:
        await asyncio.sleep(0.01)
    # while every poll hangs, only the feeds being polled are claimed: the rest wait for whoever is free
    assert await leased(store, clock()) == 8
    assert all(f.in_flight == 4 for f in fetchers)
    gate.set()
    reports = await asyncio.wait_for(asyncio.gather(*cycles), GUARD)
    urls = [url for _, url in log]
    assert len(urls) == len(set(urls)) == FEEDS  # every due feed once, by one process or the other
    assert {who for who, _ in log} == {"a", "b"}
    assert sum(len(r.outcomes) for r in reports) == FEEDS
    assert all(f.most_in_flight <= 4 for f in fetchers)
    assert await leased(store, clock()) == 0


async def test_a_poll_longer_than_its_lease_keeps_its_feed_while_its_process_lives(
    store: SQLiteStore, clock: Clock
) -> None:
    """The lease is renewed every third of it while the poll goes on (a feed waiting for a busy host is
    not taken by another process); once the process stops renewing (it died), the feed is free within
    one lease."""
    feed = await store.add_feed("https://slow.example/feed.xml", now=clock())
    renewals: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def sleep(seconds: float) -> None:  # each renewal waits for the test's go
        go: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await renewals.put(go)
        await go

    gate, log = asyncio.Event(), []
    a = IngestService(store, GatedFetcher("a", log, gate), Parser(), PollingSettings(), clock=clock, shared=True,
                      sleep=sleep)  # fmt: skip
    b = IngestService(store, GatedFetcher("b", log, gate), Parser(), PollingSettings(), clock=clock, shared=True)
    cycle = asyncio.create_task(a.run_cycle())
    go = await asyncio.wait_for(renewals.get(), GUARD)
    while not log:
        await asyncio.sleep(0.01)
    assert log == [("a", feed.url)]
    for _ in range(5):  # five leases' time goes by, renewed each third
        clock.now += a.lease_seconds / 3
        go.set_result(None)
        go = await asyncio.wait_for(renewals.get(), GUARD)
        assert await store.claim_due_feeds(clock(), b.lease_seconds, 10) == []
    # the process stops renewing (as if it died): within one lease the feed is another's
    clock.now += a.lease_seconds + 1
    assert [f.id for f in await store.claim_due_feeds(clock(), b.lease_seconds, 10)] == [feed.id]
    gate.set()
    go.cancel()
    await asyncio.wait_for(cycle, GUARD)
