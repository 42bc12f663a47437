"""The card buttons: custom ids, the reply texts, the store query behind them, and the discord.py glue."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import discord
import pytest
from discord.webhook.async_ import async_context
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.app.embeds import TimelineEvent
from bot.app.views import (
    FAILED,
    MESSAGE_LIMIT,
    NOT_STORED,
    TIMELINE_REPLY_MAX,
    ButtonStore,
    DeepInsightButton,
    TimelineButton,
    answer,
    card_view,
    deep_insight_reply,
    deep_insight_text,
    register_views,
    timeline_reply,
    timeline_text,
)
from bot.core.cards import Card
from bot.core.cluster import Features
from bot.core.stories import StoryPlanItem

T0 = 1_800_000_000.0
DAY = 86_400.0
EPHEMERAL = 1 << 6
SUPPRESS_EMBEDS = 1 << 2
MENTION = re.compile(r"@(everyone|here)|<@[!&]?\d+>|<#\d+>")


def make_card(**changes: Any) -> Card:
    card = Card(
        story_id=42,
        headline="Acme ships Rocket 2",
        url="https://news.example/rocket-2",
        source="Example News",
        published_at=T0,
        hook="",
        what_changed="Rocket 2 launched.",
        why_it_matters="w",
        what_to_do_next="n",
        who_should_care="c",
        deep_dive=("Stage one lands on a barge.", "Methane engines."),
        implications=("Launch prices fall.",),
        main_entity="Acme",
        written_by="gpt-4o-mini",
        by_model=True,
    )
    return replace(card, **changes)


# --- custom ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("story_id", [1, 42, 2**63 - 1])
async def test_custom_ids_parse_back(story_id: int) -> None:
    for button in (DeepInsightButton(story_id), TimelineButton(story_id, "Timeline: Acme")):
        custom_id = button.custom_id
        assert len(custom_id) <= 100
        match = button.template.fullmatch(custom_id)
        assert match is not None
        parsed = await type(button).from_custom_id(None, button.item, match)  # type: ignore[arg-type]
        assert parsed.story_id == story_id
        assert parsed.custom_id == custom_id
        assert parsed.item.label == button.item.label


def test_templates_match_only_their_own_ids() -> None:
    deep, timeline = DeepInsightButton(1).template, TimelineButton(1).template
    for other in ("wb:deep:", "wb:deep:x", "wb:deep:1 ", "wb:deep:-1", "wb:tl:1", "wb:deep:" + "9" * 20):
        assert deep.fullmatch(other) is None, other
    assert timeline.fullmatch("wb:deep:1") is None and timeline.fullmatch("wb:tl:7") is not None


def test_card_view_uses_the_persistent_items() -> None:
    items = card_view(make_card()).children
    assert [type(i).__name__ for i in items] == ["Button", "DeepInsightButton", "TimelineButton"]
    assert all(i.is_persistent() for i in items)


# --- the replies -------------------------------------------------------------------------------


def test_deep_insight_of_a_model_card() -> None:
    assert deep_insight_reply(make_card()) == (
        "**🔬 Deep insight: Acme ships Rocket 2**\n\n"
        "**Technical deep dive**\n• Stage one lands on a barge.\n• Methane engines.\n\n"
        "**Future implications**\n• Launch prices fall."
    )


def test_deep_insight_of_an_offline_card_says_there_is_none() -> None:
    card = make_card(deep_dive=(), implications=(), written_by="offline", by_model=False)
    assert deep_insight_reply(card) == (
        "**🔬 Deep insight: Acme ships Rocket 2**\n"
        "No deep insight for this story (this card was written offline, without a model)."
    )
    assert deep_insight_reply(make_card(deep_dive=(" ",), implications=())).endswith("No deep insight for this story.")
    assert deep_insight_reply(None) == NOT_STORED


def test_deep_insight_is_safe_and_within_a_message() -> None:
    hostile = "@everyone **x** <@123> " * 200
    text = deep_insight_reply(make_card(headline=hostile, deep_dive=(hostile,) * 3, implications=(hostile,) * 3))
    assert len(text) <= MESSAGE_LIMIT
    assert not MENTION.search(text)
    assert "\\*\\*x\\*\\*" in text and "**x**" not in text


def test_timeline_reply_lists_dated_stories_newest_first() -> None:
    events = [TimelineEvent(T0 - d * DAY, f"Story {d}", f"https://n.example/{d}", d) for d in range(12, 0, -1)]
    events.append(TimelineEvent(0.0, "Undated", "https://n.example/u"))
    text = timeline_reply("Acme", events)
    lines = text.split("\n")
    assert lines[0] == "**⏳ Timeline: Acme**"
    assert len(lines) == 1 + TIMELINE_REPLY_MAX
    assert lines[1] == f"<t:{int(T0 - DAY)}:d> — [Story 1](https://n.example/1)"
    assert lines[-1] == f"<t:{int(T0 - 10 * DAY)}:d> — [Story 10](https://n.example/10)"
    assert "Undated" not in text


def test_timeline_reply_without_entity_or_events() -> None:
    assert timeline_reply(None, []) == "This story has no main entity to follow."
    assert timeline_reply("Acme", []) == "No dated stories about Acme are stored yet."


def test_timeline_reply_is_safe_and_within_a_message() -> None:
    hostile = "@here [link](https://evil.example) __x__ " * 100
    events = [TimelineEvent(T0 - d, hostile, "javascript:alert(1)") for d in range(20)]
    text = timeline_reply("<@&1> " + hostile, events)
    assert len(text) <= MESSAGE_LIMIT
    assert not MENTION.search(text)
    assert "](" not in text  # no link: the url was not http(s), and the texts' brackets are escaped


# --- the store behind the buttons --------------------------------------------------------------


async def add_story(store: SQLiteStore, headline: str, when: float, entities: tuple[str, ...]) -> int:
    features = Features({}, frozenset(), frozenset(), when)
    item = StoryPlanItem(0, -1, True, headline, when, features, (), entities)
    [(story_id, created)] = await store.apply_story_plan([item], when)
    assert created
    return story_id


async def add_entry(store: SQLiteStore, story_id: int, link: str, when: float) -> None:
    feed = await store.add_feed(f"https://feed.example/{story_id}", now=when)
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO entries (feed_id, entry_key, link, published_at, first_seen_at, content_hash, state,"
            " story_id) VALUES (?, ?, ?, ?, ?, 'h', 'released', ?)",
            (feed.id, f"k{story_id}", link, when, when, story_id),
        )


async def test_entity_events_by_name_or_alias_newest_first(store: SQLiteStore) -> None:
    await store.sync_watchlist([("Acme", ("ACME Corp",))], T0)
    old = await add_story(store, "Acme founded", T0 - 30 * DAY, ("Acme",))
    mid = await add_story(store, "Acme raises money", T0 - 10 * DAY, ("Beta", "Acme"))
    new = await add_story(store, "Acme ships Rocket 2", T0, ("Acme",))
    await add_story(store, "Beta alone", T0, ("Beta",))
    await store.save_card(new, make_card(story_id=new), T0)
    await add_entry(store, mid, "https://entry.example/mid", T0 - 10 * DAY)

    expected = [
        (T0, "Acme ships Rocket 2", "https://news.example/rocket-2", new, ""),
        (T0 - 10 * DAY, "Acme raises money", "https://entry.example/mid", mid, ""),
        (T0 - 30 * DAY, "Acme founded", "", old, ""),
    ]
    assert await store.entity_events("Acme", 10) == expected
    assert await store.entity_events("acme corp", 10) == expected
    assert await store.entity_events("  ACME ", 2) == expected[:2]
    assert await store.entity_events("Nobody", 10) == []
    assert await store.entity_events("Acme", 0) == []


async def test_the_buttons_read_the_story_at_click_time(store: SQLiteStore) -> None:
    assert isinstance(store, ButtonStore)
    await add_story(store, "Acme founded", T0 - 30 * DAY, ("Acme",))
    story = await add_story(store, "Acme ships Rocket 2", T0, ("Acme",))
    await store.save_card(story, make_card(story_id=story), T0)

    assert (await deep_insight_text(store, story)).startswith("**🔬 Deep insight: Acme ships Rocket 2**")
    text = await timeline_text(store, story)
    assert text.split("\n") == [
        "**⏳ Timeline: Acme**",
        f"<t:{int(T0)}:d> — [Acme ships Rocket 2](https://news.example/rocket-2)",
        f"<t:{int(T0 - 30 * DAY)}:d> — Acme founded",
    ]
    # no main entity on the card: the story's first entity
    await store.save_card(story, make_card(story_id=story, main_entity=None), T0)
    assert (await timeline_text(store, story)).startswith("**⏳ Timeline: Acme**")


async def test_a_story_that_is_gone(store: SQLiteStore) -> None:
    assert await deep_insight_text(store, 999) == NOT_STORED
    assert await timeline_text(store, 999) == NOT_STORED


# --- the discord.py glue -----------------------------------------------------------------------


@dataclass
class MemoryStore:
    cards: dict[int, Card] = field(default_factory=dict)
    fail: bool = False
    audiences: dict[int, frozenset[int]] = field(default_factory=dict)  # absent: every server

    async def story_audience(self, story_id: int) -> frozenset[int] | None:
        return self.audiences.get(story_id)

    async def get_card(self, story_id: int) -> Card | None:
        if self.fail:
            raise RuntimeError("disk on fire")
        return self.cards.get(story_id)

    async def story_entities(self, story_id: int) -> list[str]:
        return []

    async def entity_events(
        self, name_or_alias: str, limit: int, viewer: int | None = None
    ) -> list[tuple[float, str, str, int, str]]:
        return [(T0 - DAY, "Acme founded", "https://n.example/f", 7, "")]


class RecordingAdapter:
    """Stands in for discord.py's webhook adapter: records interaction callbacks, sends nothing."""

    def __init__(self, fail: bool = False) -> None:
        self.callbacks: list[dict[str, Any]] = []
        self.fail = fail

    async def create_interaction_response(self, interaction_id: int, token: str, **kwargs: Any) -> dict[str, Any]:
        if self.fail:
            raise discord.HTTPException(_Response(), {"message": "Unknown interaction", "code": 10062})  # type: ignore[arg-type]
        self.callbacks.append(kwargs["params"].payload)
        return {"interaction": {"id": str(interaction_id), "type": 3}, "resource": {"type": 4}}


class _Response:
    status = 404
    reason = "Not Found"


@pytest.fixture
def adapter() -> Iterator[RecordingAdapter]:
    recorder = RecordingAdapter()
    token = async_context.set(recorder)  # type: ignore[arg-type]
    yield recorder
    async_context.reset(token)


def click_payload(card: Card, custom_id: str) -> dict[str, Any]:
    """A component INTERACTION_CREATE in a DM, on a message of ours showing `card`'s buttons."""
    user = {"id": "11", "username": "alice", "discriminator": "0", "avatar": None, "global_name": None}
    bot_user = {**user, "id": "22", "username": "Wirebrief", "bot": True}
    message = {
        "id": "33", "channel_id": "44", "type": 0, "content": "", "author": bot_user,
        "timestamp": "2027-01-15T08:00:00+00:00", "edited_timestamp": None, "tts": False, "mention_everyone": False,
        "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": False, "flags": 0, "components": card_view(card).to_components(),
    }  # fmt: skip
    return {
        "id": "55", "application_id": "22", "type": 3, "token": "tok", "version": 1, "locale": "en-US",
        "data": {"custom_id": custom_id, "component_type": 2}, "channel_id": "44", "channel": {"id": "44", "type": 1},
        "message": message, "user": user, "entitlements": [], "attachment_size_limit": 8 << 20, "context": 1,
        "authorizing_integration_owners": {"1": "11"},
    }  # fmt: skip


async def click(client: discord.Client, card: Card, custom_id: str, adapter: RecordingAdapter) -> dict[str, Any]:
    """Feed the click to discord.py as the gateway would; the callback body the bot sent."""
    before = len(adapter.callbacks)
    client._connection.parse_interaction_create(click_payload(card, custom_id))  # type: ignore[arg-type]
    for _ in range(500):
        if len(adapter.callbacks) > before:
            return adapter.callbacks[-1]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no answer to {custom_id}")


@pytest.fixture
async def client() -> AsyncIterator[discord.Client]:
    bot = discord.Client(intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none())
    register_views(bot)  # type: ignore[arg-type]  # only add_dynamic_items is used
    yield bot
    await bot.close()


async def test_a_click_after_a_restart_answers_ephemerally_and_mentions_nobody(
    client: discord.Client, adapter: RecordingAdapter
) -> None:
    card = make_card()
    client.store = MemoryStore({42: card})  # type: ignore[attr-defined]
    body = await click(client, card, "wb:deep:42", adapter)
    assert body["type"] == 4
    data = body["data"]
    assert data["content"] == deep_insight_reply(card)
    assert data["flags"] == EPHEMERAL | SUPPRESS_EMBEDS
    assert data["allowed_mentions"] == {"parse": []}

    body = await click(client, card, "wb:tl:42", adapter)
    assert body["data"]["content"].startswith("**⏳ Timeline: Acme**\n")
    assert body["data"]["flags"] & EPHEMERAL


async def test_a_click_on_a_story_that_is_gone(client: discord.Client, adapter: RecordingAdapter) -> None:
    client.store = MemoryStore({})  # type: ignore[attr-defined]
    for custom_id in ("wb:deep:42", "wb:tl:42"):
        body = await click(client, make_card(), custom_id, adapter)
        assert body["data"]["content"] == NOT_STORED
        assert body["data"]["flags"] & EPHEMERAL


async def test_a_failing_store_gets_one_sentence_and_a_logged_trace(
    client: discord.Client, adapter: RecordingAdapter, caplog: pytest.LogCaptureFixture
) -> None:
    client.store = MemoryStore({}, fail=True)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR, logger="bot.app.views"):
        body = await click(client, make_card(), "wb:deep:42", adapter)
    assert body["data"]["content"] == FAILED
    assert "wb:deep:42" in caplog.text and "disk on fire" in caplog.text


async def test_a_button_of_a_story_the_clicking_server_may_not_see_answers_not_stored(
    client: discord.Client, adapter: RecordingAdapter
) -> None:
    client.store = MemoryStore({42: make_card()}, audiences={42: frozenset({5})})  # type: ignore[attr-defined]
    for custom_id in ("wb:deep:42", "wb:tl:42"):
        body = await click(client, make_card(), custom_id, adapter)
        assert body["data"]["content"] == NOT_STORED, custom_id
    client.store = MemoryStore({42: make_card()})  # type: ignore[attr-defined]
    assert (await click(client, make_card(), "wb:deep:42", adapter))["data"]["content"] != NOT_STORED


async def test_a_client_without_a_store_gets_one_sentence(client: discord.Client, adapter: RecordingAdapter) -> None:
    body = await click(client, make_card(), "wb:tl:42", adapter)
    assert body["data"]["content"] == FAILED


async def test_a_refused_answer_is_logged_not_raised(client: discord.Client, caplog: pytest.LogCaptureFixture) -> None:
    recorder = RecordingAdapter(fail=True)
    token = async_context.set(recorder)  # type: ignore[arg-type]
    try:
        interaction = discord.Interaction(data=click_payload(make_card(), "wb:deep:42"), state=client._connection)  # type: ignore[arg-type]
        client.store = MemoryStore({42: make_card()})  # type: ignore[attr-defined]
        with caplog.at_level(logging.WARNING, logger="bot.app.views"):
            await answer(interaction, "wb:deep:42", lambda store: deep_insight_text(store, 42))
    finally:
        async_context.reset(token)
    assert "could not answer a button click" in caplog.text


async def test_the_timeline_button_shows_a_server_only_the_stories_it_may_see(store: SQLiteStore) -> None:
    """Server 5's own feed told a story about Acme: its headline never shows in another server's timeline."""
    [public, _own] = await seed_store(store, [Seed("Acme opens a lab", T0 - 2 * DAY, ("Acme",), what_changed="x."),
                                             Seed("Acme founded", T0 - DAY, ("Acme",), feeds=("own:5",))])  # fmt: skip
    assert "Acme founded" in await timeline_text(store, public, guild_id=5)
    for other in (6, None):
        text = await timeline_text(store, public, guild_id=other)
        assert "Acme founded" not in text and "Acme opens a lab" in text, other
