"""The ingest service's decisions over several polls, with a scripted fetcher and a real store.

The real fetcher and parser against a local feed server are covered in test_ingest_e2e.py.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field

import pytest
from fake_clock import Clock

from bot.adapters.store import SQLiteStore
from bot.config import PollingSettings
from bot.core.types import FetchResult, ParsedEntry, ParsedFeed
from bot.errors import FetchError, ParseError
from bot.services.ingest import IngestService, PollStatus

URL = "https://news.example/feed.xml"
HOUR = 3600.0
T0 = 1_800_000_000.0


def body(*entries: ParsedEntry, ttl: float | None = None) -> bytes:
    return json.dumps({"ttl": ttl, "entries": [asdict(e) for e in entries]}).encode()


class JsonParser:
    """Stands in for the feedparser pool: the body is a JSON list of entries."""

    def __init__(self) -> None:
        self.calls = 0

    async def parse(self, data: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
        self.calls += 1
        if data == b"broken":
            raise ParseError("not a feed: looks like an HTML page")
        doc = json.loads(data)
        return ParsedFeed("News", "https://news.example/", tuple(ParsedEntry(**e) for e in doc["entries"]),
                          ttl_seconds=doc["ttl"])  # fmt: skip


@dataclass
class ScriptedFetcher:
    """Answers each fetch with the next scripted response for that URL."""

    script: dict[str, list[FetchResult | FetchError]] = field(default_factory=dict)
    requests: list[tuple[str, str | None, str | None, bool]] = field(default_factory=list)

    def then(self, url: str, *responses: FetchResult | FetchError) -> None:
        self.script.setdefault(url, []).extend(responses)

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, trusted: bool = True
    ) -> FetchResult:
        self.requests.append((url, etag, last_modified, trusted))
        response = self.script[url].pop(0)
        if isinstance(response, FetchError):
            raise response
        return response


def ok(data: bytes, **kw: object) -> FetchResult:
    return FetchResult(status=200, url=str(kw.pop("url", URL)), body=data, **kw)  # type: ignore[arg-type]


def item(n: int, age_hours: float = 1.0, **kw: object) -> ParsedEntry:
    fields: dict[str, object] = {"guid": f"urn:{n}", "link": f"https://news.example/{n}", "title": f"Story {n}",
                                 "summary": f"Body {n}", "published": T0 - age_hours * HOUR}  # fmt: skip
    fields.update(kw)
    return ParsedEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def fetcher() -> ScriptedFetcher:
    return ScriptedFetcher()


@pytest.fixture
def parser() -> JsonParser:
    return JsonParser()


def service(store: SQLiteStore, fetcher: ScriptedFetcher, parser: JsonParser, clock: Clock, **polling: object):
    settings = PollingSettings(**{"interval_seconds": 600, "max_new_per_poll": 5, "max_failures": 3, **polling})  # type: ignore[arg-type]
    return IngestService(store, fetcher, parser, settings, clock=clock, rng=random.Random(1))


async def poll(svc: IngestService, clock: Clock, advance: float = 700.0):
    clock.now += advance
    report = await svc.run_cycle()
    assert len(report.outcomes) == 1, "the feed should have been due"
    return report.outcomes[0]


async def test_first_fetch_stores_as_seen_and_releases_nothing(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    fetcher.then(URL, ok(body(item(1), item(2), item(3))))
    outcome = await poll(service(store, fetcher, parser, clock), clock, advance=0)
    assert outcome.status is PollStatus.PARSED
    assert outcome.new_entries == 3 and outcome.released == ()
    feed = (await store.list_feeds())[0]
    assert feed.subscribed and feed.entries_seen == 3 and feed.title == "News"


async def test_a_first_fetch_wakes_the_next_step_to_build_its_history(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    fetcher.then(URL, ok(body(item(1), item(2))), ok(body(item(1), item(2))))
    woken: list[list[int]] = []

    async def on_released(ids: list[int]) -> None:
        woken.append(ids)

    svc = service(store, fetcher, parser, clock)
    svc.on_released = on_released
    await poll(svc, clock, advance=0)
    assert woken == [[]], "nothing released, but two entries stored as seen: history to build"
    await poll(svc, clock)
    assert woken == [[]], "nothing new: nobody is woken"


async def test_new_entry_after_subscribing_is_released_once(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    fetcher.then(URL, ok(body(item(1))), ok(body(item(2, age_hours=0), item(1))), ok(body(item(2, age_hours=0))))
    await poll(svc, clock, 0)
    second = await poll(svc, clock)
    assert second.new_entries == 1 and len(second.released) == 1
    released = await store.released_entries()
    assert [e.title for e in released] == ["Story 2"]
    third = await poll(svc, clock)  # same entry, different body: nothing new
    assert third.new_entries == 0 and third.released == ()


async def test_conditional_get_sends_stored_validators_and_304_skips_parsing(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    fetcher.then(
        URL,
        ok(body(item(1)), etag='W/"abc"', last_modified="Tue, 01 Dec 2026 10:00:00 GMT"),
        FetchResult(status=304, url=URL, body=None),
    )
    await poll(svc, clock, 0)
    outcome = await poll(svc, clock)
    assert outcome.status is PollStatus.NOT_MODIFIED
    assert fetcher.requests[1][1:3] == ('W/"abc"', "Tue, 01 Dec 2026 10:00:00 GMT")
    assert parser.calls == 1
    feed = (await store.list_feeds())[0]
    assert feed.etag == 'W/"abc"'  # kept although the 304 did not repeat it


async def test_unchanged_body_without_validators_is_not_parsed(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    same = body(item(1))
    fetcher.then(URL, ok(same), ok(same))
    await poll(svc, clock, 0)
    outcome = await poll(svc, clock)
    assert outcome.status is PollStatus.UNCHANGED
    assert parser.calls == 1


async def test_archive_dump_and_republished_old_items_post_nothing(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    archive = [item(100 + n, age_hours=24 * (n + 3)) for n in range(200)]
    later = ok(body(item(1), *archive, item(2, age_hours=72)))
    fetcher.then(URL, ok(body(item(1))), ok(body(item(1), *archive)), later)
    await poll(svc, clock, 0)
    dump = await poll(svc, clock)
    assert dump.new_entries == 200 and dump.released == ()
    republished = await poll(svc, clock)
    assert republished.new_entries == 1 and republished.released == ()


async def test_at_most_max_new_per_poll_are_released_oldest_first(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock, max_new_per_poll=2)
    fresh = [item(n, age_hours=0.1 * n) for n in range(1, 6)]  # item 5 is the oldest
    fetcher.then(URL, ok(body(item(0, age_hours=5))), ok(body(*fresh)), FetchResult(304, URL, None),
                 FetchResult(304, URL, None), FetchResult(304, URL, None))  # fmt: skip
    await poll(svc, clock, 0)
    batches = [len((await poll(svc, clock)).released) for _ in range(4)]
    assert batches == [2, 2, 1, 0]
    titles = [e.title for e in await store.released_entries()]
    assert titles == ["Story 5", "Story 4", "Story 3", "Story 2", "Story 1"]


async def test_changed_ids_and_content_updates_are_not_new(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    fetcher.then(
        URL,
        ok(body(item(1))),
        ok(body(item(1, guid="https://news.example/?p=1", link="http://news.example/1/?utm_source=rss"))),
        ok(body(item(1, summary="Updated body", age_hours=0))),
    )
    await poll(svc, clock, 0)
    assert (await poll(svc, clock)).new_entries == 0
    assert (await poll(svc, clock)).new_entries == 0
    assert await store.released_entries() == []


async def test_entry_that_leaves_and_returns_months_later_is_not_new(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    fetcher.then(URL, ok(body(item(1))), ok(body(item(2))), ok(body(item(1, age_hours=-1))))
    await poll(svc, clock, 0)
    await poll(svc, clock)
    back = await poll(svc, clock, advance=120 * 24 * HOUR)
    assert back.new_entries == 0 and back.released == ()


async def test_failures_back_off_then_disable_and_record_an_event(store, fetcher, parser, clock) -> None:
    feed = await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock, max_failures=3)
    fetcher.then(URL, FetchError("HTTP 500", status=500), FetchError("timed out after 20 s"), ok(b"broken"))
    delays = []
    for _ in range(3):
        outcome = await poll(svc, clock, advance=10 * 24 * HOUR)
        stored = await store.get_feed(feed.id)
        assert stored is not None
        delays.append(stored.next_poll_at - clock.now)
    assert outcome.status is PollStatus.DISABLED
    assert delays[0] < delays[1]  # exponential backoff
    assert stored.disabled_at == clock.now and stored.disabled_reason == "not a feed: looks like an HTML page"
    assert stored.last_error == "not a feed: looks like an HTML page" and stored.failures == 3
    events = await store.unannounced_events()
    assert [(e.kind, e.feed_id) for e in events] == [("feed_disabled", feed.id)]
    clock.now += 30 * 24 * HOUR
    assert (await svc.run_cycle()).outcomes == []  # disabled feeds are not polled


async def test_gone_disables_at_once(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    fetcher.then(URL, FetchError("HTTP 410 Gone", status=410))
    outcome = await poll(service(store, fetcher, parser, clock, max_failures=10), clock, 0)
    assert outcome.status is PollStatus.DISABLED


async def test_retry_after_pushes_the_next_poll(store, fetcher, parser, clock) -> None:
    feed = await store.add_feed(URL, now=clock.now)
    fetcher.then(URL, FetchError("HTTP 429", status=429, retry_after=7200))
    await poll(service(store, fetcher, parser, clock), clock, 0)
    stored = await store.get_feed(feed.id)
    assert stored is not None and 7200 <= stored.next_poll_at - clock.now <= 7200 * 1.1


async def test_success_resets_failures_and_honours_ttl(store, fetcher, parser, clock) -> None:
    feed = await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    same = ok(body(item(1), ttl=2 * HOUR))
    fetcher.then(URL, FetchError("HTTP 502", status=502), same, same)
    await poll(svc, clock, 0)
    await poll(svc, clock, advance=HOUR)
    stored = await store.get_feed(feed.id)
    assert stored is not None and stored.failures == 0 and stored.last_error is None
    assert 2 * HOUR <= stored.next_poll_at - clock.now <= 2.2 * HOUR
    await poll(svc, clock, advance=3 * HOUR)  # unchanged body: the stored ttl still holds
    stored = await store.get_feed(feed.id)
    assert stored is not None and stored.next_poll_at - clock.now >= 2 * HOUR


async def test_permanent_redirect_moves_the_feed_once_it_persists(store, fetcher, parser, clock) -> None:
    feed = await store.add_feed(URL, now=clock.now)
    svc = service(store, fetcher, parser, clock)
    new_url = "https://news.example/new-feed.xml"
    moved = ok(body(item(1)), url=new_url, permanent_redirect=new_url)
    fetcher.then(URL, moved, moved)
    await poll(svc, clock, 0)
    assert (await store.get_feed(feed.id)).url == URL  # type: ignore[union-attr]
    await poll(svc, clock)
    assert (await store.get_feed(feed.id)).url == new_url  # type: ignore[union-attr]
    assert [e.kind for e in await store.unannounced_events()] == ["feed_moved"]


async def test_no_feed_is_polled_twice_at_once_and_leases_clear_on_restart(store, fetcher, parser, clock) -> None:
    await store.add_feed(URL, now=clock.now)
    claimed = await store.claim_due_feeds(clock.now, 300, 10)
    assert len(claimed) == 1
    assert await store.claim_due_feeds(clock.now, 300, 10) == []  # leased: a second poller gets nothing
    # the process dies mid-poll; on restart the lease is cleared and the feed is due at once
    await store.clear_leases()
    assert len(await store.claim_due_feeds(clock.now, 300, 10)) == 1


async def test_one_broken_feed_does_not_stop_the_others(store, fetcher, parser, clock) -> None:
    other = "https://other.example/rss"
    await store.add_feed(URL, now=clock.now)
    await store.add_feed(other, now=clock.now)

    async def explode(*args: object, **kwargs: object) -> FetchResult:
        raise RuntimeError("boom")

    fetcher.then(other, ok(body(item(9))))
    svc = service(store, fetcher, parser, clock)
    original = fetcher.fetch

    async def fetch(url: str, **kw: object) -> FetchResult:
        return await (explode() if url == URL else original(url, **kw))  # type: ignore[arg-type]

    svc.fetcher = type("F", (), {"fetch": staticmethod(fetch)})()
    report = await svc.run_cycle()
    statuses = sorted(o.status.value for o in report.outcomes)
    assert statuses == ["failed", "parsed"]
    failed = next(o for o in report.outcomes if o.status is PollStatus.FAILED)
    assert failed.error == "internal error: RuntimeError"


async def test_a_parse_cancelled_under_the_poll_costs_one_poll_not_the_cycle(store, fetcher, parser, clock) -> None:
    import asyncio

    await store.add_feed(URL, now=clock.now)
    fetcher.then(URL, ok(body(item(1))))

    class TornDownPool:
        async def parse(self, data: bytes, *, url: str, content_type: str = "") -> ParsedFeed:
            raise asyncio.CancelledError  # the pool's future was cancelled, not this task

    svc = service(store, fetcher, parser, clock)
    svc.parser = TornDownPool()
    report = await svc.run_cycle()
    assert [o.status for o in report.outcomes] == [PollStatus.FAILED]
    assert report.outcomes[0].error == "the parse was interrupted"
