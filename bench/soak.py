"""Soak (issue 7): the real bot, for a long run, against the fake Discord and 300 changing feeds, with faults.

    .venv/bin/python bench/soak.py [--minutes 20] [--feeds 300] [--seed 1] [--fault-rate 0.08]
                                   [--warmup-fraction 0.25] [--interval 30] [--keep]

Not in CI: it runs for --minutes of wall time (20 by default). Run it on a quiet machine: the bot's
loop lag and memory are what it measures, and the report says how much CPU other processes took.

What it does:

1. starts, in this process, the fake Discord of the end-to-end tests (tests/e2e/fake_discord.py) with
   two guilds and seven channels, and a feed server on 127.0.0.1 serving N RSS feeds from memory;
2. starts the real bot as a subprocess, `python -m bot run --config <tmp>/soak.toml --health-port P`
   (the token in DISCORD_TOKEN), pointed at both: every feed is a config feed, four topics are routed
   to the channels (plus one route that takes every topic), polling.interval_seconds = --interval,
   a 5 s fetch timeout, per_host = concurrency (every feed is on one host here). Its log goes to
   <tmp>/bot.log;
3. waits until the bot is connected and every feed is subscribed (its first poll stored: what a feed
   holds then is never posted), then, until the drain, publishes and injects faults:
   - stories, about --stories-per-minute (Poisson): each told by 1 to 4 feeds (wire-like feeds more
     often) within 90 s, with a vocabulary of its own (made-up words and a made-up name) so that
     clustering has one right answer; one in ten has two topics; every few minutes one feed publishes
     a burst of more new items than polling.max_new_per_poll; now and then a published item is edited
     (an update, never a new post). Every body changes on every poll (lastBuildDate), so every poll
     is parsed. A feed lists its newest 40 items, then three old ones that were there from the start;
   - feed faults, each request with probability --fault-rate: a hang past the fetch timeout, 500/502/
     503, 429 with Retry-After (up to one interval), a connection reset, garbage (an HTML error page,
     binary noise, an empty body), a body truncated inside its oldest item (the newer items intact), or
     a slow answer; never more than --max-faults-in-a-row failures in a row for one feed;
   - Discord faults, each message create or edit with the same probability: a 429 (per route, or
     global), 500/502/503 before the message is stored, a 500 *after* it is stored (discord.py retries
     with the same nonce: the fake must see no second message), or a slow answer;
   - gateway faults, about every --gateway-every seconds: a close (4000) the bot resumes from, a dead
     TCP connection, an op 7 RECONNECT, or a failed resume (INVALID_SESSION: the bot identifies anew);
4. drain: the last max(15 % of the run, 4 x interval + 60 s) (or --drain-seconds) publishes nothing
   and injects no fault, so every feed is fetched successfully after its last item appeared and every
   delivery can go out;
5. every --sample-seconds reads the resident memory of the bot's process tree (the bot, the parser's
   forkserver and workers: VmRSS, and PSS, from /proc), the bot's /health JSON (its own event-loop lag,
   bot/ops/looplag.py; the outbox; the gateway), the new lines of the bot's log (ingest cycles, crashed
   loops, errors) and the CPU time of the bot, this process and everything else; prints a progress
   line every minute;
6. stops the bot with SIGTERM, checks what the fake Discord recorded against what was published, and
   reads the bot's database to say why, for any delivery missing or doubled.

Expected deliveries: every story that has at least one published item (all are published before the
drain) is expected once in every channel its topics route to — the union of its topics' routes and
the all-topics route. A channel's messages are mapped to stories by the story number in the card's
link (every item's link carries its story's number), so: one message per (channel, story) = delivered
exactly once; none = missing; two or more = duplicate; a message for a story in a channel it does
not route to = misrouted; a message of no published story (e.g. an entry a damaged body seemed to
hold) = unrequested, a failure too. Edits of a posted message (a source joining the story) are allowed and
counted. Every create of one (channel, story) must carry enforce_nonce and one single nonce. The
bot's database then tells, for a miss, where the story stopped (item never fetched, stored but not
released, released but not clustered, clustered into another story, delivery failed or pending), and
for a duplicate whether clustering split the story or a delivery was sent twice.

Warm-up: the first --warmup-fraction of the run (from the bot's start). The RSS baseline is the median
of the samples of the last minute of warm-up; "peak" is the largest sample after it, "final" the
median of the last minute before the stop. Loop lag is judged on the bot's histogram between the end
of warm-up and the stop (bot/ops/looplag.py: a 10 ms sleeper; p99 as the bound of its bucket).

Goals (issue 7): every expected delivery made, each exactly once; RSS after warm-up (peak and final)
at most 10 % over the baseline; loop lag p99 < 50 ms (fewer than 1 % of the samples over 50 ms);
0 tasks died (a supervised loop crashed, a task's exception never retrieved, an error in a
discord.py background task, or the bot exited before the stop). Also checked: the gateway came back
after every drop, and the bot stopped cleanly (exit 0) on SIGTERM.
Exit status: 0 all goals met; 1 a goal missed; 2 the run is not valid (the bot never got ready or never
subscribed every feed, the health endpoint never answered, or the run was too short to publish).
The temporary directory (config, database, the bot's log) is kept with --keep, and whenever the
exit status is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (REPO, REPO / "tests" / "e2e"):  # `bot`, and the fake Discord of the e2e tests
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from fake_discord import (  # noqa: E402
    DISCORD_EPOCH_MS,
    OP_RECONNECT,
    FakeDiscord,
    FakeMessage,
    Fault,
    GatewayConnection,
    RecordedRequest,
    child_environment,
)

from bot.core.nlp import STOPWORDS, stem  # noqa: E402
from bot.ops.looplag import LoopLagMonitor, lag_between, share_over  # noqa: E402

GOAL_RSS_GROWTH = 0.10
GOAL_LAG_P99_MS = 50.0
GOAL_DEAD_TASKS = 0

TOPICS = {"security": "breach", "markets": "earnings", "space": "launch", "health": "outbreak"}
ALL = "*"
# (guild, channel, topic): the config's routes. Each guild has channels a story may reach twice.
ROUTES = (
    ("Soak Newsroom", "security", "security"),
    ("Soak Newsroom", "markets", "markets"),
    ("Soak Newsroom", "space", "space"),
    ("Soak Newsroom", "all", ALL),
    ("Soak Desk", "tech", "security"),
    ("Soak Desk", "tech", "space"),
    ("Soak Desk", "business", "markets"),
    ("Soak Desk", "health", "health"),
)
FETCH_TIMEOUT = 5.0
MAX_NEW_PER_POLL = 5
KEEP_ITEMS = 40  # a feed lists its newest items, then its old ones
OLD_ITEMS = 3
WIRE_SHARE = 0.10  # the first 10 % of the feeds are wires: 5 x as likely to carry a story
WIRE_WEIGHT = 5.0
SPREAD_SECONDS = 90.0  # the feeds of one story publish it within this long
BURST_EVERY = 180.0  # seconds, on average
UPDATE_EVERY = 20.0
STOP_TIMEOUT = 30.0
READY_TIMEOUT = 60.0
GATEWAY_BACK_TIMEOUT = 60.0
CREATE = re.compile(r"/channels/(?P<channel>\d+)/messages")
MESSAGE = re.compile(r"/channels/(?P<channel>\d+)/messages(?:/\d+)?")
STORY_LINK = re.compile(r"https://(?P<feed>f\d+)\.example/news/s(?P<story>\d+)(?:-\w+)?$")
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) +([\w.]+): (.*)$")
INGEST_LINE = re.compile(r"ingest: (\d+) feeds in [\d.]+ s, (\d+) new entries, (\d+) released, (\d+) errors")
ENRICH_LINE = re.compile(r"enrich: (\d+) stories new, (\d+) updated")
FEED_FAILURES = ("hang", "500", "502", "503", "429", "reset", "garbage")  # each one is a failed poll
FEED_FAULTS = {"hang": 15, "500": 8, "502": 8, "503": 8, "429": 15, "reset": 8, "garbage": 12,
               "truncated": 14, "slow": 12}  # fmt: skip
DISCORD_FAULTS = {"429": 30, "429-global": 5, "500": 15, "502": 10, "503": 15, "500-after-store": 15, "slow": 10}
GATEWAY_FAULTS = {"close-4000": 40, "abort": 30, "reconnect": 15, "invalid-session": 15}


# --------------------------------------------------------------------------------------------
# What is published: stories and the feeds' items


class Vocabulary:
    """Made-up words, every one with a stem of its own: stories that share no word never cluster."""

    CONSONANTS = "bdfgklmnprtvz"
    VOWELS = "aeiou"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        reserved = set(TOPICS.values()) | set(STOPWORDS)
        self._stems = {stem(w) for w in reserved}

    def word(self) -> str:
        while True:
            w = "".join(self.rng.choice(self.CONSONANTS) + self.rng.choice(self.VOWELS) for _ in range(3))
            s = stem(w)
            if s not in self._stems:
                self._stems.add(s)
                return w

    def name(self) -> str:
        return f"{self.word().capitalize()} {self.word().capitalize()}"


@dataclass
class FeedItem:
    guid: str
    title: str
    link: str
    description: str
    published: float  # UNIX seconds
    feed: str
    story: int | None = None  # None: one of the feed's old items
    first_served: float | None = None  # monotonic time of the first successful body that listed it
    updated: bool = False


@dataclass
class Story:
    """One event, told by one or more feeds under words nobody else uses."""

    id: int
    name: str  # a made-up organisation: "Kavoru Temila"
    words: tuple[str, ...]  # six made-up words
    topics: tuple[str, ...]
    kind: str  # "story" or "burst"
    items: list[FeedItem] = field(default_factory=list)

    @property
    def published_at(self) -> float | None:
        return min((i.published for i in self.items), default=None)

    def title(self, variant: int) -> str:
        w = self.words
        picks = ((w[0], w[1], w[2]), (w[1], w[0], w[3]), (w[0], w[2], w[3]), (w[2], w[1], w[0]))[variant % 4]
        keywords = " ".join(TOPICS[t] for t in self.topics)
        return f"{self.name} {keywords} {' '.join(picks)}"

    def description(self) -> str:
        w = self.words
        keywords = " and ".join(TOPICS[t] for t in self.topics)
        return (f"On the record, {self.name} confirmed the {w[0]} {w[1]} {keywords} near {w[2]}. "
                f"The {w[3]} and {w[4]} teams expect {w[5]} soon.")  # fmt: skip


@dataclass
class SoakFeed:
    index: int
    name: str  # the path is /<name>.xml
    title: str
    items: list[FeedItem] = field(default_factory=list)  # newest first, the old ones last
    requests: int = 0
    faults_in_a_row: int = 0

    def publish(self, item: FeedItem) -> None:
        news = [i for i in self.items if i.story is not None]
        old = [i for i in self.items if i.story is None]
        self.items = [item, *news][:KEEP_ITEMS] + old

    def body(self, now: float) -> bytes:
        parts = [
            "<item>"
            f'<guid isPermaLink="false">{escape(i.guid)}</guid>'
            f"<title>{escape(i.title)}</title>"
            f"<link>{escape(i.link)}</link>"
            f"<description>{escape(i.description)}</description>"
            f"<pubDate>{formatdate(i.published, usegmt=True)}</pubDate>"
            "</item>"
            for i in self.items
        ]
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(self.title)}</title><link>https://{self.name}.example/</link>"
            f"<description>{escape(self.title)}</description>"
            f"<lastBuildDate>{formatdate(now, usegmt=True)}</lastBuildDate>" + "".join(parts) + "</channel></rss>"
        ).encode()


def make_feeds(count: int, rng: random.Random, vocabulary: Vocabulary) -> list[SoakFeed]:
    """N feeds, each with three old items (a month old: never posted, and there from the first poll)."""
    feeds = []
    month_ago = time.time() - 30 * 86400
    for n in range(count):
        name = f"f{n:03d}"
        feed = SoakFeed(n, name, f"{vocabulary.word().capitalize()} {'Wire' if n < count * WIRE_SHARE else 'Daily'}")
        for k in range(OLD_ITEMS):
            words = [vocabulary.word() for _ in range(5)]
            feed.items.append(FeedItem(
                guid=f"{name}-old-{k}", title=" ".join(words[:3]).capitalize(),
                link=f"https://{name}.example/archive/{k}",
                description=f"An older piece about {' and '.join(words)}, kept in the feed for reference.",
                published=month_ago - k * 3600 - rng.random() * 600, feed=name,
            ))  # fmt: skip
        feeds.append(feed)
    return feeds


@dataclass(order=True)
class Event:
    at: float  # seconds after publishing starts
    order: int
    kind: str = field(compare=False)  # "item" | "update"
    story: Story | None = field(default=None, compare=False)
    feed: SoakFeed | None = field(default=None, compare=False)
    variant: int = field(default=0, compare=False)


def plan_events(feeds: list[SoakFeed], rng: random.Random, vocabulary: Vocabulary, *, window: float,
                per_minute: float) -> tuple[list[Story], list[Event]]:  # fmt: skip
    """Stories and when each feed publishes its item, over `window` seconds (seeded)."""
    weights = [WIRE_WEIGHT if f.index < len(feeds) * WIRE_SHARE else 1.0 for f in feeds]
    stories: list[Story] = []
    events: list[Event] = []
    order = 0

    def new_story(kind: str) -> Story:
        topics = tuple(rng.sample(sorted(TOPICS), 2 if rng.random() < 0.10 else 1))
        story = Story(len(stories) + 1, vocabulary.name(), tuple(vocabulary.word() for _ in range(6)), topics, kind)
        stories.append(story)
        return story

    t = rng.expovariate(per_minute / 60.0)
    while t < window:
        story = new_story("story")
        count = rng.choices((1, 2, 3, 4), weights=(40, 30, 20, 10))[0]
        chosen: list[SoakFeed] = []
        while len(chosen) < count:
            feed = rng.choices(feeds, weights=weights)[0]
            if feed not in chosen:
                chosen.append(feed)
        for k, feed in enumerate(chosen):
            at = t if k == 0 else t + rng.uniform(5.0, SPREAD_SECONDS)
            if at < window:
                order += 1
                events.append(Event(at, order, "item", story, feed, k))
        t += rng.expovariate(per_minute / 60.0)
    t = rng.expovariate(1 / BURST_EVERY)
    while t < window:
        feed = rng.choice(feeds)
        for _ in range(rng.randint(MAX_NEW_PER_POLL + 1, MAX_NEW_PER_POLL + 4)):
            order += 1
            events.append(Event(t, order, "item", new_story("burst"), feed, 0))
        t += rng.expovariate(1 / BURST_EVERY)
    t = rng.expovariate(1 / UPDATE_EVERY)
    while t < window:
        order += 1
        events.append(Event(t, order, "update"))
        t += rng.expovariate(1 / UPDATE_EVERY)
    return stories, sorted(events)


# --------------------------------------------------------------------------------------------
# The feed server, with its faults


class FeedFarm:
    """Serves the feeds on 127.0.0.1 and, while `faulty`, answers some requests with a fault."""

    def __init__(self, feeds: list[SoakFeed], rng: random.Random, *, rate: float, interval: float,
                 max_in_a_row: int) -> None:  # fmt: skip
        self.feeds = {f.name: f for f in feeds}
        self.rng = rng
        self.rate = rate
        self.interval = interval
        self.max_in_a_row = max_in_a_row
        self.faulty = False
        self.outcomes: Counter[str] = Counter()
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{name}.xml", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def url(self, feed: SoakFeed) -> str:
        return f"{self.base}/{feed.name}.xml"

    def _fault(self, feed: SoakFeed) -> str | None:
        if not self.faulty or self.rng.random() >= self.rate:
            return None
        kind = self.rng.choices(list(FEED_FAULTS), weights=list(FEED_FAULTS.values()))[0]
        if kind in FEED_FAILURES and feed.faults_in_a_row >= self.max_in_a_row:
            return None
        return kind

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds.get(request.match_info["name"])
        if feed is None:
            return web.Response(status=404, text="no such feed")
        feed.requests += 1
        kind = self._fault(feed)
        self.outcomes[kind or "ok"] += 1
        feed.faults_in_a_row = feed.faults_in_a_row + 1 if kind in FEED_FAILURES else 0
        if kind == "hang":
            return await self._hang(request)
        if kind in ("500", "502", "503"):
            return web.Response(status=int(kind), text=f"{kind}: fault injected by the soak")
        if kind == "429":
            retry_after = self.rng.randint(1, max(1, int(self.interval)))
            return web.Response(status=429, text="slow down", headers={"Retry-After": str(retry_after)})
        if kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if kind == "garbage":
            return self._garbage()
        if kind == "slow":
            await asyncio.sleep(self.rng.uniform(0.3, 0.6) * FETCH_TIMEOUT)
        body = feed.body(time.time())
        if kind == "truncated":
            body = self._truncate(body)
        now = time.monotonic()
        for item in feed.items:
            if item.first_served is None:
                item.first_served = now
        return web.Response(body=body, content_type="application/rss+xml", charset="utf-8")

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        """Answer nothing until the fetcher gives up (its timeout), or a while after."""
        deadline = time.monotonic() + FETCH_TIMEOUT + 3.0
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                break
            await asyncio.sleep(0.25)
        return web.Response(status=504, text="too late")

    def _garbage(self) -> web.Response:
        choice = self.rng.randrange(3)
        if choice == 0:
            html = "<!doctype html><html><head><title>503</title></head><body><h1>Maintenance</h1></body></html>"
            return web.Response(text=html, content_type="text/html")
        if choice == 1:
            noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(64, 4096)))
            return web.Response(body=noise, content_type="application/rss+xml")
        return web.Response(body=b"", content_type="application/rss+xml")

    def _truncate(self, body: bytes) -> bytes:
        """The body cut somewhere inside its last item (an old one): every newer item is whole."""
        start = body.rfind(b"<item>")
        end = body.rfind(b"</item>") + len(b"</item>")
        return body[: self.rng.randint(start + 8, end - 1)]


# --------------------------------------------------------------------------------------------
# Discord's faults: message creates and edits, and the gateway


class DiscordChaos:
    """Answers some message creates and edits with a fault, while `faulty` (wraps the fake's one
    entry point for REST requests, as bench/delivery.py does)."""

    def __init__(self, fake: FakeDiscord, rng: random.Random, rate: float) -> None:
        self.rng = rng
        self.rate = rate
        self.faulty = False
        self.injected: Counter[str] = Counter()
        self._respond = fake._respond
        fake._respond = self.respond  # type: ignore[method-assign]

    async def respond(self, record: RecordedRequest) -> web.Response:
        if not (self.faulty and record.method in ("POST", "PATCH") and MESSAGE.fullmatch(record.path)):
            return await self._respond(record)
        if self.rng.random() >= self.rate:
            return await self._respond(record)
        kind = self.rng.choices(list(DISCORD_FAULTS), weights=list(DISCORD_FAULTS.values()))[0]
        self.injected[f"{record.method} {kind}"] += 1
        if kind == "slow":
            await asyncio.sleep(self.rng.uniform(1.0, 3.0))
            return await self._respond(record)
        if kind == "500-after-store":
            await self._respond(record)  # the message is stored; the answer is lost
            return Fault(500).response()
        if kind.startswith("429"):
            retry_after = round(self.rng.uniform(0.2, 2.0), 3)
            return Fault(429, retry_after=retry_after, is_global=kind == "429-global").response()
        return Fault(int(kind)).response()


@dataclass
class GatewayDrop:
    at: float  # seconds since the bot started
    kind: str
    back_seconds: float | None  # None: the bot did not come back in time
    resumed: bool = False


async def gateway_chaos(fake: FakeDiscord, rng: random.Random, every: float, until: float, started: float,
                        drops: list[GatewayDrop]) -> None:  # fmt: skip
    """Drop the gateway connection now and then, and time how long the bot takes to come back."""
    while True:
        await asyncio.sleep(min(rng.expovariate(1 / every), max(0.0, until - time.monotonic())))
        if time.monotonic() >= until:
            return
        old = fake.live_connection
        if old is None or not fake.ready_sent:
            continue
        kind = rng.choices(list(GATEWAY_FAULTS), weights=list(GATEWAY_FAULTS.values()))[0]
        t0 = time.monotonic()
        try:
            if kind == "reconnect":
                await fake.send_op(OP_RECONNECT)
            elif kind == "invalid-session":
                fake.fail_resumes = True
                await fake.drop_gateway(code=4000)
            else:
                await fake.drop_gateway(code=4000, abort=kind == "abort")

            def back(old: GatewayConnection = old) -> GatewayConnection | None:
                conn = fake.live_connection
                return conn if conn is not None and conn is not old and fake.ready_sent else None

            conn = await fake.wait_for(back, GATEWAY_BACK_TIMEOUT)
            drops.append(GatewayDrop(round(t0 - started, 1), kind, round(time.monotonic() - t0, 3),
                                     resumed=conn.resume is not None and conn.identify is None))  # fmt: skip
        except (TimeoutError, RuntimeError):
            drops.append(GatewayDrop(round(t0 - started, 1), kind, None))
        finally:
            fake.fail_resumes = False


# --------------------------------------------------------------------------------------------
# The bot's process tree: memory and CPU from /proc


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int | str) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text.rsplit(")", 1)[1].split()  # fields from the state on (the name may hold spaces)


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children[int(_stat_fields(entry.name)[1])].append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _kb(path: str, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    return 0


@dataclass
class Memory:
    rss_mb: float  # the tree's VmRSS summed (shared pages counted in every process)
    pss_mb: float  # the tree's PSS summed (shared pages split between the processes)
    main_mb: float  # the bot process alone (VmRSS)
    processes: int
    pids: list[int]


def tree_memory(root: int) -> Memory:
    pids = process_tree(root)
    rss = {pid: _kb(f"/proc/{pid}/status", "VmRSS:") for pid in pids}
    pss = sum(_kb(f"/proc/{pid}/smaps_rollup", "Pss:") for pid in pids)
    alive = [pid for pid in pids if rss[pid]]
    return Memory(sum(rss.values()) / 1024, pss / 1024, rss.get(root, 0) / 1024, len(alive), alive)


def cpu_seconds(pids: Iterable[int]) -> float:
    """CPU time of the processes and of their reaped children."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat_fields(pid)
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds every core spent busy since boot (/proc/stat: all but idle and iowait)."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS


# --------------------------------------------------------------------------------------------
# The bot's log


@dataclass
class LogSummary:
    lines: int = 0
    cycles: int = 0
    polls: int = 0
    new_entries: int = 0
    released: int = 0
    poll_errors: int = 0
    stories_new: int = 0
    stories_updated: int = 0
    crashed_loops: Counter[str] = field(default_factory=Counter)
    unretrieved: int = 0  # "Task exception was never retrieved"
    background_errors: int = 0  # discord.py: an exception in an event handler or a background task
    levels: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)  # by template (digits as N)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)  # the first records, with their traces

    @property
    def dead_tasks(self) -> int:
        return sum(self.crashed_loops.values()) + self.unretrieved + self.background_errors


class LogTail:
    """Reads the bot's log as it grows and keeps the figures of `LogSummary`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.summary = LogSummary()
        self._offset = 0
        self._partial = ""
        self._trace: list[str] | None = None  # the error record being collected, with its traceback

    def read(self) -> None:
        with contextlib.suppress(FileNotFoundError), self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        self._offset += len(data)
        lines = (self._partial + data.decode(errors="replace")).split("\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line.rstrip("\r"))

    def close(self) -> None:
        self.read()
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        self._end_trace()

    def _end_trace(self) -> None:
        if self._trace is not None:
            self.summary.error_samples.append("\n".join(self._trace))
            self._trace = None

    def _line(self, line: str) -> None:
        s = self.summary
        s.lines += 1
        record = LOG_RECORD.match(line)
        if record is None:  # a traceback's line, or anything else printed
            if self._trace is not None and len(self._trace) < 40:
                self._trace.append(line)
            return
        self._end_trace()
        level, logger, message = record.groups()
        s.levels[level] += 1
        if match := INGEST_LINE.search(message):
            s.cycles += 1
            s.polls += int(match[1])
            s.new_entries += int(match[2])
            s.released += int(match[3])
            s.poll_errors += int(match[4])
        elif match := ENRICH_LINE.search(message):
            s.stories_new += int(match[1])
            s.stories_updated += int(match[2])
        if logger == "bot.services.supervisor" and (match := re.match(r"(\S+) crashed \(", message)):
            s.crashed_loops[match[1]] += 1
        if "Task exception was never retrieved" in message:
            s.unretrieved += 1
        if (
            logger.startswith("discord")
            and level in ("ERROR", "CRITICAL")
            and ("Ignoring exception" in message or "Unhandled exception" in message)
        ):
            s.background_errors += 1
        template = f"{logger}: {re.sub(r'[0-9]+', 'N', message)[:140]}"
        if level == "WARNING":
            s.warnings[template] += 1
        elif level in ("ERROR", "CRITICAL"):
            s.errors[template] += 1
            if s.errors[template] == 1 and len(s.error_samples) < 8:
                self._trace = [line]


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class Unshown:
    """A posted message that, as last written, lacks sources of its story."""

    channel_id: int
    story: int
    message_id: int
    feeds: list[str]  # the sources it lacks
    published: float  # UNIX seconds: the first of them was published
    requests: list[tuple[float, str, int, bool]]  # (UNIX seconds, method, status, carried every lacking source)


@dataclass
class Sample:
    t: float  # seconds since the bot started
    phase: str
    rss_mb: float
    pss_mb: float
    main_mb: float
    processes: int
    lag_p99_ms: float | None  # the bot's last 60 s
    lag_max_ms: float | None
    outbox_pending: int | None
    gateway_connected: bool | None
    messages: int


@dataclass
class Result:
    args: dict[str, Any]
    feeds: int
    valid: bool = True
    invalid_reason: str = ""
    duration_seconds: float = 0.0
    startup_seconds: float = 0.0  # bot start -> every feed subscribed
    publish_seconds: float = 0.0
    drain_seconds: float = 0.0
    warmup_seconds: float = 0.0
    # what was published
    stories: int = 0
    multi_feed_stories: int = 0
    burst_stories: int = 0
    items: int = 0
    item_updates: int = 0
    items_never_served: int = 0
    # deliveries
    expected: int = 0
    delivered_once: int = 0
    missing: int = 0
    duplicates: int = 0
    misrouted: int = 0
    unparsed_messages: int = 0
    renonced: int = 0  # (channel, story) pairs created under more than one nonce
    no_enforce_nonce: int = 0
    messages: int = 0
    creates: int = 0
    edits: int = 0
    all_sources_shown: str = ""  # "k/n" multi-feed stories whose messages list every source
    latency_p50: float = 0.0
    latency_p95: float = 0.0
    latency_max: float = 0.0
    most_creates_in_5s: int = 0
    delivery_problems: list[str] = field(default_factory=list)
    clustering: dict[str, int] = field(default_factory=dict)
    # faults
    feed_outcomes: dict[str, int] = field(default_factory=dict)
    discord_faults: dict[str, int] = field(default_factory=dict)
    gateway_drops: list[dict[str, Any]] = field(default_factory=list)
    gateway_not_back: int = 0
    # the bot
    rss_baseline_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_final_mb: float = 0.0
    rss_peak_growth: float = 0.0
    rss_final_growth: float = 0.0
    pss_baseline_mb: float = 0.0
    pss_final_mb: float = 0.0
    processes_seen: int = 0
    lag: dict[str, float] = field(default_factory=dict)
    lag_share_over_50ms: float = 0.0
    lag_worst_window_p99_ms: float = 0.0
    harness_lag: dict[str, float] = field(default_factory=dict)
    log: dict[str, Any] = field(default_factory=dict)
    dead_tasks: int = 0
    bot_exited_early: bool = False
    exit_code: int | None = None
    stop_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    load_average: tuple[float, float] = (0.0, 0.0)
    samples: list[dict[str, Any]] = field(default_factory=list)
    goals: dict[str, bool] = field(default_factory=dict)
    tmp_dir: str = ""


def toml_string(value: str) -> str:
    return json.dumps(value)


def write_config(path: Path, fake: FakeDiscord, farm: FeedFarm, feeds: list[SoakFeed], channels: dict[str, int],
                 guilds: dict[str, int], args: argparse.Namespace) -> None:  # fmt: skip
    parts = [
        "[discord]",
        f"api_base = {toml_string(fake.api_base)}",
        f"gateway_url = {toml_string(fake.gateway_url)}",
        f"dev_guild_ids = [{', '.join(str(g) for g in guilds.values())}]",
        "",
        "[storage]",
        f"path = {toml_string(str(path.parent / 'soak.db'))}",
        "",
        "[polling]",
        f"interval_seconds = {args.interval}",
        "concurrency = 16",
        "per_host = 16",
        f"timeout_seconds = {FETCH_TIMEOUT}",
        f"connect_timeout_seconds = {FETCH_TIMEOUT}",
        f"max_new_per_poll = {MAX_NEW_PER_POLL}",
        "max_age_hours = 48",
        "max_failures = 10",
        "",
    ]
    for topic, keyword in TOPICS.items():
        parts += ["[[topics]]", f"name = {toml_string(topic)}", f"keywords = [{toml_string(keyword)}]", ""]
    for feed in feeds:
        parts += ["[[feeds]]", f"url = {toml_string(farm.url(feed))}", f"name = {toml_string(feed.title)}", ""]
    for guild, channel, topic in ROUTES:
        parts += ["[[routes]]", f"guild_id = {guilds[guild]}", f"topic = {toml_string(topic)}",
                  f"channel_id = {channels[f'{guild}#{channel}']}", ""]  # fmt: skip
    path.write_text("\n".join(parts), encoding="utf-8")


def expected_channels(story: Story, channels: dict[str, int]) -> set[int]:
    return {channels[f"{g}#{c}"] for g, c, t in ROUTES if t == ALL or t in story.topics}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query on the bot's database, from this process (WAL: the bot may write on)."""
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return db.execute(sql, params).fetchall()


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def clock_text(seconds: float) -> str:
    return f"{int(seconds // 60):2d}:{int(seconds % 60):02d}"


class Soak:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.duration = args.minutes * 60.0
        self.drain = drain_seconds(args)
        self.warmup = args.warmup_fraction * self.duration
        self.result = Result(args=vars(args) | {"out": str(args.out)}, feeds=args.feeds)
        self.result.drain_seconds = self.drain
        self.result.warmup_seconds = self.warmup
        self.result.tmp_dir = str(tmp)
        vocabulary = Vocabulary(random.Random(f"{args.seed}-words"))
        self.vocabulary = vocabulary
        self.feeds = make_feeds(args.feeds, random.Random(f"{args.seed}-feeds"), vocabulary)
        self.stories: list[Story] = []
        self.samples: list[Sample] = []
        self.health: list[tuple[float, dict[str, Any]]] = []  # (t, JSON)
        self.drops: list[GatewayDrop] = []
        self.updates = 0
        self.harness_lag = LoopLagMonitor()
        self.log = LogTail(tmp / "bot.log")
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.stopped_at = 0.0
        self.pids_seen: set[int] = set()
        self.bot_cpu = 0.0
        self.cpu_start = (0.0, 0.0)  # (machine busy, this process) CPU seconds at the bot's start
        self.cpu_end = (0.0, 0.0)
        self.lag_at_warmup: dict[str, Any] | None = None
        self.lag_at_end: dict[str, Any] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.channel_names: dict[int, str] = {}
        self.missing: list[tuple[int, int]] = []  # (channel, story)
        self.doubled: list[tuple[int, int]] = []
        self.misrouted: list[tuple[int, int]] = []
        self.unshown: list[Unshown] = []

    # ----- helpers

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def phase(self, t: float, publishing: bool) -> str:
        if t >= self.duration - self.drain:
            return "drain"
        if t < self.warmup:
            return "warm-up" if publishing else "start-up"
        return "run"

    async def start_bot(self, fake: FakeDiscord, port: int) -> None:
        config = self.tmp / "soak.toml"
        argv = [sys.executable, "-m", "bot", "run", "--config", str(config), "--health-port", str(port)]
        log = (self.tmp / "bot.log").open("ab")
        try:
            self.process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
                env=child_environment(fake.token), cwd=self.tmp, start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()

    def bot_running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def fetch_health(self, session: aiohttp.ClientSession, port: int) -> dict[str, Any] | None:
        try:
            async with session.get(f"http://127.0.0.1:{port}/health", timeout=aiohttp.ClientTimeout(total=10)) as r:
                body = await r.json()
                return body if isinstance(body, dict) else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    def subscribed(self) -> int:
        with contextlib.suppress(sqlite3.Error):
            rows = read_db(self.tmp / "soak.db", "SELECT count(*) FROM feeds WHERE subscribed = 1")
            return int(rows[0][0]) if rows else 0
        return 0

    # ----- the phases

    async def run(self) -> Result:
        args, result = self.args, self.result
        self.harness_lag.start()
        try:
            async with FakeDiscord() as fake:
                guilds: dict[str, int] = {}
                channels: dict[str, int] = {}
                for guild_name in dict.fromkeys(g for g, _, _ in ROUTES):
                    names = dict.fromkeys(c for g, c, _ in ROUTES if g == guild_name)
                    guild = fake.add_guild(guild_name, channels=names)
                    guilds[guild_name] = guild.id
                    channels |= {f"{guild_name}#{c.name}": c.id for c in guild.channels.values()}
                self.channel_names = {cid: name for name, cid in channels.items()}
                farm = FeedFarm(self.feeds, random.Random(f"{args.seed}-feed-faults"), rate=args.fault_rate,
                                interval=args.interval, max_in_a_row=args.max_faults_in_a_row)  # fmt: skip
                chaos = DiscordChaos(fake, random.Random(f"{args.seed}-discord-faults"), args.fault_rate)
                await farm.start()
                try:
                    await self.session(fake, farm, chaos, channels, guilds)
                finally:
                    for task in self.tasks:
                        task.cancel()
                    await asyncio.gather(*self.tasks, return_exceptions=True)
                    if self.process is not None and self.process.returncode is None:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(self.process.pid, signal.SIGKILL)
                        await self.process.wait()
                    await farm.close()
                self.log.close()
                result.feed_outcomes = dict(farm.outcomes.most_common())
                result.discord_faults = dict(chaos.injected.most_common())
                self.check_deliveries(fake, channels)
        finally:
            await self.harness_lag.stop()
        self.check_store()
        self.summarize()
        return result

    async def session(self, fake: FakeDiscord, farm: FeedFarm, chaos: DiscordChaos, channels: dict[str, int],
                      guilds: dict[str, int]) -> None:  # fmt: skip
        """Start the bot, wait for it, publish with faults, drain, stop it."""
        args, result = self.args, self.result
        port = free_port()
        write_config(self.tmp / "soak.toml", fake, farm, self.feeds, channels, guilds, args)
        self.cpu_start = (machine_busy_seconds(), cpu_seconds([os.getpid()]))
        self.started = time.monotonic()
        await self.start_bot(fake, port)
        async with aiohttp.ClientSession() as session:
            if not await self.wait_subscribed(fake, session, port):
                await self.stop_bot()
                return
            result.startup_seconds = round(self.elapsed(), 1)
            window = self.duration - self.drain - self.elapsed()
            if window < 30:
                result.valid = False
                result.invalid_reason = (
                    f"the run is too short: {window:.0f} s left to publish after start-up"
                    f" ({result.startup_seconds:.0f} s) and before the drain ({self.drain:.0f} s)"
                )
                await self.stop_bot()
                return
            result.publish_seconds = round(window, 1)
            self.stories, events = plan_events(self.feeds, random.Random(f"{args.seed}-plan"), self.vocabulary,
                                               window=window, per_minute=args.stories_per_minute)  # fmt: skip
            drain_at = self.started + self.duration - self.drain
            farm.faulty = chaos.faulty = args.fault_rate > 0
            print(f"[{clock_text(self.elapsed())}] every feed subscribed; publishing"
                  f" {sum(e.kind == 'item' for e in events)} items of {len(self.stories)} stories"
                  f" until {clock_text(self.duration - self.drain)}, with faults", flush=True)  # fmt: skip
            self.tasks.append(asyncio.create_task(self.publish(events, drain_at)))
            if args.gateway_every > 0:
                self.tasks.append(asyncio.create_task(gateway_chaos(
                    fake, random.Random(f"{args.seed}-gateway"), args.gateway_every, drain_at, self.started,
                    self.drops)))  # fmt: skip
            await self.watch(fake, session, port, drain_at, farm, chaos, channels)
            await self.stop_bot()

    async def wait_subscribed(self, fake: FakeDiscord, session: aiohttp.ClientSession, port: int) -> bool:
        """Until the bot is connected, answers /health, and has subscribed every feed (no faults yet)."""
        result = self.result
        deadline = time.monotonic() + READY_TIMEOUT + 3 * self.args.interval
        healthy = False
        while time.monotonic() < deadline:
            if not self.bot_running():
                self.log.close()
                result.valid = False
                result.bot_exited_early = True
                result.invalid_reason = f"the bot exited during start-up ({self.process and self.process.returncode})"
                return False
            healthy = healthy or await self.fetch_health(session, port) is not None
            if fake.ready_sent and healthy and self.subscribed() == len(self.feeds):
                return True
            await asyncio.sleep(0.5)
        result.valid = False
        result.invalid_reason = (f"not ready within {deadline - self.started:.0f} s: gateway ready {fake.ready_sent},"
                                 f" health answered {healthy}, {self.subscribed()}/{len(self.feeds)} feeds"
                                 " subscribed")  # fmt: skip
        return False

    async def publish(self, events: list[Event], drain_at: float) -> None:
        rng = random.Random(f"{self.args.seed}-updates")
        start = time.monotonic()
        for event in events:
            delay = start + event.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() >= drain_at:
                return
            if event.kind == "item":
                assert event.story is not None and event.feed is not None
                story, feed = event.story, event.feed
                item = FeedItem(
                    guid=f"{feed.name}-s{story.id:05d}",
                    title=story.title(event.variant),
                    link=f"https://{feed.name}.example/news/s{story.id:05d}-{story.words[0]}",
                    description=story.description(),
                    published=time.time(),
                    feed=feed.name,
                    story=story.id,
                )
                feed.publish(item)
                story.items.append(item)
            else:  # an update of an item published a while ago: recorded by the bot, never re-posted
                now = time.time()
                candidates = [i for s in self.stories for i in s.items if now - i.published > 60 and not i.updated]
                if candidates:
                    item = rng.choice(candidates)
                    item.description += f" Update: the {self.vocabulary.word()} figures were revised."
                    item.updated = True
                    self.updates += 1

    async def watch(self, fake: FakeDiscord, session: aiohttp.ClientSession, port: int, drain_at: float,
                    farm: FeedFarm, chaos: DiscordChaos, channels: dict[str, int]) -> None:  # fmt: skip
        """Sample until the end of the run (or the bot's death); faults off at the drain."""
        args = self.args
        end_at = self.started + self.duration
        next_progress = self.started + 60.0
        while True:
            now = time.monotonic()
            if now >= drain_at and (farm.faulty or chaos.faulty):
                farm.faulty = chaos.faulty = False
                print(f"[{clock_text(now - self.started)}] drain: no more items, no more faults", flush=True)
            if not self.bot_running():
                self.result.bot_exited_early = True
                print(f"[{clock_text(now - self.started)}] the bot exited ({self.process and self.process.returncode})",
                      flush=True)  # fmt: skip
                break
            self.sample(fake, await self.fetch_health(session, port))
            if self.lag_at_warmup is None and self.elapsed() >= self.warmup and self.health:
                self.lag_at_warmup = self.health[-1][1].get("loop_lag")
            if time.monotonic() >= next_progress:
                self.progress(fake, channels)
                next_progress += 60.0
            if time.monotonic() >= end_at:
                break
            await asyncio.sleep(min(args.sample_seconds, max(0.0, end_at - time.monotonic())))
        self.lag_at_end = self.health[-1][1].get("loop_lag") if self.health else None

    def sample(self, fake: FakeDiscord, health: dict[str, Any] | None) -> None:
        assert self.process is not None
        t = self.elapsed()
        if health is not None:
            self.health.append((t, health))
        self.log.read()
        memory = tree_memory(self.process.pid)
        self.pids_seen.update(memory.pids)
        self.bot_cpu = max(self.bot_cpu, cpu_seconds(memory.pids))
        lag = (health or {}).get("loop_lag") or {}
        self.samples.append(Sample(
            round(t, 1), self.phase(t, bool(self.stories)), round(memory.rss_mb, 1), round(memory.pss_mb, 1),
            round(memory.main_mb, 1), memory.processes, lag.get("p99_ms"), lag.get("max_ms"),
            (health or {}).get("outbox_pending"), (health or {}).get("gateway_connected"),
            sum(len(c.messages) for g in fake.guilds.values() for c in g.channels.values()),
        ))  # fmt: skip

    def progress(self, fake: FakeDiscord, channels: dict[str, int]) -> None:
        last = self.samples[-1]
        published = [s for s in self.stories if s.items]
        expected = sum(len(expected_channels(s, channels)) for s in published)
        log = self.log.summary
        lag = "-" if last.lag_p99_ms is None else f"{last.lag_p99_ms:.1f}/{last.lag_max_ms:.0f}"
        print(f"[{clock_text(last.t)}] {last.phase:<8} cycles {log.cycles:4d} polls {log.polls:6d}"
              f" stories {len(published):4d} messages {last.messages:5d}/{expected:<5d}"
              f" outbox {last.outbox_pending if last.outbox_pending is not None else '-'}"
              f"  rss {last.rss_mb:6.1f} MB ({last.processes} procs)  lag p99/max(60 s) {lag} ms"
              f"  drops {len(self.drops)}  errors {sum(log.errors.values())}  dead {log.dead_tasks}",
              flush=True)  # fmt: skip

    async def stop_bot(self) -> None:
        assert self.process is not None
        self.stopped_at = time.monotonic()
        self.cpu_end = (machine_busy_seconds(), cpu_seconds([os.getpid()]))
        self.bot_cpu = max(self.bot_cpu, cpu_seconds(process_tree(self.process.pid)))
        if not self.bot_running():
            self.result.exit_code = self.process.returncode
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.result.exit_code = await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self.result.exit_code = None
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()
        self.result.stop_seconds = round(time.monotonic() - self.stopped_at, 2)

    # ----- the checks

    def check_deliveries(self, fake: FakeDiscord, channels: dict[str, int]) -> None:
        result = self.result
        published = [s for s in self.stories if s.items]
        by_id = {s.id: s for s in published}
        names = {cid: name for name, cid in channels.items()}
        expected = {(cid, s.id) for s in published for cid in expected_channels(s, channels)}
        found: Counter[tuple[int, int]] = Counter()
        created_at: dict[tuple[int, int], float] = {}
        messages: dict[tuple[int, int], list[FakeMessage]] = defaultdict(list)
        most = 0
        for guild in fake.guilds.values():
            for channel in guild.channels.values():
                times = []
                for message in channel.messages:
                    times.append(((message.id >> 22) + DISCORD_EPOCH_MS) / 1000.0)
                    embed = message.embeds[0] if message.embeds else {}
                    url = embed.get("url", "")
                    match = STORY_LINK.match(url)
                    if match is None:
                        result.unparsed_messages += 1
                        result.delivery_problems.append(
                            f"#{names[channel.id]}: a message of no published story: content {message.content[:80]!r},"
                            f" embed title {embed.get('title', '')[:80]!r}, url {url!r}")  # fmt: skip
                        continue
                    key = (channel.id, int(match["story"]))
                    found[key] += 1
                    created_at.setdefault(key, times[-1])
                    messages[key].append(message)
                most = max(most, max_in_window(times, 5.0))
        result.most_creates_in_5s = most
        result.messages = sum(found.values()) + result.unparsed_messages
        result.expected = len(expected)
        result.delivered_once = sum(1 for key in expected if found[key] == 1)
        self.missing = sorted(key for key in expected if found[key] == 0)
        self.doubled = sorted(key for key in expected if found[key] > 1)
        self.misrouted = sorted(key for key in found if key not in expected)
        result.missing, result.duplicates, result.misrouted = len(self.missing), len(self.doubled), len(self.misrouted)
        # nonces: every create of one (channel, story) with enforce_nonce and one nonce
        nonces: dict[tuple[int, int], set[str]] = defaultdict(set)
        creates = fake.find_requests("POST", CREATE)
        for request in creates:
            body = request.json if isinstance(request.json, dict) else {}
            match = STORY_LINK.match(((body.get("embeds") or [{}])[0]).get("url", ""))
            if match is None:
                continue
            if body.get("enforce_nonce") is not True:
                result.no_enforce_nonce += 1
            target = CREATE.fullmatch(request.path)
            assert target is not None
            nonces[(int(target["channel"]), int(match["story"]))].add(str(body.get("nonce")))
        renonced = {key: n for key, n in nonces.items() if len(n) > 1}
        result.renonced = len(renonced)
        result.creates = len(creates)
        result.edits = len(fake.find_requests("PATCH", re.compile(r"/channels/\d+/messages/\d+")))
        # latency: first item published -> message created
        latencies = sorted(created_at[key] - (by_id[key[1]].published_at or 0) for key in expected if key in created_at)
        if latencies:
            result.latency_p50 = round(latencies[len(latencies) // 2], 1)
            result.latency_p95 = round(latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))], 1)
            result.latency_max = round(latencies[-1], 1)
        # a story told by several feeds: does its message (as last edited) list every source?
        multi = [s for s in published if len(s.items) > 1]
        shown = 0
        wall = time.time() - time.monotonic()  # monotonic -> UNIX seconds
        for story in multi:
            complete = True
            for cid in expected_channels(story, channels):
                for message in messages.get((cid, story.id), []):
                    text = json.dumps(message.embeds)
                    lacking = [i for i in story.items if i.link not in text]
                    if not lacking:
                        continue
                    complete = False
                    requests = [(r.at + wall, r.method, r.status, all(i.link in json.dumps(r.json) for i in lacking))
                                for r in fake.requests if r.path == f"/channels/{cid}/messages/{message.id}"
                                or (r.method == "POST" and r.path == f"/channels/{cid}/messages"
                                    and f"/news/s{story.id:05d}-" in json.dumps(r.json))]  # fmt: skip
                    self.unshown.append(Unshown(cid, story.id, message.id, [i.feed for i in lacking],
                                                min(i.published for i in lacking), requests))  # fmt: skip
            shown += complete
        result.all_sources_shown = f"{shown}/{len(multi)}"
        problems = result.delivery_problems
        for key in self.doubled[:10]:
            problems.append(f"#{names[key[0]]}: story {key[1]} posted {found[key]} times")
        for key in self.misrouted[:10]:
            topics = by_id[key[1]].topics if key[1] in by_id else "?"
            problems.append(f"#{names[key[0]]}: story {key[1]} (topics {topics}) posted where it does not route")
        for key, n in list(renonced.items())[:10]:
            problems.append(f"#{names[key[0]]}: story {key[1]} created under {len(n)} nonces")
        self.channel_names = names
        self.found = found

    def check_store(self) -> None:
        """The bot's database: where each missing delivery stopped, and why a doubled one doubled."""
        result = self.result
        db = self.tmp / "soak.db"
        published = [s for s in self.stories if s.items]
        entries = {link: (state, story_id) for link, state, story_id in read_db(
            db, "SELECT link, state, story_id FROM entries WHERE link LIKE 'https://f%.example/news/%'")}  # fmt: skip
        self.first_seen = dict(read_db(
            db, "SELECT link, first_seen_at FROM entries WHERE link LIKE 'https://f%.example/news/%'"))  # fmt: skip
        deliveries: dict[tuple[int, int], tuple[str, int, str | None, float | None, int]] = {}
        for story_id, channel_id, state, attempts, error, sent_at, needs_edit in read_db(
            db, "SELECT story_id, channel_id, state, attempts, last_error, sent_at, needs_edit FROM deliveries"
                " WHERE kind = 'card'"
        ):  # fmt: skip
            deliveries[(channel_id, story_id)] = (state, attempts, error, sent_at, needs_edit)
        bot_stories: dict[int, set[int]] = defaultdict(set)  # the bot's story -> published stories
        mine: dict[int, set[int]] = defaultdict(set)  # published story -> the bot's stories
        never_served = 0
        for story in published:
            for item in story.items:
                never_served += item.first_served is None
                state, story_id = entries.get(item.link, (None, None))
                if story_id is not None:
                    bot_stories[story_id].add(story.id)
                    mine[story.id].add(story_id)
        result.items_never_served = never_served
        merged = {b: s for b, s in bot_stories.items() if len(s) > 1}
        split = {s: b for s, b in mine.items() if len(b) > 1}
        result.clustering = {"published stories": len(published), "bot stories": len(bot_stories),
                             "merged (a bot story of several published ones)": len(merged),
                             "split (a published story in several bot stories)": len(split)}  # fmt: skip
        problems = result.delivery_problems
        phantoms = read_db(db, "SELECT e.feed_id, f.url, e.entry_key, e.title, e.link, e.state, e.story_id"
                               " FROM entries e JOIN feeds f ON f.id = e.feed_id WHERE e.state != 'seen'"
                               " AND e.link NOT LIKE 'https://f%.example/news/%'")  # fmt: skip
        result.clustering["entries released that are no published item"] = len(phantoms)
        for feed_id, url, key, title, link, state, story_id in phantoms[:10]:
            problems.append(f"an entry no feed published: feed {feed_id} ({url.rsplit('/', 1)[-1]}), key {key},"
                            f" title {title[:60]!r}, link {link[:80]!r}: {state}, bot story {story_id}")  # fmt: skip
        names = self.channel_names
        by_id = {s.id: s for s in published}
        for channel_id, story_id in self.missing[:15]:
            story = by_id[story_id]
            why = []
            for item in story.items:
                state, bot_story = entries.get(item.link, (None, None))
                served = "never served" if item.first_served is None else "served"
                why.append(f"{item.feed}: {served}, entry {state or 'not stored'}"
                           + (f", bot story {bot_story}" if bot_story is not None else ""))  # fmt: skip
            for bot_story in sorted(mine.get(story_id, ())):
                d = deliveries.get((channel_id, bot_story))
                why.append(f"delivery of bot story {bot_story}: "
                           + ("none queued" if d is None else f"{d[0]} after {d[1]} attempts ({d[2]})"))  # fmt: skip
                if bot_story in merged:
                    why.append(f"bot story {bot_story} also holds published stories {sorted(merged[bot_story])}")
            problems.append(f"missing: story {story_id} {story.topics} in #{names.get(channel_id, channel_id)}: "
                            + "; ".join(why))  # fmt: skip
        for gap in self.unshown[:10]:
            self.explain_unshown(db, gap, entries, deliveries, mine)
        for channel_id, story_id in self.doubled[:10]:
            if story_id in split:
                problems.append(f"story {story_id} in #{names.get(channel_id)}: split into bot stories"
                                f" {sorted(split[story_id])} (clustering)")  # fmt: skip
            else:
                problems.append(f"story {story_id} in #{names.get(channel_id)}: one bot story"
                                f" {sorted(mine.get(story_id, ()))}, several messages (sent twice)")  # fmt: skip

    def explain_unshown(self, db: Path, gap: Unshown, entries: dict[str, tuple[str, int | None]],
                        deliveries: dict[tuple[int, int], tuple[str, int, str | None, float | None, int]],
                        mine: dict[int, set[int]]) -> None:  # fmt: skip
        """Why a message lacks a source: the bot's card and delivery against the requests the fake got."""
        story = next(s for s in self.stories if s.id == gap.story)
        lacking = [i for i in story.items if i.feed in gap.feeds]
        bot_stories = sorted(mine.get(gap.story, ()))
        if len(bot_stories) != 1:
            self.result.delivery_problems.append(
                f"#{self.channel_names.get(gap.channel_id)}: story {gap.story}'s message lacks {gap.feeds}:"
                f" the story is in bot stories {bot_stories}")  # fmt: skip
            return
        [(card, carded_at)] = read_db(db, "SELECT card, carded_at FROM stories WHERE id = ?", (bot_stories[0],))
        in_card = all(i.link in card for i in lacking)
        state, _, _, sent_at, needs_edit = deliveries.get((gap.channel_id, bot_stories[0]), ("none", 0, None, None, 0))
        start = self.started + (time.time() - time.monotonic())
        requests = ", ".join(f"{method} +{at - start:.1f} s {status}{' (with it)' if carried else ''}"
                             for at, method, status, carried in sorted(gap.requests))  # fmt: skip
        seen = min((self.first_seen.get(i.link) or math.inf for i in lacking), default=math.inf)
        written = max((r for r in gap.requests if r[2] == 200), default=None)  # the request that wrote the message
        verdict = ""
        if in_card and not needs_edit and written is not None and not written[3]:
            verdict = (" -> LOST UPDATE: the bot's card has the source, the message as last written lacks it, and the"
                       " delivery is not marked for editing")  # fmt: skip
            ordered = sorted(gap.requests)
            k = ordered.index(written)
            while k > 0 and ordered[k - 1][1] == written[1] and ordered[k - 1][2] != 200:
                k -= 1  # the same request, retried by discord.py after a 429 or a 5xx
            first = ordered[k][0]
            if first <= carded_at <= written[0]:
                verdict += (f"; the card changed (+{carded_at - start:.1f} s) while the {written[1]} that wrote the"
                            f" message was in flight with the older card (+{first - start:.1f} s to"
                            f" +{written[0] - start:.1f} s, discord.py retrying)")  # fmt: skip
        self.result.delivery_problems.append(
            f"#{self.channel_names.get(gap.channel_id)}: story {gap.story} (bot story {bot_stories[0]})'s message"
            f" {gap.message_id} lacks {gap.feeds} (published +{gap.published - start:.1f} s, stored by the bot"
            f" +{seen - start:.1f} s); the card has it: {in_card}, card written +{carded_at - start:.1f} s;"
            f" delivery {state}, needs_edit {needs_edit}, last marked +{(sent_at or start) - start:.1f} s;"
            f" requests: {requests}{verdict}")  # fmt: skip

    def summarize(self) -> None:
        result = self.result
        published = [s for s in self.stories if s.items]
        if self.started:
            result.duration_seconds = round((self.stopped_at or time.monotonic()) - self.started, 1)
        result.stories = len(published)
        result.multi_feed_stories = sum(len(s.items) > 1 for s in published)
        result.burst_stories = sum(s.kind == "burst" for s in published)
        result.items = sum(len(s.items) for s in published)
        result.item_updates = self.updates
        result.gateway_drops = [asdict(d) for d in self.drops]
        result.gateway_not_back = sum(d.back_seconds is None for d in self.drops)
        result.samples = [asdict(s) for s in self.samples]
        # memory
        warm = [s.rss_mb for s in self.samples if self.warmup - 60 <= s.t < self.warmup]
        warm_pss = [s.pss_mb for s in self.samples if self.warmup - 60 <= s.t < self.warmup]
        after = [s for s in self.samples if s.t >= self.warmup]
        end = self.samples[-1].t if self.samples else 0.0
        final = [s for s in self.samples if s.t >= end - 60]
        result.rss_baseline_mb = round(median(warm), 1)
        result.pss_baseline_mb = round(median(warm_pss), 1)
        result.rss_peak_mb = max((s.rss_mb for s in after), default=0.0)
        result.rss_final_mb = round(median([s.rss_mb for s in final]), 1)
        result.pss_final_mb = round(median([s.pss_mb for s in final]), 1)
        if result.rss_baseline_mb:
            result.rss_peak_growth = round(result.rss_peak_mb / result.rss_baseline_mb - 1, 4)
            result.rss_final_growth = round(result.rss_final_mb / result.rss_baseline_mb - 1, 4)
        result.processes_seen = len(self.pids_seen)
        # loop lag: the bot's histogram between the end of warm-up and the stop
        before, last = self.lag_at_warmup, self.lag_at_end
        if last is not None:
            result.lag = lag_between(before, last) | {"max_ms_in_any_60s_window": max(
                (s.lag_max_ms or 0.0 for s in after), default=0.0)}  # fmt: skip
            result.lag_share_over_50ms = round(share_over(before, last, GOAL_LAG_P99_MS), 5)
            result.lag_worst_window_p99_ms = max((s.lag_p99_ms or 0.0 for s in after), default=0.0)
        result.harness_lag = lag_between(None, self.harness_lag.snapshot()) | {
            "max_ms": self.harness_lag.snapshot()["total_max_ms"]}  # fmt: skip
        log = self.log.summary
        result.log = {
            "lines": log.lines, "levels": dict(log.levels), "ingest cycles": log.cycles, "polls": log.polls,
            "new entries": log.new_entries, "released": log.released, "failed polls": log.poll_errors,
            "stories new": log.stories_new, "stories updated": log.stories_updated,
            "crashed loops": dict(log.crashed_loops), "task exceptions never retrieved": log.unretrieved,
            "discord.py background errors": log.background_errors,
            "errors": dict(log.errors.most_common(20)), "warnings": dict(log.warnings.most_common(15)),
            "error samples": log.error_samples,
        }  # fmt: skip
        result.dead_tasks = log.dead_tasks + int(result.bot_exited_early)
        if not self.health and result.valid:
            result.valid = False
            result.invalid_reason = "the health endpoint never answered"
        exactly_once = (result.missing == result.duplicates == result.misrouted == result.unparsed_messages
                        == result.renonced == result.no_enforce_nonce == 0)  # fmt: skip
        result.goals = {
            "every expected delivery made, each exactly once": exactly_once and result.expected > 0,
            f"RSS after warm-up (peak and final) <= +{GOAL_RSS_GROWTH:.0%}": bool(result.rss_baseline_mb)
            and result.rss_peak_growth <= GOAL_RSS_GROWTH
            and result.rss_final_growth <= GOAL_RSS_GROWTH,
            f"event-loop lag p99 < {GOAL_LAG_P99_MS:g} ms": bool(result.lag) and result.lag_share_over_50ms < 0.01,
            f"tasks that died = {GOAL_DEAD_TASKS}": result.dead_tasks == GOAL_DEAD_TASKS,
            "gateway back after every drop": result.gateway_not_back == 0,
            "clean stop on SIGTERM (exit 0)": result.exit_code == 0,
        }
        if self.stopped_at:
            busy = self.cpu_end[0] - self.cpu_start[0]
            harness = self.cpu_end[1] - self.cpu_start[1]
            result.cpu = {"seconds": round(self.stopped_at - self.started, 1), "bot": round(self.bot_cpu, 1),
                          "soak": round(harness, 1), "others": round(max(0.0, busy - self.bot_cpu - harness), 1),
                          "cores": float(os.cpu_count() or 1)}  # fmt: skip


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of `times` within any `window` seconds."""
    ordered = sorted(times)
    return max((bisect.bisect_right(ordered, t + window - 1e-9) - i for i, t in enumerate(ordered)), default=0)


# --------------------------------------------------------------------------------------------
# The report


def report(result: Result, command: str) -> None:
    r = result
    a = r.args
    print()
    print(f"soak: {a['minutes']:g} min, {r.feeds} feeds polled every {a['interval']} s, seed {a['seed']},"
          f" fault rate {a['fault_rate']:g}, gateway drop every ~{a['gateway_every']:g} s")  # fmt: skip
    if not r.valid:
        print(f"  RUN NOT VALID: {r.invalid_reason}")
    print(f"  timeline        start-up {r.startup_seconds:.0f} s, publishing {r.publish_seconds:.0f} s,"
          f" drain {r.drain_seconds:.0f} s, warm-up (first {a['warmup_fraction']:.0%}) {r.warmup_seconds:.0f} s;"
          f" ran {r.duration_seconds:.0f} s")  # fmt: skip
    print(f"  published       {r.stories} stories ({r.multi_feed_stories} by several feeds,"
          f" {r.burst_stories} in bursts) in {r.items} items; {r.item_updates} items edited;"
          f" items never in a successful body: {r.items_never_served}")  # fmt: skip
    outcomes = ", ".join(f"{k} {v}" for k, v in r.feed_outcomes.items())
    print(f"  feed requests   {sum(r.feed_outcomes.values())}: {outcomes}")
    print("  discord faults  " + (", ".join(f"{k} {v}" for k, v in r.discord_faults.items()) or "none"))
    back = [d["back_seconds"] for d in r.gateway_drops if d["back_seconds"] is not None]
    kinds = Counter(d["kind"] for d in r.gateway_drops)
    print(f"  gateway drops   {len(r.gateway_drops)} ({', '.join(f'{k} {v}' for k, v in kinds.items()) or 'none'});"
          f" ready again within {max(back, default=0) * 1000:.0f} ms at worst; not back: {r.gateway_not_back};"
          f" resumed {sum(d['resumed'] for d in r.gateway_drops)}")  # fmt: skip
    print(
        f"  deliveries      expected {r.expected}, exactly once {r.delivered_once}, missing {r.missing},"
        f" duplicates {r.duplicates}, misrouted {r.misrouted}, messages of no story {r.unparsed_messages}"
    )
    print(
        f"                  {r.messages} messages, {r.creates} create requests, {r.edits} edit requests;"
        f" creates under >1 nonce {r.renonced}, without enforce_nonce {r.no_enforce_nonce}"
    )
    print(f"                  latency (first item published -> message) p50 {r.latency_p50:.1f} s,"
          f" p95 {r.latency_p95:.1f} s, max {r.latency_max:.1f} s; every source shown: {r.all_sources_shown};"
          f" most creates to one channel in 5 s: {r.most_creates_in_5s}")  # fmt: skip
    print("  clustering      " + ", ".join(f"{k} {v}" for k, v in r.clustering.items()))
    for problem in r.delivery_problems[:25]:
        print(f"    ! {problem}")
    print(
        f"  RSS (tree)      baseline {r.rss_baseline_mb:.1f} MB, peak after warm-up {r.rss_peak_mb:.1f} MB"
        f" ({r.rss_peak_growth:+.1%}), final {r.rss_final_mb:.1f} MB ({r.rss_final_growth:+.1%});"
        f" PSS {r.pss_baseline_mb:.1f} -> {r.pss_final_mb:.1f} MB; {r.processes_seen} processes seen"
    )
    if r.lag:
        print(f"  loop lag (bot)  after warm-up: p50 <= {r.lag['p50_ms']:g} ms, p99 <= {r.lag['p99_ms']:g} ms,"
              f" p99.9 <= {r.lag['p999_ms']:g} ms, {r.lag_share_over_50ms:.3%} of {r.lag['samples']:.0f} samples"
              f" over 50 ms; worst 60 s window p99 {r.lag_worst_window_p99_ms:.1f} ms,"
              f" max {r.lag['max_ms_in_any_60s_window']:.0f} ms")  # fmt: skip
    h = r.harness_lag
    print(
        f"  loop lag (soak) p99 <= {h.get('p99_ms', 0):g} ms, max {h.get('max_ms', 0):.0f} ms"
        " (this process: the fake Discord and the feed server)"
    )
    log = r.log
    print(f"  bot log         {log.get('lines', 0)} lines {log.get('levels', {})}; {log.get('ingest cycles', 0)} ingest"
          f" cycles, {log.get('polls', 0)} polls ({log.get('failed polls', 0)} failed), {log.get('stories new', 0)}"
          f" stories new, {log.get('stories updated', 0)} updated")  # fmt: skip
    print(f"  dead tasks      {r.dead_tasks}: crashed loops {log.get('crashed loops')}, exceptions never retrieved"
          f" {log.get('task exceptions never retrieved')}, discord.py background errors"
          f" {log.get('discord.py background errors')}, bot exited early {r.bot_exited_early}")  # fmt: skip
    for template, count in list(log.get("errors", {}).items())[:10]:
        print(f"    ERROR x{count}: {template}")
    for sample in log.get("error samples", [])[:3]:
        print("      " + sample.replace("\n", "\n      ")[:1500])
    for template, count in list(log.get("warnings", {}).items())[:8]:
        print(f"    warning x{count}: {template}")
    print(f"  stop            exit {r.exit_code} after {r.stop_seconds:.1f} s")
    print("goals:" if r.valid else "goals (not judged: the run is not valid):")
    for goal, met in r.goals.items():
        print(f"  {'PASS' if met else 'FAIL'}  {goal}")
    cpu = r.cpu
    if cpu:
        total = cpu["seconds"] * cpu["cores"]
        print(f"machine: {cpu['cores']:.0f} cpus; CPU over the run: bot {cpu['bot']:.0f} s, soak {cpu['soak']:.0f} s,"
              f" other processes {cpu['others']:.0f} s ({cpu['others'] / total:.0%} of the machine);"
              f" load average {r.load_average[0]:.2f} at the start, {r.load_average[1]:.2f} at the end")  # fmt: skip
        if cpu["others"] / total > 0.10:
            print("  ! other processes took more than 10 % of the machine: loop lag figures are disturbed")
    print(f"command: {command}")


def drain_seconds(args: argparse.Namespace) -> float:
    """The quiet end of the run: --drain-seconds, else max(15 % of the run, 4 polling intervals + 60 s)."""
    if args.drain_seconds is not None:
        return float(args.drain_seconds)
    return max(0.15 * float(args.minutes) * 60.0, 4.0 * float(args.interval) + 60.0)


def code_state() -> dict[str, Any]:
    """The commit, and the bot's files changed since it (the run uses the working tree)."""

    def git(*argv: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        return ""

    changed = git("status", "--porcelain", "--", "bot", "cogs").splitlines()  # "XY path": the path from column 3
    return {"commit": git("rev-parse", "HEAD").strip(), "changed": [line[3:] for line in changed if line.strip()]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=20.0, help="length of the run (default 20)")
    parser.add_argument("--feeds", type=int, default=300, help="feeds (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the stories and the faults (default 1)")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.08,
        help="share of feed requests and of message creates/edits that get a fault (default 0.08)",
    )
    parser.add_argument(
        "--warmup-fraction",
        type=float,
        default=0.25,
        help="the first part of the run not judged for memory and loop lag (default 0.25)",
    )
    parser.add_argument("--interval", type=int, default=30, help="polling.interval_seconds (default 30)")
    parser.add_argument("--stories-per-minute", type=float, default=20.0, help="stories published (default 20)")
    parser.add_argument(
        "--gateway-every",
        type=float,
        default=120.0,
        help="mean seconds between gateway drops, 0 for none (default 120)",
    )
    parser.add_argument(
        "--max-faults-in-a-row",
        type=int,
        default=2,
        help="most failed polls in a row the feed server causes one feed (default 2)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=None,
        help="the quiet end (default max(15 %% of the run, 4 x interval + 60 s))",
    )
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="between samples (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (config, db, log)")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where the JSON goes (default bench/out)")
    args = parser.parse_args()
    if not 0 <= args.fault_rate < 1 or not 0 < args.warmup_fraction < 1 or args.feeds < 1 or args.interval < 1:
        parser.error("--fault-rate in [0, 1), --warmup-fraction in (0, 1), --feeds and --interval >= 1")
    if (left := args.minutes * 60 - drain_seconds(args)) < 60:
        parser.error(f"--minutes {args.minutes:g} leaves {left:.0f} s before the drain ({drain_seconds(args):.0f} s):"
                     " at least 60 s are needed (a longer run, a shorter --interval or --drain-seconds)")  # fmt: skip
    command = " ".join([".venv/bin/python", "bench/soak.py", *sys.argv[1:]])

    code = code_state()
    if code["changed"]:
        print(f"note: the checkout has {len(code['changed'])} uncommitted changes under bot/ and cogs/: the bot"
              " that runs is the working tree, not the commit", flush=True)  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="wirebrief-soak-"))
    load_start = os.getloadavg()[0]
    soak = Soak(args, tmp)
    try:
        result = asyncio.run(soak.run())
    except KeyboardInterrupt:
        print(f"interrupted; the temporary directory is kept: {tmp}")
        return 2
    result.load_average = (load_start, os.getloadavg()[0])
    report(result, command)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    machine = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    path.write_text(json.dumps({"result": asdict(result), "command": command, "machine": machine, "code": code,
                                "date": dt.datetime.now(dt.UTC).isoformat()}, indent=2, default=str))  # fmt: skip
    print(f"json: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    status = 2 if not result.valid else 0 if all(result.goals.values()) else 1
    if args.keep or status:
        print(f"kept: {tmp} (soak.toml, soak.db, bot.log)")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
