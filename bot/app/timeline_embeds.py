"""The /timeline answer: '⏳ Timeline: <entity>', dated events oldest to newest, newest page first.

Each line is a story: its number on the page, its date (a Discord timestamp, shown in each reader's
own time zone), one line of what changed (a link to the story), and how many sources carried it; a
story about a part of the entity (a product, model or subsidiary: `[[entities]] part_of`) names the
part first (`Claude: …`). Ten lines always fit the description: each is at most about 400 characters.

With `chart`, each page also carries a picture of its stories on a date axis, each marker the
number of its line (`bot.render.charts.timeline_chart`, drawn off the event loop), attached as
`timeline.png` and shown as the embed's image; turning the page replaces it.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.app.embeds import date_valid, link_text, link_url, part_prefix
from bot.app.paging import OwnedView, Pager, Shown, pager_or_none, show, within_deadline
from bot.core.limits import DESCRIPTION_LIMIT, TITLE_LIMIT, safe
from bot.core.timeline import EntityEvent, TimelinePage, TimelineQuery
from bot.render.charts import ChartEvent, timeline_chart

COMMAND = "/timeline"
COLOR = 0x5865F2
CHART_FILE = "timeline.png"
TEXT_LIMIT = 110  # the one line of what changed, escaped
LINE_URL_LIMIT = 250  # a longer link is left out rather than crowd out other lines

PageSource = Callable[[TimelineQuery, int, TimelinePage | None], Awaitable[TimelinePage]]
HistorySource = Callable[[TimelineQuery], Awaitable[TimelineQuery]]


def sources_text(count: int) -> str:
    """`1 source`, `3 sources`."""
    return f"{count} source" if count == 1 else f"{count} sources"


def event_line(event: EntityEvent, number: int | None = None) -> str:
    """`**3.** <date> — [what changed](link) · 3 sources` (no link when there is none fit to show; no
    number when none is given); a story about a part of the entity (`part_of`) names it:
    `**3.** <date> — Claude: [what changed](link) · 1 source`."""
    part = part_prefix(event.part)
    text = link_text(event.text, TEXT_LIMIT - len(part)) or "(untitled)"
    url = link_url(event.url, LINE_URL_LIMIT)
    when = f"<t:{int(event.published_at)}:d>" if date_valid(event.published_at) else "(undated)"
    story = f"[{text}]({url})" if url else text
    numbered = f"**{number}.** " if number is not None else ""
    return f"{numbered}{when} — {part}{story} · {sources_text(event.sources)}"


def window_text(query: TimelineQuery) -> str:
    """`the last 30 days · topic chips`, `the whole history`."""
    days = query.window.days
    span = "the whole history" if days is None else ("the last day" if days == 1 else f"the last {days} days")
    return span + (f" · topic {query.topic}" if query.topic else "")


def title(entity: str) -> str:
    """`⏳ Timeline: <entity>`."""
    return f"⏳ Timeline: {safe(entity, TITLE_LIMIT - 20)}"


def timeline_embed(page: TimelinePage) -> discord.Embed:
    """One page of a timeline, its events oldest first."""
    query = page.query
    lines = [event_line(e, n) for n, e in enumerate(page.events, 1)]
    embed = discord.Embed(title=title(query.entity), description="\n".join(lines)[:DESCRIPTION_LIMIT], colour=COLOR)
    stories = "1 story" if query.total == 1 else f"{query.total} stories"
    embed.set_footer(text=f"Page {page.page + 1}/{query.pages} · {stories} in {window_text(query)}"[:2048])
    return embed


async def page_chart(page: TimelinePage) -> bytes | None:
    """The PNG of a page's stories on a date axis, numbered as the page's lines (None: none dated)."""
    events = [ChartEvent(e.published_at, str(n)) for n, e in enumerate(page.events, 1)]
    return await asyncio.to_thread(timeline_chart, events) if events else None


async def charted(page: TimelinePage) -> Shown:
    """A page with its chart as the embed's image (and no file when nothing could be drawn)."""
    embed = timeline_embed(page)
    png = await page_chart(page)
    if png is None:
        return Shown(embed)
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return Shown(embed, (discord.File(io.BytesIO(png), filename=CHART_FILE),))


@dataclass(frozen=True, slots=True)
class TimelineAnswer:
    """What /timeline shows first: the embed, its buttons, and the files beside it (its chart)."""

    embed: discord.Embed
    view: OwnedView | None = None
    files: tuple[discord.File, ...] | None = None  # None: no chart asked for


async def present(interaction: discord.Interaction[Any], result: TimelineAnswer) -> None:
    """Show the answer, its buttons tied to this interaction."""
    if result.view is not None:
        result.view.attach(interaction)
    await show(interaction, embed=result.embed, view=result.view, files=result.files)


def empty_embed(query: TimelineQuery, history: int) -> discord.Embed:
    """No events in the window: say so, and offer the whole history when there is one."""
    name = safe(query.entity, 200)
    text = f"No stories about **{name}** in {window_text(query)}."
    if query.window.whole:
        text = f"No stories about **{name}**" + (f" of topic {safe(query.topic, 100)}" if query.topic else "") + "."
    elif history:
        text += f" There {'is 1 story' if history == 1 else f'are {history} stories'} in its whole history."
    return discord.Embed(title=title(query.entity), description=text, colour=COLOR)


class HistoryOffer(OwnedView):
    """One button: the whole history of an entity that had nothing in the window asked for."""

    def __init__(
        self, owner_id: int, query: TimelineQuery, history: HistorySource, pages: PageSource, *, chart: bool
    ) -> None:
        super().__init__(owner_id, COMMAND)
        self.query = query
        self.history = history
        self.pages = pages
        self.chart = chart

    @discord.ui.button(label="Show the whole history", emoji="⏳", style=discord.ButtonStyle.primary)
    async def whole(self, interaction: discord.Interaction[Any], button: discord.ui.Button[HistoryOffer]) -> None:
        self.stop()

        async def build() -> TimelineAnswer:
            whole = await self.history(self.query)
            return await first_answer(self.owner_id, whole, self.pages, self.history, chart=self.chart)

        await present(interaction, await within_deadline(interaction, build()))


async def first_answer(
    owner_id: int, query: TimelineQuery, pages: PageSource, history: HistorySource, *, chart: bool = False
) -> TimelineAnswer:
    """The newest page with its pager (and, with `chart`, its chart); or, when the window is empty,
    the offer of the whole history."""
    if query.total == 0:
        whole = 0 if query.window.whole else (await history(query)).total
        offer = HistoryOffer(owner_id, query, history, pages, chart=chart) if whole else None
        return TimelineAnswer(empty_embed(query, whole), offer)

    shown: list[TimelinePage] = []  # the page on screen: the next one is read from its edge

    async def render(page: int) -> discord.Embed | Shown:
        current = await pages(query, page, shown[-1] if shown else None)
        shown[:] = [current]
        return await charted(current) if chart else timeline_embed(current)

    pager: Pager | None = pager_or_none(owner_id, COMMAND, query.pages, query.last_page, render)
    first = await render(query.last_page)
    if isinstance(first, Shown):
        return TimelineAnswer(first.embed, pager, tuple(first.files))
    return TimelineAnswer(first, pager)
