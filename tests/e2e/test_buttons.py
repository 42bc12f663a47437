"""End to end: the buttons of a card posted before the bot started, clicked through the fake Discord.

The story and its card are written to the bot's database before the bot starts, so the click
exercises the persistent (dynamic) buttons exactly as after a restart.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fake_discord import (
    EPHEMERAL,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    StartBot,
    now_iso,
)

from bot.adapters.store import SQLiteStore
from bot.app.embeds import card_embed
from bot.app.views import NOT_STORED, card_view
from bot.core.cards import Card
from bot.core.cluster import Features
from bot.core.stories import StoryPlanItem

pytestmark = pytest.mark.e2e

START_TIMEOUT = 30.0
T0 = 1_800_000_000.0
DAY = 86_400.0


async def store_story(db_path: Path) -> Card:
    """Two stories about Acme in the bot's database; the card of the newer one."""
    store = await SQLiteStore.open(db_path)
    try:
        await store.sync_watchlist([("Acme", ())], T0)
        story_ids = []
        for headline, when in (("Acme founded", T0 - 30 * DAY), ("Acme ships Rocket 2 @everyone", T0)):
            features = Features({}, frozenset(), frozenset(), when)
            item = StoryPlanItem(0, -1, True, headline, when, features, (), ("Acme",))
            [(story_id, _)] = await store.apply_story_plan([item], when)
            story_ids.append(story_id)
        card = Card(
            story_id=story_ids[-1], headline="Acme ships Rocket 2 @everyone", url="https://news.example/rocket-2",
            source="Example News", published_at=T0, hook="Out now.", what_changed="Rocket 2 launched.",
            why_it_matters="w", what_to_do_next="n", who_should_care="c", deep_dive=("Methane **engines**.",),
            implications=("Cheaper launches.",), main_entity="Acme", written_by="gpt-4o-mini", by_model=True,
        )  # fmt: skip
        await store.save_card(card.story_id, card, T0)
        return card
    finally:
        await store.close()


def card_message(fake: FakeDiscord, channel: FakeChannel, card: Card) -> dict[str, Any]:
    """The card as Discord would hold it: a message of the bot with the embed and the buttons."""
    return {
        "id": str(fake.ids()), "channel_id": str(channel.id), "guild_id": str(channel.guild_id), "type": 0,
        "content": "", "author": fake.bot_user.payload(), "timestamp": now_iso(), "edited_timestamp": None,
        "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [card_embed(card).to_dict()], "components": card_view(card).to_components(), "pinned": False,
        "flags": 0,
    }  # fmt: skip


async def test_card_buttons_answer_ephemerally_after_a_restart(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    card = await store_story(tmp_path / "wirebrief.db")  # the path start_bot's config uses
    await start_bot()
    await fake_discord.wait_for_ready(START_TIMEOUT)
    channel = fake_guild.channel("news")

    deep = await fake_discord.click(
        f"wb:deep:{card.story_id}", user=fake_member, message=card_message(fake_discord, channel, card)
    )
    reply = await deep.wait_response(START_TIMEOUT)
    assert reply["type"] == 4
    assert reply["data"]["flags"] & EPHEMERAL
    assert reply["data"]["allowed_mentions"] == {"parse": []}
    content = reply["data"]["content"]
    assert "Methane \\*\\*engines\\*\\*." in content and "Cheaper launches." in content
    assert "@everyone" not in content

    timeline = await fake_discord.click(
        f"wb:tl:{card.story_id}", user=fake_member, message=card_message(fake_discord, channel, card)
    )
    reply = await timeline.wait_response(START_TIMEOUT)
    assert reply["data"]["flags"] & EPHEMERAL
    assert reply["data"]["content"].split("\n") == [
        "**⏳ Timeline: Acme**",
        f"<t:{int(T0)}:d> — [Acme ships Rocket 2 @\u200beveryone](https://news.example/rocket-2)",
        f"<t:{int(T0 - 30 * DAY)}:d> — Acme founded",
    ]

    lost = replace(card, story_id=999_999)  # a card whose story the store no longer has
    gone = await fake_discord.click(
        "wb:deep:999999", user=fake_member, message=card_message(fake_discord, channel, lost)
    )
    reply = await gone.wait_response(START_TIMEOUT)
    assert reply["data"]["content"] == NOT_STORED
    assert reply["data"]["flags"] & EPHEMERAL
    assert fake_discord.messages(channel) == [], "the answers are ephemeral, nothing is posted"
