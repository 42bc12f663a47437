"""What a card's Discord embed shows, as plain data, for the terminal and the HTML preview.

`card_layout` lays a card out the way `bot.app.embeds.card_embed` builds its embed — the same
colour, author, linked title, thumbnail (the card's picture), description, fields (same names,
same order), footer, timestamp and buttons — without importing discord.py, so `wirebrief demo`
and `preview` start fast. Texts are plain (no Markdown: the renderers escape for their own
medium) and cut to Discord's limits; links are kept only when they are http(s) URLs.
tests/test_demo.py checks that the field names, footer, title, colour and buttons agree with
`card_embed`.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.cards import Card
from bot.core.limits import AUTHOR_LIMIT, FIELD_VALUE_LIMIT, FOOTER_LIMIT, TITLE_LIMIT, cut

# The same names and order as bot.app.embeds (checked by the tests).
TLDR_HEADING = "⚡ 30-second TL;DR"
WHAT_CHANGED = "What changed"
WHY_IT_MATTERS = "Why it matters"
WHAT_TO_DO_NEXT = "What to do next"
WHO_SHOULD_CARE = "Who should care"
TAKEAWAYS = "🔑 Key takeaways"
TIMELINE = "⏳ Timeline"
RELATED = "👉 Related updates"

READ_ORIGINAL = ("🔗", "Read original")
DEEP_INSIGHT = ("🔬", "Deep insight")
TIMELINE_BUTTON = "⏳"
BUTTON_LABEL_LIMIT = 80

HOOK_LIMIT = 600
LINE_TEXT_LIMIT = 150
PART_LIMIT = 40  # the name of the part a timeline line is about
SOURCE_LIMIT = 80
TAKEAWAY_LIMIT = 300
TIMELINE_MAX = 5
RELATED_MAX = 10
URL_LIMIT = 2048

DEFAULT_COLOR = 0x5865F2
PALETTE = (0x5865F2, 0x1ABC9C, 0x3498DB, 0x9B59B6, 0xE67E22, 0xE91E63, 0x2ECC71, 0xF1C40F, 0x607D8B, 0xED4245)
_LAST_DATE = 32_503_680_000.0  # 3000-01-01
_URL_BAD = re.compile(r"[\x00-\x20\x7f-\x9f\"<>\\^`{|}]")


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One dated story of an entity (the same fields as bot.app.embeds.TimelineEvent)."""

    date: float
    text: str
    url: str = ""
    story_id: int = 0
    part: str = ""  # the part of the entity the story is about ("": the entity itself)


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of a line: text, a link when `url` is set, shown as a date when `date` is."""

    text: str
    url: str | None = None
    date: float | None = None


Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Field:
    """An embed field: its name and its lines."""

    name: str
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Button:
    """A button under the card."""

    emoji: str
    label: str
    url: str | None = None  # a link button; None: an answering button


@dataclass(frozen=True, slots=True)
class CardLayout:
    """Everything the embed of a card shows, in Discord's order, and its buttons."""

    color: int
    author: str
    title: str
    url: str | None
    description: str  # the hook; the TL;DR heading follows it
    fields: tuple[Field, ...]
    footer: str
    timestamp: float | None
    buttons: tuple[Button, ...]
    thumbnail: str | None = None  # the card's picture (the embed's thumbnail), an http(s) URL


def one_line(text: str, limit: int) -> str:
    """Whitespace folded to single spaces, cut to `limit` at a word boundary."""
    return cut(" ".join(text.split()), limit)


def web_url(url: str, limit: int = URL_LIMIT) -> str | None:
    """`url` when it is an absolute http(s) URL with a host and no unsafe characters, else None."""
    url = url.strip()
    if not url or len(url) > limit or _URL_BAD.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and host else None


def date_valid(when: float | None) -> bool:
    """A plausible UNIX time (after 1970, before 3000)."""
    return when is not None and math.isfinite(when) and 0 < when < _LAST_DATE


def default_color(topic: str) -> int:
    """A stable colour for a topic name (as bot.app.embeds.default_color)."""
    if not topic:
        return DEFAULT_COLOR
    return PALETTE[zlib.crc32(topic.casefold().encode()) % len(PALETTE)]


def parse_color(text: str) -> int | None:
    """`#rrggbb` as an int, None when empty or malformed."""
    match = re.fullmatch(r"#?([0-9A-Fa-f]{6})", text.strip())
    return int(match[1], 16) if match else None


def freshness_text(card: Card) -> str:
    """Freshness as "collected 16 min after publication"; "" when either time is unknown."""
    if not (date_valid(card.published_at) and date_valid(card.carded_at)):
        return ""
    minutes = int(card.freshness_seconds // 60)
    if minutes < 1:
        return "collected within a minute of publication"
    if minutes < 60:
        return f"collected {minutes} min after publication"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"collected {hours} h {rest} min after publication" if rest else f"collected {hours} h after publication"
    return f"collected {hours // 24} days after publication"


def footer_text(card: Card) -> str:
    """topic(s) · how it was written · freshness."""
    written = "offline summary"
    if card.by_model:
        written = f"{one_line(card.written_by, 100) or 'a model'} · AI-generated analysis"
    parts = [one_line(", ".join(card.topics), 200), written, freshness_text(card)]
    return cut(" · ".join(p for p in parts if p), FOOTER_LIMIT)


def _text_field(name: str, text: str) -> Field | None:
    value = one_line(text, FIELD_VALUE_LIMIT)
    return Field(name, ((Span(value),),)) if value else None


def _timeline_lines(card: Card, events: Sequence[TimelinePoint]) -> tuple[Line, ...]:
    """The newest dated events other than this story, newest first."""
    others = [
        e for e in events
        if date_valid(e.date) and not (e.story_id and e.story_id == card.story_id) and not (e.url and e.url == card.url)
    ]  # fmt: skip
    others.sort(key=lambda e: e.date, reverse=True)
    return tuple(_timeline_line(e) for e in others[:TIMELINE_MAX])


def _timeline_line(event: TimelinePoint) -> Line:
    """`<date> — text`, or `<date> — Claude: text` for a story about a part of the entity."""
    part = one_line(event.part, PART_LIMIT)
    text = one_line(event.text, LINE_TEXT_LIMIT - len(part)) or "(untitled)"
    return (Span("", date=event.date), Span(f" — {part}: " if part else " — "), Span(text, web_url(event.url)))


def _related_lines(card: Card) -> tuple[Line, ...]:
    """`• Source — title` per other source (the source linked), each link once, never the card's own."""
    seen = {web_url(card.url)}
    lines: list[Line] = []
    for link in card.related:
        url = web_url(link.url)
        if url is None or url in seen:
            continue
        seen.add(url)
        source = one_line(link.source, SOURCE_LIMIT) or (urlsplit(url).hostname or "link")
        title = one_line(link.title, LINE_TEXT_LIMIT)
        lines.append((Span("• "), Span(source, url), *((Span(f" — {title}"),) if title else ())))
    return tuple(lines[:RELATED_MAX])


def _fields(card: Card, timeline: Sequence[TimelinePoint]) -> tuple[Field, ...]:
    changed = one_line(card.what_changed, FIELD_VALUE_LIMIT) or "—"
    takeaways = tuple((Span(f"• {one_line(t, TAKEAWAY_LIMIT)}"),) for t in card.takeaways if t.strip())
    timeline_lines = _timeline_lines(card, timeline)
    related = _related_lines(card)
    optional = [
        _text_field(WHY_IT_MATTERS, card.why_it_matters),
        _text_field(WHAT_TO_DO_NEXT, card.what_to_do_next),
        _text_field(WHO_SHOULD_CARE, card.who_should_care),
        Field(TAKEAWAYS, takeaways) if takeaways else None,
        Field(TIMELINE, timeline_lines) if timeline_lines else None,
        Field(RELATED, related) if related else None,
    ]
    return (Field(WHAT_CHANGED, ((Span(changed),),)), *(f for f in optional if f is not None))


def _buttons(card: Card) -> tuple[Button, ...]:
    buttons = []
    url = web_url(card.url, 512)
    if url:
        buttons.append(Button(*READ_ORIGINAL, url=url))
    buttons.append(Button(*DEEP_INSIGHT))
    if card.main_entity and card.main_entity.strip():
        buttons.append(Button(TIMELINE_BUTTON, one_line(f"Timeline: {card.main_entity}", BUTTON_LABEL_LIMIT)))
    return tuple(buttons)


def card_layout(card: Card, *, color: int | None = None, timeline: Sequence[TimelinePoint] = ()) -> CardLayout:
    """The layout of a card's embed: `color` is the configured colour of its first topic (else a
    stable colour per topic name); `timeline` the main entity's recent dated stories."""
    return CardLayout(
        color=color if color is not None else default_color(card.topics[0] if card.topics else ""),
        author=one_line(card.source, AUTHOR_LIMIT),
        title=one_line(card.headline, TITLE_LIMIT) or "Untitled story",
        url=web_url(card.url),
        description=one_line(card.hook, HOOK_LIMIT),
        fields=_fields(card, timeline),
        footer=footer_text(card),
        timestamp=card.published_at if date_valid(card.published_at) else None,
        buttons=_buttons(card),
        thumbnail=web_url(card.image_url) if card.image_url else None,
    )
