"""Cards as Discord embeds, and the buttons under them.

Every text that came from a feed or a model is made safe (mentions inert, Markdown escaped) and cut
to Discord's limits. When the whole embed would pass Discord's 6,000-character total, the least
important parts give way first: related updates beyond a few, then the takeaways, then the
timeline, then the remaining related updates, then the other fields; never the headline or What
changed.

The card's picture (`Card.image_url`, from its lead source's feed item) is the embed's thumbnail,
not its image: the card is read for its text, and a thumbnail sits beside the headline whatever
the picture's size, where a full-width image would come after every field and make each post a
tall one (and a feed's small thumbnail would look lost in it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import discord

from bot.config import Settings
from bot.core.cards import Card, RelatedLink
from bot.core.limits import (
    AUTHOR_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    cut,
    inert_mentions,
    safe,
)
from bot.render.card_layout import (  # the discord-free layout: one source for names, limits, colours
    BUTTON_LABEL_LIMIT,
    RELATED,
    RELATED_MAX,
    SOURCE_LIMIT,
    TAKEAWAY_LIMIT,
    TAKEAWAYS,
    TIMELINE,
    TIMELINE_MAX,
    URL_LIMIT,
    WHAT_CHANGED,
    WHAT_TO_DO_NEXT,
    WHO_SHOULD_CARE,
    WHY_IT_MATTERS,
)
from bot.render.card_layout import (
    date_valid as date_valid,  # re-exported: embeds' users import it from here
)
from bot.render.card_layout import (
    default_color as default_color,  # re-exported: embeds' users import it from here
)
from bot.render.card_layout import (
    freshness_text as freshness_text,  # re-exported: embeds' users import it from here
)
from bot.render.card_layout import (
    parse_color as parse_color,  # re-exported: embeds' users import it from here
)

TLDR_HEADING = "**⚡ 30-second TL;DR**"

BUTTON_URL_LIMIT = 512
RELATED_FEW = 3  # kept as long as the timeline is
LINE_TEXT_LIMIT = 150  # a timeline line's or a related title's text
PART_LIMIT = 40  # the name of the part a timeline line is about
HOOK_LIMIT = 600  # the hook is one line (200 characters before escaping)
MIN_TEXT = 24  # a shortened text field below this is dropped rather than shown as a stub


_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]+\.?(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_URL_CHARS = re.compile(r"[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+")  # RFC 3986
_URL_SAFE = "/:;=?&%!$*+,"  # besides letters, digits and _.-~; never ( ) < > [ ] \ ' " @ or spaces


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One dated story of an entity: when (UNIX seconds), one line of text, its link, and the part of
    the entity it is about ("": the entity itself)."""

    date: float
    text: str
    url: str = ""
    story_id: int = 0  # 0: unknown
    part: str = ""


# --- text and links --------------------------------------------------------------------------


def plain(text: str, limit: int) -> str:
    """Text for places Discord shows literally (author, footer, button labels): whitespace folded,
    mentions inert, cut to `limit`; no Markdown escapes, which would show as backslashes there."""
    return cut(inert_mentions(" ".join(text.split())), limit)


def link_url(url: str, limit: int = URL_LIMIT) -> str | None:
    """`url` fit for an embed, a button or a Markdown link, else None.

    Only http(s) with a plain host; the path, query and fragment are percent-encoded so that no
    character can end or break `[text](url)` (no parentheses, brackets, spaces, quotes or @).
    """
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc.encode("idna").decode("ascii") if not parts.netloc.isascii() else parts.netloc
    except (ValueError, UnicodeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not _HOST.fullmatch(host):
        return None
    path, query, fragment = (_LONE_PERCENT.sub("%25", quote(p, safe=_URL_SAFE)) for p in parts[2:])
    text = f"{parts.scheme.lower()}://{host}{path or '/'}"
    text += f"?{query}" if query else ""
    text += f"#{fragment}" if fragment else ""
    return text if len(text) <= limit else None


def page_url(url: str, limit: int = URL_LIMIT) -> str | None:
    """The URL for an embed's title or a link button: `url` itself when it is a valid http(s) URL
    made of RFC 3986 characters only (so it compares equal to the card's url), else its `link_url`
    form (None when it has none)."""
    encoded = link_url(url, limit)
    raw = url.strip()
    as_is = len(raw) <= limit and _URL_CHARS.fullmatch(raw) and not _LONE_PERCENT.search(raw)
    return raw if encoded and as_is else encoded


def link_text(text: str, limit: int) -> str:
    """Safe text for inside `[…]`: square brackets become parentheses (an escaped bracket can still
    end a link text in some renderers)."""
    return safe(text.replace("[", "(").replace("]", ")"), limit)


def part_prefix(part: str) -> str:
    """`Claude: ` before the line of a story about a part of the entity ("" for the entity itself)."""
    name = safe(part, PART_LIMIT)
    return f"{name}: " if name else ""


def timeline_line(event: TimelineEvent) -> str:
    """`<date> — [text](url)`, or `<date> — Claude: [text](url)` for a story about a part of the entity:
    a Discord timestamp (shown in each reader's own time zone)."""
    part = part_prefix(event.part)
    text = link_text(event.text, LINE_TEXT_LIMIT - len(part)) or "(untitled)"
    url = link_url(event.url)
    return f"<t:{int(event.date)}:d> — {part}" + (f"[{text}]({url})" if url else text)


def related_line(link: RelatedLink) -> str | None:
    """`• [Source](url) — title`, or None when the link is not http(s)."""
    url = link_url(link.url)
    if url is None:
        return None
    source = link_text(link.source, SOURCE_LIMIT) or link_text(urlsplit(url).hostname or "link", SOURCE_LIMIT)
    title = safe(link.title, LINE_TEXT_LIMIT)
    return f"• [{source}]({url})" + (f" — {title}" if title else "")


def timeline_label(entity: str) -> str:
    """The label of the Timeline button, within Discord's 80 characters."""
    return plain(f"Timeline: {entity}", BUTTON_LABEL_LIMIT)


def fit_lines(lines: Sequence[str], room: int) -> str:
    """As many leading lines as fit in `room` characters, one per line ("" when none fits)."""
    kept: list[str] = []
    used = -1  # no newline before the first line
    for line in lines:
        if used + 1 + len(line) > room:
            break
        kept.append(line)
        used += 1 + len(line)
    return "\n".join(kept)


# --- the parts of the embed --------------------------------------------------------------------


def configured_color(card: Card, settings: Settings) -> int | None:
    """The configured colour of the card's first topic, if it has one (for `card_embed(color=…)`)."""
    topic = settings.topic(card.topics[0]) if card.topics else None
    return parse_color(topic.color) if topic else None


def footer_text(card: Card) -> str:
    """topic(s) · how it was written · freshness."""
    written = "offline summary"
    if card.by_model:
        written = f"{plain(card.written_by, 100) or 'a model'} · AI-generated analysis"
    parts = [plain(", ".join(card.topics), 200), written, freshness_text(card)]
    return cut(" · ".join(p for p in parts if p), FOOTER_LIMIT)


def _timestamp(when: float) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(when, dt.UTC) if date_valid(when) else None


def _timeline_lines(card: Card, events: Sequence[TimelineEvent]) -> list[str]:
    """The newest dated events other than this story, newest first."""
    others = [
        e for e in events
        if date_valid(e.date) and not (e.story_id and e.story_id == card.story_id) and not (e.url and e.url == card.url)
    ]  # fmt: skip
    others.sort(key=lambda e: e.date, reverse=True)
    return [timeline_line(e) for e in others[:TIMELINE_MAX]]


def _related_lines(card: Card) -> list[str]:
    """The other sources' links, each once, never the card's own."""
    own = link_url(card.url)
    seen: set[str] = set()
    lines: list[str] = []
    for link in card.related:
        url = link_url(link.url)
        line = related_line(link)
        if line is None or url == own or url in seen:
            continue
        seen.add(url or "")
        lines.append(line)
    return lines[:RELATED_MAX]


def _text(text: str) -> Callable[[int], str]:
    def render(room: int) -> str:
        return safe(text, min(room, FIELD_VALUE_LIMIT)) if room >= MIN_TEXT else ""

    return render


def _lines(lines: Sequence[str]) -> Callable[[int], str]:
    def render(room: int) -> str:
        return fit_lines(lines, min(room, FIELD_VALUE_LIMIT))

    return render


def _description(hook: str) -> Callable[[int], str]:
    def render(room: int) -> str:
        room = min(room, DESCRIPTION_LIMIT)
        if room < len(TLDR_HEADING):
            return ""
        hook_room = min(room - len(TLDR_HEADING) - 2, HOOK_LIMIT)
        text = safe(hook, hook_room) if hook_room >= MIN_TEXT else ""
        return f"{text}\n\n{TLDR_HEADING}" if text else TLDR_HEADING

    return render


class _Budget:
    """Hands out the room left under the 6,000-character total, most important part first."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.values: dict[str, str] = {}

    def take(self, name: str, render: Callable[[int], str], *, counted_name: bool = True) -> None:
        """Render the part `name` within the room left (a part taken again may grow into it)."""
        cost = len(name) if counted_name else 0
        old = self.values.pop(name, None)
        if old is not None:
            self.room += cost + len(old)
        value = render(self.room - cost)
        if value:
            self.values[name] = value
            self.room -= cost + len(value)


def _allocate(card: Card, timeline: Sequence[TimelineEvent], room: int) -> dict[str, str]:
    """The value of each optional part ("" key: the description) within `room` characters."""
    related = _related_lines(card)
    budget = _Budget(room)
    budget.take("", _description(card.hook), counted_name=False)
    budget.take(WHY_IT_MATTERS, _text(card.why_it_matters))
    budget.take(WHAT_TO_DO_NEXT, _text(card.what_to_do_next))
    budget.take(WHO_SHOULD_CARE, _text(card.who_should_care))
    budget.take(RELATED, _lines(related[:RELATED_FEW]))
    budget.take(TIMELINE, _lines(_timeline_lines(card, timeline)))
    budget.take(TAKEAWAYS, _lines([f"• {safe(t, TAKEAWAY_LIMIT)}" for t in card.takeaways if t.strip()]))
    budget.take(RELATED, _lines(related))
    return budget.values


# --- the embed and the view --------------------------------------------------------------------


def card_embed(card: Card, *, color: int | None = None, timeline: Sequence[TimelineEvent] = ()) -> discord.Embed:
    """The embed of a card, within every one of Discord's embed limits whatever the card holds.

    `color` is the configured colour of the card's first topic (else a stable colour per topic
    name); `timeline` the main entity's recent dated stories (newest five others are shown).
    """
    title = safe(card.headline, TITLE_LIMIT) or "Untitled story"
    embed = discord.Embed(
        title=title,
        url=page_url(card.url),
        colour=color if color is not None else default_color(card.topics[0] if card.topics else ""),
        timestamp=_timestamp(card.published_at),
    )
    author = plain(card.source, AUTHOR_LIMIT)
    if author:
        embed.set_author(name=author)
    picture = link_url(card.image_url) if card.image_url else None
    if picture:  # a thumbnail: beside the headline, it never pushes the text down (see the module doc)
        embed.set_thumbnail(url=picture)
    embed.set_footer(text=footer_text(card))
    changed = safe(card.what_changed, FIELD_VALUE_LIMIT) or "—"
    values = _allocate(card, timeline, EMBED_TOTAL_LIMIT - len(embed) - len(WHAT_CHANGED) - len(changed))
    embed.description = values.pop("", None)
    embed.add_field(name=WHAT_CHANGED, value=changed, inline=False)
    for name in (WHY_IT_MATTERS, WHAT_TO_DO_NEXT, WHO_SHOULD_CARE, TAKEAWAYS, TIMELINE, RELATED):
        if name in values:
            embed.add_field(name=name, value=values[name], inline=False)
    return embed
