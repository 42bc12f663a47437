"""Persistent buttons under a card: Deep insight and Timeline, each answered ephemerally.

The custom ids carry the story id only (`wb:deep:<id>`, `wb:tl:<id>`); everything else is read
from the store at click time, so the buttons work on cards posted before a restart. The reply
texts are built by pure functions; the callbacks only fetch, build and send.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

import discord

from bot.app.embeds import (
    BUTTON_URL_LIMIT,
    LINE_TEXT_LIMIT,
    TimelineEvent,
    date_valid,
    fit_lines,
    page_url,
    timeline_label,
    timeline_line,
)  # fmt: skip
from bot.app.mentions import NOBODY
from bot.core.cards import Card
from bot.core.limits import safe

if TYPE_CHECKING:
    from bot.app.bot import WirebriefBot

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
TIMELINE_REPLY_MAX = 10
DEEP_TEMPLATE = r"wb:deep:(?P<story_id>[0-9]{1,19})"
TIMELINE_TEMPLATE = r"wb:tl:(?P<story_id>[0-9]{1,19})"

NOT_STORED = "This story is no longer stored."
FAILED = "Sorry, something went wrong on my side. The error is logged."
_ITEM_LIMIT = 400  # one deep-dive or implication bullet


@runtime_checkable
class ButtonStore(Protocol):
    """What the buttons read from the store."""

    async def get_card(self, story_id: int) -> Card | None: ...

    async def story_audience(self, story_id: int) -> frozenset[int] | None: ...

    async def story_entities(self, story_id: int) -> list[str]: ...

    async def entity_events(
        self, name_or_alias: str, limit: int, viewer: int | None = None
    ) -> list[tuple[float, str, str, int, str]]: ...


# --- the replies (pure) ------------------------------------------------------------------------


def _section(heading: str, items: Sequence[str], room: int) -> str:
    lines = [f"• {safe(item, _ITEM_LIMIT)}" for item in items if item.strip()]
    body = fit_lines(lines, room - len(heading) - 1)
    return f"{heading}\n{body}" if body else ""


def deep_insight_reply(card: Card | None) -> str:
    """The Deep insight answer: the technical deep dive and the future implications."""
    if card is None:
        return NOT_STORED
    head = f"**🔬 Deep insight: {safe(card.headline, LINE_TEXT_LIMIT) or 'this story'}**"
    if not any(t.strip() for t in (*card.deep_dive, *card.implications)):
        why = " (this card was written offline, without a model)" if not card.by_model else ""
        return f"{head}\nNo deep insight for this story{why}."
    room = MESSAGE_LIMIT - len(head) - 2
    dive = _section("**Technical deep dive**", card.deep_dive, room)
    room -= (len(dive) + 2) if dive else 0
    future = _section("**Future implications**", card.implications, room)
    return "\n\n".join(part for part in (head, dive, future) if part)


def timeline_reply(entity: str | None, events: Sequence[TimelineEvent]) -> str:
    """The Timeline answer: the entity's recent dated stories (date, one line, link), newest first."""
    name = safe(entity or "", 100)
    if not name:
        return "This story has no main entity to follow."
    dated = sorted((e for e in events if date_valid(e.date)), key=lambda e: e.date, reverse=True)
    if not dated:
        return f"No dated stories about {name} are stored yet."
    head = f"**⏳ Timeline: {name}**"
    lines = [timeline_line(e) for e in dated[:TIMELINE_REPLY_MAX]]
    return f"{head}\n{fit_lines(lines, MESSAGE_LIMIT - len(head) - 1)}"


async def entity_timeline(store: ButtonStore, entity: str, limit: int, guild_id: int | None) -> list[TimelineEvent]:
    """The entity's newest `limit` dated stories that server `guild_id` may see (None: an unknown
    server, which sees only the stories every server may), as timeline events (also for
    `card_embed(timeline=…)`): the store reads only the stories that server may see."""
    return [TimelineEvent(*row) for row in await store.entity_events(entity, limit, guild_id)]


async def deep_insight_text(store: ButtonStore, story_id: int) -> str:
    """The Deep insight answer for a story, read from the store."""
    return deep_insight_reply(await store.get_card(story_id))


async def timeline_text(store: ButtonStore, story_id: int, guild_id: int | None = None) -> str:
    """The Timeline answer for a story: its main entity looked up now, then that entity's stories."""
    card = await store.get_card(story_id)
    if card is None:
        return NOT_STORED
    entity = card.main_entity or next(iter(await store.story_entities(story_id)), None)
    events = await entity_timeline(store, entity, TIMELINE_REPLY_MAX, guild_id) if entity else []
    return timeline_reply(entity, events)


# --- the Discord glue --------------------------------------------------------------------------


async def answer(
    interaction: discord.Interaction[Any],
    custom_id: str,
    build: Callable[[ButtonStore], Awaitable[str]],
    story_id: int | None = None,
) -> None:
    """Reply ephemerally with `build(store)`, mentioning nobody; a failure gets one sentence. A story
    the clicking server may not see (told only by other servers' feeds) is answered as not stored:
    a custom id names a story, and whoever clicks must be one of its audience."""
    store = getattr(interaction.client, "store", None)
    try:
        if store is None:
            raise LookupError("the client has no store to answer buttons from")
        audience = await store.story_audience(story_id) if story_id is not None else None
        if audience is not None and interaction.guild_id not in audience:
            text = NOT_STORED
        else:
            text = await build(store)
    except Exception:
        log.exception("the button %s failed", custom_id)
        text = FAILED
    try:
        await interaction.response.send_message(
            text[:MESSAGE_LIMIT], ephemeral=True, allowed_mentions=NOBODY, suppress_embeds=True
        )
    except discord.HTTPException as exc:
        log.warning("could not answer a button click: %s", exc)


class DeepInsightButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=DEEP_TEMPLATE):
    """The "Deep insight" button: the technical deep dive and the future implications, ephemerally."""

    def __init__(self, story_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Deep insight", emoji="🔬", style=discord.ButtonStyle.secondary, custom_id=f"wb:deep:{story_id}"
            )
        )
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(int(match["story_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        story_id = self.story_id
        await answer(interaction, self.custom_id, lambda store: deep_insight_text(store, story_id), story_id)


class TimelineButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=TIMELINE_TEMPLATE):
    """The "Timeline: <entity>" button: the main entity's recent dated stories, ephemerally."""

    def __init__(self, story_id: int, label: str = "Timeline") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, emoji="⏳", style=discord.ButtonStyle.secondary, custom_id=f"wb:tl:{story_id}"
            )
        )
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        label = getattr(item, "label", None)
        return cls(int(match["story_id"]), label or "Timeline")

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        story_id = self.story_id
        guild_id = interaction.guild_id
        await answer(interaction, self.custom_id, lambda store: timeline_text(store, story_id, guild_id), story_id)


def register_views(bot: WirebriefBot) -> None:
    """Listen for the card buttons of every message, including those posted before a restart."""
    bot.add_dynamic_items(DeepInsightButton, TimelineButton)


def card_view(card: Card) -> discord.ui.View:
    """The buttons under a card: Read original (a link), Deep insight, Timeline: <main entity>.

    The two answering buttons are persistent (their custom ids carry the story id), so they keep
    working after a restart once `register_views` has run.
    """
    view = discord.ui.View(timeout=None)
    url = page_url(card.url, BUTTON_URL_LIMIT)
    if url:
        view.add_item(discord.ui.Button(label="Read original", url=url, emoji="🔗"))
    view.add_item(DeepInsightButton(card.story_id))
    if card.main_entity and card.main_entity.strip():
        view.add_item(TimelineButton(card.story_id, timeline_label(card.main_entity)))
    return view
