"""The engine of `wirebrief demo`: the real pipeline, offline, on sample feeds shipped in the package.

The feeds in bot/data/demo/ are served in-process by `PackagedFeeds` (the fetcher's `fetch()`
protocol, no sockets) as of a simulated clock; the real IngestService, FeedParser, EnrichService
(offline summarizer) and Outbox run on an in-memory store; the outbox "posts" through a
`RecordingPublisher`. Each feed is first read as it stood at `replay.subscribe_at` (what it holds
then is stored as seen: a new subscription never floods a channel), then the clock moves on in
steps of `replay.poll_every_minutes` to each step where a new item has appeared, and polls.
"""

from __future__ import annotations

import asyncio
import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Protocol

from bot.adapters.feeds import FeedParser
from bot.adapters.store import SQLiteStore
from bot.config import Settings, parse_settings
from bot.core.cards import Card
from bot.core.routing import Route, RouteOrigin
from bot.errors import ConfigError
from bot.offline.packaged_feeds import PackagedFeeds
from bot.offline.recorder import Action, Post, RecordingPublisher
from bot.render.card_layout import TimelinePoint, parse_color
from bot.services.enrich import EnrichService
from bot.services.feeds import sync_config_feeds
from bot.services.ingest import IngestService
from bot.services.outbox import ChannelPacer, Outbox
from bot.services.ports import Store

DEMO_DATA: Traversable = files("bot") / "data" / "demo"
WEEK = 7 * 86_400.0
TIMELINE_EVENTS = 10  # asked of the store for a card's Timeline field and for the page
RECAP_SIZE = 5


@dataclass(slots=True)
class DemoClock:
    """The simulated time every service of the demo reads; the outbox's pacing "sleeps" on it."""

    now: float

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Move the clock on instead of waiting."""
        self.now += seconds
        await asyncio.sleep(0)


@dataclass(frozen=True, slots=True)
class DemoWorld:
    """The demo's config, its replay plan and the names of its fictional servers and channels."""

    settings: Settings
    subscribe_at: float
    poll_every: float
    timeline_entity: str
    servers: Mapping[int, str]
    channels: Mapping[int, str]

    @classmethod
    def load(cls, data: Traversable) -> DemoWorld:
        """Read config.toml and demo.toml from `data`; ConfigError when either is unusable."""
        settings = parse_settings(tomllib.loads((data / "config.toml").read_text(encoding="utf-8")))
        raw = tomllib.loads((data / "demo.toml").read_text(encoding="utf-8"))
        replay = raw.get("replay", {})
        try:
            return cls(
                settings=settings,
                subscribe_at=replay["subscribe_at"].timestamp(),
                poll_every=float(replay.get("poll_every_minutes", 30)) * 60,
                timeline_entity=str(replay.get("timeline_entity", "")),
                servers={int(k): str(v) for k, v in raw.get("servers", {}).items()},
                channels={int(k): str(v) for k, v in raw.get("channels", {}).items()},
            )
        except (KeyError, AttributeError, ValueError, TypeError) as exc:
            problem = f"demo.toml: a [replay] value is missing or invalid ({type(exc).__name__}: {exc})"
            raise ConfigError([problem]) from None

    def guild_of(self, channel_id: int) -> int:
        """The server a routed channel belongs to (0 when no route names it)."""
        return next((r.guild_id for r in self.settings.routes if r.channel_id == channel_id), 0)

    def place(self, channel_id: int) -> str:
        """`Server › #channel` for a channel the routes point at."""
        guild = self.guild_of(channel_id)
        return f"{self.servers.get(guild, f'server {guild}')} › #{self.channels.get(channel_id, str(channel_id))}"

    def color(self, card: Card) -> int | None:
        """The configured colour of the card's first topic, if any."""
        topic = self.settings.topic(card.topics[0]) if card.topics else None
        return parse_color(topic.color) if topic else None

    def poll_times(self, item_dates: list[float]) -> list[float]:
        """The poll steps after the subscription at which some item has appeared since the last step."""
        step, start = self.poll_every, self.subscribe_at
        return sorted({start + math.ceil((d - start) / step) * step for d in item_dates if d > start})


@dataclass(frozen=True, slots=True)
class PollNews:
    """What one poll of the replay brought: new stories posted, grown stories edited."""

    at: float
    posted: list[list[Post]]  # per new story, its posts (one per channel)
    edited: list[list[Post]]  # per grown story, its edited posts


class ReplayListener(Protocol):
    """Hears the replay as it goes (the demo prints it)."""

    def subscribed(self, at: float, items: int) -> None:
        """The first poll stored `items` entries as seen."""

    def polled(self, news: PollNews) -> None:
        """A poll posted or edited something."""


@dataclass(frozen=True, slots=True)
class RecapLine:
    """A story of the week's recap and how many sources told it."""

    card: Card
    sources: int


@dataclass(slots=True)
class DemoRun:
    """Everything the replay produced, for the summary and the HTML page."""

    world: DemoWorld
    publisher: RecordingPublisher
    items: int = 0
    seen_at_subscription: int = 0
    new_items: int = 0
    polls: int = 0
    stories: int = 0
    unrouted: list[Card] = field(default_factory=list)
    finished_at: float = 0.0
    recap: list[RecapLine] = field(default_factory=list)
    timeline_entity: str = ""
    timeline: list[TimelinePoint] = field(default_factory=list)  # oldest first

    @property
    def posts(self) -> int:
        """Card messages sent (one per story and channel)."""
        return len(self.publisher.posts)

    @property
    def edits(self) -> int:
        """Card messages edited because their story grew."""
        return sum(action is Action.EDITED for action, _ in self.publisher.log)


def _news(publisher: RecordingPublisher, start: int, at: float) -> PollNews:
    """The publisher's log since `start`, grouped by story."""
    posted: dict[int, list[Post]] = {}
    edited: dict[int, list[Post]] = {}
    for action, message_id in publisher.log[start:]:
        if action is Action.ALERT:
            continue
        post = publisher.posts[message_id]
        group = posted if action is Action.SENT else edited
        group.setdefault(post.card.story_id, []).append(post)
    return PollNews(at, list(posted.values()), [v for k, v in edited.items() if k not in posted])


class Replay:
    """Runs the pipeline over the packaged feeds, poll by poll; the listener hears what each posted."""

    def __init__(self, world: DemoWorld, data: Traversable, store: Store, listener: ReplayListener) -> None:
        self.world = world
        self.store = store
        self.listener = listener
        self.clock = DemoClock(world.subscribe_at)
        self.feeds = PackagedFeeds(data, self.clock)
        self.enrich = EnrichService(store, world.settings, clock=self.clock)
        self.publisher = RecordingPublisher(self.clock, timeline=self._timeline)
        pacer = ChannelPacer(clock=self.clock)  # Discord's 5 per 5 s, on the simulated clock
        self.outbox = Outbox(store, self.publisher, clock=self.clock, pacer=pacer, sleep=self.clock.sleep)
        self.created: list[int] = []

    async def _timeline(self, card: Card) -> tuple[TimelinePoint, ...]:
        if not card.main_entity:
            return ()
        return tuple(TimelinePoint(*row) for row in await self.store.entity_events(card.main_entity, TIMELINE_EVENTS))

    async def _setup(self) -> None:
        settings, now = self.world.settings, self.clock()
        await sync_config_feeds(self.store, settings.feeds, now)
        routes = [Route(r.guild_id, r.topic, r.channel_id, r.include_keywords, r.exclude_keywords, RouteOrigin.CONFIG)
                  for r in settings.routes]  # fmt: skip
        await self.store.sync_config_routes(routes, now)
        await self.enrich.start()

    async def _enrich_and_post(self) -> None:
        while changes := await self.enrich.run_once():
            self.created += [c.story_id for c in changes if c.created]
            await self.outbox.route_changes(changes)
        while await self.outbox.drain_once():
            pass

    async def _poll(self, ingest: IngestService, run: DemoRun) -> None:
        mark = len(self.publisher.log)
        report = await ingest.run_cycle()
        run.new_items += report.new_entries
        run.polls += 1
        await self._enrich_and_post()
        news = _news(self.publisher, mark, self.clock())
        if news.posted or news.edited:
            self.listener.polled(news)

    async def run(self) -> DemoRun:
        """Subscribe, replay every poll, then gather the recap and the timeline."""
        run = DemoRun(self.world, self.publisher, items=len(self.feeds.item_dates()))
        await self._setup()
        async with FeedParser() as parser:
            ingest = IngestService(self.store, self.feeds, parser, self.world.settings.polling, clock=self.clock,
                                   rng=random.Random(7))  # noqa: S311 -- jitter, and the same every run  # fmt: skip
            first = await ingest.run_cycle()
            run.seen_at_subscription = first.new_entries
            self.listener.subscribed(self.clock(), first.new_entries)
            for at in self.world.poll_times(self.feeds.item_dates()):
                self.clock.now = max(self.clock.now, at)
                await self._poll(ingest, run)
        run.finished_at = self.clock()
        run.stories = len(set(self.created))
        posted = self.publisher.stories()
        for story_id in dict.fromkeys(self.created):
            card = await self.store.get_card(story_id)
            if story_id not in posted and card is not None:
                run.unrouted.append(card)
        run.recap = self._recap(posted, run.finished_at)
        run.timeline_entity, run.timeline = await self._entity_timeline()
        return run

    def _recap(self, posted: dict[int, list[Post]], end: float) -> list[RecapLine]:
        """The week's top stories by number of sources (then the newest first)."""
        cards = [posts[0].card for posts in posted.values()]
        lines = [RecapLine(c, 1 + len(c.related)) for c in cards if end - WEEK <= c.published_at <= end]
        lines.sort(key=lambda line: (-line.sources, -line.card.published_at))
        return lines[:RECAP_SIZE]

    async def _entity_timeline(self) -> tuple[str, list[TimelinePoint]]:
        """The configured entity's stories, oldest first (else those of the entity with the most)."""
        names = [e.name for e in self.world.settings.entities]
        if self.world.timeline_entity:
            names = [self.world.timeline_entity]
        best: tuple[str, list[TimelinePoint]] = ("", [])
        for name in names:
            points = [TimelinePoint(*row) for row in await self.store.entity_events(name, 100)]
            if len(points) > len(best[1]):
                best = (name, points)
        return best[0], sorted(best[1], key=lambda p: p.date)


async def run_demo(world: DemoWorld, data: Traversable, listener: ReplayListener) -> DemoRun:
    """Replay the demo feeds of `data` through the pipeline on an in-memory store."""
    store = await SQLiteStore.open(":memory:")
    try:
        return await Replay(world, data, store, listener).run()
    finally:
        await store.close()
