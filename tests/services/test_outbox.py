"""The outbox: routing, exactly-once sends, edits, pacing, faults and reconciliation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import pytest
from fake_clock import Clock
from outbox_fakes import MessagesOnly, story

from bot.adapters.store import SQLiteStore
from bot.config import RecapSettings
from bot.core.cards import Card, RelatedLink
from bot.core.recap import Recap
from bot.core.routing import Route
from bot.services.enrich import StoryChange
from bot.services.outbox import ChannelPacer, Outbox, PublishError, PublishFailure
from bot.services.recap import RecapScheduler

T0 = 1_800_000_000.0


class ProcessKilledError(BaseException):
    """Stands for a SIGKILL at that point: nothing after it runs."""


@dataclass
class FakePublisher(MessagesOnly):
    """Records what would reach Discord; failures are scripted per channel."""

    sent: list[tuple[int, int, str]] = field(default_factory=list)  # (channel, story, nonce)
    edits: list[tuple[int, int, int]] = field(default_factory=list)  # (channel, message, related count)
    alerts: list[tuple[int, int, str]] = field(default_factory=list)
    recaps: list[tuple[int, str]] = field(default_factory=list)  # (channel, week key)
    failures: dict[int, list[PublishError]] = field(default_factory=dict)
    history: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # channel -> (message, url)
    crash_after_send: bool = False
    next_id: int = 1000

    def _maybe_fail(self, channel_id: int) -> None:
        queue = self.failures.get(channel_id)
        if queue:
            raise queue.pop(0)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        self._maybe_fail(channel_id)
        if any(n == nonce for _, _, n in self.sent):  # Discord's enforce_nonce
            return next(m for m, url in self.history[channel_id] if url == card.url)
        self.next_id += 1
        self.sent.append((channel_id, card.story_id, nonce))
        self.history.setdefault(channel_id, []).append((self.next_id, card.url))
        if self.crash_after_send:
            raise ProcessKilledError  # the process dies before the row is updated
        return self.next_id

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        self._maybe_fail(channel_id)
        self.edits.append((channel_id, message_id, len(card.related)))

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        return next((m for m, url in self.history.get(channel_id, []) if url == card.url), None)

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        self.alerts.append((guild_id, channel_id, text))
        return 1

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        self._maybe_fail(channel_id)
        self.recaps.append((channel_id, recap.week.key))
        return 2


def outbox(store: SQLiteStore, publisher: FakePublisher, clock: Clock) -> Outbox:
    return Outbox(store, publisher, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)


async def routes(store: SQLiteStore) -> None:
    for route in (Route(1, "models", 10), Route(1, "*", 11), Route(2, "policy", 20), Route(2, "models", 21)):
        await store.add_route(route, T0)


async def test_each_story_goes_once_to_each_routed_channel(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await routes(store)
    a = await story(store, 1, ("models",))
    b = await story(store, 2, ("policy",))
    assert await box.route_changes([StoryChange(a, True), StoryChange(b, True)]) == 5
    assert await box.route_changes([StoryChange(a, True)]) == 0  # queued once, ever
    await box.drain_once()
    assert sorted((c, s) for c, s, _ in publisher.sent) == [(10, a), (11, a), (11, b), (20, b), (21, a)]
    await box.drain_once()
    assert len(publisher.sent) == 5
    assert await store.outbox_depth() == (0, None)


async def test_a_story_that_grows_is_edited_not_posted_again(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    await box.drain_once()
    card = await store.get_card(a)
    assert card is not None
    await store.save_card(a, replace(card, related=(RelatedLink("Beta", "t", "https://b.example/x", T0),)), T0)
    await box.route_changes([StoryChange(a, False)])
    await box.drain_once()
    assert len(publisher.sent) == 1
    assert publisher.edits == [(10, 1001, 1)]


class GrowsDuringRequest(FakePublisher):
    """A publisher during whose request the story gains a source (found by the soak test)."""

    def __init__(self, store: SQLiteStore, box: list[Outbox], *, during: str) -> None:
        super().__init__()
        self.store, self.box, self.during, self.grown = store, box, during, False

    async def _grow(self, card: Card) -> None:
        if self.grown:
            return
        self.grown = True  # the ingest side: the card is rewritten, then the story's posts are asked to change
        grown = replace(card, related=(RelatedLink("Beta", "t", "https://b.x/", T0),))
        await self.store.save_card(card.story_id, grown, T0 + 1)
        await self.box[0].route_changes([StoryChange(card.story_id, False)])

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        if self.during == "send":
            await self._grow(card)
        return await super().send_card(channel_id, card, nonce=nonce)

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        if self.during == "edit" and len(card.related) == 1:
            await self.store.save_card(card.story_id, replace(card, related=card.related * 2), T0 + 2)
            await self.box[0].route_changes([StoryChange(card.story_id, False)])
        await super().edit_card(channel_id, message_id, card)


async def test_a_source_that_joins_while_the_card_is_being_sent_still_gets_its_edit(store: SQLiteStore) -> None:
    clock, holder = Clock(), []
    publisher = GrowsDuringRequest(store, holder, during="send")
    holder.append(box := outbox(store, publisher, clock))
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    await box.drain_once()  # the send shows the old card; the edit request found no 'sent' row yet
    await box.drain_once()
    assert len(publisher.sent) == 1
    assert publisher.edits == [(10, 1001, 1)]  # the message caught up with the grown card
    await box.drain_once()
    assert len(publisher.edits) == 1  # and nothing more is owed


async def test_a_source_that_joins_while_the_card_is_being_edited_gets_another_edit(store: SQLiteStore) -> None:
    clock, holder = Clock(), []
    publisher = GrowsDuringRequest(store, holder, during="edit")
    holder.append(box := outbox(store, publisher, clock))
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    await box.drain_once()
    card = await store.get_card(a)
    assert card is not None
    await store.save_card(a, replace(card, related=(RelatedLink("Beta", "t", "https://b.x/", T0),)), T0 + 1)
    await box.route_changes([StoryChange(a, False)])
    await box.drain_once()  # this edit shows one related link; a second joins while it is in flight
    await box.drain_once()
    assert publisher.edits == [(10, 1001, 1), (10, 1001, 2)]


async def test_pacing_keeps_five_per_five_seconds_per_channel(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    ids = [await story(store, n, ("x",)) for n in range(12)]
    await box.route_changes([StoryChange(i, True) for i in ids])
    start = clock.now
    await box.drain_once()
    assert len(publisher.sent) == 12
    elapsed = clock.now - start
    assert 10.0 <= elapsed <= 10.0 + 3 * 0.05 + 1e-6  # 5 now, 5 after 5 s, 2 after 10 s


async def test_forbidden_channel_breaks_its_routes_and_alerts_admins(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    publisher.failures[10] = [PublishError("403 Forbidden: Missing Access", failure=PublishFailure.FORBIDDEN)]
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    await store.set_alerts_channel(1, 99, T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    await box.drain_once()
    await box.drain_once()
    assert publisher.sent == []
    assert [r.broken_reason for r in await store.list_routes(1)] == ["403 Forbidden: Missing Access"]
    assert len(publisher.alerts) == 1 and publisher.alerts[0][:2] == (1, 99)
    assert "<#10>" in publisher.alerts[0][2]
    b = await story(store, 2, ("models",))
    assert await box.route_changes([StoryChange(b, True)]) == 0  # broken routes carry nothing


async def test_server_errors_are_retried_with_backoff_then_sent(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    publisher.failures[10] = [PublishError("HTTP 503", failure=PublishFailure.RETRY)] * 2
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    for _ in range(3):
        await box.drain_once()
        clock.now += 60
    assert [c for c, _, _ in publisher.sent] == [10]
    assert box.stats.retried == 2


async def test_a_crash_between_send_and_bookkeeping_posts_once(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher(crash_after_send=True)
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    with pytest.raises(ProcessKilledError):
        await box.drain_once()
    # restart: the delivery is still 'sending'; reconciliation finds the message in the channel
    publisher.crash_after_send = False
    restarted = outbox(store, publisher, clock)
    await restarted.reconcile()
    await restarted.drain_once()
    assert len(publisher.sent) == 1
    assert await store.outbox_depth() == (0, None)


async def test_a_crash_before_discord_answered_resends_with_the_same_nonce(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await store.add_route(Route(1, "*", 10), T0)
    a = await story(store, 1, ("models",))
    await box.route_changes([StoryChange(a, True)])
    [delivery] = await store.due_deliveries(clock.now, 10)
    await store.mark_sending(delivery.id)  # the process died right after this commit
    await outbox(store, publisher, clock).reconcile()
    await outbox(store, publisher, clock).drain_once()
    assert [n for _, _, n in publisher.sent] == [delivery.nonce]


async def test_a_feed_added_from_discord_posts_to_its_own_server_only(store: SQLiteStore) -> None:
    from bot.core.types import FeedOrigin

    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await routes(store)  # server 1 routes "*" to channel 11; server 2 routes models to 21
    own = await store.add_feed("https://own.example/rss", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    shared = await store.add_feed("https://config.example/rss", now=T0)
    stories = []
    for n, feed in enumerate((own, shared)):
        story_id = await story(store, 10 + n, ("models",))
        async with store.transaction() as db:
            if feed is own:  # as clustering makes it: a story of that feed's scope
                await db.execute("UPDATE stories SET scope_feed_id = ? WHERE id = ?", (own.id, story_id))
            await db.execute(
                "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash, state,"
                " story_id) VALUES (?, ?, 't', ?, ?, 'h', 'released', ?)",
                (feed.id, f"k{n}", T0, T0, story_id),
            )
        stories.append(story_id)
    await box.route_changes([StoryChange(s, True) for s in stories])
    await box.drain_once()
    sent = sorted((c, s) for c, s, _ in publisher.sent)
    assert sent == [(10, stories[1]), (11, stories[1]), (21, stories[0]), (21, stories[1])]


async def test_a_followers_own_topic_a_mute_and_a_story_never_to_post_decide_where_a_story_goes(
    store: SQLiteStore,
) -> None:
    from bot.core.types import FeedOrigin

    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await routes(store)  # server 1 routes "*" to 11 and models to 10; server 2 policy to 20, models to 21
    own = await store.add_feed("https://own.example/rss", now=T0, origin=FeedOrigin.DISCORD, guild_id=2,
                               topic="policy")  # fmt: skip
    wire = await store.add_feed("https://wire.example/rss", now=T0)
    await store.mute_feed(1, wire.id, T0)
    told = {}
    for name, feed in (("own", own), ("wire", wire), ("split", own)):
        story_id = await story(store, len(told) + 10, ("science",))
        async with store.transaction() as db:
            await db.execute("UPDATE stories SET scope_feed_id = ?, announced_at = ? WHERE id = ?",
                             (None if feed is wire else own.id, None if name == "split" else T0, story_id))  # fmt: skip
            await db.execute(
                "INSERT INTO entries (feed_id, entry_key, title, published_at, first_seen_at, content_hash, state,"
                " story_id) VALUES (?, ?, 't', ?, ?, 'h', 'released', ?)",
                (feed.id, name, T0, T0, story_id),
            )
        told[name] = story_id
    await box.route_changes([StoryChange(s, True) for s in told.values()])
    await box.drain_once()
    sent = sorted((c, s) for c, s, _ in publisher.sent)
    assert sent == [(20, told["own"])], "server 2's own topic for its feed; server 1 muted the wire"
    assert told["split"] not in await store.unrouted_stories(T0 - 1), "a story never to post is not recovered"


async def test_reconcile_routes_stories_a_crash_left_unrouted_and_edits_grown_posts(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    await store.add_route(Route(1, "*", 10), T0)
    posted = await story(store, 1, ("models",))
    box = outbox(store, publisher, clock)
    await box.route_changes([StoryChange(posted, True)])
    await box.drain_once()
    # the process then carded a new story and grew the posted one, and died before routing either
    clock.now += 60
    unrouted = await story(store, 2, ("models",))
    async with store.transaction() as db:
        sql = "UPDATE stories SET carded_at = ?, updated_at = ? WHERE id = ?"
        await db.execute(sql, (clock.now, clock.now, unrouted))
        await db.execute("UPDATE stories SET updated_at = ? WHERE id = ?", (clock.now, posted))
    restarted = outbox(store, publisher, clock)
    await restarted.reconcile()
    await restarted.drain_once()
    assert sorted(s for _, s, _ in publisher.sent) == [posted, unrouted]
    assert [(c, m) for c, m, _ in publisher.edits] == [(10, 1001)]
    await outbox(store, publisher, clock).reconcile()  # a second restart finds nothing left to do
    assert await store.outbox_depth() == (0, None)
    assert await store.due_deliveries(clock.now, 10) == []


async def test_a_disabled_feed_is_announced_once_to_the_server_that_added_it(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.core.polls import FailureRecord
    from bot.core.types import FeedOrigin

    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    await store.set_alerts_channel(7, 70, T0)
    theirs = await store.add_feed("https://their.example/rss", now=T0, name="Their *feed*", origin=FeedOrigin.DISCORD,
                                  guild_id=7)  # fmt: skip
    ours = await store.add_feed("https://config.example/rss", now=T0)
    for feed in (theirs, ours):
        await store.record_failure(feed.id, FailureRecord(T0, "HTTP 410 Gone", 410, 1, T0 + 60, disable=True))
    assert await box.announce_events() == 2
    await box.drain_once()
    [(guild, channel, text)] = publisher.alerts
    assert (guild, channel) == (7, 70)
    assert "Their \\*feed\\*" in text and "HTTP 410 Gone" in text and "/feeds resume" in text
    assert "feed disabled: https://config.example/rss" in caplog.text  # the operator's own feed: the log
    assert await box.announce_events() == 0
    await box.drain_once()
    assert len(publisher.alerts) == 1


MONDAY_9 = T0 + 3 * 86_400 + 3_600  # Monday 18 January 2027, 09:00 UTC (week 3; its recap is about week 2)
WEEK = 7 * 86_400.0
REFUSALS = [
    PublishError("403 Forbidden: Missing Access", failure=PublishFailure.FORBIDDEN),
    PublishError("404 Not Found: Unknown Channel", failure=PublishFailure.UNKNOWN_CHANNEL),
]


@pytest.mark.parametrize("refusal", REFUSALS, ids=["403", "404"])
async def test_a_refused_recap_channel_pauses_its_schedule_and_tells_admins_once(
    store: SQLiteStore, refusal: PublishError
) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    scheduler = RecapScheduler(store, on_queued=box.wake, clock=clock)
    await store.set_alerts_channel(1, 99, T0)
    await scheduler.set(1, 10, 0, "09:00", "UTC")
    publisher.failures[10] = [refusal]
    clock.now = MONDAY_9
    await scheduler.tick()
    await box.drain_once()  # the recap is refused, the alert queued
    await box.drain_once()  # the alert is sent
    assert publisher.recaps == []
    [(guild, channel, text)] = publisher.alerts
    assert (guild, channel) == (1, 99)
    assert text == (f"I can no longer post the weekly recap in <#10> ({refusal}), so I stopped trying."
                    " Fix my permissions there, then run /recap-schedule set again.")  # fmt: skip
    schedule = await store.recap_schedule(1)
    assert schedule is not None and (schedule.broken_at, schedule.broken_reason) == (MONDAY_9, str(refusal))
    [failed] = await store._fetchall("SELECT state, last_error FROM deliveries WHERE kind = 'recap'")
    assert tuple(failed) == ("failed", str(refusal))

    for week in (1, 2, 3):  # never again, however many weeks go by
        clock.now = MONDAY_9 + week * WEEK
        await scheduler.tick()
        await box.drain_once()
    assert publisher.recaps == [] and len(publisher.alerts) == 1
    assert len(await store._fetchall("SELECT 1 FROM deliveries WHERE kind = 'recap'")) == 1, "nothing queued"

    await scheduler.set(1, 10, 0, "09:00", "UTC")  # permissions fixed: set again
    clock.now = MONDAY_9 + 4 * WEEK
    await scheduler.tick()
    await box.drain_once()
    assert publisher.recaps == [(10, "2027-W06")], "posted again once set again"


async def test_a_refused_config_recap_says_who_can_fix_it_and_names_the_routes_it_paused(store: SQLiteStore) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    scheduler = RecapScheduler(store, on_queued=box.wake, clock=clock)
    await scheduler.sync_config([RecapSettings(1, 10, "monday", "9:00", "UTC")])
    await store.add_route(Route(1, "*", 10), T0)
    publisher.failures[10] = [REFUSALS[0]]
    clock.now = MONDAY_9
    await scheduler.tick()
    await box.drain_once()
    await box.drain_once()
    [(_, channel, text)] = publisher.alerts
    assert channel == 0, "no alerts channel: the publisher picks one"
    assert "so I stopped trying, and the channel's routes are paused." in text
    assert text.endswith("then ask the bot's operator to restart me (the schedule comes from the config file),"
                         " and /topics route for the routes.")  # fmt: skip
    assert [r.broken_reason for r in await store.list_routes(1)] == [str(REFUSALS[0])]


async def test_a_refused_recap_of_a_schedule_since_moved_elsewhere_leaves_the_new_channel_alone(
    store: SQLiteStore,
) -> None:
    clock, publisher = Clock(), FakePublisher()
    box = outbox(store, publisher, clock)
    scheduler = RecapScheduler(store, on_queued=box.wake, clock=clock)
    await scheduler.set(1, 10, 0, "09:00", "UTC")
    clock.now = MONDAY_9
    await scheduler.tick()  # queued for channel 10 ...
    await scheduler.set(1, 11, 0, "09:00", "UTC")  # ... then moved to channel 11 before it was sent
    publisher.failures[10] = [REFUSALS[0]]
    await box.drain_once()
    await box.drain_once()
    schedule = await store.recap_schedule(1)
    assert schedule is not None and not schedule.broken, "the new channel did not refuse anything"
    assert publisher.alerts == [], "no route, no schedule there: nothing to tell"
