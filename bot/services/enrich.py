"""The enrichment pipeline: released entries → stories → cards.

Each cycle takes the entries ingest released, plans their stories off the event loop
(entities, topics, clustering), writes the plan, and writes a card for every story that was
created or that gained a source. A model is called once per story, when it is created; a later
source only refreshes the card's related updates, topics and entities.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from bot.config import Settings
from bot.core.cardmaker import fill_gaps, ground_draft, make_card
from bot.core.cards import Card, Draft, RelatedLink, SourceText, StoryInput
from bot.core.cluster import ClusterParams
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.quarantine import Stage
from bot.core.stories import OPERATOR_SCOPE, EntryInput, feed_scope, lead_of, plan_stories
from bot.core.summarize import TopicTexts, offline_draft
from bot.core.topics import TopicMatcher, TopicRule
from bot.core.types import Feed, FeedOrigin, ParsedEntry, StoredEntry
from bot.errors import WirebriefError
from bot.services.isolation import Isolation
from bot.services.ports import CardStore, FailureStore, FeedStore, StoryStore
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)


class EnrichStore(StoryStore, CardStore, FeedStore, FailureStore, Protocol):
    """What the enrichment pipeline reads and writes."""


class Summarizer(Protocol):
    async def summarize(self, story: StoryInput) -> Draft: ...


class StoryGoneError(WirebriefError):
    """Every entry of the story was removed with its feed: it has no card to write."""


@dataclass(frozen=True, slots=True)
class StoryChange:
    story_id: int
    created: bool  # False: an existing story gained a source (its posts get edited)


class EnrichService:
    """Turns released entries into stories and cards."""

    def __init__(
        self,
        store: EnrichStore,
        settings: Settings,
        *,
        summarizer: Summarizer | None = None,
        clock: Callable[[], float] = time.time,
        params: ClusterParams | None = None,
        batch_size: int = 200,
    ) -> None:
        self.store = store
        self.settings = settings
        self.summarizer = summarizer
        self.clock = clock
        self.params = params or ClusterParams()
        self.batch_size = batch_size
        self.matcher = TopicMatcher(TopicRule(t.name, t.keywords, t.regex) for t in settings.topics)
        self.topic_texts = {
            t.name: TopicTexts(t.why_it_matters, t.what_to_do_next, t.who_should_care) for t in settings.topics
        }
        self.extractor = EntityExtractor(WatchEntity(e.name, e.aliases) for e in settings.entities)

        self.planner = plan_stories  # the pure planner; tests put a failing stand-in here
        self.planning = Isolation(store, Stage.STORY, clock=clock)
        self.cards = Isolation(store, Stage.CARD, clock=clock)
        self._wake = asyncio.Event()
        self.on_changes: Callable[[list[StoryChange]], Awaitable[None]] | None = None

    async def start(self) -> None:
        """Make the configured entities known; write the cards a stopped process did not."""
        await self.store.sync_watchlist([(e.name, e.aliases) for e in self.settings.entities], self.clock())
        held = await self.store.held_items(Stage.CARD, self.clock())
        missing = [s for s in await self.store.stories_without_card() if s not in held]
        if missing:
            written = await self._write_cards(dict.fromkeys(missing, True))
            log.info("wrote %d of %d cards left unwritten by the last run", len(written), len(missing))

    def wake(self) -> None:
        """Entries were released: look at them now."""
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float = 30.0) -> None:
        """Enrich released entries as they come, until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            changes = await self.run_once()
            if changes:
                log.info("enrich: %d stories new, %d updated", sum(c.created for c in changes),
                         sum(not c.created for c in changes))  # fmt: skip
                if self.on_changes is not None:
                    await self.on_changes(changes)
                continue  # there may be more released entries than one batch
            await wait_any(stop, self._wake, timeout=idle_seconds)

    async def run_once(self) -> list[StoryChange]:
        """Cluster one batch of released entries and write the cards, and retry the cards whose backoff
        has passed; [] when there was nothing. An entry or story that fails is retried alone, then
        quarantined (`bot.services.isolation`): the others go on."""
        entries = await self.store.released_entries(self.batch_size, self.clock())
        feeds = {f.id: f for f in await self.store.list_feeds()} if entries else {}
        changes: dict[int, bool] = {}
        for applied in await self.planning.in_batch(entries, _entry_id, lambda group: self._plan(group, feeds)):
            for story_id, created in applied:
                changes[story_id] = changes.get(story_id, False) or created
        for failure in await self.store.due_item_failures(Stage.CARD, self.clock(), self.batch_size):
            changes.setdefault(failure.item_id, failure.note == "new")
        written = await self._write_cards(changes, feeds or None)
        return [StoryChange(story_id, created) for story_id, created in written.items()]

    async def _plan(self, entries: list[StoredEntry], feeds: dict[int, Feed]) -> list[tuple[int, bool]]:
        """Plan the stories of these entries off the event loop, then write the plan."""
        since = min(e.published_at for e in entries) - self.params.window_hours * 3600
        candidates = await self.store.story_features_since(since)
        scopes = await self.store.story_scopes([story_id for story_id, _ in candidates])
        inputs = [
            EntryInput(
                e.id, e.feed_id, e.title, e.summary or e.content, e.published_at, _forced(feeds, e), _scope(feeds, e)
            )
            for e in entries
        ]
        plan = await asyncio.to_thread(
            self.planner, inputs, candidates, self.extractor, self.matcher, self.params, scopes
        )
        return await self.store.apply_story_plan(plan, self.clock())

    async def _write_cards(self, changes: dict[int, bool], feeds: dict[int, Feed] | None = None) -> dict[int, bool]:
        """Write the card of each story (True: new); return those written. A story whose card
        cannot be written is retried later, then quarantined, without holding up the others."""
        if not changes:
            return {}
        feeds = feeds or {f.id: f for f in await self.store.list_feeds()}

        async def write(story_id: int) -> bool | None:
            # a retried new story whose card was written before a crash is refreshed, not rewritten
            created = changes[story_id] and await self.store.get_card(story_id) is None
            try:
                await self.write_card(story_id, feeds, created=created)
            except StoryGoneError as exc:  # its feeds were removed meanwhile: nothing to tell
                log.info("%s", exc)
                return None
            return changes[story_id]

        done = await self.cards.one_by_one(
            list(changes), _same, write, note=lambda story_id: "new" if changes[story_id] else "grown"
        )
        return {story_id: created for story_id, created in done if created is not None}

    async def write_card(self, story_id: int, feeds: dict[int, Feed], *, created: bool) -> Card:
        """Write (or refresh) the card of a story."""
        entries = await self.store.story_entries(story_id)
        if not entries:  # every entry of the story was removed with its feed
            raise StoryGoneError(f"story {story_id} has no entries left to write a card from")
        sources = tuple(
            SourceText(_source_name(feeds, e), e.title, e.summary or e.content, e.link, e.published_at) for e in entries
        )
        topics = tuple(await self.store.story_topics(story_id))
        entities = tuple(await self.store.story_entities(story_id))
        now = self.clock()
        existing = None if created else await self.store.get_card(story_id)
        if existing is not None:
            # every source but the posted one: a source dated earlier may arrive later
            others = [s for s in sources if s.url != existing.url]
            card = replace(
                existing,
                related=tuple(RelatedLink(s.source, s.title, s.url, s.published_at) for s in others),
                entities=entities,
                topics=tuple(dict.fromkeys((*existing.topics, *topics))),
            )
        else:
            story = StoryInput(story_id, sources, self.matcher.names, topics, entities)
            forced = tuple(dict.fromkeys(t for e in entries for t in _forced(feeds, e)))
            card = await self._new_card(story, forced, now)
        await self.store.save_card(story_id, card, now)
        return card

    async def preview_card(self, source: str, entry: ParsedEntry, forced: tuple[str, ...] = ()) -> Card:
        """The card `entry` would get as a story of its own, written now and stored nowhere."""
        text = entry.summary or entry.content
        published = entry.published if entry.published is not None else self.clock()
        mentions = self.extractor.extract(entry.title, text)
        topics = self.matcher.match(entry.title, lead_of(text), forced)
        sources = (SourceText(source, entry.title, text, entry.link or "", published),)
        story = StoryInput(0, sources, self.matcher.names, topics, tuple(m.name for m in mentions))
        return await self._new_card(story, forced, self.clock())

    async def _new_card(self, story: StoryInput, forced: tuple[str, ...], now: float) -> Card:
        # the extractive draft and the grounding check are CPU work: off the event loop
        offline = await asyncio.to_thread(offline_draft, story, self.topic_texts)
        draft = offline
        if self.summarizer is not None:
            try:
                draft = await self.summarizer.summarize(story)
            except WirebriefError as exc:
                log.warning("story %d: the model failed (%s); writing the card offline", story.story_id, exc)
            except Exception:
                log.exception("story %d: summarizer bug; writing the card offline", story.story_id)
        grounded, removed = await asyncio.to_thread(ground_draft, draft, story.sources)
        if removed:
            log.info("story %d: grounding removed %d unsupported claims", story.story_id, removed)
        grounded = fill_gaps(grounded, offline)
        topics = story.topics
        if grounded.by_model and grounded.topics:  # the model chose among the configured topics
            topics = tuple(dict.fromkeys((*forced, *grounded.topics)))
        return make_card(
            story_id=story.story_id,
            draft=grounded,
            sources=story.sources,
            entities=story.entities,
            topics=topics,
            removed_claims=removed,
            now=now,
        )


def _entry_id(entry: StoredEntry) -> int:
    return entry.id


def _same(story_id: int) -> int:
    return story_id


def _forced(feeds: dict[int, Feed], entry: StoredEntry) -> tuple[str, ...]:
    feed = feeds.get(entry.feed_id)
    return feed.forced_topics if feed else ()


def _scope(feeds: dict[int, Feed], entry: StoredEntry) -> str:
    """Who may see the entry, as a clustering scope: "" for the operator's feeds (every server), else
    its own feed's key — a server-followed feed's entries never join another feed's story."""
    feed = feeds.get(entry.feed_id)
    if feed is not None and feed.origin is not FeedOrigin.DISCORD:
        return OPERATOR_SCOPE
    return feed_scope(entry.feed_id)  # a feed not found (removed meanwhile) is not taken as the operator's


def _source_name(feeds: dict[int, Feed], entry: StoredEntry) -> str:
    feed = feeds.get(entry.feed_id)
    return feed.display_name if feed else "unknown source"
