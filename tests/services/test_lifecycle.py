"""Lifecycle rules of a bot many servers share: a route gets only the stories that arrive after it
exists; a feed that leaves the config stops being polled; a server that removes the bot loses its
waiting posts at once and what it set up after a grace period, unless it invites the bot back."""

from __future__ import annotations

from collections.abc import Sequence

from fake_clock import Clock
from outbox_fakes import MessagesOnly

from bot.adapters.store import SQLiteStore
from bot.config import FeedSettings
from bot.core.cards import Card
from bot.core.recap import RecapSchedule
from bot.core.routing import Route, RouteOrigin
from bot.core.types import FeedOrigin
from bot.services.enrich import StoryChange
from bot.services.feeds import LEFT_THE_CONFIG, sync_config_feeds
from bot.services.guilds import GuildLifecycle
from bot.services.outbox import ChannelPacer, Outbox

T0 = 1_800_000_000.0
DAY = 86400.0


class Publisher(MessagesOnly):
    def __init__(self) -> None:
        self.sent: list[tuple[int, int]] = []  # (channel, story)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        self.sent.append((channel_id, card.story_id))
        return 100 + len(self.sent)

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        return None

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        return None

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        return 1

    async def send_recap(self, channel_id: int, recap: object, *, nonce: str) -> int:
        return 2


async def story(store: SQLiteStore, headline: str, created_at: float) -> int:
    async with store.transaction() as db:
        cur = await db.execute("INSERT INTO stories (headline, published_at, created_at, updated_at, announced_at)"
                               " VALUES (?, ?, ?, ?, ?) RETURNING id", (headline, *[created_at] * 4))  # fmt: skip
        story_id = int((await cur.fetchone())[0])
    card = Card(story_id, headline, f"https://news.example/{story_id}", "Wire", created_at, "", f"{headline}.",
                "w", "n", "c", topics=("news",))  # fmt: skip
    await store.save_card(story_id, card, created_at)
    return story_id


def outbox(store: SQLiteStore, publisher: Publisher, clock: Clock) -> Outbox:
    return Outbox(store, publisher, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)  # type: ignore[arg-type]


# --- routes -----------------------------------------------------------------------------------


async def test_a_route_added_later_gets_no_old_story_when_a_restart_routes_what_a_crash_left(
    store: SQLiteStore,
) -> None:
    clock, publisher = Clock(T0 + 3600), Publisher()
    await store.add_route(Route(1, "*", 10), T0 - 60)  # there before the story
    old = await story(store, "Harbour reopens", T0)  # carded, then the process died before routing
    await store.add_route(Route(2, "news", 20), T0 + 600)  # added while the bot was down
    await outbox(store, publisher, clock).reconcile()
    await outbox(store, publisher, clock).drain_once()
    assert publisher.sent == [(10, old)], "the new route got no story from before it existed"

    new = await story(store, "Ferry crossings start", T0 + 7200)
    box = outbox(store, publisher, clock)
    await box.route_changes([StoryChange(new, True)])
    await box.drain_once()
    assert sorted(publisher.sent[1:]) == [(10, new), (20, new)], "later stories reach both"


async def test_config_routes_keep_their_age_across_restarts(store: SQLiteStore) -> None:
    config = [Route(1, "news", 10, origin=RouteOrigin.CONFIG)]
    await store.sync_config_routes(config, T0)
    await store.sync_config_routes(config, T0 + 30 * DAY)  # a restart a month later
    [route] = await store.list_routes()
    assert route.created_at == T0, "a restart must not make a config route new (and blind to recovery)"


# --- the config's feeds -----------------------------------------------------------------------


async def test_a_feed_removed_from_the_config_is_no_longer_polled_and_polled_again_when_back(
    store: SQLiteStore,
) -> None:
    a, b = FeedSettings("https://a.example/feed"), FeedSettings("https://b.example/feed")
    assert await sync_config_feeds(store, [a, b], T0) == 2
    assert {f.url for f in await store.claim_due_feeds(T0 + 1, 60, 10)} == {a.url, b.url}
    await store.clear_leases()

    await sync_config_feeds(store, [a], T0 + 100)  # the operator took b out and restarted
    gone = await store.get_feed_by_url(b.url)
    assert gone is not None and gone.disabled_reason == LEFT_THE_CONFIG, "kept with its history, not polled"
    assert [f.url for f in await store.claim_due_feeds(T0 + 200, 60, 10)] == [a.url]
    await store.clear_leases()

    await sync_config_feeds(store, [a, b], T0 + 300)  # and put it back
    back = await store.get_feed_by_url(b.url)
    assert back is not None and back.disabled_at is None
    assert b.url in {f.url for f in await store.claim_due_feeds(T0 + 400, 60, 10)}


async def test_a_server_feed_or_a_failing_config_feed_is_not_touched_by_the_config_sync(store: SQLiteStore) -> None:
    server = await store.add_feed("https://s.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=5)
    await sync_config_feeds(store, [], T0 + 1)
    kept = await store.get_feed(server.id)
    assert kept is not None and kept.disabled_at is None, "only the config's own feeds follow the config"


# --- servers leaving and coming back ------------------------------------------------------------


async def seed_two_servers(store: SQLiteStore) -> tuple[int, int]:
    for guild, channel in ((1, 10), (2, 20)):
        await store.add_route(Route(guild, "*", channel), T0 - 60)
    first, second = await story(store, "Council vote", T0), await story(store, "Museum wing", T0 + 1)
    await store.enqueue("card", first, "", [(1, 10), (2, 20)], T0)
    [sent] = [d for d in await store.due_deliveries(T0, 10) if d.guild_id == 1]
    await store.mark_sending(sent.id)
    await store.mark_sent(sent.id, 555, T0)
    await store.request_edits(first, T0 + 2)  # server 1's post waits for an edit
    await store.enqueue("card", second, "", [(1, 10), (2, 20)], T0 + 1)
    await store.add_feed("https://one.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=1)
    await store.add_feed("https://two.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=2)
    await store.set_alerts_channel(1, 11, T0)
    await store.save_recap_schedule(RecapSchedule(1, 10, 0, "09:00", "UTC"), T0)
    await store.add_route(Route(1, "news", 12, origin=RouteOrigin.CONFIG), T0)
    return first, second


async def waiting(store: SQLiteStore, guild_id: int) -> int:
    return sum(d.guild_id == guild_id for d in await store.due_deliveries(T0 + DAY, 100))


async def test_a_server_that_removes_the_bot_loses_its_waiting_posts_at_once_and_its_setup_after_the_grace(
    store: SQLiteStore,
) -> None:
    await seed_two_servers(store)
    clock = Clock(T0 + 10)
    guilds = GuildLifecycle(store, clock=clock, grace_seconds=7 * DAY)
    assert await waiting(store, 1) == 2 and await waiting(store, 2) == 2
    assert await guilds.left(1) == 2, "its new post and its pending edit"
    assert await waiting(store, 1) == 0 and await waiting(store, 2) == 2, "the other server is untouched"

    clock.now += 6 * DAY
    assert await guilds.purge_due() == 0, "within the grace period nothing is purged"
    assert [f.url for f in await store.list_feeds() if f.guild_id == 1] == ["https://one.example/feed"]

    clock.now += 2 * DAY
    assert await guilds.purge_due() == 1
    assert [f.guild_id for f in await store.list_feeds()] == [2]
    assert [(r.guild_id, r.origin) for r in await store.list_routes(1)] == [(1, RouteOrigin.CONFIG)], (
        "the operator's config route stays: the config owns it"
    )
    assert await store.get_alerts_channel(1) is None and await store.recap_schedule(1) is None
    assert len(await store.list_routes(2)) == 1 and await waiting(store, 2) == 2


async def test_a_server_that_invites_the_bot_back_in_time_keeps_everything(store: SQLiteStore) -> None:
    await seed_two_servers(store)
    clock = Clock(T0 + 10)
    guilds = GuildLifecycle(store, clock=clock, grace_seconds=7 * DAY)
    await guilds.left(1)
    clock.now += DAY
    await guilds.joined(1)
    clock.now += 30 * DAY
    assert await guilds.purge_due() == 0
    assert len(await store.list_routes(1)) == 2 and await store.get_alerts_channel(1) == 11


async def test_a_server_whose_purge_fails_holds_up_no_other_and_ends_quarantined(store: SQLiteStore) -> None:
    from bot.core.quarantine import DEFAULT_POLICY

    for guild in (1, 3):
        await store.add_feed(f"https://g{guild}.example/feed", now=T0, origin=FeedOrigin.DISCORD, guild_id=guild)
        await store.mark_guild_left(guild, T0)
    purge = store.purge_guild

    async def failing_for_one(guild_id: int) -> int:
        if guild_id == 1:
            raise RuntimeError("a row the purge did not expect")
        return await purge(guild_id)

    store.purge_guild = failing_for_one  # type: ignore[method-assign]
    clock = Clock(T0 + 8 * DAY)
    guilds = GuildLifecycle(store, clock=clock, grace_seconds=7 * DAY)
    assert await guilds.purge_due() == 1
    assert [f.guild_id for f in await store.list_feeds()] == [1], "server 3 was purged all the same"
    for _ in range(DEFAULT_POLICY.max_attempts + 1):
        clock.now += DAY
        await guilds.purge_due()
    assert await store.quarantine_counts() == {"purge": 1}
