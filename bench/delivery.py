"""Delivery benchmark (issue 5): drain a backlog of cards against Discord's per-channel limit.

    .venv/bin/python bench/delivery.py [--cards 300] [--channels 10] [--limit 5] [--window 5]

What it does:

1. starts the fake Discord of the end-to-end tests (tests/e2e/fake_discord.py) in this process,
   with one guild of N channels, and makes it enforce Discord's limit on creating messages: at most
   `limit` creates per channel in a window of `window` seconds that opens with the window's first
   create (a Discord bucket); a create past it gets a 429 with `Via` and `retry_after`, which
   discord.py waits out and retries. The fake sends no X-RateLimit-* headers, so discord.py never
   slows down on its own: the pace and the 429s are the Outbox's pacer's alone;
2. logs a real `discord.Client` in to the fake (REST only: posting needs no gateway) and wraps it in
   the real `DiscordPublisher` (default settings; it renders each embed as the bot does, timeline
   look-up included);
3. writes the cards to a fresh `SQLiteStore` in a temp dir (realistic sizes: headline, hook, the
   five sections, takeaways, related links), one topic per channel and a route for each, and queues
   them with `Outbox.route_changes` — `cards / channels` per channel;
4. times the real `Outbox.drain_once()` (repeated until the outbox is empty) from the first send
   to the last delivery marked sent;
5. compares the time with the rate-limit bound — the first `limit` creates of a channel go at once,
   then each further group waits a window: (ceil(per_channel / limit) - 1) x window, 25 s for
   30 cards per channel at 5 per 5 s — and counts the 429s the fake sent; checks that every card
   is in its channel exactly once and that the outbox marked each delivery sent with that message's
   id; prints the figures with PASS/FAIL per goal and writes them as JSON to bench/out/.

Goals (issue 5): drain time within 10 % of the bound; 0 429s received.
Exit status: 0 all goals met; 1 a goal missed; 2 the run is not valid (a card missing, twice, or
not marked sent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
for _path in (REPO, REPO / "tests" / "e2e"):  # `bot`, and the fake Discord of the e2e tests
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import discord  # noqa: E402
from aiohttp import web  # noqa: E402
from fake_discord import FakeDiscord, Fault, RecordedRequest  # noqa: E402

from bot.adapters.store import SQLiteStore  # noqa: E402
from bot.app.bot import bot_intents  # noqa: E402
from bot.app.publisher import DiscordPublisher  # noqa: E402
from bot.app.runtime import point_discord_at  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core.cards import Card, RelatedLink  # noqa: E402
from bot.core.cluster import Features  # noqa: E402
from bot.core.routing import Route, RouteOrigin  # noqa: E402
from bot.core.stories import StoryPlanItem  # noqa: E402
from bot.services.enrich import StoryChange  # noqa: E402
from bot.services.outbox import Outbox  # noqa: E402

GOAL_WITHIN = 0.10  # drain time at most 10 % over the rate-limit bound
GOAL_429S = 0
CREATE = re.compile(r"/channels/(?P<channel>\d+)/messages")
DRAIN_DEADLINE = 600.0  # "did not hang": give up after this many seconds


class ChannelBuckets:
    """Discord's per-channel limit on creating messages, enforced by the fake (see the docstring).

    The fake has no knob for it, so this wraps the fake's one entry point for REST requests."""

    def __init__(self, fake: FakeDiscord, *, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.rejected: Counter[str] = Counter()  # channel -> 429s sent
        self.accepted: dict[str, list[float]] = {}  # channel -> monotonic times of the creates let through
        self._windows: dict[str, tuple[float, int]] = {}
        self._respond = fake._respond
        fake._respond = self.respond  # type: ignore[method-assign]

    async def respond(self, record: RecordedRequest) -> web.Response:
        match = CREATE.fullmatch(record.path)
        if record.method == "POST" and match:
            channel, now = match["channel"], time.monotonic()
            start, count = self._windows.get(channel, (now, 0))
            if now - start >= self.window:
                start, count = now, 0
            if count >= self.limit:
                self.rejected[channel] += 1
                return Fault(429, retry_after=round(start + self.window - now, 3)).response()
            self._windows[channel] = (start, count + 1)
            self.accepted.setdefault(channel, []).append(now)
        return await self._respond(record)


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of `times` within any `window` seconds (a sliding window)."""
    ordered = sorted(times)
    best, first = 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


def rate_limit_bound(per_channel: int, limit: int, window: float) -> float:
    """The least time `per_channel` creates to one channel can take: `limit` at once, then a window
    per further group of `limit`."""
    return (math.ceil(per_channel / limit) - 1) * window


def make_card(story_id: int, n: int, channel_no: int, now: float) -> Card:
    """A card of realistic size (about 1.5 KB of text, as the offline summarizer writes them)."""
    town = f"Town {n:03d}"
    sentence = f"The council of {town} said its permit system was breached and {n} accounts were exposed."
    return Card(
        story_id=story_id,
        headline=f"{town} council reports a breach of its parking permit system",
        url=f"https://news.example/{channel_no}/breach-{n}",
        source="Wire Service",
        published_at=now - 600,
        hook=sentence,
        what_changed=f"{sentence} Holders of permits in {town} should change their passwords this week.",
        why_it_matters="Attackers reuse stolen passwords on other services within days.",
        what_to_do_next="Check whether your staff hold permits there and reset shared passwords.",
        who_should_care="Security teams and anyone who reuses a password",
        takeaways=tuple(f"Takeaway {k} about the breach in {town}, told in one full sentence." for k in range(3)),
        main_entity=f"{town} council",
        entities=(f"{town} council",),
        topics=(f"channel-{channel_no}",),
        related=tuple(
            RelatedLink(f"Outlet {k}", f"{town} breach, as told by outlet {k}", f"https://outlet{k}.example/{n}", now)
            for k in range(2)
        ),
        carded_at=now,
    )


async def queue_cards(store: SQLiteStore, outbox: Outbox, guild_id: int, channel_ids: list[int], cards: int) -> None:
    """Stories with cards, a route per channel, and the deliveries queued through the Outbox."""
    now = time.time()
    for k, channel_id in enumerate(channel_ids):
        await store.add_route(Route(guild_id, f"channel-{k}", channel_id, origin=RouteOrigin.CONFIG), now)
    plan = [
        StoryPlanItem(0, -(n + 1), True, f"story {n}", now, Features({}, frozenset(), frozenset(), now), (), ())
        for n in range(cards)
    ]
    story_ids = [story_id for story_id, _ in await store.apply_story_plan(plan, now)]
    for n, story_id in enumerate(story_ids):
        await store.save_card(story_id, make_card(story_id, n, n % len(channel_ids), now), now)
    queued = await outbox.route_changes([StoryChange(story_id, True) for story_id in story_ids])
    if queued != cards:
        raise SystemExit(f"expected {cards} deliveries queued, got {queued}")


@dataclass
class Result:
    cards: int
    channels: int
    per_channel: int
    limit: int
    window: float
    bound_seconds: float
    drain_seconds: float = 0.0
    ratio: float = 0.0
    received_429: int = 0
    creates: int = 0
    max_in_any_window: int = 0
    tightest_six: float = 0.0  # the least time spanned by 6 consecutive creates to one channel
    sent: int = 0
    last_group_seconds: float = 0.0  # the slowest channel: its last `limit` creates, first to last
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-min load at start and end (other work skews the time)
    valid: bool = False
    problems: list[str] = field(default_factory=list)
    goals: dict[str, bool] = field(default_factory=dict)


async def run(args: argparse.Namespace) -> Result:
    per_channel = math.ceil(args.cards / args.channels)
    result = Result(args.cards, args.channels, per_channel, args.limit, args.window,
                    rate_limit_bound(per_channel, args.limit, args.window))  # fmt: skip
    async with FakeDiscord() as fake:
        guild = fake.add_guild("Bench", channels=[f"channel-{k}" for k in range(args.channels)])
        channel_ids = list(guild.channels)
        buckets = ChannelBuckets(fake, limit=args.limit, window=args.window)
        restore = point_discord_at(fake.api_base, fake.gateway_url)
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice here, as in the bot
        client = discord.Client(intents=bot_intents(), allowed_mentions=discord.AllowedMentions.none())
        try:
            await client.login(fake.token)
            with tempfile.TemporaryDirectory(prefix="wirebrief-delivery-") as tmp:
                store = await SQLiteStore.open(Path(tmp) / "bench.db")
                try:
                    outbox = Outbox(store, DiscordPublisher(client, store, Settings()))
                    await queue_cards(store, outbox, guild.id, channel_ids, args.cards)
                    result.drain_seconds = await drain(store, outbox)
                    await check(fake, store, channel_ids, result)
                finally:
                    await store.close()
        finally:
            await client.close()
            restore()
        creates = fake.find_requests("POST", CREATE)
        result.creates = len(creates)
        result.received_429 = sum(r.status == 429 for r in creates)
        assert result.received_429 == sum(buckets.rejected.values())
        accepted = list(buckets.accepted.values())
        result.max_in_any_window = max((most_in_any_window(times, args.window) for times in accepted), default=0)
        result.last_group_seconds = max((t[-1] - t[-args.limit] for t in accepted if len(t) >= args.limit), default=0)
        result.tightest_six = min(
            (b - a for times in accepted for a, b in zip(times, times[args.limit :], strict=False)), default=math.inf
        )
    result.ratio = result.drain_seconds / result.bound_seconds if result.bound_seconds else math.inf
    result.goals = {
        f"drain time within {GOAL_WITHIN:.0%} of the bound": result.ratio <= 1 + GOAL_WITHIN,
        f"429s received = {GOAL_429S}": result.received_429 == GOAL_429S,
    }
    return result


async def drain(store: SQLiteStore, outbox: Outbox) -> float:
    """Seconds from the first send until the outbox is empty (drain_once again for any retry)."""
    started = time.monotonic()
    while (await store.outbox_depth())[0]:
        if time.monotonic() - started > DRAIN_DEADLINE:
            raise SystemExit(f"the outbox did not drain within {DRAIN_DEADLINE:g} s")
        if not await outbox.drain_once():
            await asyncio.sleep(0.05)  # a retry is due later
    return time.monotonic() - started


async def check(fake: FakeDiscord, store: SQLiteStore, channel_ids: list[int], result: Result) -> None:
    """Every card in its channel exactly once, and each delivery marked sent with that message."""
    found: dict[tuple[int, str], int] = {}
    for channel_id in channel_ids:
        urls = Counter(m.embeds[0]["url"] for m in fake.messages(channel_id))
        twice = [url for url, n in urls.items() if n > 1]
        if twice:
            result.problems.append(f"channel {channel_id}: {len(twice)} cards posted twice")
        found |= {(channel_id, m.embeds[0]["url"]): m.id for m in fake.messages(channel_id)}
    with contextlib.closing(sqlite3.connect(store.path)) as db:  # the outbox's own record, as it is on disk
        rows = db.execute(
            "SELECT d.channel_id, d.state, d.message_id, s.card FROM deliveries d JOIN stories s ON s.id = d.story_id"
        ).fetchall()
    for channel_id, state, message_id, card in rows:
        url = json.loads(card)["url"]
        if state != "sent" or found.get((channel_id, url)) != message_id:
            result.problems.append(f"{url} in {channel_id}: {state}, message {message_id}")
    result.sent = sum(state == "sent" for _, state, _, _ in rows)
    if len(found) != result.cards:
        result.problems.append(f"{len(found)} distinct cards in the channels, {result.cards} expected")
    result.valid = not result.problems


def report(result: Result, command: str) -> None:
    print(f"delivery: {result.cards} cards over {result.channels} channels ({result.per_channel} per channel), "
          f"limit {result.limit} per {result.window:g} s per channel")  # fmt: skip
    print(f"  rate-limit bound  (ceil({result.per_channel}/{result.limit}) - 1) x {result.window:g} s"
          f" = {result.bound_seconds:.2f} s")  # fmt: skip
    print(f"  drain time        {result.drain_seconds:.2f} s  ({result.ratio:.3f} x the bound,"
          f" +{result.drain_seconds - result.bound_seconds:.2f} s)")  # fmt: skip
    print(f"  last group of {result.limit}   {result.last_group_seconds * 1000:.0f} ms"
          " from its first create to its last (slowest channel)")  # fmt: skip
    print(f"  creates sent      {result.creates}  (429s received: {result.received_429})")
    print(f"  most creates to one channel in any {result.window:g} s: {result.max_in_any_window}"
          f"  (the closest {result.limit + 1} consecutive ones span {result.tightest_six:.3f} s)")  # fmt: skip
    print(f"  deliveries sent   {result.sent}/{result.cards}; exactly once: {'yes' if result.valid else 'NO'}")
    for problem in result.problems[:10]:
        print(f"    ! {problem}")
    print("goals:")
    for goal, met in result.goals.items():
        print(f"  {'PASS' if met else 'FAIL'}  {goal}")
    cpus = os.cpu_count()
    start, end = result.load_average
    print(f"machine: {cpus} cpus, load average {start:.2f} at the start, {end:.2f} at the end")
    print(f"command: {command}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cards", type=int, default=300, help="cards to deliver (default 300)")
    parser.add_argument("--channels", type=int, default=10, help="channels, cards spread evenly (default 10)")
    parser.add_argument("--limit", type=int, default=5, help="creates per window per channel (default 5)")
    parser.add_argument("--window", type=float, default=5.0, help="the window, seconds (default 5)")
    parser.add_argument("--out", type=Path, default=BENCH / "out", help="where the JSON goes (default bench/out)")
    args = parser.parse_args()
    if args.cards % args.channels:
        parser.error("--cards must be a multiple of --channels")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    command = " ".join([".venv/bin/python", "bench/delivery.py", *sys.argv[1:]])

    load_start = os.getloadavg()[0]
    result = asyncio.run(run(args))
    result.load_average = (load_start, os.getloadavg()[0])
    report(result, command)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"delivery-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.json"
    machine = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    path.write_text(json.dumps({"result": asdict(result), "command": command, "machine": machine,
                                "date": dt.datetime.now(dt.UTC).isoformat()}, indent=2))  # fmt: skip
    print(f"json: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    if not result.valid:
        return 2
    return 0 if all(result.goals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
