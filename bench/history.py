"""History benchmark (issue 14): the 500-feed set's initial entries turned into history, and the
posting latency of a fresh item meanwhile.

    .venv/bin/python bench/history.py [--feeds 500] [--seed 1] [--config examples/ai-news.toml]

What it does:

1. starts `bench/feedgen.py serve` in a separate process (as `bench/ingest.py` does), subscribes
   every feed as a config feed in a fresh SQLiteStore in a temp dir, and runs one
   `IngestService.run_cycle()` with the real Fetcher and FeedParser: a config feed's first poll
   stores every entry as *seen*, that is as history (nothing is released);
2. builds the services as the bot does (`Services.build`: the real EnrichService with the
   settings' defaults -- or the topics and entities of `--config` -- offline cards, and the real
   Outbox with `bot.offline.recorder.RecordingPublisher`, wired enrich `on_changes` → outbox
   routing and ingest `on_released` → enrich wake-up), then runs `enrich.run_forever` and
   `outbox.run_forever` as tasks until `history_left()` is 0: entries/s over the whole build
   (history entries / seconds from the loop's start to the end of the last history batch), the
   batches (entries, seconds, and where they go: reads, planning, apply_story_plan, cards), the
   candidate stories each gives the planner, the stories made, and the event loop's lag
   (`bench/ingest.py`'s Monitor: a 10 ms sleeper) with the CPU of this process (by thread), its
   children and every other process;
3. meanwhile, every `--interval` seconds (1 s), releases one fresh entry in a followed feed the way
   ingest does (`record_poll` with the entry pending, released in the same transaction, then
   `on_released`), and times it from the release's commit until the outbox has sent (or, for an
   entry that joined a posted story, edited) its story's card, split into enrich (until its story
   is handed to the outbox) and outbox. Its date is just after the newest entry of the feed set
   (the set's "now"), so it is clustered against the recent history, as a fresh item is in a bot
   that just followed these feeds; its words are made up, so it starts a story of its own and is
   posted. Each goes to one of 8 channels (a route per channel, by an include keyword in its
   title) so Discord's per-channel pace (5 per 5 s) never holds one back;
4. once the history is built, the same procedure (`--baseline-items`, default as many as during
   the build, at least 30) with no history waiting: the baseline, and the ratio of the
   latencies (during the build ÷ baseline);
5. prints a table and writes the same figures as JSON to bench/out/history-<timestamp>.json.

The bench only watches: `run_once`, the planner, `_write_cards`, `on_changes` and the store's
`history_entries`, `released_entries`, `list_feeds`, `story_features_since`, `story_scopes` and
`apply_story_plan` are wrapped on their instances to time them; nothing they do changes. No
wall-clock goal is asserted: the issue asks for the figures ("as fast as before" is the ratio).
Exit status: 0 when the build finished and every fresh item was posted, 1 otherwise, 2 when the
ingest cycle did not store the whole feed set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (str(REPO), str(BENCH)):
    if _path not in sys.path:  # run as a script from anywhere: `bot`, `feedgen` and `ingest` import
        sys.path.insert(0, _path)

import feedgen  # noqa: E402
import ingest as ingest_bench  # noqa: E402 -- FeedServer, Monitor, percentile, table, machine, CPU helpers

from bot.adapters.store import SQLiteStore  # noqa: E402
from bot.config import Settings, parse_settings  # noqa: E402
from bot.config.loader import load_settings  # noqa: E402
from bot.core.cards import Card  # noqa: E402
from bot.core.dedup import Decision, EntryState, NewEntry  # noqa: E402
from bot.core.identity import content_hash, entry_key, normalize_link  # noqa: E402
from bot.core.polls import PollRecord  # noqa: E402
from bot.core.routing import Route, RouteOrigin  # noqa: E402
from bot.core.types import FeedOrigin, ParsedEntry  # noqa: E402
from bot.offline.recorder import RecordingPublisher  # noqa: E402
from bot.services import enrich as enrich_module  # noqa: E402
from bot.services.enrich import HISTORY_BATCH, EnrichService, StoryChange  # noqa: E402
from bot.services.wiring import Services  # noqa: E402

CHANNELS = 8  # fresh items are spread over this many channels: 1 per 8 s each, far below 5 per 5 s
GUILD = 1
CHANNEL0 = 1000
SEND_TIMEOUT = 60.0  # seconds to wait, after the last release of a phase, for its cards to be sent
DISTURBED_SHARE = ingest_bench.DISTURBED_SHARE
MB = ingest_bench.MB
ms = 1000.0

log = logging.getLogger("bench.history")


def now_mono() -> float:
    return time.perf_counter()


# ------------------------------------------------------------------------------------------
# Watching the enrich loop (instance wrappers: they time, and change nothing)


# where a batch's time goes (the rest: other reads and the loop's own work), and what each part is
PART_NAMES = {
    "released": "released_entries",
    "take": "history_entries",
    "feeds": "list_feeds",
    "features": "story_features_since + story_scopes",
    "plan": "planning (in a thread)",
    "apply": "apply_story_plan",
    "cards": "writing the cards",
}
PARTS = tuple(PART_NAMES)


@dataclass(slots=True)
class Batch:
    """One `EnrichService.run_once`."""

    start: float
    end: float = 0.0
    released: int = 0  # released entries taken (news)
    history: int = 0  # history entries taken
    history_asked: bool = False  # run_once looked for history (no released entry waited)
    candidates: int = 0  # stories story_features_since handed to the planner
    # seconds in: released_entries, history_entries, list_feeds, story_features_since + story_scopes, the
    # planner (in its thread), apply_story_plan, _write_cards
    parts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PARTS, 0.0))

    @property
    def seconds(self) -> float:
        return self.end - self.start


class Instruments:
    """Times every `run_once` of `enrich` and its parts, and notices when the history is built."""

    def __init__(self, enrich: EnrichService, store: SQLiteStore) -> None:
        self.batches: list[Batch] = []
        self.current: Batch | None = None
        self.built = asyncio.Event()  # a run_once looked for history and found none
        self.carded: dict[int, float] = {}  # story id -> when enrich first handed it to the outbox
        run_once, planner = enrich.run_once, enrich.planner
        history_entries, released_entries = store.history_entries, store.released_entries

        async def timed_run_once() -> list[StoryChange]:
            batch = self.current = Batch(now_mono())
            try:
                return await run_once()
            finally:
                batch.end = now_mono()
                self.batches.append(batch)
                self.current = None
                if batch.history_asked and not batch.history:
                    self.built.set()

        def timed_planner(*args: Any, **kwargs: Any) -> Any:  # runs in a worker thread
            started = now_mono()
            try:
                return planner(*args, **kwargs)
            finally:
                self._add("plan", now_mono() - started)

        async def counted_history(*args: Any, **kwargs: Any) -> Any:
            found = await history_entries(*args, **kwargs)
            if self.current is not None:
                self.current.history_asked = True
                self.current.history += len(found)
            return found

        async def counted_released(*args: Any, **kwargs: Any) -> Any:
            found = await released_entries(*args, **kwargs)
            if self.current is not None:
                self.current.released += len(found)
            return found

        enrich.run_once = timed_run_once  # type: ignore[method-assign]
        enrich.planner = timed_planner
        store.history_entries = counted_history  # type: ignore[method-assign]
        store.released_entries = counted_released  # type: ignore[method-assign]
        self._time(store, "history_entries", "take")
        self._time(store, "released_entries", "released")
        self._time(store, "list_feeds", "feeds")
        self._time(enrich, "_write_cards", "cards")
        self._time(store, "story_features_since", "features", count=True)
        self._time(store, "story_scopes", "features")
        self._time(store, "apply_story_plan", "apply")

        on_changes = enrich.on_changes
        assert on_changes is not None, "Services.build wires enrich to the outbox"

        async def timed_on_changes(changes: list[StoryChange]) -> None:
            at = now_mono()
            for change in changes:
                self.carded.setdefault(change.story_id, at)
            await on_changes(changes)

        enrich.on_changes = timed_on_changes

    def _add(self, part: str, seconds: float) -> None:
        if self.current is not None:
            self.current.parts[part] += seconds

    def _time(self, owner: object, method: str, part: str, *, count: bool = False) -> None:
        """Wrap the coroutine method `method` of the instance `owner` to add its time to `part` (and,
        with `count`, the length of its result to the batch's candidates)."""
        wrapped = getattr(owner, method)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = now_mono()
            try:
                found = await wrapped(*args, **kwargs)
                if count and self.current is not None:
                    self.current.candidates += len(found)
                return found
            finally:
                self._add(part, now_mono() - started)

        setattr(owner, method, timed)

    def history_batches(self, since: float, until: float) -> list[Batch]:
        return [b for b in self.batches if b.history and since <= b.start < until]

    def history_running_at(self, at: float) -> Batch | None:
        """The (finished) history batch that was running at `at`, if any."""
        return next((b for b in reversed(self.batches) if b.history and b.start <= at < b.end), None)


class TimedPublisher(RecordingPublisher):
    """RecordingPublisher that also notes when each story's card was sent or edited (monotonic)."""

    def __init__(self) -> None:
        super().__init__(clock=time.time)
        self.delivered: dict[int, list[tuple[float, str, int]]] = defaultdict(list)  # story -> (t, what, channel)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        message_id = await super().send_card(channel_id, card, nonce=nonce, roles=roles)
        self.delivered[card.story_id].append((now_mono(), "sent", channel_id))
        return message_id

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        await super().edit_card(channel_id, message_id, card)
        self.delivered[card.story_id].append((now_mono(), "edited", channel_id))


# ------------------------------------------------------------------------------------------
# Fresh items


def tag(channel: int) -> str:
    return f"wbchan{channel}"


@dataclass(slots=True)
class Fresh:
    phase: str
    serial: int
    feed_id: int
    channel: int
    asked: float  # before record_poll
    released: float = 0.0  # record_poll returned: the release is committed
    entry_id: int = 0
    history_running: bool = False  # a history batch was running at the release
    history_left_s: float = 0.0  # ... and it had this long still to go
    story_id: int | None = None
    carded: float | None = None  # enrich handed its story to the outbox
    delivered: float | None = None  # its card was sent (or the post showing its story edited)
    how: str = ""  # "sent", "edited" (it joined a story already posted), or "" (never)

    @property
    def write_s(self) -> float:
        return self.released - self.asked

    @property
    def latency_s(self) -> float | None:
        return None if self.delivered is None else self.delivered - self.released

    @property
    def enrich_s(self) -> float | None:
        return None if self.carded is None else self.carded - self.released


class FreshItems:
    """Releases one fresh entry at a time, as ingest would, and finds out when its card went out."""

    def __init__(self, services: Services, feed_ids: list[int], seed: int, date0: float,
                 instruments: Instruments, publisher: TimedPublisher, db_path: Path) -> None:  # fmt: skip
        self.services = services
        self.store = services.store
        self.feed_ids = feed_ids
        self.rng = random.Random(seed)
        self.date0 = date0
        self.started = now_mono()
        self.instruments = instruments
        self.publisher = publisher
        self.db_path = db_path
        self.items: list[Fresh] = []

    def words(self, n: int) -> str:
        """`n` made-up words: a fresh item is about something new, so it starts a story of its own."""
        return " ".join(
            "".join(self.rng.choice("bdfgklmnprstvz") + self.rng.choice("aeiou") for _ in range(self.rng.randint(2, 4)))
            for _ in range(n)
        )

    def name(self) -> str:
        return self.words(2).title()

    async def release_one(self, phase: str) -> Fresh:
        serial = len(self.items) + 1
        channel = serial % CHANNELS
        feed_id = self.rng.choice(self.feed_ids)
        published = self.date0 + (now_mono() - self.started)  # the feed set's "now", moving on
        title = f"{self.name()} {self.words(5)} ({tag(channel)}, {serial})"
        text = " ".join(f"{self.name()} {self.words(self.rng.randint(8, 14))}." for _ in range(3))
        entry = ParsedEntry(f"bench-fresh-{serial}", f"https://fresh.example/{phase}/{serial}", title,
                            summary=text, published=published)  # fmt: skip
        new = NewEntry(entry, entry_key(entry), normalize_link(entry.link), content_hash(entry), published,
                       EntryState.PENDING)  # fmt: skip
        wall = time.time()
        polling = self.services.settings.polling
        record = PollRecord(now=wall, status=200, next_poll_at=wall + polling.interval_seconds,
                            max_new=polling.max_new_per_poll, decision=Decision(new=[new]))  # fmt: skip
        item = Fresh(phase, serial, feed_id, CHANNEL0 + channel, asked=now_mono())
        released = await self.store.record_poll(feed_id, record)
        item.released = now_mono()
        if len(released) != 1:
            raise RuntimeError(f"releasing a fresh entry released {released} (expected one entry)")
        item.entry_id = released[0]
        self.items.append(item)
        on_released = self.services.ingest.on_released
        assert on_released is not None, "Services.build wires ingest to enrich"
        await on_released(released)  # what ingest does: wake the enrich loop
        return item

    async def run(self, phase: str, interval: float, *, until: asyncio.Event | None = None,
                  count: int | None = None) -> list[Fresh]:  # fmt: skip
        """Release one every `interval` seconds until `until` is set or `count` are out."""
        out: list[Fresh] = []
        next_at = now_mono()
        while (until is None or not until.is_set()) and (count is None or len(out) < count):
            out.append(await self.release_one(phase))
            next_at += interval
            delay = max(0.0, next_at - now_mono())
            if until is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(until.wait(), delay)
            else:
                await asyncio.sleep(delay)
        return out

    async def settle(self, items: list[Fresh], timeout: float) -> None:
        """Wait until each item's story has been delivered after its release (or the timeout)."""
        deadline = now_mono() + timeout
        while True:
            await self._resolve(items)
            if all(i.delivered is not None for i in items) or now_mono() > deadline:
                break
            await asyncio.sleep(0.2)
        for item in items:  # the batches have ended by now
            running = self.instruments.history_running_at(item.released)
            if running is not None:
                item.history_running, item.history_left_s = True, running.end - item.released

    async def _resolve(self, items: list[Fresh]) -> None:
        todo = [i for i in items if i.delivered is None]
        if not todo:
            return
        stories = await asyncio.to_thread(self._story_ids, [i.entry_id for i in todo])
        for item in todo:
            item.story_id = stories.get(item.entry_id)
            if item.story_id is None:
                continue
            carded = self.instruments.carded.get(item.story_id)
            item.carded = carded if carded is not None and carded >= item.released else item.carded
            for at, how, _channel in self.publisher.delivered.get(item.story_id, []):
                if at >= item.released:
                    item.delivered, item.how = at, how
                    break

    def _story_ids(self, entry_ids: list[int]) -> dict[int, int]:
        """entry id -> story id, read on a connection of its own (WAL: the bot's writes go on)."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as db:
            marks = ",".join("?" * len(entry_ids))
            rows = db.execute(f"SELECT id, story_id FROM entries WHERE id IN ({marks})", entry_ids).fetchall()  # noqa: S608
        return {int(e): int(s) for e, s in rows if s is not None}


# ------------------------------------------------------------------------------------------
# CPU by thread


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's threads, by role: the event loop (the main thread),
    aiosqlite's connection thread, asyncio's to_thread workers, and any other thread."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    me = os.getpid()
    roles: dict[str, float] = defaultdict(float)
    with contextlib.suppress(OSError):
        for tid in (int(t) for t in os.listdir(f"/proc/{me}/task")):
            name = names.get(tid, "")
            if tid == me:
                role = "event loop"
            elif "_connection_worker_thread" in name:
                role = "sqlite"
            elif name.startswith("asyncio_"):
                role = "to_thread"
            else:
                role = "other"
            roles[role] += ingest_bench._cpu_seconds(me, tid)
    return dict(roles)


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in sorted(set(before) | set(after))}


# ------------------------------------------------------------------------------------------
# Phases


@dataclass(slots=True)
class Phase:
    """What the monitor saw during one phase, plus its fresh items."""

    name: str
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: int
    peak_rss_mb: float
    cpu_main_s: float
    cpu_children_s: float
    cpu_server_s: float
    cpu_others_s: float
    threads: dict[str, float]
    fresh: list[Fresh] = field(default_factory=list)

    @property
    def others_share(self) -> float:
        cores = os.cpu_count() or 1
        return self.cpu_others_s / (cores * self.seconds) if self.seconds else 0.0

    @property
    def disturbed(self) -> bool:
        return self.others_share > DISTURBED_SHARE

    def latencies(self) -> list[float]:
        return [i.latency_s for i in self.fresh if i.latency_s is not None]


def close_phase(name: str, monitor: ingest_bench.Monitor, started: float, threads0: dict[str, float]) -> Phase:
    seconds = now_mono() - started
    window = monitor.close()
    lags = window.lags_ms
    return Phase(
        name=name, seconds=seconds,
        lag_p50_ms=ingest_bench.percentile(lags, 50), lag_p99_ms=ingest_bench.percentile(lags, 99),
        lag_max_ms=max(lags, default=0.0), lag_samples=len(lags), peak_rss_mb=window.peak_rss / MB,
        cpu_main_s=window.cpu_main, cpu_children_s=window.cpu_children, cpu_server_s=window.cpu_server,
        cpu_others_s=window.cpu_others, threads=cpu_delta(threads0, thread_cpu()),
    )  # fmt: skip


def make_settings(args: argparse.Namespace) -> Settings:
    """The defaults (or the topics and entities of --config); polling as bench/ingest.py sets it."""
    polling = {"concurrency": args.concurrency, "per_host": args.concurrency}  # one host: see bench/README.md
    if args.config is None:
        return parse_settings({"polling": polling})
    loaded = load_settings(args.config)
    return replace(parse_settings({"polling": polling}), topics=loaded.topics, entities=loaded.entities)


async def until_first(done: asyncio.Event, tasks: Iterable[asyncio.Task[Any]], timeout: float) -> str:
    """Wait for `done`, unless a task ends first (a crash) or the timeout passes; what happened."""
    waiter = asyncio.ensure_future(done.wait())
    finished, _ = await asyncio.wait({waiter, *tasks}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    if waiter in finished:
        return ""
    waiter.cancel()
    for task in finished:
        exc = task.exception()
        return f"a loop stopped: {type(exc).__name__}: {exc}" if exc else "a loop stopped"
    return f"timed out after {timeout:.0f} s"


async def run_bench(server: ingest_bench.FeedServer, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    settings = make_settings(args)
    db_path = tmp / "wirebrief.db"
    store = await SQLiteStore.open(db_path)
    wall = time.time()
    for item in server.manifest:
        await store.add_feed(server.url(item["path"]), now=wall, origin=FeedOrigin.CONFIG)
    for c in range(CHANNELS):  # every fresh item goes to exactly one channel, by its tag
        await store.add_route(Route(GUILD, "*", CHANNEL0 + c, include_keywords=(tag(c),), origin=RouteOrigin.CONFIG),
                              wall)  # fmt: skip
    publisher = TimedPublisher()
    services = Services.build(settings, store, publisher)
    monitor = ingest_bench.Monitor(server.pid)
    monitor.start()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    injector: asyncio.Task[list[Fresh]] | None = None
    out: dict[str, Any] = {"settings": {"topics": len(settings.topics), "entities": len(settings.entities),
                                        "config": str(args.config) if args.config else None,
                                        "history_batch": HISTORY_BATCH, "enrich_batch": services.enrich.batch_size,
                                        "history_chunk": enrich_module.HISTORY_CHUNK,
                                        "news_grace": enrich_module.NEWS_GRACE,
                                        "max_new_per_poll": settings.polling.max_new_per_poll}}  # fmt: skip
    try:
        # 1. one ingest cycle: every entry stored as seen
        await ingest_bench._warm_up(services.parser, os.cpu_count() or 1)
        monitor.open()
        started, threads0 = now_mono(), thread_cpu()
        report = await services.ingest.run_cycle()
        ingest = close_phase("ingest", monitor, started, threads0)
        statuses = dict(Counter(o.status.value for o in report.outcomes))
        history_total = await store.history_left()
        expected = sum(int(f["entries"]) for f in server.manifest)
        out["ingest"] = asdict(ingest) | {"statuses": statuses, "new_entries": report.new_entries,
                                          "released": report.released, "history_left": history_total,
                                          "feed_set_entries": expected}  # fmt: skip
        print(f"  ingest: {len(report.outcomes)} feeds in {ingest.seconds:.1f} s, {report.new_entries} entries "
              f"stored, {report.released} released; history to build: {history_total}", flush=True)  # fmt: skip
        if history_total != expected or report.released:
            out["problem"] = f"the ingest cycle left {history_total} history entries (the set has {expected})"
            return out
        feed_ids = [f.id for f in await store.list_feeds()]

        # 2 + 3. the history build, with a fresh item every interval
        enrich = services.enrich
        await enrich.start()
        instruments = Instruments(enrich, store)
        fresh = FreshItems(services, feed_ids, args.seed, feedgen.EPOCH.timestamp(), instruments, publisher, db_path)
        monitor.open()
        started, threads0 = now_mono(), thread_cpu()
        tasks += [asyncio.create_task(enrich.run_forever(stop), name="enrich"),
                  asyncio.create_task(services.outbox.run_forever(stop), name="outbox")]  # fmt: skip
        injector = asyncio.create_task(fresh.run("build", args.interval, until=instruments.built))
        tasks.append(injector)
        why = await until_first(instruments.built, tasks, args.timeout)
        build = close_phase("build", monitor, started, threads0)  # the lag and CPU of the build alone
        built_at = max((b.end for b in instruments.batches if b.history), default=started)
        tasks.remove(injector)
        during = [] if why else await injector
        if not why:
            await fresh.settle(during, SEND_TIMEOUT)
        build.fresh = during
        left = await store.history_left()
        batches = instruments.history_batches(started, built_at + 1)
        build_s = built_at - started
        out["build"] = asdict(build) | {
            "history_entries": history_total, "history_left": left, "build_seconds": build_s,
            "entries_per_s": (history_total - left) / build_s if build_s > 0 else 0.0,
            "batches": len(batches), "batch_entries": [b.history for b in batches],
            "batch_seconds": [round(b.seconds, 4) for b in batches],
            "batch_parts_seconds": {k: [round(b.parts[k], 4) for b in batches] for k in PARTS},
            "batch_candidates": [b.candidates for b in batches],
            "news_batches": [asdict(b) for b in instruments.batches if b.released and started <= b.start],
            "problem": why,
        }  # fmt: skip
        print(f"  history: {history_total - left} entries in {build_s:.1f} s, {len(batches)} batches; "
              f"{len(during)} fresh items released meanwhile", flush=True)  # fmt: skip
        if why:
            return out

        # 4. the baseline: no history waiting
        count = args.baseline_items or max(30, len(during))
        monitor.open()
        started, threads0 = now_mono(), thread_cpu()
        quiet = await fresh.run("baseline", args.interval, count=count)
        await fresh.settle(quiet, SEND_TIMEOUT)
        baseline = close_phase("baseline", monitor, started, threads0)
        baseline.fresh = quiet
        out["baseline"] = asdict(baseline) | {
            "news_batches": [asdict(b) for b in instruments.batches if b.released and started <= b.start]
        }
        print(f"  baseline: {len(quiet)} fresh items with no history waiting", flush=True)

        out["stories"] = await asyncio.to_thread(story_counts, db_path)
        fresh_urls = {f"https://fresh.example/{i.phase}/{i.serial}" for i in fresh.items}
        fresh_stories = {i.story_id for i in fresh.items}
        out["posted_not_fresh"] = sum(
            1 for p in publisher.posts.values() if p.card.url not in fresh_urls and p.card.story_id not in fresh_stories
        )
        out["posts"] = len(publisher.posts)
    finally:
        stop.set()
        if injector is not None and not injector.done():
            injector.cancel()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        await monitor.stop()
        await services.close()
        await store.close()
    return out


def story_counts(db_path: Path) -> dict[str, float]:
    """How many stories the build made, and how big they got."""
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        history, news, multi, cards, signature, biggest = db.execute(
            "SELECT sum(announced_at IS NULL), sum(announced_at IS NOT NULL), sum(source_count > 1),"
            " count(card), avg(length(signature)), max(length(signature)) FROM stories"
        ).fetchone()
        entries, most = db.execute(
            "SELECT avg(n), max(n) FROM"
            " (SELECT count(*) AS n FROM entries WHERE story_id IS NOT NULL GROUP BY story_id)"
        ).fetchone()
        mentions, entities = db.execute(
            "SELECT (SELECT count(*) FROM entity_mentions), (SELECT count(*) FROM entities)"
        ).fetchone()
    counts = {"history": history, "news": news, "multi_source": multi, "cards": cards, "max_entries": most,
              "max_signature_chars": biggest, "entity_mentions": mentions, "entities": entities}  # fmt: skip
    return {k: int(v or 0) for k, v in counts.items()} | {
        "mean_entries": round(entries or 0.0, 2), "mean_signature_chars": round(signature or 0.0)
    }  # fmt: skip


# ------------------------------------------------------------------------------------------
# Report


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value * ms:.0f}"


def spread(values: list[float]) -> tuple[float | None, float | None, float | None]:
    if not values:
        return None, None, None
    return ingest_bench.percentile(values, 50), ingest_bench.percentile(values, 99), max(values)


def three(values: list[float]) -> dict[str, float | None]:
    p50, p99, top = spread(values)
    return {"p50": p50, "p99": p99, "max": top}


def summarize(data: dict[str, Any], build: Phase, baseline: Phase) -> dict[str, Any]:
    """The headline figures (also stored in the JSON)."""
    during, quiet = build.latencies(), baseline.latencies()
    b50, b99, bmax = spread(during)
    q50, q99, qmax = spread(quiet)
    behind = [i for i in build.fresh if i.history_running]
    enrich_during = [i.enrich_s for i in build.fresh if i.enrich_s is not None]
    enrich_quiet = [i.enrich_s for i in baseline.fresh if i.enrich_s is not None]
    return {
        "latency_build": {"p50": b50, "p99": b99, "max": bmax, "n": len(during), "of": len(build.fresh)},
        "latency_baseline": {"p50": q50, "p99": q99, "max": qmax, "n": len(quiet), "of": len(baseline.fresh)},
        "ratio_p50": b50 / q50 if b50 and q50 else None,
        "ratio_p99": b99 / q99 if b99 and q99 else None,
        "enrich_build": three(enrich_during),
        "enrich_baseline": three(enrich_quiet),
        "outbox_build": three([i.delivered - i.carded for i in build.fresh if i.delivered and i.carded]),
        "outbox_baseline": three([i.delivered - i.carded for i in baseline.fresh if i.delivered and i.carded]),
        "released_during_a_history_batch": len(behind),
        "history_left_at_release": three([i.history_left_s for i in behind]),
        "release_write_build": three([i.write_s for i in build.fresh]),
        "release_write_baseline": three([i.write_s for i in baseline.fresh]),
        "joined_a_posted_story": sum(i.how == "edited" for i in build.fresh + baseline.fresh),
        "never_delivered": sum(i.delivered is None for i in build.fresh + baseline.fresh),
    }


def phase_of(raw: dict[str, Any]) -> Phase:
    fields = {k: v for k, v in raw.items() if k in Phase.__dataclass_fields__}
    fields["fresh"] = [Fresh(**f) for f in raw.get("fresh", [])]
    return Phase(**fields)


def report(args: argparse.Namespace, server: ingest_bench.FeedServer, data: dict[str, Any]) -> dict[str, Any]:
    print()
    entries = sum(int(f["entries"]) for f in server.manifest)
    settings = data.get("settings", {})
    print(f"Feed set: {len(server.manifest)} feeds (seed {args.seed}), {entries} entries, "
          f"{server.total_bytes / MB:.1f} MB. Settings: {settings.get('topics')} topics, "
          f"{settings.get('entities')} entities ({settings.get('config') or 'the defaults'}); "
          f"HISTORY_BATCH {settings.get('history_batch')}, HISTORY_CHUNK {settings.get('history_chunk')}, "
          f"NEWS_GRACE {settings.get('news_grace')} s, offline cards.")  # fmt: skip
    if "problem" in data:
        print(f"NOT RUN: {data['problem']}")
        return data
    build_raw = data["build"]
    if build_raw.get("problem") or "baseline" not in data:
        print(f"BUILD DID NOT FINISH: {build_raw.get('problem')}")
        return data
    build, baseline = phase_of(build_raw), phase_of(data["baseline"])
    s = data["summary"] = summarize(data, build, baseline)
    stories = data["stories"]
    batch_s = build_raw["batch_seconds"]
    rows = [
        ["history entries", f"{build_raw['history_entries']}"],
        ["stories made (history)", f"{stories['history']} ({stories['multi_source']} with 2+ sources; entries per "
                                   f"story: mean {stories['mean_entries']:.1f}, max {stories['max_entries']})"],
        ["entities found / mentions", f"{stories['entities']} / {stories['entity_mentions']}"],
        ["entries/s", f"{build_raw['entries_per_s']:.0f}"],
        ["history build seconds", f"{build_raw['build_seconds']:.1f}"],
        ["history batches", f"{build_raw['batches']} (p50 {ingest_bench.percentile(batch_s, 50) * ms:.0f} ms, "
                            f"p99 {ingest_bench.percentile(batch_s, 99) * ms:.0f} ms, "
                            f"max {max(batch_s, default=0) * ms:.0f} ms)"],
        ["loop lag p50 / p99 / max, build", f"{build.lag_p50_ms:.1f} / {build.lag_p99_ms:.1f} / "
                                            f"{build.lag_max_ms:.1f} ms"],
        ["loop lag p50 / p99 / max, baseline", f"{baseline.lag_p50_ms:.1f} / {baseline.lag_p99_ms:.1f} / "
                                               f"{baseline.lag_max_ms:.1f} ms"],
        ["fresh item p50 / p99 / max, build",
         f"{fmt_ms(s['latency_build']['p50'])} / {fmt_ms(s['latency_build']['p99'])} / "
         f"{fmt_ms(s['latency_build']['max'])} ms ({s['latency_build']['n']} of {s['latency_build']['of']})"],
        ["fresh item p50 / p99 / max, baseline",
         f"{fmt_ms(s['latency_baseline']['p50'])} / {fmt_ms(s['latency_baseline']['p99'])} / "
         f"{fmt_ms(s['latency_baseline']['max'])} ms ({s['latency_baseline']['n']} of "
         f"{s['latency_baseline']['of']})"],
        ["ratio build / baseline", f"p50 {s['ratio_p50'] or 0:.1f}x, p99 {s['ratio_p99'] or 0:.1f}x"],
    ]  # fmt: skip
    print(ingest_bench.table(["figure", "value"], rows))
    print()
    print("Fresh item, split: release → enrich hands its story to the outbox → the card is sent")
    for name in ("build", "baseline"):
        enrich_part, outbox_part = s[f"enrich_{name}"], s[f"outbox_{name}"]
        print(f"  {name:<8}  enrich p50 {fmt_ms(enrich_part['p50'])} / p99 {fmt_ms(enrich_part['p99'])} ms, "
              f"outbox p50 {fmt_ms(outbox_part['p50'])} / p99 {fmt_ms(outbox_part['p99'])} ms")  # fmt: skip
    print(f"  {s['released_during_a_history_batch']} of {len(build.fresh)} released while a history batch ran, "
          f"which still had p50 {fmt_ms(s['history_left_at_release']['p50'])} / max "
          f"{fmt_ms(s['history_left_at_release']['max'])} ms to go")  # fmt: skip
    print(
        f"  the release's own write (record_poll): build p50 {fmt_ms(s['release_write_build']['p50'])} / "
        f"max {fmt_ms(s['release_write_build']['max'])} ms; baseline p50 "
        f"{fmt_ms(s['release_write_baseline']['p50'])} / max {fmt_ms(s['release_write_baseline']['max'])} ms"
    )
    parts = {k: sum(v) for k, v in build_raw["batch_parts_seconds"].items()}
    total = sum(batch_s)
    if total:
        shown = ", ".join(f"{PART_NAMES[k]} {v:.1f} s ({v / total:.0%})" for k, v in parts.items())
        print(f"History batches: {total:.1f} s in all: {shown}, the rest {total - sum(parts.values()):.1f} s")
    news = data["baseline"]["news_batches"]
    print(f"Candidate stories given to the planner: history batch p50 "
          f"{ingest_bench.percentile([float(c) for c in build_raw['batch_candidates']], 50):.0f}, "
          f"max {max(build_raw['batch_candidates'], default=0)}; a fresh item's batch (baseline) p50 "
          f"{ingest_bench.percentile([float(b['candidates']) for b in news], 50):.0f}, taking p50 "
          f"{ingest_bench.percentile([b['end'] - b['start'] for b in news], 50) * ms:.0f} ms")  # fmt: skip
    print(f"Checks: {data['posts']} posts, {data['posted_not_fresh']} of them not a fresh item's story "
          f"(history must never be posted); {s['joined_a_posted_story']} fresh items joined a posted story "
          f"(edited); {s['never_delivered']} never delivered; history left {build_raw['history_left']}.")  # fmt: skip
    cores = os.cpu_count() or 1
    print(f"CPU seconds ({cores} cores = {cores} CPU seconds per second of wall time):")
    for phase in (phase_of(data["ingest"]), build, baseline):
        threads = ", ".join(f"{k} {v:.1f}" for k, v in phase.threads.items())
        print(f"  {phase.name:<8} wall {phase.seconds:6.1f}  main process {phase.cpu_main_s:6.1f} "
              f"({phase.cpu_main_s / phase.seconds:.2f} cores: {threads})  children {phase.cpu_children_s:5.1f}  "
              f"feed server {phase.cpu_server_s:4.1f}  other processes {phase.cpu_others_s:6.1f} "
              f"({phase.others_share:.0%} of the machine)")  # fmt: skip
    disturbed = [p.name for p in (build, baseline) if p.disturbed]
    data["disturbed_phases"] = disturbed
    if disturbed:
        print(f"  WARNING: other processes used more than {DISTURBED_SHARE:.0%} of the machine during "
              f"{', '.join(disturbed)}: those figures are disturbed; run again on a quiet machine.")  # fmt: skip
    return data


def git_state() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {"commit": run("rev-parse", "--short", "HEAD"), "dirty": run("status", "--porcelain").splitlines()}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Wirebrief history benchmark (issue 14).")
    parser.add_argument("--feeds", type=int, default=500, help="how many feeds to serve (default 500)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated feed set (default 1)")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="take the topics and entities of this config file (default: none, the defaults)",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two fresh items (default 1)")
    parser.add_argument(
        "--baseline-items",
        type=int,
        default=0,
        help="fresh items in the baseline (default: as many as during the build, at least 30)",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="polling.concurrency and per_host (default 16)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up on the build after this (s)")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where the JSON goes (default bench/out)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    at_start = ingest_bench.machine()
    code = git_state()  # the code this process imports now (a commit landing during the run is not in it)
    print(f"Serving {args.feeds} generated feeds (seed {args.seed}) from a separate process ...", flush=True)
    server = ingest_bench.FeedServer(args.feeds, args.seed, compress=False)
    try:
        with tempfile.TemporaryDirectory(prefix="wirebrief-history-") as tmp:
            data = asyncio.run(run_bench(server, args, Path(tmp)))
    finally:
        server.stop()
    data = report(args, server, data)
    data = {
        "benchmark": "history (issue 14)",
        "started": started,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "machine": ingest_bench.machine() | {"load_average_at_start": at_start["load_average"]},
        "git": code,
        **data,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"history-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(data, indent=2, default=str))
    print(f"\nJSON: {path}")
    if "problem" in data:
        return 2
    summary = data.get("summary")
    return 0 if summary and not summary["never_delivered"] and not data["build"]["history_left"] else 1


if __name__ == "__main__":
    sys.exit(main())
