"""The ingest pipeline: schedule → fetch → parse → normalize → store.

`IngestService.poll_feed` handles one feed end to end; `run_cycle` polls every feed that is
due; `run_forever` keeps doing that until told to stop, sleeping until the next feed is due.
One feed's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.config import PollingSettings
from bot.core.dedup import Decision, KnownIndex, decide
from bot.core.feedstate import judge_redirect
from bot.core.identity import entry_key, normalize_link
from bot.core.polls import FailureRecord, PollRecord
from bot.core.schedule import judge_failure, next_poll_after_success
from bot.core.types import Feed, FetchResult, ParsedFeed
from bot.errors import FetchError, ParseError, WirebriefError
from bot.services.ports import PollStore
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)

# A claimed feed stays leased this long after its lease was last renewed: a process renews the leases
# of the feeds it still holds every third of it (a poll waiting for a busy host keeps its feed), so a
# crashed process's feeds are free again within one lease (or at its restart, when it is the only one).
MIN_LEASE_SECONDS = 60.0


class FeedFetcher(Protocol):
    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, trusted: bool = True
    ) -> FetchResult: ...


class FeedParser(Protocol):
    async def parse(self, body: bytes, *, url: str, content_type: str = "") -> ParsedFeed: ...


class PollStatus(StrEnum):
    PARSED = "parsed"  # a new body was parsed
    NOT_MODIFIED = "not_modified"  # 304
    UNCHANGED = "unchanged"  # 200 with the same body as last time: not parsed
    FAILED = "failed"
    DISABLED = "disabled"  # failed, and this failure disabled the feed


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed_id: int
    status: PollStatus
    new_entries: int = 0  # stored for the first time (posted or not)
    released: tuple[int, ...] = ()  # entry ids handed on to stories by this poll
    error: str | None = None


@dataclass(slots=True)
class CycleReport:
    started_at: float
    finished_at: float = 0.0
    outcomes: list[PollOutcome] = field(default_factory=list)

    @property
    def new_entries(self) -> int:
        return sum(o.new_entries for o in self.outcomes)

    @property
    def released(self) -> int:
        return sum(len(o.released) for o in self.outcomes)

    @property
    def errors(self) -> int:
        return sum(o.status in (PollStatus.FAILED, PollStatus.DISABLED) for o in self.outcomes)


class IngestService:
    """Polls due feeds and writes what is new; hands released entry ids to `on_released` (called, with
    none, also when only entries stored as seen came: history to build)."""

    def __init__(
        self,
        store: PollStore,
        fetcher: FeedFetcher,
        parser: FeedParser,
        polling: PollingSettings,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        on_released: Callable[[list[int]], Awaitable[None]] | None = None,
        batch_size: int = 1000,
        shared: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.sleep = sleep  # between lease renewals
        self.shared = shared  # other processes may poll from the same database
        self.fetcher = fetcher
        self.parser = parser
        self.polling = polling
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 -- jitter, not security
        self.on_released = on_released
        self.batch_size = batch_size
        self.lease_seconds = max(MIN_LEASE_SECONDS, 3 * polling.timeout_seconds)
        self.last_cycle: CycleReport | None = None
        self.heartbeat: float | None = None  # when the loop last finished looking for due feeds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due feeds now (a feed was added or resumed)."""
        self._wake.set()

    async def poll_feed(self, feed: Feed) -> PollOutcome:
        """Fetch, parse and store one feed; never raises for a feed's own problems."""
        now = self.clock()
        try:
            result = await self.fetcher.fetch(
                feed.url, etag=feed.etag, last_modified=feed.last_modified, trusted=feed.trusted
            )
            return await self._store_result(feed, result, now)
        except (FetchError, ParseError) as exc:
            return await self._fail(feed, now, str(exc), exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being stopped
            # a future cancelled under us (by the fetcher or the parser, not by a stop): this feed fails
            log.warning("feed %d (%s): its fetch or parse was cancelled; it will be retried", feed.id, feed.url)
            return await self._fail(feed, now, "the parse was interrupted", ParseError("interrupted"))
        except Exception as exc:  # a bug must cost one poll of one feed, not the loop
            log.exception("feed %d (%s): unexpected error while polling", feed.id, feed.url)
            return await self._fail(feed, now, f"internal error: {type(exc).__name__}", exc)

    async def _store_result(self, feed: Feed, result: FetchResult, now: float) -> PollOutcome:
        redirect = judge_redirect(result.permanent_redirect, feed.moved_to, feed.moved_count)
        not_modified = result.status == 304
        body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else None
        unchanged = result.body is None or (body_hash == feed.body_hash and feed.subscribed)
        parsed = None if unchanged else await self.parser.parse(
            result.body or b"", url=result.url, content_type=result.content_type
        )  # fmt: skip
        decision = await self._decide(feed, parsed, now) if parsed is not None else None
        ttl = parsed.ttl_seconds if parsed is not None else feed.ttl_seconds
        hints = (ttl, result.max_age_seconds, result.retry_after_seconds)
        record = PollRecord(
            now=now,
            status=result.status,
            next_poll_at=next_poll_after_success(now, self.polling.interval_seconds, hints, self.rng),
            max_new=self.polling.max_new_per_poll,
            # a 304 may omit the validators: the ones we sent still hold
            etag=(result.etag or feed.etag) if not_modified else result.etag,
            last_modified=(result.last_modified or feed.last_modified) if not_modified else result.last_modified,
            body_hash=body_hash,
            title=parsed.title if parsed else None,
            site_url=parsed.site_url if parsed else None,
            ttl_seconds=ttl,
            decision=decision,
            moved_to=redirect.moved_to,
            moved_count=redirect.moved_count,
            move_to=result.permanent_redirect if redirect.move_now else None,
        )
        released = await self.store.record_poll(feed.id, record)
        if parsed is None:
            status = PollStatus.NOT_MODIFIED if result.status == 304 else PollStatus.UNCHANGED
        else:
            status = PollStatus.PARSED
            if parsed.warning:
                log.info("feed %d (%s): parsed with a warning: %s", feed.id, feed.url, parsed.warning)
        new = len(decision.new) if decision else 0
        return PollOutcome(feed.id, status, new_entries=new, released=tuple(released))

    async def _decide(self, feed: Feed, parsed: ParsedFeed, now: float) -> Decision:
        keys = [entry_key(e) for e in parsed.entries]
        links = [link for e in parsed.entries if (link := normalize_link(e.link))]
        known = await self.store.known_entries(feed.id, keys, links)
        return decide(
            parsed.entries,
            KnownIndex.of(known),
            now=now,
            subscribed=feed.subscribed,
            max_age_seconds=self.polling.max_age_hours * 3600,
        )

    async def _fail(self, feed: Feed, now: float, error: str, exc: Exception) -> PollOutcome:
        status = exc.status if isinstance(exc, FetchError) else None
        verdict = judge_failure(
            now=now,
            interval=self.polling.interval_seconds,
            previous_failures=feed.failures,
            max_failures=self.polling.max_failures,
            gone=isinstance(exc, FetchError) and exc.gone,
            retry_after=exc.retry_after if isinstance(exc, FetchError) else None,
            rng=self.rng,
        )
        record = FailureRecord(now, error, status, verdict.failures, verdict.next_poll_at, verdict.disable)
        await self.store.record_failure(feed.id, record)
        if verdict.disable:
            log.warning("feed %d (%s) disabled after %d failures: %s", feed.id, feed.url, verdict.failures, error)
            return PollOutcome(feed.id, PollStatus.DISABLED, error=error)
        log.info("feed %d (%s) failed (%d in a row): %s", feed.id, feed.url, verdict.failures, error)
        return PollOutcome(feed.id, PollStatus.FAILED, error=error)

    async def run_cycle(self) -> CycleReport:
        """Poll every feed due now, concurrently (the fetcher enforces the connection limits).

        Feeds are claimed a few at a time, as polls finish (at most `2 × concurrency` in flight): a
        claimed feed is polled at once, well within its lease however slow the others are, other
        ingest processes share what is due, and a process that dies strands only the few it held."""
        report = CycleReport(started_at=self.clock())
        slots = 2 * self.polling.concurrency  # fetched bodies do not pile up in memory
        running: dict[asyncio.Task[PollOutcome], int] = {}
        held: dict[asyncio.Task[PollOutcome], int] = {}  # the feed each poll under way holds
        renew = asyncio.create_task(self._renew_leases(held), name="ingest-leases")
        outcomes: list[tuple[int, PollOutcome]] = []
        claimed, more = 0, True
        try:
            while True:
                while more and len(running) < slots and claimed < self.batch_size:
                    want = min(slots - len(running), self.batch_size - claimed)
                    feeds = await self.store.claim_due_feeds(self.clock(), self.lease_seconds, want)
                    more = len(feeds) == want
                    for feed in feeds:
                        task = asyncio.create_task(self.poll_feed(feed), name=f"poll-{feed.id}")
                        running[task], held[task] = claimed, feed.id
                        claimed += 1
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    held.pop(task, None)
                    outcomes.append((running.pop(task), task.result()))
        finally:
            renew.cancel()
            for task in running:  # an error, or the loop stopped: the feeds' leases run out
                task.cancel()
        report.outcomes = [outcome for _, outcome in sorted(outcomes, key=lambda pair: pair[0])]
        report.finished_at = self.clock()
        if report.outcomes:
            await self.store.record_cycle(
                report.started_at, report.finished_at, len(report.outcomes), report.new_entries, report.errors
            )
            self.last_cycle = report
            released = [i for o in report.outcomes for i in o.released]
            # entries stored as seen are history to build: the next step is woken for them too
            if (released or report.new_entries) and self.on_released is not None:
                await self.on_released(released)
        return report

    async def _renew_leases(self, held: dict[asyncio.Task[PollOutcome], int]) -> None:
        """Every third of a lease, extend the leases of the feeds still being polled."""
        while True:
            await self.sleep(self.lease_seconds / 3)
            ids = sorted(set(held.values()))
            if ids:
                try:
                    await self.store.renew_leases(ids, self.clock() + self.lease_seconds)
                except WirebriefError as exc:  # the next renewal may do better; a lapse costs a double fetch
                    log.warning("could not renew %d feed leases: %s", len(ids), exc)

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float = 60.0) -> None:
        """Poll due feeds until `stop` is set; sleep until the next feed is due in between."""
        if not self.shared:  # a restart continues where it stopped; with other ingest processes, a crashed
            await self.store.clear_leases()  # one's leases expire instead (one lease at most)
        while not stop.is_set():
            report = await self.run_cycle()
            self.heartbeat = self.clock()
            if report.outcomes:
                log.info(
                    "ingest: %d feeds in %.1f s, %d new entries, %d released, %d errors",
                    len(report.outcomes), report.finished_at - report.started_at,
                    report.new_entries, report.released, report.errors,
                )  # fmt: skip
            due = await self.store.next_due_at()
            delay = idle_seconds if due is None else min(max(due - self.clock(), 0.0), idle_seconds)
            if delay > 0:
                self._wake.clear()
                await wait_any(stop, self._wake, timeout=delay)
