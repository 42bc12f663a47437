"""Ingest end to end: the real fetcher, the parser pool and the store against a local feed server."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path

import pytest
from aiohttp import web
from fake_clock import Clock

from bot.adapters.feeds import FeedParser, Fetcher
from bot.adapters.store import SQLiteStore
from bot.config import PollingSettings
from bot.services.ingest import IngestService, PollStatus

HOUR = 3600.0


def rss(items: list[tuple[str, str, float]], *, ttl: int | None = None) -> bytes:
    body = "".join(
        f"<item><guid>{guid}</guid><title>{title}</title><link>https://news.example/{guid}</link>"
        f"<description>&lt;p&gt;{title}: the details, told in a full sentence.&lt;/p&gt;</description>"
        f"<pubDate>{formatdate(at, usegmt=True)}</pubDate></item>"
        for guid, title, at in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Local News</title>'
            f"<link>https://news.example/</link>{ttl_tag}{body}</channel></rss>").encode()  # fmt: skip


@dataclass
class FeedServer:
    """Serves documents by path; honours If-None-Match when `etags` is on; counts requests."""

    documents: dict[str, bytes] = field(default_factory=dict)
    etags: bool = True
    hits: dict[str, int] = field(default_factory=dict)
    not_modified: int = 0
    base: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] = self.hits.get(path, 0) + 1
        body = self.documents.get(path)
        if body is None:
            return web.Response(status=404)
        tag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'  # noqa: S324 -- a test ETag
        if self.etags and request.headers.get("If-None-Match") == tag:
            self.not_modified += 1
            return web.Response(status=304)
        headers = {"ETag": tag} if self.etags else {}
        return web.Response(body=body, headers=headers, content_type="application/rss+xml")


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feeds = FeedServer()
    app = web.Application()
    app.router.add_get("/{name:.*}", feeds.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feeds.base = f"http://127.0.0.1:{port}"
    yield feeds
    await runner.cleanup()


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[SQLiteStore, Fetcher, FeedParser]]:
    store = await SQLiteStore.open(tmp_path / "w.db")
    fetcher = Fetcher(user_agent="Wirebrief-test/1", timeout_seconds=5, connect_timeout_seconds=2)
    parser = FeedParser(workers=1, timeout_seconds=10)
    yield store, fetcher, parser
    await fetcher.close()
    await parser.close()
    await store.close()


POLLING = PollingSettings(interval_seconds=60, max_new_per_poll=5, max_age_hours=48)


async def test_subscribe_then_new_entry_then_304_then_unchanged_body(server: FeedServer, parts) -> None:
    store, fetcher, parser = parts
    clock = Clock(1_800_000_000.0)
    t = clock.now
    server.documents["/a.xml"] = rss([("1", "First", t - HOUR), ("2", "Second", t - 2 * HOUR)])
    await store.add_feed(f"{server.base}/a.xml", now=t)
    service = IngestService(store, fetcher, parser, POLLING, clock=clock)

    first = (await service.run_cycle()).outcomes[0]
    assert first.status is PollStatus.PARSED and first.new_entries == 2 and first.released == ()

    server.documents["/a.xml"] = rss([("3", "Third", t), ("1", "First", t - HOUR), ("2", "Second", t - 2 * HOUR)])
    clock.now += 120
    second = (await service.run_cycle()).outcomes[0]
    assert second.new_entries == 1 and len(second.released) == 1
    assert [e.title for e in await store.released_entries()] == ["Third"]
    assert (await store.released_entries())[0].summary == "Third: the details, told in a full sentence."

    clock.now += 120
    third = (await service.run_cycle()).outcomes[0]
    assert third.status is PollStatus.NOT_MODIFIED and server.not_modified == 1

    server.etags = False  # a server that ignores validators: the body hash saves the parse
    clock.now += 120
    fourth = (await service.run_cycle()).outcomes[0]
    assert fourth.status is PollStatus.UNCHANGED


async def test_a_restart_continues_where_it_stopped(server: FeedServer, parts, tmp_path: Path) -> None:
    store, fetcher, parser = parts
    clock = Clock(1_800_000_000.0)
    t = clock.now
    server.documents["/b.xml"] = rss([("1", "One", t - HOUR)], ttl=30)
    await store.add_feed(f"{server.base}/b.xml", now=t)
    await IngestService(store, fetcher, parser, POLLING, clock=clock).run_cycle()
    feed = (await store.list_feeds())[0]
    assert 1800 <= feed.next_poll_at - t <= 1800 * 1.1  # <ttl>30</ttl> beats the 60 s interval

    # a crash mid-cycle: the feed was claimed (leased) and never finished
    clock.now = feed.next_poll_at
    assert len(await store.claim_due_feeds(clock.now, 300, 10)) == 1
    await store.close()
    reopened = await SQLiteStore.open(tmp_path / "w.db")
    try:
        server.documents["/b.xml"] = rss([("2", "Two", clock.now), ("1", "One", t - HOUR)], ttl=30)
        service = IngestService(reopened, fetcher, parser, POLLING, clock=clock)
        await reopened.clear_leases()  # what run_forever does first
        report = await service.run_cycle()
        assert [o.new_entries for o in report.outcomes] == [1]
        assert [e.title for e in await reopened.released_entries()] == ["Two"]
    finally:
        await reopened.close()


async def test_a_malformed_feed_and_a_missing_one_fail_without_stopping_the_others(server: FeedServer, parts) -> None:
    store, fetcher, parser = parts
    clock = Clock(1_800_000_000.0)
    server.documents["/good.xml"] = rss([("1", "One", clock.now)])
    server.documents["/html.xml"] = b"<!doctype html><html><body><p>Not a feed</p></body></html>"
    for path in ("/good.xml", "/html.xml", "/missing.xml"):
        await store.add_feed(f"{server.base}{path}", now=clock.now)
    report = await IngestService(store, fetcher, parser, POLLING, clock=clock).run_cycle()
    by_url = {f.id: f.url.rsplit("/", 1)[1] for f in await store.list_feeds()}
    statuses = {by_url[o.feed_id]: o.status for o in report.outcomes}
    assert statuses == {"good.xml": PollStatus.PARSED, "html.xml": PollStatus.FAILED, "missing.xml": PollStatus.FAILED}
    feeds = {f.url.rsplit("/", 1)[1]: f for f in await store.list_feeds()}
    assert feeds["missing.xml"].last_status == 404
    assert feeds["html.xml"].last_error and "not a feed" in feeds["html.xml"].last_error.lower()


async def test_an_entity_bomb_is_neutralised_end_to_end(server: FeedServer, parts) -> None:
    store, fetcher, parser = parts
    clock = Clock(1_800_000_000.0)
    lol = "&lol;" * 5000
    server.documents["/bomb.xml"] = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "' + "x" * 5000 + '">]>'
        f'<rss version="2.0"><channel><title>Bomb</title><item><guid>1</guid><title>T</title>'
        f"<description>{lol}</description></item></channel></rss>"
    ).encode()
    await store.add_feed(f"{server.base}/bomb.xml", now=clock.now)
    report = await IngestService(store, fetcher, parser, POLLING, clock=clock).run_cycle()
    outcome = report.outcomes[0]
    if outcome.status is PollStatus.PARSED:  # stored, but the entity was never expanded
        async with store.transaction() as db, db.execute("SELECT max(length(summary)) FROM entries") as cur:
            row = await cur.fetchone()
        assert row is not None and (row[0] or 0) < 100_000
    else:
        assert outcome.status is PollStatus.FAILED
