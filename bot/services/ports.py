"""The store's ports: what each part of Wirebrief needs from storage, one Protocol per area.

A store implementation (`bot.adapters.store.SQLiteStore`, the default, and `PostgresStore`, the same
row code on PostgreSQL for several processes) provides them all; a service takes only the areas it
uses, so its signature says what it touches. `Store` is every area at once, for the wiring.
All times are UNIX seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.adapters.llm import LLMStore
from bot.core.cards import Card
from bot.core.cluster import Features
from bot.core.dedup import KnownEntry
from bot.core.polls import FailureRecord, PollRecord
from bot.core.quarantine import ItemFailure, RetryPolicy
from bot.core.recap import RecapSchedule, StoryDetail, StoryHead
from bot.core.routing import Audience, Route
from bot.core.stories import Placed, StoryPlanItem
from bot.core.timeline import EntityEvent, NameRow
from bot.core.topology import Shards
from bot.core.types import Delivery, Feed, FeedEvent, FeedOrigin, StoredEntry

__all__ = [
    "CardJobStore", "CardStore", "DeliveryStore", "FailureStore", "FeedStore", "GuildStore", "LLMStore", "PollStore",
    "RecapStore",
    "StateStore", "StatusStore", "Store", "StoryStore", "TimelineStore",
]  # fmt: skip


class FeedStore(Protocol):
    """The feeds: subscribing, listing, pausing, naming (the store's `feeds` rows)."""

    async def add_feed(
        self,
        url: str,
        *,
        now: float,
        name: str = "",
        origin: FeedOrigin = FeedOrigin.CONFIG,
        forced_topics: Sequence[str] = (),
        guild_id: int | None = None,
        topic: str = "",
        added_by: int | None = None,
    ) -> Feed:
        """Subscribe to `url` (idempotent: an existing feed is returned unchanged); from Discord, the
        server `guild_id` is its first follower, with its own topic, added by member `added_by`."""

    async def get_feed(self, feed_id: int) -> Feed | None:
        """The feed with this id, if any."""

    async def get_feed_by_url(self, url: str) -> Feed | None:
        """The feed with this exact URL, if any."""

    async def list_feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""

    async def remove_feed(self, feed_id: int) -> bool:
        """Unsubscribe; its entries go with it. False when there was no such feed."""

    async def set_feed_paused(self, feed_id: int, paused: bool) -> bool:
        """Pause or resume polling. False when there was no such feed."""

    async def guild_feeds(self, guild_id: int) -> list[Feed]:
        """The feeds a server follows, in the order it followed them; `paused` is the server's own."""

    async def follow_feed(
        self, guild_id: int, feed_id: int, now: float, *, topic: str = "", added_by: int | None = None
    ) -> bool:
        """The server follows the feed too (fetched once for all), with its own topic for the feed's
        stories; False when it did already."""

    async def mute_feed(self, guild_id: int, feed_id: int, now: float) -> bool:
        """The server stops getting an operator feed's stories; False when it was muted already."""

    async def unmute_feed(self, guild_id: int, feed_id: int) -> bool:
        """The server gets the feed's stories again; False when it was not muted."""

    async def muted_feeds(self, guild_id: int) -> list[int]:
        """The operator feeds the server muted."""

    async def unfollow_feed(self, guild_id: int, feed_id: int) -> int:
        """The server no longer follows the feed; returns how many still do (none: the feed goes)."""

    async def set_follow_paused(self, guild_id: int, feed_id: int, paused: bool) -> bool:
        """Pause or resume one server's following; False when it does not follow the feed."""

    async def feed_followers(self, feed_id: int) -> list[int]:
        """The servers following a feed."""

    async def retire_feed(self, feed_id: int, reason: str, now: float) -> bool:
        """Stop polling a feed for good (its history stays); False when it was not active."""

    async def set_feed_origin(self, feed_id: int, origin: FeedOrigin) -> None:
        """The operator adopts a feed servers follow, or leaves it to them (stories keep their scope)."""

    async def update_feed_meta(self, feed_id: int, *, name: str, forced_topics: Sequence[str]) -> None:
        """Set the display name and forced topics."""

    async def enable_feed(self, feed_id: int, now: float) -> bool:
        """Re-enable a disabled feed and poll it at once. False when there was no such feed."""


class PollStore(Protocol):
    """Polling: due feeds and their leases, what a poll found, its failures, the cycles."""

    async def claim_due_feeds(self, now: float, lease_seconds: float, limit: int) -> list[Feed]:
        """Feeds due at `now`, leased so that nobody polls them twice at once (several processes claiming
        at the same moment each get other feeds)."""

    async def renew_leases(self, feed_ids: Sequence[int], until: float) -> None:
        """Extend to `until` the leases of these feeds, which this process is polling (not those a poll
        already finished: their lease is over)."""

    async def clear_leases(self) -> None:
        """Forget every lease (at the start of the only ingest process: a lease left by a crash must not
        delay a feed; with several, a crashed one's leases expire instead)."""

    async def next_due_at(self) -> float | None:
        """When the next active feed is due, or None when there are none."""

    async def known_entries(self, feed_id: int, keys: Sequence[str], link_keys: Sequence[str]) -> list[KnownEntry]:
        """The stored entries of `feed_id` matching any of the keys or link keys."""

    async def record_poll(self, feed_id: int, poll: PollRecord) -> list[int]:
        """Write a successful poll; return the ids of the entries released by it."""

    async def record_failure(self, feed_id: int, failure: FailureRecord) -> None:
        """Write a failed poll; a disabling failure also records a `feed_disabled` event."""

    async def record_cycle(self, started_at: float, finished_at: float, feeds: int, new: int, errors: int) -> None:
        """Keep the figures of one ingest cycle (for /status)."""

    async def pending_count(self, feed_id: int) -> int:
        """Entries of the feed waiting for release."""


class StoryStore(Protocol):
    """Stories: released entries planned into stories, entities, topics and the cards written for them."""

    async def released_entries(self, limit: int = 100, now: float | None = None) -> list[StoredEntry]:
        """Released entries not yet taken into a story, oldest first; with `now`, without those held
        back from planning (quarantined, or waiting out a backoff)."""

    async def history_entries(self, limit: int = 100, now: float | None = None) -> list[StoredEntry]:
        """Entries stored as seen and in no story yet (history to build), oldest first, as above."""

    async def history_left(self) -> int:
        """How many stored-as-seen entries are in no story yet."""

    async def story_features_since(self, since: float) -> list[tuple[int, Features]]:
        """Clustering features of the stories published since `since`."""

    async def story_scopes(self, story_ids: Sequence[int]) -> dict[int, str]:
        """Each story's clustering scope: "" (an operator feed told it) or "feed:<id>"."""

    async def apply_story_plan(
        self, items: Sequence[StoryPlanItem], now: float, *, queue_cards: bool = False
    ) -> list[tuple[int, Placed]]:
        """Create or extend stories as planned (negative refs are created in order); return
        (story id, what it means for posting) per plan item. With `queue_cards`, queue the card job of
        each story placed in the same transaction."""

    async def sync_watchlist(
        self, entities: Sequence[tuple[str, Sequence[str]]], now: float, parents: Mapping[str, str] | None = None
    ) -> None:
        """Make the configured entities and their aliases known; with `parents` (entity → the entity it is
        part of, both configured names), the entities' parents are those and no others."""

    async def story_entries(self, story_id: int) -> list[StoredEntry]:
        """The entries of a story, oldest first (the first is the lead)."""

    async def story_topics(self, story_id: int) -> list[str]:
        """The topics of a story."""

    async def story_entities(self, story_id: int) -> list[str]:
        """The entities of a story, main entity first."""

    async def stories_without_card(self) -> list[tuple[int, bool]]:
        """Stories whose card was never written (a crash between planning and carding): (id, is news)."""

    async def save_card(self, story_id: int, card: Card, now: float) -> None:
        """Keep the card of a story (its topics replace the story's topics)."""


class CardStore(Protocol):
    """A story's card and who may receive it, as routing, the outbox and the buttons read them."""

    async def get_card(self, story_id: int) -> Card | None:
        """The card of a story, if written."""

    async def story_announced_at(self, story_id: int) -> float | None:
        """When the story became news (None: history, or no such story)."""

    async def story_audience(self, story_id: int) -> frozenset[int] | None:
        """Servers that may see the story: None for all (the operator's scope), else its feed's followers."""

    async def story_recipients(self, story_id: int) -> Audience:
        """Servers the story is posted to (its scope's, less paused and muted), with their own topics."""

    async def entity_events(
        self, name_or_alias: str, limit: int, viewer: int | None = None
    ) -> list[tuple[float, str, str, int, str]]:
        """Newest stories the viewer may see mentioning an entity or one of its parts, each once:
        (published_at, headline, url, story_id, the part it is about or "")."""


class CardJobStore(Protocol):
    """Stories whose card is to be written, claimed by the enrich processes (several on PostgreSQL)."""

    async def queue_card_jobs(self, jobs: Sequence[tuple[int, Placed]], now: float) -> None:
        """Queue the card of each story, merged with what is queued for it already (the stronger wins)."""

    async def claim_card_jobs(self, now: float, lease_seconds: float, limit: int) -> list[tuple[int, Placed]]:
        """Take up to `limit` jobs no live writer holds (news first), each held for `lease_seconds`; a dead
        writer's jobs come back, with what they held, when their lease ends."""

    async def renew_card_jobs(self, story_ids: Sequence[int], until: float) -> None:
        """The writer holding these jobs is still at them."""

    async def finish_card_jobs(self, story_ids: Sequence[int]) -> None:
        """Done: each job goes, unless a change was queued meanwhile (it waits for the next claim)."""

    async def card_jobs_waiting(self) -> int:
        """How many stories wait for their card."""


class DeliveryStore(Protocol):
    """Routes, server settings, feed events to announce, and the outbox."""

    async def list_routes(self, guild_id: int | None = None) -> list[Route]:
        """Routes of one server, or of all."""

    async def add_route(self, route: Route, now: float) -> bool:
        """Add a route (or mend a broken one); False when it was there and working."""

    async def remove_route(self, guild_id: int, topic: str, channel_id: int) -> bool:
        """Remove a route; False when there was none."""

    async def sync_config_routes(self, routes: Sequence[Route], now: float) -> None:
        """The config's routes exist; config routes no longer in the config are removed."""

    async def mark_channel_broken(self, channel_id: int, reason: str, now: float) -> int:
        """Stop every route to a channel Discord refused; returns how many routes broke."""

    async def get_alerts_channel(self, guild_id: int) -> int | None:
        """The channel set with /settings alerts-channel, if any."""

    async def set_alerts_channel(self, guild_id: int, channel_id: int | None, now: float) -> None:
        """Set (or clear) the alerts channel of a server."""

    async def set_guild_timezone(self, guild_id: int, timezone: str | None, now: float) -> None:
        """Set (or clear) the time zone of a server, set with /settings timezone."""

    async def unannounced_events(self) -> list[FeedEvent]:
        """Events the Discord side has not announced yet, oldest first."""

    async def mark_event_announced(self, event_id: int, now: float) -> None:
        """The event was announced."""

    async def enqueue(
        self, kind: str, story_id: int | None, ref: str, targets: Sequence[tuple[int, int]], now: float
    ) -> int:
        """One delivery per (guild, channel), at most once ever; returns how many are new."""

    async def request_edits(self, story_id: int, now: float) -> int:
        """Mark the sent cards of a story for editing."""

    async def due_deliveries(self, now: float, limit: int, shards: Shards | None = None) -> list[Delivery]:
        """Deliveries to send or edit now (to servers on `shards`; None: all), oldest first."""

    async def stale_sending(self, shards: Shards | None = None) -> list[Delivery]:
        """Deliveries left in 'sending' by a stopped process (to servers on `shards`; None: all)."""

    async def mark_sending(self, delivery_id: int) -> None:
        """The send is about to happen (committed before the request)."""

    async def mark_editing(self, delivery_id: int) -> None:
        """An edit is about to happen (its attempt is counted before the request)."""

    async def mark_sent(
        self, delivery_id: int, message_id: int, now: float, *, shown: Card | None = None, thread_id: int | None = None
    ) -> None:
        """Discord accepted the message, which shows `shown` (None: not known) — in the forum post `thread_id`
        when it opened one. A card delivery is left needing an edit when the story's card is no longer the
        one shown (it grew during the send)."""

    async def note_delivery_error(self, delivery_id: int, error: str) -> None:
        """Record what failed after the message was posted (publishing it); the delivery stays sent."""

    async def known_threads(self, channel_id: int, since: float) -> set[int]:
        """The forum posts (threads) in `channel_id` that deliveries recorded as theirs from `since` on."""

    async def mark_edited(self, delivery_id: int, now: float, *, shown: Card | None = None) -> None:
        """The posted message now shows `shown`; it still needs an edit if the story's card moved on since."""

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: float) -> None:
        """Try again later."""

    async def mark_failed(self, delivery_id: int, error: str) -> None:
        """Give up on this delivery."""

    async def break_recap_schedule(
        self, guild_id: int, channel_id: int, reason: str, now: float
    ) -> RecapSchedule | None:
        """The server's working schedule posting in `channel_id` stops (its channel refused the
        recap) until it is saved again; the schedule as broken, None when there was none."""

    async def unrouted_stories(self, since: float) -> list[int]:
        """Stories carded since `since` with no delivery at all."""

    async def stories_posted_before_update(self) -> list[int]:
        """Stories that grew after their cards were posted, with no edit pending."""


class StatusStore(Protocol):
    """The figures behind /status and the health endpoint."""

    async def feed_health(self, guild_id: int | None = None) -> dict[str, int]:
        """Feeds per state: ok, backing_off, paused, disabled."""

    async def last_cycle(self) -> tuple[float, float, int, int, int] | None:
        """The last finished ingest cycle: (started, finished, feeds polled, new entries, errors)."""

    async def recent_cycles(self, since: float) -> list[tuple[float, float, int]]:
        """Finished ingest cycles started at or after `since`, oldest first: (started, finished, new
        entries of every feed). Operator-wide: never shown to a server as it is."""

    async def own_entry_times(self, guild_id: int, since: float) -> list[float]:
        """When each entry of the feeds `guild_id` follows was first stored, at or after `since`, oldest first."""

    async def outbox_depth(self, guild_id: int | None = None) -> tuple[int, float | None]:
        """Deliveries waiting, and when the oldest was queued."""

    async def llm_usage_get(self, day: str) -> tuple[int, int, int]:
        """(calls, input tokens, output tokens) of a UTC day."""

    async def quarantine_counts(self) -> dict[str, int]:
        """Quarantined items per stage."""


class FailureStore(Protocol):
    """Items a stage could not handle: attempts counted before the work, backoff, quarantine (`bot.core.quarantine`)."""

    async def attempted_items(self, stage: str, ids: Sequence[int]) -> dict[int, int]:
        """Items of `ids` that failed (or were interrupted) before → their attempts so far."""

    async def begin_attempts(
        self, stage: str, ids: Sequence[int], now: float, policy: RetryPolicy, note: str = "",
        *, split: bool = False,
    ) -> list[int]:  # fmt: skip
        """Count one more attempt for each item, committed before the stage works on them; return the
        ids it may work on (out of attempts: quarantined instead; waiting: left out unless `split`)."""

    async def clear_attempts(self, stage: str, ids: Sequence[int]) -> None:
        """The stage handled these items: forget their failures."""

    async def record_item_failure(
        self, stage: str, item_id: int, error: str, now: float, policy: RetryPolicy, note: str | None = None
    ) -> ItemFailure:
        """The counted attempt failed with `error`: backoff, or quarantine when no attempt is left."""

    async def due_item_failures(self, stage: str, now: float, limit: int = 100) -> list[ItemFailure]:
        """Failed items of `stage` whose backoff has passed, not quarantined."""

    async def held_items(self, stage: str, now: float) -> set[int]:
        """Items of `stage` to leave alone now: quarantined or waiting out a backoff."""

    async def quarantined_deliveries(self, guild_id: int) -> int:
        """How many of the server's posts and edits were given up and quarantined."""

    async def quarantined_items(self, limit: int = 100) -> list[ItemFailure]:
        """The quarantined items, most recent first."""

    async def quarantine_delivery(self, delivery_id: int, error: str, now: float, attempts: int) -> None:
        """Give up an outbox row (as `mark_failed`) and keep it in quarantine with its error."""

    async def release_quarantine(self, now: float, stage: str | None = None) -> int:
        """Give quarantined items (of `stage`, or all) a new round of attempts; returns how many."""


class TimelineStore(Protocol):
    """What timelines read (the SQLite store's RecapRows). `viewer` is the asking server (None: a direct
    message): each read shows it only what it may see."""

    async def entity_directory(self, limit: int) -> list[NameRow]: ...

    async def own_entity_directory(self, viewer: int, limit: int) -> list[NameRow]: ...

    async def find_entity(self, name_or_alias: str, viewer: int | None = None) -> tuple[int, str] | None: ...

    async def timeline_count(
        self, entity_id: int, since: float | None, topic: str | None = None, viewer: int | None = None
    ) -> int: ...

    async def timeline_events(
        self, entity_id: int, since: float | None, limit: int, *, topic: str | None = None,
        viewer: int | None = None, skip: int = 0, before: tuple[float, int] | None = None,
        after: tuple[float, int] | None = None, oldest: bool = False,
    ) -> list[EntityEvent]: ...  # fmt: skip


class RecapStore(FailureStore, Protocol):
    """What recaps read and write (the SQLite store's RecapRows and the outbox's enqueue)."""

    async def departed_guilds(self) -> frozenset[int]:
        """Servers the bot was removed from and is not back in (their grace period running)."""

    async def week_heads(
        self, start: float, end: float, topic: str | None = None, viewer: int | None = None
    ) -> list[StoryHead]: ...

    async def story_details(self, story_ids: Sequence[int]) -> dict[int, StoryDetail]: ...

    async def stories_sources(self, story_ids: Sequence[int]) -> int: ...

    async def week_top_entities(
        self, start: float, end: float, limit: int, topic: str | None = None, viewer: int | None = None
    ) -> list[str]: ...

    async def topic_guilds(self) -> dict[str, frozenset[int]]: ...

    async def guild_timezone(self, guild_id: int) -> str | None: ...

    async def recap_schedules(self) -> list[RecapSchedule]: ...

    async def recap_schedule(self, guild_id: int) -> RecapSchedule | None: ...

    async def save_recap_schedule(self, schedule: RecapSchedule, now: float) -> RecapSchedule: ...

    async def remove_recap_schedule(self, guild_id: int) -> bool: ...

    async def sync_config_recaps(self, schedules: Sequence[RecapSchedule], now: float) -> None: ...

    async def mark_recap_posted(self, guild_id: int, week_key: str) -> None: ...

    async def enqueue(
        self, kind: str, story_id: int | None, ref: str, targets: Sequence[tuple[int, int]], now: float
    ) -> int: ...


class GuildStore(Protocol):
    """A server's lifecycle: the bot removed from it (its waiting posts dropped), back, or gone long
    enough for what it set up to be purged."""

    async def mark_guild_left(self, guild_id: int, now: float) -> int:
        """Remember the departure and drop the server's waiting deliveries; returns how many."""

    async def mark_guild_back(self, guild_id: int) -> bool:
        """The bot is in the server again; False when it had not left."""

    async def departed_guilds(self) -> frozenset[int]:
        """Servers the bot was removed from and is not back in (their grace period running)."""

    async def guilds_left_before(self, before: float) -> list[int]:
        """Servers the bot left before `before` and never came back to."""

    async def purge_guild(self, guild_id: int) -> int:
        """Remove what the server set up from Discord; returns how many feeds went."""


class StateStore(Protocol):
    """The bot's own small facts kept between starts, one text per key (the command tree's hash)."""

    async def get_state(self, key: str) -> str | None:
        """The value kept under `key`, or None."""

    async def set_state(self, key: str, value: str, now: float) -> None:
        """Keep `value` under `key`, replacing what was there."""


class CoordinationStore(Protocol):
    """How processes sharing one database coordinate through it (PostgreSQL); on SQLite, the one process
    coordinates with itself: `shared` is False, `exclusive` a local lock, `notify` and `listen` nothing."""

    @property
    def shared(self) -> bool:
        """Whether other processes may use this database."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[None]:
        """Hold the lock `name` among every process of the database for a block (waiting for it)."""

    async def notify(self, channel: str) -> None:
        """Wake the processes listening on `channel`."""

    async def listen(self, channel: str, callback: Callable[[], None]) -> None:
        """Call `callback` whenever some process notifies `channel`."""


class Store(
    FeedStore, PollStore, StoryStore, CardStore, CardJobStore, DeliveryStore, StatusStore, RecapStore, TimelineStore,
    FailureStore, GuildStore, LLMStore, CoordinationStore, StateStore, Protocol,
):  # fmt: skip
    """Everything Wirebrief keeps: every area at once (what the wiring opens and hands out)."""

    async def close(self) -> None:
        """Finish pending writes and release the database."""

    async def schema_version(self) -> int:
        """The schema version of the open database."""
