"""Build the adapters and services from the settings, and close them in the right order."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.adapters.feeds import FeedParser, Fetcher
from bot.adapters.llm import LLMSummarizer, build_summarizer
from bot.config import Settings
from bot.core.routing import Route, RouteOrigin
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

    @classmethod
    def build(cls, settings: Settings, store: Store, publisher: Publisher) -> Services:
        fetcher = Fetcher.from_settings(settings.polling)
        parser = FeedParser()
        summarizer = build_summarizer(  # its own session: model servers may be local
            settings.summarizer, store, input_chars=settings.limits.model_input_chars
        )
        enrich = EnrichService(store, settings, summarizer=summarizer)
        outbox = Outbox(store, publisher)

        async def released(entry_ids: list[int]) -> None:
            enrich.wake()

        async def changed(changes: list[StoryChange]) -> None:
            await outbox.route_changes(changes)

        enrich.on_changes = changed
        ingest = IngestService(store, fetcher, parser, settings.polling, on_released=released)
        recaps = RecapScheduler(store, on_queued=outbox.wake)
        return cls(
            settings, store, fetcher, parser, ingest, enrich, outbox, Supervisor(), recaps,
            recap=RecapService(store),
            timeline=TimelineService(store, settings),
            routes=TopicRoutes(settings, store),
            subscriptions=Subscriptions(settings, store, fetcher, parser, enrich, wake=lambda: _wake(ingest, enrich)),
            guilds=GuildLifecycle(store),
            summarizer=summarizer,
        )  # fmt: skip

    async def start(self) -> None:
        """Bring the store in step with the config, then start the background loops."""
        now = time.time()
        await sync_config_feeds(self.store, self.settings.feeds, now)
        routes = [Route(r.guild_id, r.topic, r.channel_id, r.include_keywords, r.exclude_keywords, RouteOrigin.CONFIG)
                  for r in self.settings.routes]  # fmt: skip
        await self.store.sync_config_routes(routes, now)
        await self.recaps.sync_config(self.settings.recaps)
        await self.enrich.start()
        self.supervisor.start("ingest", self.ingest.run_forever)
        self.supervisor.start("enrich", self.enrich.run_forever)
        self.supervisor.start("outbox", self.outbox.run_forever)
        self.supervisor.start("recap", self.recaps.run_forever)
        self.supervisor.start("guilds", self.guilds.run_forever)

    async def close(self) -> None:
        """Stop the loops (each finishes its current write), then the network and the pool."""
        await self.supervisor.stop()
        await self.fetcher.close()
        await self.parser.close()
        if self.summarizer is not None:
            await self.summarizer.close()


def _wake(*loops: Waker) -> None:
    """A feed was added or resumed: ingest polls it, enrich builds its history."""
    for loop in loops:
        loop.wake()
