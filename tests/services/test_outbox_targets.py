"""The outbox's route targets and options: forum posts (exactly once without a nonce), role pings,
publishing in announcement channels. Each test runs on SQLite and on PostgreSQL (`store`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import pytest
from fake_clock import Clock
from outbox_fakes import story

from bot.adapters.store import SQLiteStore
from bot.core.cards import Card, RelatedLink
from bot.core.recap import Recap
from bot.core.routing import Route
from bot.services.enrich import StoryChange
from bot.services.outbox import ChannelKind, ChannelPacer, Outbox, Posted, PublishError, PublishFailure

T0 = 1_800_000_000.0
FORUM, TEXT, NEWS = 10, 11, 12
ROLE, OTHER_ROLE = 501, 502


class ProcessKilledError(BaseException):
    """Stands for a SIGKILL at that point: nothing after it runs."""


@dataclass
class Post:
    forum: int
    thread: int
    story: int
    at: float


@dataclass
class Discord:
    """A scripted Discord: a forum, a text channel and an announcement channel. Forum posts keep no
    nonce, as on Discord; `lost` makes the next post land and its answer never arrive."""

    clock: Clock
    kinds: dict[int, ChannelKind] = field(
        default_factory=lambda: {FORUM: ChannelKind.FORUM, TEXT: ChannelKind.MESSAGES, NEWS: ChannelKind.ANNOUNCEMENT}
    )
    posts: list[Post] = field(default_factory=list)
    messages: list[tuple[int, int, tuple[int, ...]]] = field(default_factory=list)  # (channel, story, roles)
    post_roles: list[tuple[int, ...]] = field(default_factory=list)
    edits: list[tuple[int, int]] = field(default_factory=list)  # (channel, message)
    published: list[tuple[int, int]] = field(default_factory=list)
    looks: list[frozenset[int]] = field(default_factory=list)  # the `known` of each find_post
    lost: BaseException | None = None  # raised after the next post lands
    look_fails: int = 0  # so many find_post calls fail (5xx)
    publish_fails: PublishError | None = None
    edit_fails: PublishError | None = None
    next_id: int = 9000

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        return self.kinds[channel_id]

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        self.next_id += 1
        self.messages.append((channel_id, card.story_id, tuple(roles)))
        return self.next_id

    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted:
        self.next_id += 1
        self.posts.append(Post(forum_id, self.next_id, card.story_id, self.clock.now))
        self.post_roles.append(tuple(roles))
        if self.lost is not None:
            lost, self.lost = self.lost, None
            raise lost
        return Posted(self.next_id, self.next_id)

    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        self.looks.append(frozenset(known))
        if self.look_fails:
            self.look_fails -= 1
            raise PublishError("HTTP 503", failure=PublishFailure.RETRY)
        for post in self.posts:
            if post.forum == forum_id and post.at >= since and post.thread not in known and post.story == card.story_id:
                return Posted(post.thread, post.thread)
        return None

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        if self.edit_fails is not None:
            raise self.edit_fails
        self.edits.append((channel_id, message_id))

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        return None

    async def publish(self, channel_id: int, message_id: int) -> None:
        if self.publish_fails is not None:
            raise self.publish_fails
        self.published.append((channel_id, message_id))

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        return 1

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        return 2


def outbox(store: SQLiteStore, discord: Discord) -> Outbox:
    clock = discord.clock
    return Outbox(store, discord, clock=clock, pacer=ChannelPacer(clock=clock), sleep=clock.sleep)


async def started(store: SQLiteStore, *routes: Route) -> tuple[Discord, Outbox]:
    """The scripted Discord and an outbox, with `routes` set before the stories arrive."""
    discord = Discord(Clock())
    for route in routes:
        await store.add_route(route, T0 - 1)
    return discord, outbox(store, discord)


async def queued(store: SQLiteStore, box: Outbox, *stories: int) -> None:
    await box.route_changes([StoryChange(s, True) for s in stories])


async def rows(store: SQLiteStore) -> list[tuple[object, ...]]:
    found = await store._fetchall(
        "SELECT channel_id, story_id, state, message_id, thread_id, last_error FROM deliveries ORDER BY id"
    )
    return [tuple(r) for r in found]


async def grow(store: SQLiteStore, box: Outbox, story_id: int) -> None:
    card = await store.get_card(story_id)
    assert card is not None
    await store.save_card(story_id, replace(card, related=(RelatedLink("Beta", "t", "https://b.example/", T0),)), T0)
    await box.route_changes([StoryChange(story_id, False)])


# --- forums ------------------------------------------------------------------------------------


async def test_a_forum_route_opens_one_post_per_story_and_an_update_edits_it_in_its_thread(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", FORUM))
    a, b = await story(store, 1, ("models",)), await story(store, 2, ("models",))
    await queued(store, box, a, b)
    await box.drain_once()
    assert [(p.forum, p.story) for p in discord.posts] == [(FORUM, a), (FORUM, b)]
    assert discord.looks == [], "a first try opens the post at once"
    first = discord.posts[0].thread
    assert (await rows(store))[0] == (FORUM, a, "sent", first, first, None)

    await grow(store, box, a)
    await box.drain_once()
    assert discord.edits == [(first, first)], "edited where it lives: the post's thread"
    assert len(discord.posts) == 2, "no second post"


async def test_a_crash_after_the_forum_post_landed_finds_it_at_the_restart(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", FORUM))
    done = await story(store, 1, ("models",))
    await queued(store, box, done)
    await box.drain_once()  # another story's post, recorded: it must not be taken for the lost one
    lost = await story(store, 2, ("models",))
    await queued(store, box, lost)
    discord.lost = ProcessKilledError()
    with pytest.raises(ProcessKilledError):
        await box.drain_once()

    restarted = outbox(store, discord)
    await restarted.reconcile()
    await restarted.drain_once()
    assert [p.story for p in discord.posts] == [done, lost], "posted once"
    assert discord.looks[0] == {discord.posts[0].thread}, "the recorded post is known, not a candidate"
    assert (await rows(store))[1] == (FORUM, lost, "sent", discord.posts[1].thread, discord.posts[1].thread, None)


async def test_a_forum_post_whose_answer_was_lost_to_a_5xx_is_found_not_posted_again(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", FORUM))
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    discord.lost = PublishError("HTTP 502", failure=PublishFailure.RETRY)  # landed, then a gateway error
    await box.drain_once()
    discord.clock.now += 60
    await box.drain_once()
    assert len(discord.posts) == 1
    assert (await rows(store))[0][2:5] == ("sent", discord.posts[0].thread, discord.posts[0].thread)


async def test_a_forum_post_is_never_opened_blind_when_the_look_fails(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", FORUM))
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    [delivery] = await store.due_deliveries(discord.clock.now, 10)
    await store.mark_sending(delivery.id)  # the process died before the request left
    discord.look_fails = 2
    restarted = outbox(store, discord)
    await restarted.reconcile()  # the look fails: retried later
    await restarted.drain_once()  # the retry looks first, which fails again: no post
    assert discord.posts == []
    assert (await rows(store))[0][2] == "pending"
    discord.clock.now += 60
    await restarted.drain_once()  # this look succeeds and finds nothing: now the post is opened
    assert [p.story for p in discord.posts] == [a]
    assert len(discord.looks) == 3


async def test_a_deleted_forum_post_stops_its_edits_but_not_the_forum(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", FORUM))
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    await box.drain_once()
    discord.edit_fails = PublishError("404 Not Found: Unknown Channel", failure=PublishFailure.UNKNOWN_CHANNEL)
    await grow(store, box, a)
    await box.drain_once()
    [route] = await store.list_routes(1)
    assert route.broken_reason is None, "one deleted post is not a forum the bot lost"
    assert (await rows(store))[0][2] == "sent"
    assert await store.due_deliveries(discord.clock.now + 3600, 10) == []


# --- role pings --------------------------------------------------------------------------------


async def test_a_post_mentions_the_roles_of_the_routes_that_carry_it_and_only_those(store: SQLiteStore) -> None:
    discord, box = await started(
        store,
        Route(1, "models", TEXT, mention_role_id=ROLE),
        Route(1, "policy", TEXT, mention_role_id=OTHER_ROLE),
        Route(1, "*", TEXT),
        Route(1, "models", FORUM, mention_role_id=ROLE),
    )
    models, policy = await story(store, 1, ("models",)), await story(store, 2, ("policy",))
    both, science = await story(store, 3, ("models", "policy")), await story(store, 4, ("science",))
    await queued(store, box, models, policy, both, science)
    await box.drain_once()
    assert sorted((s, r) for _, s, r in discord.messages) == [
        (models, (ROLE,)), (policy, (OTHER_ROLE,)), (both, (ROLE, OTHER_ROLE)), (science, ())
    ]  # fmt: skip
    assert discord.post_roles == [(ROLE,), (ROLE,)], "a forum post mentions its route's role too"

    await grow(store, box, models)
    await box.drain_once()
    assert len(discord.edits) == 2 and len(discord.messages) == 4, "an edit, never a new ping"


async def test_a_role_added_after_the_story_arrived_is_not_pinged_for_it(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", TEXT))
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    await store.add_route(Route(1, "models", TEXT, mention_role_id=ROLE), T0 + 5)  # after it arrived
    await box.drain_once()
    assert discord.messages == [(TEXT, a, ())]


# --- publishing --------------------------------------------------------------------------------


async def test_an_announcement_route_publishes_each_new_post_once(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", NEWS, publish=True))
    await store.add_route(Route(1, "*", TEXT, publish=True), T0 - 1)  # not an announcement channel
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    await box.drain_once()
    assert discord.published == [(NEWS, discord.messages.index((NEWS, a, ())) + 9001)]
    await grow(store, box, a)
    await box.drain_once()
    assert len(discord.published) == 1, "an edit is not published again"
    assert box.stats.published == 1


async def test_a_failed_publish_is_noted_and_never_resends_the_post(store: SQLiteStore) -> None:
    discord, box = await started(store, Route(1, "*", NEWS, publish=True))
    discord.publish_fails = PublishError("HTTP 429: slow down", failure=PublishFailure.RETRY)
    a = await story(store, 1, ("models",))
    await queued(store, box, a)
    await box.drain_once()
    for _ in range(3):
        discord.clock.now += 3600
        await box.drain_once()
    assert len(discord.messages) == 1 and discord.published == []
    [(_, _, state, message_id, _, error)] = await rows(store)
    assert (state, message_id) == ("sent", discord.next_id)
    assert error == "posted, but not published: HTTP 429: slow down"


# --- the routes' options in the store -------------------------------------------------------------


async def test_a_route_keeps_its_role_and_publishing_and_takes_new_ones(store: SQLiteStore) -> None:
    assert await store.add_route(Route(1, "*", NEWS, mention_role_id=ROLE, publish=True), T0) is True
    [route] = await store.list_routes(1)
    assert (route.mention_role_id, route.publish) == (ROLE, True)
    assert await store.add_route(Route(1, "*", NEWS, mention_role_id=ROLE, publish=True), T0) is False, "as it is"
    assert await store.add_route(Route(1, "*", NEWS), T0) is True, "set again without them: taken"
    [route] = await store.list_routes(1)
    assert (route.mention_role_id, route.publish, route.created_at) == (None, False, T0)
