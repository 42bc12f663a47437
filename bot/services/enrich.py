"""The enrichment pipeline: released entries → stories → cards, and history.

Each cycle takes the entries ingest released, plans their stories off the event loop
(entities, topics, clustering), writes the plan, and writes a card for every story that was
created or that gained a source. A model is called once per story, when it becomes news; a later
source only refreshes the card's related updates, topics and entities.

History: entries stored as seen (the items a feed holds when it is added, items too old to post,
imported feeds' first polls) join stories the same way, with their own dates, in batches taken only
when no released entry waits (news first, always). A story history creates is never posted
(`announced_at` stays NULL) and gets an offline card (no model call); history joining a story
edits no post. A released entry joining a history story makes it news: posted then, to the routes
that exist then. History is built as it comes, so an upgraded database builds its past once, in
batches that each commit (a restart goes on where it stopped), with progress in the log.

Past one process (PostgreSQL), clustering has one writer at a time (the enrich process holding the
lock, `Services._enrich`), but cards are written in parallel: with `card_jobs`, a cycle queues a card
job per story it placed instead of writing the cards, and every enrich process runs `write_cards_forever`,
which claims jobs with a lease (renewed while it writes), writes their cards, routes them, and lets
the jobs go (`bot/adapters/store/sqlite_card_jobs.py`). A writer that dies mid-card leaves its jobs
to the next claim when their lease ends; a change queued while a card is written is written after.

History yields to news: a history batch looks for released entries waiting (only after ingest woke
the loop) before it plans, between the short transactions its plan is written in (`HISTORY_CHUNK`
entries each) and before each card; when news waits, it stops there. What it did not write is left
as it was (entries in no story, planned again with a later batch; cards written at the next history
batch, or by `start` after a restart), so nothing is lost and a crash between two parts is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from bot.config import Settings
from bot.core.cardmaker import card_image, fill_gaps, ground_draft, make_card
from bot.core.cards import Card, Draft, RelatedLink, SourceText, StoryInput
from bot.core.cluster import ClusterParams
from bot.core.entities import EntityExtractor, WatchEntity
from bot.core.quarantine import Stage
from bot.core.stories import OPERATOR_SCOPE, EntryInput, Placed, feed_scope, lead_of, plan_stories
from bot.core.summarize import TopicTexts, offline_draft
from bot.core.topics import TopicMatcher, TopicRule
from bot.core.types import Feed, FeedOrigin, ParsedEntry, StoredEntry
from bot.errors import WirebriefError
from bot.services.isolation import Isolation
from bot.services.ports import CardJobStore, CardStore, FailureStore, FeedStore, StoryStore
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)

HISTORY_BATCH = 25  # history entries planned at once: small, so news never waits long behind one batch
HISTORY_CHUNK = 10  # history plan items written per transaction; news waiting is looked for between two
NEWS_GRACE = 0.05  # seconds history waits after news was handed to the outbox (a wake-up ends the wait)
FEEDS_TTL = 5.0  # seconds a history build reuses the feeds it read (news, and a wake-up, read them anew)
PROGRESS_EVERY = 30.0  # seconds between two log lines about the history being built
CARD_LEASE_SECONDS = 60.0  # a card job's hold, renewed every third of it while its card is written
# (a writer that dies leaves its cards to another writer when it ends)
CARD_CLAIM = 4  # card jobs a writer takes at once: small, so that several writers share a burst


class EnrichStore(StoryStore, CardStore, CardJobStore, FeedStore, FailureStore, Protocol):
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
        self._history_logged = 0.0  # when the history's progress was last logged (0: never)
        self.history_built = False  # the last run_once placed history: more may wait
        self._wakes = 0  # wake-ups so far; `_looked` of them were looked at for news waiting
        self._looked = 0
        self._yielding = False  # news waits: the history batch under way stops
        self._deferred: dict[int, Placed] = {}  # history stories whose card waits for the next history batch
        self._feeds: tuple[float, dict[int, Feed]] | None = None  # (when read, feeds) for history batches
        self._more_news = False  # the last batch of news was full: more may wait
        # past one process: cards are queued as jobs that every enrich process claims (see the module)
        self.card_jobs = False
        self.on_jobs: Callable[[], Awaitable[None]] | None = None  # jobs were queued: wake the writers
        self._jobs_wake = asyncio.Event()
        self._queued = 0  # card jobs the last run_once queued

    async def start(self) -> None:
        """Make the configured entities known; write the cards a stopped process did not."""
        entities = self.settings.entities
        await self.store.sync_watchlist([(e.name, e.aliases) for e in entities], self.clock(),
                                        parents={e.name: e.part_of for e in entities if e.part_of})  # fmt: skip
        held = await self.store.held_items(Stage.CARD, self.clock())
        missing = {s: Placed.NEWS if news else Placed.HISTORY
                   for s, news in await self.store.stories_without_card() if s not in held}  # fmt: skip
        if missing and self.card_jobs:
            await self._queue_cards(missing)
            log.info("queued %d cards left unwritten by the last run", len(missing))
        elif missing:
            written = await self._write_cards(missing)
            log.info("wrote %d of %d cards left unwritten by the last run", len(written), len(missing))
        left = await self.store.history_left()
        if left:
            log.info("history: %d stored entries are in no story yet; building their stories (news first)", left)

    def wake(self) -> None:
        """Entries were released (or stored as seen, or a feed added): look at them now."""
        self._wakes += 1
        self._feeds = None
        self._wake.set()

    async def run_forever(self, stop: asyncio.Event, *, idle_seconds: float = 30.0) -> None:
        """Enrich released entries as they come, until `stop` is set."""
        while not stop.is_set():
            self._wake.clear()
            changes = await self.run_once()
            await self._announce(changes)
            if (changes or self._queued) and not self._more_news:
                # the news is with the outbox: history waits a moment (a wake-up ends it), so that its
                # posts go out without a history batch taking the connection and the interpreter
                await wait_any(stop, self._wake, timeout=NEWS_GRACE)
                continue
            if changes or self._queued or self.history_built:
                continue  # there may be more released entries, or history, than one batch
            await wait_any(stop, self._wake, timeout=idle_seconds)

    async def run_once(self) -> list[StoryChange]:
        """Cluster one batch of released entries (or, when none waits, one batch of history) and write
        the cards, and retry the cards whose backoff has passed; [] when there was nothing. An entry or
        story that fails is retried alone, then quarantined (`bot.services.isolation`): the others go
        on. Returns the changes to post (history is not among them)."""
        self._looked, self._yielding = self._wakes, False
        entries = await self.store.released_entries(self.batch_size, self.clock())
        history = not entries
        self._more_news = len(entries) >= self.batch_size
        changes: dict[int, Placed] = {}
        if history:
            changes, self._deferred = self._deferred, {}  # cards an earlier history batch left for news
            entries = await self.store.history_entries(min(self.batch_size, HISTORY_BATCH), self.clock())
        feeds = await self._read_feeds(reuse=history) if entries or changes else {}
        applied: list[tuple[int, Placed]] = []  # as each part of a plan commits
        await self.planning.in_batch(entries, _entry_id, lambda group: self._plan(group, feeds, applied, history))
        for story_id, placed in applied:
            changes[story_id] = _stronger(changes.get(story_id), placed)
        for failure in await self.store.due_item_failures(Stage.CARD, self.clock(), self.batch_size):
            changes.setdefault(failure.item_id, Placed(failure.note) if failure.note in _PLACED else Placed.GROWN)
        if self.card_jobs:  # the plan queued its stories' card jobs as it was written: the rest here
            in_plan = {story_id for story_id, _ in applied}
            await self._queue_cards({s: p for s, p in changes.items() if s not in in_plan}, also=len(in_plan))
            written: dict[int, Placed] = {}
        else:
            written = await self._write_cards(changes, feeds or None, history=history)
        if history and entries:
            await self._log_history(len(applied))
        self.history_built = history and bool(entries)
        return _to_post(written)

    async def _announce(self, changes: list[StoryChange]) -> None:
        """Hand the stories whose cards were written to routing."""
        if not changes:
            return
        log.info("enrich: %d stories new, %d updated", sum(c.created for c in changes),
                 sum(not c.created for c in changes))  # fmt: skip
        if self.on_changes is not None:
            await self.on_changes(changes)

    async def _queue_cards(self, changes: dict[int, Placed], *, also: int = 0) -> None:
        """Queue a card job per story, for whichever enrich process claims it first, and wake the writers
        (`also`: jobs the plan queued already)."""
        self._queued = len(changes) + also
        if not self._queued:
            return
        if changes:
            await self.store.queue_card_jobs(list(changes.items()), self.clock())
        self._jobs_wake.set()
        if self.on_jobs is not None:
            await self.on_jobs()

    def wake_writer(self) -> None:
        """Card jobs were queued (here or by the enrich process that clusters): claim them now."""
        self._jobs_wake.set()

    async def write_cards_forever(self, stop: asyncio.Event, *, idle_seconds: float = 30.0) -> None:
        """Past one process: claim card jobs, write their cards and route them, until `stop` is set."""
        while not stop.is_set():
            self._jobs_wake.clear()
            if not await self.write_claimed():
                await wait_any(stop, self._jobs_wake, timeout=idle_seconds)

    async def write_claimed(self) -> int:
        """Claim a few card jobs, write their cards, route them, and let the jobs go; how many were
        claimed. The jobs' lease is renewed while their cards are written (a model call may be slow);
        if this process dies, they come back to the next claim when the lease ends."""
        jobs = dict(await self.store.claim_card_jobs(self.clock(), CARD_LEASE_SECONDS, CARD_CLAIM))
        if not jobs:
            return 0
        renewing = asyncio.create_task(self._renew_jobs(list(jobs)), name="card-leases")
        try:
            written = await self._write_cards(jobs)
            await self._announce(_to_post(written))
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        await self.store.finish_card_jobs(list(jobs))
        return len(jobs)

    async def _renew_jobs(self, story_ids: list[int]) -> None:
        while True:
            await asyncio.sleep(CARD_LEASE_SECONDS / 3)
            try:
                await self.store.renew_card_jobs(story_ids, self.clock() + CARD_LEASE_SECONDS)
            except WirebriefError as exc:  # the next renewal may succeed; a lapse costs a card written twice
                log.warning("could not renew the lease of %d card jobs: %s", len(story_ids), exc)

    async def _log_history(self, done: int) -> None:
        now = time.monotonic()
        if now - self._history_logged < PROGRESS_EVERY:
            return
        self._history_logged = now
        left = await self.store.history_left()
        log.info("history: %d more entries placed in stories; %d left", done, left)

    async def _read_feeds(self, *, reuse: bool) -> dict[int, Feed]:
        """Every feed by id; with `reuse`, those read by an earlier history batch less than FEEDS_TTL ago
        and since the last wake-up (a feed added comes with one)."""
        now = time.monotonic()
        if reuse and self._feeds is not None and now - self._feeds[0] < FEEDS_TTL:
            return self._feeds[1]
        feeds = {f.id: f for f in await self.store.list_feeds()}
        self._feeds = (now, feeds)
        return feeds

    async def _news_waits(self) -> bool:
        """Whether released entries wait, so that history stops: looked for in the store only after a
        wake-up that came since the batch began or since the last look; once found, for the rest of it."""
        if not self._yielding and self._looked != self._wakes:
            self._looked = self._wakes
            self._yielding = bool(await self.store.released_entries(1, self.clock()))
        return self._yielding

    async def _plan(
        self, entries: list[StoredEntry], feeds: dict[int, Feed], applied: list[tuple[int, Placed]], history: bool
    ) -> None:
        """Plan the stories of these entries off the event loop, then write the plan, adding to `applied`
        what each write placed. News is written in one transaction; history in parts of HISTORY_CHUNK, and
        it stops (before planning, or between two parts) when news waits: the rest stays in no story."""
        if history and await self._news_waits():
            return
        since = min(e.published_at for e in entries) - self.params.window_hours * 3600
        candidates = await self.store.story_features_since(since)
        scopes = await self.store.story_scopes([story_id for story_id, _ in candidates])
        if history and await self._news_waits():
            return
        inputs = [
            EntryInput(
                e.id, e.feed_id, e.title, e.summary or e.content, e.published_at, _forced(feeds, e), _scope(feeds, e)
            )
            for e in entries
        ]
        plan = await asyncio.to_thread(
            self.planner, inputs, candidates, self.extractor, self.matcher, self.params, scopes
        )
        size = HISTORY_CHUNK if history else max(1, len(plan))
        created: dict[int, int] = {}  # a provisional story ref of the plan -> the story an earlier part made
        for start in range(0, len(plan), size):
            if history and await self._news_waits():
                return
            part = [replace(i, story_ref=created.get(i.story_ref, i.story_ref)) for i in plan[start : start + size]]
            done = await self.store.apply_story_plan(part, self.clock(), queue_cards=self.card_jobs)
            applied.extend(done)
            if len(done) != len(part):  # the store left some out (placed, or their story gone): plan the rest anew
                return
            created.update((i.story_ref, story_id) for i, (story_id, _) in zip(part, done, strict=True) if i.creates)

    async def _write_cards(
        self, changes: dict[int, Placed], feeds: dict[int, Feed] | None = None, *, history: bool = False
    ) -> dict[int, Placed]:
        """Write the card of each story; return those written. A story whose card cannot be written
        is retried later, then quarantined, without holding up the others. History gets an offline
        card when it has none, and nothing when it has one (no post shows it); in a `history` run, a
        history card waits for the next history batch when news waits."""
        if not changes:
            return {}
        feeds = feeds or {f.id: f for f in await self.store.list_feeds()}

        async def write(story_id: int) -> Placed | None:
            placed = changes[story_id]
            if history and placed is Placed.HISTORY and await self._news_waits():
                self._deferred[story_id] = placed
                return None
            existing = await self.store.get_card(story_id)
            if placed is Placed.HISTORY and existing is not None:
                return placed
            # a retried new story whose card was written before a crash is refreshed, not rewritten; a
            # history story that news joined has a card from before it was news: written anew
            created = placed is not Placed.GROWN and (
                existing is None or await self._carded_as_history(story_id, existing)
            )
            try:
                await self.write_card(story_id, feeds, created=created, model=placed is Placed.NEWS)
            except StoryGoneError as exc:  # its feeds were removed meanwhile: nothing to tell
                log.info("%s", exc)
                return None
            return placed

        done = await self.cards.one_by_one(list(changes), _same, write, note=lambda story_id: changes[story_id].value)
        return {story_id: placed for story_id, placed in done if placed is not None}

    async def _carded_as_history(self, story_id: int, card: Card) -> bool:
        announced = await self.store.story_announced_at(story_id)
        return announced is not None and card.carded_at < announced

    async def write_card(self, story_id: int, feeds: dict[int, Feed], *, created: bool, model: bool = True) -> Card:
        """Write (or refresh) the card of a story; `model` False writes a new card offline."""
        entries = await self.store.story_entries(story_id)
        if not entries:  # every entry of the story was removed with its feed
            raise StoryGoneError(f"story {story_id} has no entries left to write a card from")
        sources = tuple(
            SourceText(_source_name(feeds, e), e.title, e.summary or e.content, e.link, e.published_at, e.image_url)
            for e in entries
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
                image_url=existing.image_url or card_image(sources),  # a later source may have one
            )
        else:
            story = StoryInput(story_id, sources, self.matcher.names, topics, entities)
            forced = tuple(dict.fromkeys(t for e in entries for t in _forced(feeds, e)))
            card = await self._new_card(story, forced, now, model=model)
        await self.store.save_card(story_id, card, now)
        return card

    async def preview_card(self, source: str, entry: ParsedEntry, forced: tuple[str, ...] = ()) -> Card:
        """The card `entry` would get as a story of its own, written now and stored nowhere."""
        text = entry.summary or entry.content
        published = entry.published if entry.published is not None else self.clock()
        mentions = self.extractor.extract(entry.title, text)
        topics = self.matcher.match(entry.title, lead_of(text), forced)
        sources = (SourceText(source, entry.title, text, entry.link or "", published, entry.image_url),)
        story = StoryInput(0, sources, self.matcher.names, topics, tuple(m.name for m in mentions))
        return await self._new_card(story, forced, self.clock())

    async def _new_card(self, story: StoryInput, forced: tuple[str, ...], now: float, *, model: bool = True) -> Card:
        # the extractive draft and the grounding check are CPU work: off the event loop
        offline = await asyncio.to_thread(offline_draft, story, self.topic_texts)
        draft = offline
        if self.summarizer is not None and model:
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


_PLACED = {p.value for p in Placed}
_STRENGTH = {Placed.HISTORY: 0, Placed.GROWN: 1, Placed.NEWS: 2}


def _stronger(before: Placed | None, now: Placed) -> Placed:
    """What a story's changes in one batch add up to: news over grown over history."""
    return now if before is None or _STRENGTH[now] > _STRENGTH[before] else before


def _to_post(written: dict[int, Placed]) -> list[StoryChange]:
    """The written cards that routing hands on: news is posted, grown stories' posts are edited."""
    return [StoryChange(story_id, placed is Placed.NEWS) for story_id, placed in written.items()
            if placed is not Placed.HISTORY]  # fmt: skip


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
