"""A Publisher that posts nowhere: it keeps what the outbox sent, for the terminal and the HTML page.

`RecordingPublisher` implements the outbox's Publisher protocol (bot/services/outbox.py) for
`wirebrief demo`: each sent card becomes a `Post` with a message id of its own; an edit replaces
the post's card; alerts are kept as text. `log` lists what happened in order, so the demo can
print what each poll posted.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.cards import Card
from bot.core.recap import Recap
from bot.render.card_layout import TimelinePoint
from bot.services.outbox import ChannelKind, Posted, PublishError, PublishFailure

TimelineSource = Callable[[Card], Awaitable[tuple[TimelinePoint, ...]]]


class Action(StrEnum):
    """What the publisher was asked to do."""

    SENT = "sent"
    EDITED = "edited"
    ALERT = "alert"


@dataclass(slots=True)
class Post:
    """One card message in one channel, as it stands after its last edit."""

    message_id: int
    channel_id: int
    card: Card
    timeline: tuple[TimelinePoint, ...]  # the main entity's stories when it was (last) posted
    posted_at: float
    edited_at: float | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """An admin alert the outbox sent."""

    guild_id: int
    channel_id: int
    text: str


@dataclass(slots=True)
class RecordingPublisher:
    """Keeps every card the outbox sends or edits; `timeline` gives a card's timeline field."""

    clock: Callable[[], float]
    timeline: TimelineSource | None = None
    posts: dict[int, Post] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    log: list[tuple[Action, int]] = field(default_factory=list)  # (what, message id or alert index)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def _timeline(self, card: Card) -> tuple[TimelinePoint, ...]:
        return await self.timeline(card) if self.timeline is not None else ()

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        """Every channel of the demo is a text channel."""
        return ChannelKind.MESSAGES

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        """Keep the card as a new message; its id."""
        message_id = next(self._ids)
        self.posts[message_id] = Post(message_id, channel_id, card, await self._timeline(card), self.clock())
        self.log.append((Action.SENT, message_id))
        return message_id

    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted:
        """A forum post is kept as a message of the forum (its thread has the message's id)."""
        message_id = await self.send_card(forum_id, card, nonce="", roles=roles)
        return Posted(message_id, message_id)

    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        """The forum post already showing this card's story, if any."""
        found = await self.find_card(forum_id, card)
        return Posted(found, found) if found is not None and found not in known else None

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Nothing follows the demo's channels."""

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        """Replace the message's card (the story grew)."""
        post = self.posts.get(message_id)
        if post is None:  # not ours: the outbox gives up on it, as Discord's 404 would make it
            raise PublishError("unknown message", failure=PublishFailure.UNKNOWN_MESSAGE)
        post.card, post.timeline, post.edited_at = card, await self._timeline(card), self.clock()
        self.log.append((Action.EDITED, message_id))

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        """The message already showing this card's story in the channel, if any."""
        found = (p.message_id for p in self.posts.values() if p.channel_id == channel_id and p.card.url == card.url)
        return next(found, None)

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        """Recaps are not part of the demo: kept nowhere, given a message id."""
        return next(self._ids)

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        """Keep the alert's text."""
        self.alerts.append(Alert(guild_id, channel_id, text))
        self.log.append((Action.ALERT, len(self.alerts) - 1))
        return next(self._ids)

    def stories(self) -> dict[int, list[Post]]:
        """The posts of each story, stories in the order they were first posted."""
        found: dict[int, list[Post]] = {}
        for post in self.posts.values():
            found.setdefault(post.card.story_id, []).append(post)
        return found
