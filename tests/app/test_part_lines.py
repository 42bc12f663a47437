"""Timeline lines of a story about a part of the entity (`[[entities]] part_of`) name the part, as
`<date> — Claude: …`, in /timeline, the card's Timeline field, the Timeline button and the demo's page;
within the same limits as any other line."""

from __future__ import annotations

import discord

from bot.app.embeds import TimelineEvent, card_embed, timeline_line
from bot.app.timeline_embeds import event_line, timeline_embed
from bot.app.views import timeline_reply
from bot.core.cards import Card
from bot.core.timeline import EntityEvent, TimelinePage, TimelineQuery, Window
from bot.render.card_layout import TimelinePoint, card_layout
from bot.render.html_page import timeline_html

T0 = 1_800_000_000.0
WORST_TEXT = "**[x](y)** @everyone <@123> " * 40
WORST_URL = "https://news.example/" + "a" * 229
WORST_PART = "_*Claude*_ @here " * 10


def card() -> Card:
    return Card(
        story_id=42, headline="Anthropic raises", url="https://news.example/raise", source="Wire", published_at=T0,
        hook="", what_changed="Anthropic raised money.", why_it_matters="", what_to_do_next="", who_should_care="",
        main_entity="Anthropic", entities=("Anthropic",), topics=("funding",),
    )  # fmt: skip


def test_a_timeline_line_names_the_part_it_is_about() -> None:
    line = event_line(EntityEvent(5, T0, "Claude 4 ships", 2, "https://x.example/c4", "Claude"))
    assert line == f"<t:{int(T0)}:d> — Claude: [Claude 4 ships](https://x.example/c4) · 2 sources"
    own = event_line(EntityEvent(5, T0, "Anthropic raises", 1, "https://x.example/r"))
    assert own == f"<t:{int(T0)}:d> — [Anthropic raises](https://x.example/r) · 1 source", "the entity itself"


def test_a_part_line_is_safe_and_no_longer_than_any_other() -> None:
    plain = event_line(EntityEvent(5, T0, WORST_TEXT, 12345, WORST_URL))
    named = event_line(EntityEvent(5, T0, WORST_TEXT, 12345, WORST_URL, WORST_PART))
    assert "@here" not in named and "@everyone" not in named
    assert len(named) <= len(plain) + 3, "the part's room comes out of the text's"
    query = TimelineQuery(1, "Anthropic", Window(None, None), None, None, 25)
    events = tuple(EntityEvent(n, T0 + n, WORST_TEXT, 999, WORST_URL, WORST_PART) for n in range(10))
    embed = timeline_embed(TimelinePage(query, 2, events))
    assert len(embed.description or "") <= 4096 and len(embed) <= 6000
    assert (embed.description or "").count("\n") == 9, "ten lines always fit"


def test_the_card_and_the_button_name_the_part() -> None:
    events = [
        TimelineEvent(T0 - 86400, "Claude 4 ships", "https://x.example/c4", 7, "Claude"),
        TimelineEvent(T0 - 2 * 86400, "Anthropic founded", "", 6),
    ]
    assert timeline_line(events[0]) == f"<t:{int(T0 - 86400)}:d> — Claude: [Claude 4 ships](https://x.example/c4)"
    value = next(f.value for f in card_embed(card(), timeline=events).fields if f.name == "⏳ Timeline")
    assert value.split("\n") == [timeline_line(events[0]), f"<t:{int(T0 - 2 * 86400)}:d> — Anthropic founded"]
    reply = timeline_reply("Anthropic", events)
    assert reply.split("\n")[1] == timeline_line(events[0])
    worst = TimelineEvent(T0, WORST_TEXT, WORST_URL, 8, WORST_PART)
    assert "@here" not in timeline_line(worst)
    assert isinstance(card_embed(card(), timeline=[worst] * 5), discord.Embed)


def test_the_offline_renderings_name_the_part() -> None:
    point = TimelinePoint(T0 - 86400, "Claude 4 ships", "https://x.example/c4", 7, "Claude")
    [field] = [f for f in card_layout(card(), timeline=[point]).fields if f.name == "⏳ Timeline"]
    [line] = field.lines
    assert [span.text for span in line[1:]] == [" — Claude: ", "Claude 4 ships"]
    assert "— Claude: <a" in timeline_html("Anthropic", [point], [1])
    assert "<script>" not in timeline_html("Anthropic", [TimelinePoint(T0, "x", "", 1, "<script>")], [1])
