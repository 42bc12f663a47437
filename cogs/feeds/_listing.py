"""/feeds list: one embed field per feed, pages that fit Discord's limits, and buttons to turn them."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.app.markdown import masked_link, shown
from bot.core.feedstate import FeedState, feed_state
from bot.core.limits import EMBED_TOTAL_LIMIT, FIELD_VALUE_LIMIT
from bot.core.types import Feed

PER_PAGE = 10
PAGE_BUDGET = EMBED_TOTAL_LIMIT - 500  # room for the title and the footer
PAGER_TIMEOUT = 180.0
LINK_LIMIT = 600  # a feed's link line: its name and its (percent-encoded) address


def when(stamp: float | None) -> str:
    """A Discord relative timestamp (`in 5 minutes`, `2 hours ago`), or "never"."""
    return f"<t:{int(stamp)}:R>" if stamp else "never"


def feed_field(feed: Feed) -> tuple[str, str]:
    """The embed field of one feed: its name, then its state, schedule, last error and a link to it
    (its name as a masked link; the address itself when the feed has no title)."""
    state = feed_state(feed)
    lines = [_state_line(feed, state)]
    next_poll = "when resumed" if state in (FeedState.PAUSED, FeedState.DISABLED) else when(feed.next_poll_at)
    lines.append(f"Last fetch {when(feed.last_fetch_at)} · next poll {next_poll}")
    if feed.last_error and state is not FeedState.DISABLED:
        lines.append(f"Last error: {shown(feed.last_error, 200)}")
    lines.append(masked_link(feed.display_name, feed.url, LINK_LIMIT))
    return shown(feed.display_name, 200) or "(unnamed)", _fit(lines)


def _fit(lines: list[str]) -> str:
    """The lines within a field's 1,024 characters; the link, last, is dropped whole rather than cut."""
    text = "\n".join(lines)
    return text if len(text) <= FIELD_VALUE_LIMIT else "\n".join(lines[:-1])[:FIELD_VALUE_LIMIT]


def _state_line(feed: Feed, state: FeedState) -> str:
    parts = [f"**{state.value}**"]
    if state is FeedState.BACKING_OFF:
        parts[0] += f" ({feed.failures} failed {'poll' if feed.failures == 1 else 'polls'} in a row)"
    if state is FeedState.DISABLED:
        parts[0] += f" {when(feed.disabled_at)}: {shown(feed.disabled_reason or 'unknown reason', 200)}"
    if feed.forced_topics:
        parts.append(f"topic {shown(', '.join(feed.forced_topics), 100)}")
    parts.append(f"{feed.entries_seen} entries seen")
    return " · ".join(parts)


def paginate(feeds: Sequence[Feed]) -> list[list[tuple[str, str]]]:
    """Fields grouped into pages of at most PER_PAGE that stay within the embed size limit."""
    pages: list[list[tuple[str, str]]] = [[]]
    used = 0
    for field in (feed_field(f) for f in feeds):
        size = len(field[0]) + len(field[1])
        if pages[-1] and (len(pages[-1]) >= PER_PAGE or used + size > PAGE_BUDGET):
            pages.append([])
            used = 0
        pages[-1].append(field)
        used += size
    return pages


def page_embeds(feeds: Sequence[Feed]) -> list[discord.Embed]:
    """One embed per page, each saying where it is."""
    pages = paginate(feeds)
    embeds = []
    for number, fields in enumerate(pages, 1):
        embed = discord.Embed(title="Feeds of this server")
        for name, value in fields:
            embed.add_field(name=name, value=value, inline=False)
        embed.set_footer(text=f"Page {number} of {len(pages)} · {len(feeds)} feeds")
        embeds.append(embed)
    return embeds
