"""The outbox: every (story, channel) is a delivery row, sent exactly once, paced per channel.

Exactly once across crashes: a delivery is marked 'sending' (committed) before the request,
and the request carries the row's nonce with enforce_nonce, so a retried create is
deduplicated by Discord. On start-up, deliveries left in 'sending' are reconciled against the
channel's recent messages before anything is retried.

A forum channel takes each card as a forum post (a thread opened with the card), and Discord keeps
no nonce for that request. So a forum post is opened only on a delivery's first try; every later
try (after a crash, a timeout, a 5xx) first looks for the post an earlier try may have opened — the
bot's own threads in the forum since the delivery was queued, less those other deliveries recorded,
whose first message carries the story's buttons — and opens one only when that look succeeded and
found none. A look that fails leaves the delivery to retry later, never to post blind.

Options of a route (`Posting`): the roles a new post mentions, and publishing in an announcement
channel — once, after the post is recorded; a failure to publish is noted and logged, never retried,
and never sends the post again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.cards import Card
from bot.core.limits import safe
from bot.core.quarantine import INTERRUPTED, Stage, describe
from bot.core.recap import Recap
from bot.core.routing import PLAIN, Posting, Route, destinations, open_to, posting
from bot.core.topology import Shards
from bot.core.types import Delivery, FeedEvent
from bot.errors import WirebriefError
from bot.services.enrich import StoryChange
from bot.services.isolation import Isolation
from bot.services.ports import (
    CardStore,
    CoordinationStore,
    DeliveryStore,
    FailureStore,
    FeedStore,
    GuildStore,
    RecapStore,
)
from bot.services.recap import scheduled_recap
from bot.services.supervisor import wait_any

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RECOVERY_WINDOW_SECONDS = 3 * 24 * 3600.0  # older unrouted stories are news no longer
MAX_BACKOFF_SECONDS = 900.0
CLOCK_SKEW_SECONDS = 300.0  # a forum post of a delivery is looked for from this long before it was queued


class OutboxStore(
    DeliveryStore, CardStore, FeedStore, RecapStore, FailureStore, GuildStore, CoordinationStore, Protocol
):
    """What the outbox reads and writes (recaps are rendered when they are sent)."""


class PublishFailure(StrEnum):
    FORBIDDEN = "forbidden"  # 403: the bot may not post there — the route is broken
    UNKNOWN_CHANNEL = "unknown_channel"  # 404 on the channel — the route is broken
    UNKNOWN_MESSAGE = "unknown_message"  # the message to edit is gone — nothing to do
    REJECTED = "rejected"  # 400: this payload will never be accepted
    RETRY = "retry"  # 5xx, timeouts, connection errors, 429s discord.py gave up on


class PublishError(WirebriefError):
    def __init__(self, message: str, *, failure: PublishFailure, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.failure = failure
        self.retry_after = retry_after


class ChannelKind(StrEnum):
    """What a channel does with a card."""

    MESSAGES = "messages"  # a text channel or a thread: the card is a message
    ANNOUNCEMENT = "announcement"  # a message, which may be published to the channels following this one
    FORUM = "forum"  # the card opens a forum post (a thread titled with the headline)


@dataclass(frozen=True, slots=True)
class Posted:
    """A card's message, and the forum post (thread) it opened; in a forum the message lives there."""

    message_id: int
    thread_id: int | None = None


class Publisher(Protocol):
    """Where cards go: Discord, or the console/HTML publisher of demo and preview.

    `roles`: the roles a new post mentions (the route's opt-in); nothing else it shows may ping.
    `edit_card` takes the channel the message lives in (a forum post's thread)."""

    async def channel_kind(self, channel_id: int) -> ChannelKind: ...
    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int: ...
    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted: ...
    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None: ...
    async def find_card(self, channel_id: int, card: Card) -> int | None: ...
    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        """The bot's forum post showing `card`'s story, opened at `since` or later and not among `known`."""

    async def publish(self, channel_id: int, message_id: int) -> None: ...
    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int: ...
    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int: ...


class ChannelPacer:
    """At most `limit` sends per channel in any `window` seconds (Discord's 5 per 5 s), no bursts."""

    def __init__(self, limit: int = 5, window: float = 5.0, *, clock: Callable[[], float] = time.monotonic,
                 margin: float = 0.05) -> None:  # fmt: skip
        self.limit = limit
        self.window = window
        self.clock = clock
        self.margin = margin
        self._sent: dict[int, deque[float]] = defaultdict(deque)

    def delay(self, channel_id: int) -> float:
        """Seconds to wait before the next send to `channel_id` stays within the limit (0: now)."""
        sent = self._sent[channel_id]
        now = self.clock()
        while sent and sent[0] + self.window + self.margin <= now:
            sent.popleft()
        if len(sent) < self.limit:
            return 0.0
        # never a vanishing wait: a sleep shorter than the clock's resolution would not advance it
        return max(sent[0] + self.window + self.margin - now, 0.01)

    def record(self, channel_id: int) -> None:
        self._sent[channel_id].append(self.clock())


# Discord allows a bot 50 REST requests a second in all; the outbox keeps to 40 of them, leaving the
# rest to commands and buttons. Several discord processes share it by their part of the shards.
GLOBAL_REQUESTS_PER_SECOND = 40.0


class RequestBudget:
    """At most `rate` sends and edits a second from this process, over every channel (a token bucket
    holding one second's worth): the bot's global REST limit, or this process's share of it."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(rate, 0.1)
        self.clock = clock
        self._tokens = self.rate
        self._at = clock()

    @classmethod
    def share(cls, shards: Shards | None, *, clock: Callable[[], float] = time.monotonic) -> RequestBudget:
        """This process's part of the global budget: its shards' part of all shards."""
        part = 1.0 if shards is None else len(shards.ids) / shards.count
        return cls(GLOBAL_REQUESTS_PER_SECOND * part, clock=clock)

    def delay(self) -> float:
        """Seconds to wait before the next request keeps within the budget (0: take it now)."""
        now = self.clock()
        self._tokens = min(self.rate, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return max((1.0 - self._tokens) / self.rate, 0.001)


@dataclass(slots=True)
class OutboxStats:
    sent: int = 0
    edited: int = 0
    retried: int = 0
    failed: int = 0
    quarantined: int = 0
    published: int = 0


@dataclass(frozen=True, slots=True)
class _Sent:
    posted: Posted
    shown: Card | None = None  # the card the message shows (None: alerts and recaps)
    publish: bool = False  # publish it now that it is recorded


class Outbox:
    """Queues story cards for the channels their topics route to, and sends them."""

    def __init__(
        self,
        store: OutboxStore,
        publisher: Publisher,
        *,
        clock: Callable[[], float] = time.time,
        pacer: ChannelPacer | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        batch: int = 500,
        shards: Shards | None = None,
    ) -> None:
        self.store = store
        self.shards = shards  # the servers whose deliveries this process sends (None: all)
        self.budget = RequestBudget.share(shards, clock=time.monotonic if pacer is None else pacer.clock)
        self.publisher = publisher
        self.clock = clock
        self.pacer = pacer or ChannelPacer()
        self.sleep = sleep
        self.batch = batch
        self.stats = OutboxStats()
        self.routing = Isolation(store, Stage.ROUTE, clock=clock)
        self.events = Isolation(store, Stage.EVENT, clock=clock)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def route_changes(self, changes: Sequence[StoryChange]) -> int:
        """New stories are queued for every channel their topics route to; grown ones are edited.
        A story that cannot be routed is retried later, then quarantined; the others go on."""
        departed = await self.store.departed_guilds()  # nothing more goes to a server that removed the bot
        routes = [r for r in await self.store.list_routes() if r.guild_id not in departed]
        queued = 0

        async def route(change: StoryChange) -> None:
            nonlocal queued
            queued += await self._route(change, routes)

        await self.routing.one_by_one(
            list(changes), _story_of, route, note=lambda change: "new" if change.created else "grown"
        )
        await self._queued()
        return queued

    async def _queued(self) -> None:
        """Something may be due: the sending loop looks now, in this process and (PostgreSQL) in the
        discord processes, which send their servers' rows."""
        self.wake()
        if self.store.shared:
            await self.store.notify("outbox")

    async def _route(self, change: StoryChange, routes: Sequence[Route]) -> int:
        card = await self.store.get_card(change.story_id)
        if card is None:
            return 0
        now = self.clock()
        if not change.created:
            await self.store.request_edits(change.story_id, now)
            return 0
        text = _route_text(card)
        # the story's scope decides who gets it: a feed servers follow posts to its followers only
        arrived = await self.store.story_announced_at(change.story_id)
        if arrived is None:  # history: never posted
            return 0
        audience = await self.store.story_recipients(change.story_id)
        routes = open_to(routes, arrived)
        found = destinations(routes, card.topics, text, audience)
        return await self.store.enqueue("card", change.story_id, "", found, now)

    async def retry_routing(self) -> int:
        """Route again the stories whose routing failed and whose backoff has passed."""
        due = await self.store.due_item_failures(Stage.ROUTE, self.clock(), self.batch)
        if due:
            await self.route_changes([StoryChange(f.item_id, f.note == "new") for f in due])
        return len(due)

    async def reconcile(self, *, route: bool = True, send: bool = True) -> None:
        """Finish what a stopped process left half done.

        Routing (`route`): stories carded but never routed are routed; posted cards of stories that grew
        are marked for editing. Sending (`send`, this process's shards): deliveries left mid-send are
        looked for in their channel: found → sent, else retried with the same nonce (Discord drops the
        duplicate if the first one did land).
        """
        if route:
            since = self.clock() - RECOVERY_WINDOW_SECONDS
            unrouted = await self.store.unrouted_stories(since)
            grown = await self.store.stories_posted_before_update()
            if unrouted or grown:
                log.info("recovering %d unrouted stories and %d posts to edit", len(unrouted), len(grown))
                await self.route_changes([StoryChange(s, True) for s in unrouted]
                                         + [StoryChange(s, False) for s in grown])  # fmt: skip
        if not send:
            return
        for delivery in await self.store.stale_sending(self.shards):
            try:
                await self._reconcile_one(delivery)
            except Exception as exc:
                await self._broke(delivery, exc)

    async def _reconcile_one(self, delivery: Delivery) -> None:
        card = await self.store.get_card(delivery.story_id) if delivery.story_id else None
        found = None
        if card is not None:
            try:
                found = await self._look(delivery, card)
            except PublishError as exc:  # retried later: a forum post then looks again before opening one
                log.warning("could not look for delivery %d in its channel: %s", delivery.id, exc)
        if found is not None:
            await self.store.mark_sent(delivery.id, found.message_id, self.clock(), shown=card,
                                       thread_id=found.thread_id)  # fmt: skip
            log.info("delivery %d was posted before the restart (message %d)", delivery.id, found.message_id)
        elif delivery.attempts >= MAX_ATTEMPTS:  # each of its tries ended the process: not again
            await self._quarantine(delivery, INTERRUPTED, delivery.attempts)
        else:
            await self.store.mark_retry(delivery.id, "interrupted by a restart", self.clock())

    async def drain_once(self) -> int:
        """Send or edit every due delivery, channels in parallel, each channel paced; return how many."""
        due = await self.store.due_deliveries(self.clock(), self.batch, self.shards)
        by_channel: dict[int, list[Delivery]] = defaultdict(list)
        for delivery in due:
            by_channel[delivery.channel_id].append(delivery)
        await asyncio.gather(*(self._drain_channel(items) for items in by_channel.values()))
        return len(due)

    async def _drain_channel(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            while (wait := self.pacer.delay(delivery.channel_id)) > 0:
                await self.sleep(wait)
            while (wait := self.budget.delay()) > 0:
                await self.sleep(wait)
            delivered = await self._deliver(delivery)
            # stamped when the answer came: Discord counts the send from when it arrived, which a
            # slow commit or request may have pushed later than the moment we decided to send
            self.pacer.record(delivery.channel_id)
            if not delivered:
                return  # the channel refused or is failing: the rest waits for its retry time

    async def _deliver(self, delivery: Delivery) -> bool:
        """Send or edit one delivery; False when the channel should wait (it refused or is failing).
        Any error is this delivery's alone: it is retried with backoff, then quarantined."""
        if delivery.attempts >= MAX_ATTEMPTS:  # its last tries ended the process before they could fail
            await self._quarantine(delivery, INTERRUPTED, delivery.attempts)
            return True
        try:
            if delivery.state == "sent":
                await self.store.mark_editing(delivery.id)  # counted before the request
                card = await self._card(delivery)
                if card is not None:
                    await self._edit(delivery, card)
                await self.store.mark_edited(delivery.id, self.clock(), shown=card)
                self.stats.edited += 1
                return True
            await self.store.mark_sending(delivery.id)
            sent = await self._send(delivery)
            await self.store.mark_sent(delivery.id, sent.posted.message_id, self.clock(), shown=sent.shown,
                                       thread_id=sent.posted.thread_id)  # fmt: skip
            self.stats.sent += 1
            if sent.publish:
                await self._publish(delivery, sent.posted.message_id)
            return True
        except PublishError as exc:
            await self._failed(delivery, exc)
            return exc.failure is PublishFailure.UNKNOWN_MESSAGE or exc.failure is PublishFailure.REJECTED
        except Exception as exc:  # a bug, or an item our code cannot render: this delivery only
            await self._broke(delivery, exc)
            return True  # the channel itself is fine: the next delivery may go

    async def _broke(self, delivery: Delivery, exc: Exception) -> None:
        """An error that is not Discord's answer: retried with backoff like a 5xx, quarantined at the last
        attempt (attempts are counted before the request, so `delivery.attempts + 1` is this one)."""
        attempts = delivery.attempts + 1
        if attempts >= MAX_ATTEMPTS:
            await self._quarantine(delivery, describe(exc), attempts, exc)
            return
        backoff = min(5.0 * 2**delivery.attempts, MAX_BACKOFF_SECONDS)
        await self.store.mark_retry(delivery.id, f"internal error: {type(exc).__name__}: {exc}"[:500],
                                    self.clock() + backoff)  # fmt: skip
        self.stats.retried += 1
        log.warning("delivery %d (%s) failed with an internal error (attempt %d of %d); retried in %.0f s",
                    delivery.id, delivery.kind, attempts, MAX_ATTEMPTS, backoff, exc_info=exc)  # fmt: skip

    async def _quarantine(self, delivery: Delivery, error: str, attempts: int, exc: Exception | None = None) -> None:
        await self.store.quarantine_delivery(delivery.id, error, self.clock(), attempts)
        self.stats.failed += 1
        self.stats.quarantined += 1
        log.error("delivery %d (%s to channel %d) quarantined after %d attempts: %s", delivery.id, delivery.kind,
                  delivery.channel_id, attempts, error.splitlines()[-1] if error else "", exc_info=exc)  # fmt: skip

    async def _send(self, delivery: Delivery) -> _Sent:
        """Post the delivery: its message (and forum post), the card it shows, whether to publish it."""
        if delivery.kind == "alert":
            text = delivery.ref.split(":", 1)[-1]  # the ref is "<millis>:<text>": unique per alert
            sent = await self.publisher.send_alert(delivery.guild_id, delivery.channel_id, text, nonce=delivery.nonce)
            return _Sent(Posted(sent))
        if delivery.kind == "recap":  # the ref is the ISO week key, such as 2026-W05
            recap = await scheduled_recap(self.store, delivery.guild_id, delivery.ref)
            return _Sent(Posted(await self.publisher.send_recap(delivery.channel_id, recap, nonce=delivery.nonce)))
        card = await self._card(delivery)
        if card is None:
            raise PublishError("the story has no card", failure=PublishFailure.REJECTED)
        kind = await self.publisher.channel_kind(delivery.channel_id)
        how = await self._posting(delivery, card)
        if kind is ChannelKind.FORUM:
            return _Sent(await self._open_post(delivery, card, how), card)
        message_id = await self.publisher.send_card(delivery.channel_id, card, nonce=delivery.nonce, roles=how.roles)
        return _Sent(Posted(message_id), card, how.publish and kind is ChannelKind.ANNOUNCEMENT)

    async def _posting(self, delivery: Delivery, card: Card) -> Posting:
        """The roles a new card mentions and whether it is published: the options of the routes that
        bring its story to this channel (read now: a route changed since it was queued counts as it is)."""
        routes = [r for r in await self.store.list_routes(delivery.guild_id)
                  if r.channel_id == delivery.channel_id and (r.mention_role_id or r.publish)]  # fmt: skip
        if not routes or delivery.story_id is None:
            return PLAIN
        arrived = await self.store.story_announced_at(delivery.story_id)
        if arrived is None:
            return PLAIN
        own = (await self.store.story_recipients(delivery.story_id)).topics.get(delivery.guild_id, ())
        return posting(open_to(routes, arrived), (*card.topics, *own), _route_text(card))

    async def _open_post(self, delivery: Delivery, card: Card, how: Posting) -> Posted:
        """Open the card's forum post — after looking for the one an earlier try may have opened."""
        if delivery.attempts > 0:  # attempts are counted before each request: one went out already
            found = await self._look(delivery, card, ChannelKind.FORUM)  # a failed look raises: no blind post
            if found is not None:
                log.info("delivery %d: the forum post of an earlier try is there (thread %d)", delivery.id,
                         found.thread_id or 0)  # fmt: skip
                return found
        return await self.publisher.start_post(delivery.channel_id, card, roles=how.roles)

    async def _look(self, delivery: Delivery, card: Card, kind: ChannelKind | None = None) -> Posted | None:
        """The message an earlier try of the delivery posted, if any: in a forum, the bot's post opened
        since the delivery was queued that no other delivery recorded and that shows this story."""
        if (kind or await self.publisher.channel_kind(delivery.channel_id)) is ChannelKind.FORUM:
            since = delivery.created_at - CLOCK_SKEW_SECONDS
            known = await self.store.known_threads(delivery.channel_id, since)
            return await self.publisher.find_post(delivery.channel_id, card, since=since, known=known)
        found = await self.publisher.find_card(delivery.channel_id, card)
        return Posted(found) if found is not None else None

    async def _edit(self, delivery: Delivery, card: Card) -> None:
        """Edit the card's message where it lives (a forum post's thread); edits mention nobody."""
        try:
            await self.publisher.edit_card(delivery.thread_id or delivery.channel_id, delivery.message_id or 0, card)
        except PublishError as exc:
            if delivery.thread_id is not None and exc.failure is PublishFailure.UNKNOWN_CHANNEL:
                # the forum post was deleted: that message is gone, the forum itself is fine
                raise PublishError(f"the forum post is gone ({exc})", failure=PublishFailure.UNKNOWN_MESSAGE) from None
            raise

    async def _publish(self, delivery: Delivery, message_id: int) -> None:
        """Publish a new post of an announcement channel, once: the post is out and recorded, so a
        failure here is noted on the delivery and logged, never retried, and never posts it again."""
        while (wait := self.budget.delay()) > 0:
            await self.sleep(wait)
        try:
            await self.publisher.publish(delivery.channel_id, message_id)
        except Exception as exc:
            why = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
            await self.store.note_delivery_error(delivery.id, f"posted, but not published: {why}"[:500])
            log.warning("delivery %d was posted in channel %d (message %d) but not published: %s", delivery.id,
                        delivery.channel_id, message_id, why)  # fmt: skip
            return
        self.stats.published += 1

    async def _card(self, delivery: Delivery) -> Card | None:
        return await self.store.get_card(delivery.story_id) if delivery.story_id else None

    async def _failed(self, delivery: Delivery, exc: PublishError) -> None:
        now = self.clock()
        if exc.failure in (PublishFailure.FORBIDDEN, PublishFailure.UNKNOWN_CHANNEL):
            await self.store.mark_failed(delivery.id, str(exc))
            broken = await self.store.mark_channel_broken(delivery.channel_id, str(exc), now)
            self.stats.failed += 1
            if delivery.kind == "recap":
                await self._recap_refused(delivery, exc, broken, now)
            elif broken and delivery.kind != "alert":
                await self.alert(
                    delivery.guild_id,
                    f"I can no longer post in <#{delivery.channel_id}> ({exc}). Its routes are paused;"
                    " fix my permissions there, then run /topics route again.",
                )
            log.warning("channel %d refused delivery %d (%s): %s; %d routes to it are paused", delivery.channel_id,
                        delivery.id, delivery.kind, exc, broken)  # fmt: skip
        elif exc.failure in (PublishFailure.UNKNOWN_MESSAGE, PublishFailure.REJECTED) or (
            delivery.attempts + 1 >= MAX_ATTEMPTS
        ):
            await self.store.mark_failed(delivery.id, str(exc))
            self.stats.failed += 1
            log.warning("delivery %d failed for good: %s", delivery.id, exc)
        else:
            backoff = min(5.0 * 2**delivery.attempts, MAX_BACKOFF_SECONDS)
            await self.store.mark_retry(delivery.id, str(exc), now + max(backoff, exc.retry_after or 0.0))
            self.stats.retried += 1
            log.info("delivery %d will be retried in %.0f s: %s", delivery.id, backoff, exc)

    async def _recap_refused(self, delivery: Delivery, exc: PublishError, routes: int, now: float) -> None:
        """A scheduled recap's channel refused it (403/404): the schedule posting there stops, and
        the server's admins are told once (the delivery's key) how to start it again."""
        schedule = await self.store.break_recap_schedule(delivery.guild_id, delivery.channel_id, str(exc), now)
        where, why = f"<#{delivery.channel_id}>", safe(str(exc), 200)
        also = ", and the channel's routes are paused" if routes else ""
        if schedule is not None:
            fix = ("ask the bot's operator to restart me (the schedule comes from the config file)"
                   if schedule.origin == "config" else "run /recap-schedule set again")  # fmt: skip
            if routes:
                fix += ", and /topics route for the routes"
            text = (f"I can no longer post the weekly recap in {where} ({why}), so I stopped trying{also}."
                    f" Fix my permissions there, then {fix}.")  # fmt: skip
        elif routes:  # the schedule has moved elsewhere since, or was removed: only the routes broke
            text = (f"I can no longer post in {where} ({why}). Its routes are paused;"
                    " fix my permissions there, then run /topics route again.")  # fmt: skip
        else:
            return
        await self.alert(delivery.guild_id, text, key=f"recap-refused-{delivery.id}")
        if schedule is not None:
            log.warning("the recap schedule of server %d is paused: channel %d refused the recap of %s",
                        delivery.guild_id, delivery.channel_id, delivery.ref)  # fmt: skip

    async def alert(self, guild_id: int, text: str, *, key: str | None = None) -> None:
        """Tell a server's admins: the alerts channel set with /settings, else the publisher's choice
        (channel 0: the system channel, else the first channel the bot may write in).

        `key` (no ":") makes the alert once-only: the same key is never queued twice."""
        channel = await self.store.get_alerts_channel(guild_id) or 0
        ref = f"{key or int(self.clock() * 1000)}:{text[:1500]}"
        await self.store.enqueue("alert", None, ref, [(guild_id, channel)], self.clock())
        await self._queued()

    async def announce_events(self) -> int:
        """Feed events (disabled, moved) become alerts to the server that added the feed; events of
        the operator's own feeds are logged, which is where the operator looks. Returns how many."""
        events = await self.store.unannounced_events()
        if events:
            held = await self.store.held_items(Stage.EVENT, self.clock())
            events = [e for e in events if e.id not in held]
            await self.events.one_by_one(events, _event_id, self._announce)
        return len(events)

    async def _announce(self, event: FeedEvent) -> None:
        feed = await self.store.get_feed(event.feed_id) if event.feed_id is not None else None
        name = safe(feed.display_name, 200) if feed else "a feed that was since removed"
        detail = safe(event.detail, 500)
        if event.kind == "feed_disabled":
            text = f"I disabled the feed **{name}** after repeated failures ({detail}). Fix it, then /feeds resume."
        else:
            text = f"The feed **{name}** moved permanently; I follow its new address ({detail})."
        # every server following the feed hears of it (the one that added it, if that is all we know)
        followers = await self.store.feed_followers(feed.id) if feed is not None else []
        servers = followers or ([event.guild_id] if event.guild_id is not None else [])
        for guild_id in servers:
            await self.alert(guild_id, text, key=f"event-{event.id}-{guild_id}")
        if not servers:
            log.warning("%s: %s (%s)", event.kind.replace("_", " "), feed.url if feed else "?", event.detail)
        await self.store.mark_event_announced(event.id, self.clock())

    async def run_forever(
        self, stop: asyncio.Event, *, idle_seconds: float = 5.0, route: bool = True, send: bool = True
    ) -> None:
        """Reconcile, then send as deliveries come due, until `stop` is set. Past one process, the enrich
        role routes (`send` False: recovery, retries of routing, feed events) and each discord process
        sends its shards' deliveries (`route` False)."""
        await self.reconcile(route=route, send=send)
        while not stop.is_set():
            self._wake.clear()
            if route:
                await self.announce_events()
                await self.retry_routing()
            if send and await self.drain_once():
                continue
            await wait_any(stop, self._wake, timeout=idle_seconds)


def _route_text(card: Card) -> str:
    """The text a route's keywords are matched against."""
    return " ".join((card.headline, card.what_changed, *card.takeaways))


def _story_of(change: StoryChange) -> int:
    return change.story_id


def _event_id(event: FeedEvent) -> int:
    return event.id
