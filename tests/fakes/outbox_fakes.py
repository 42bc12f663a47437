"""What the outbox's tests share: `MessagesOnly`, the parts of the outbox's Publisher that a fake
posting only in text channels never uses (every channel takes messages; no forum post to open or
find, nothing to publish), which the service tests' fakes inherit (tests of forums and publishing
script these themselves); and `story`, a story carded and announced at T0, ready to route."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from bot.adapters.store import SQLiteStore
from bot.core.cards import Card, RelatedLink
from bot.services.outbox import ChannelKind, Posted

T0 = 1_800_000_000.0


async def story(store: SQLiteStore, n: int, topics: tuple[str, ...], related: int = 0) -> int:
    """Story `n` ("Story n", https://news.example/n) with `topics` and `related` links, carded and announced at T0."""
    async with store.transaction() as db:
        cur = await db.execute(
            "INSERT INTO stories (headline, published_at, created_at, updated_at, announced_at)"
            " VALUES (?, ?, ?, ?, ?) RETURNING id",
            (f"Story {n}", T0, T0, T0, T0),
        )
        story_id = int((await cur.fetchone())[0])
    card = Card(story_id, f"Story {n}", f"https://news.example/{n}", "Alpha", T0, "", f"Change {n}", "w", "n", "c",
                topics=topics, related=tuple(RelatedLink("Beta", "t", f"https://b.example/{i}", T0)
                                             for i in range(related)))  # fmt: skip
    await store.save_card(story_id, card, T0)
    return story_id


class MessagesOnly:
    async def channel_kind(self, channel_id: int) -> ChannelKind:
        return ChannelKind.MESSAGES

    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted:
        raise AssertionError("no forum here")

    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        raise AssertionError("no forum here")

    async def publish(self, channel_id: int, message_id: int) -> None:
        raise AssertionError("nothing to publish here")
