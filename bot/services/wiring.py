"""Build the adapters and services from the settings, and close them in the right order."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field

from bot.adapters.feeds import FeedParser, Fetcher
from bot.adapters.llm import LLMSummarizer, build_summarizer
from bot.config import Settings
from bot.core.routing import Route, RouteOrigin
from bot.core.topology import Role, Topology
from bot.services.enrich import EnrichService, StoryChange
from bot.services.feeds import sync_config_feeds
from bot.services.guilds import GuildLifecycle
from bot.services.ingest import IngestService
from bot.services.outbox import Outbox, Publisher
from bot.services.ports import Store
from bot.services.recap import RecapScheduler, RecapService
from bot.services.subscriptions import Subscriptions, Waker
from bot.services.supervisor import Supervisor
from bot.services.timeline import TimelineService
from bot.services.topic_routes import TopicRoutes

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Services:
    """Everything the Discord face and the CLI use; owned by whoever built it."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    parser: FeedParser
    ingest: IngestService
    enrich: EnrichService
    outbox: Outbox
    supervisor: Supervisor
    recaps: RecapScheduler
    recap: RecapService  # /recap: a week's stories as a server may see them
    timeline: TimelineService  # /timeline and its autocomplete
    routes: TopicRoutes  # /topics, and the topic names every command autocompletes
    subscriptions: Subscriptions  # /feeds
    guilds: GuildLifecycle  # the bot removed from a server, or added back
    summarizer: LLMSummarizer | None = None
    topology: Topology = field(default_factory=Topology)  # this process's roles and shards

    @classmethod
    def build(
        cls, settings: Settings, store: Store, publisher: Publisher, topology: Topology | None = None
    ) -> Services:
        topology = topology or Topology()
        shards = topology.shards
        fetcher = Fetcher.from_settings(settings.polling)
        parser = FeedParser()
        summarizer = build_summarizer(  # its own session: model servers may be local
            settings.summarizer, store, input_chars=settings.limits.model_input_chars
        )
        enrich = EnrichService(store, settings, summarizer=summarizer)
        outbox = Outbox(store, publisher, shards=shards)

        async def released(entry_ids: list[int]) -> None:
            enrich.wake()
            if store.shared:  # the enrich role may be another process
                await store.notify("released")

        async def changed(changes: list[StoryChange]) -> None:
            await outbox.route_changes(changes)  # which wakes the processes that send them

        enrich.on_changes = changed
        if store.shared:  # several enrich processes: each writes cards by claiming the jobs clustering queues
            enrich.card_jobs = True

            async def jobs_queued() -> None:
                await store.notify("cards")

            enrich.on_jobs = jobs_queued
        ingest = IngestService(store, fetcher, parser, settings.polling, on_released=released, shared=store.shared)
        recaps = RecapScheduler(store, on_queued=outbox.wake, shards=shards)
        return cls(
            settings, store, fetcher, parser, ingest, enrich, outbox, Supervisor(), recaps,
            recap=RecapService(store),
            timeline=TimelineService(store, settings),
            routes=TopicRoutes(settings, store),
            subscriptions=Subscriptions(
                settings, store, fetcher, parser, enrich, wake=lambda: _wake(store, ingest, enrich)
            ),
            guilds=GuildLifecycle(store, shards=shards),
            summarizer=summarizer,
            topology=topology,
        )  # fmt: skip

    async def start(self) -> None:
        """Bring the store in step with the config, then start the loops of this process's roles.

        Several processes on one database each run this: the config is brought in one at a time (the
        same config: each finds the work of the first done), and each loop takes its share of the work
        through the database (bot/core/topology.py)."""
        now = time.time()
        role = self.topology.has
        async with self.store.exclusive("start"):
            await sync_config_feeds(self.store, self.settings.feeds, now)
            routes = [Route(r.guild_id, r.topic, r.channel_id, r.include_keywords, r.exclude_keywords,
                            RouteOrigin.CONFIG, mention_role_id=r.mention_role or None, publish=r.publish)
                      for r in self.settings.routes]  # fmt: skip
            await self.store.sync_config_routes(routes, now)
            await self.recaps.sync_config(self.settings.recaps)
        if self.store.shared:
            await self._listen()
        if role(Role.INGEST):
            self.supervisor.start("ingest", self.ingest.run_forever)
        if role(Role.ENRICH) and not self.store.shared:  # the only process: recovery first, then the loop
            await self.enrich.start()
            self.supervisor.start("enrich", self.enrich.run_forever)
        elif role(Role.ENRICH):
            self.supervisor.start("enrich", self._enrich)
            self.supervisor.start("cards", self.enrich.write_cards_forever)
        if role(Role.ENRICH) or role(Role.DISCORD):  # enrich routes stories; discord sends its servers' posts
            outbox = functools.partial(self.outbox.run_forever, route=role(Role.ENRICH), send=role(Role.DISCORD))
            self.supervisor.start("outbox", outbox)
        if role(Role.DISCORD):
            self.supervisor.start("recap", self.recaps.run_forever)
            self.supervisor.start("guilds", self.guilds.run_forever)
        log.info("started: %s", self.topology.describe())

    async def _enrich(self, stop: asyncio.Event) -> None:
        """Past one process, clustering has one writer at a time: the enrich process holding the lock (the
        others wait, and take over the moment it dies: the database lets go of a dead process's lock)."""
        async with self.store.exclusive("enrich"):
            if stop.is_set():
                return
            await self.enrich.start()  # recovery: what a stopped enrich left half done
            # then routing's recovery, as a lone process does it after enrich's: the outbox loop's own ran
            # when this process started, before the cards above were written (and, for a process that
            # takes over, before the last holder died), so the stories carded since would never be routed
            await self.outbox.reconcile(route=True, send=False)
            await self.store.notify("outbox")
            await self.enrich.run_forever(stop)

    async def _listen(self) -> None:
        """Wake this process's loops when another process has work for them."""
        role = self.topology.has
        if role(Role.INGEST):
            await self.store.listen("feeds", self.ingest.wake)
        if role(Role.ENRICH):
            await self.store.listen("released", self.enrich.wake)
            await self.store.listen("feeds", self.enrich.wake)
            await self.store.listen("cards", self.enrich.wake_writer)
        if role(Role.DISCORD):
            await self.store.listen("outbox", self.outbox.wake)

    async def close(self) -> None:
        """Stop the loops (each finishes its current write), then the network and the pool."""
        await self.supervisor.stop()
        await self.fetcher.close()
        await self.parser.close()
        if self.summarizer is not None:
            await self.summarizer.close()


_notes: set[asyncio.Task[None]] = set()  # notifications under way (a task must be referenced until done)


def _wake(store: Store, *loops: Waker) -> None:
    """A feed was added or resumed: ingest polls it, enrich builds its history (in this process, and in
    the others when there are others)."""
    for loop in loops:
        loop.wake()
    if store.shared:
        task = asyncio.get_running_loop().create_task(store.notify("feeds"))
        _notes.add(task)
        task.add_done_callback(_notes.discard)
