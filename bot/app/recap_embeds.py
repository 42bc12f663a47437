"""The weekly recap as embeds: '📰 Weekly recap', a header with the week's numbers, then the top
stories per topic, each with its one-line TL;DR and link; pages when it is long.

`send_recap` posts a scheduled recap (one embed: the first page) for the outbox's publisher.
"""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.app.embeds import default_color, link_text, link_url
from bot.app.mentions import NOBODY
from bot.core.limits import TITLE_LIMIT, safe
from bot.core.recap import OTHER_TOPIC, WEEKDAYS, Recap, RecapSchedule, StoryBrief, covers_own_week

TITLE = "📰 Weekly recap"
PAGE_ROOM = 3900  # of the description's 4,096 characters
HEADLINE_LIMIT = 120
TLDR_LIMIT = 200
URL_LIMIT = 300


def week_label(recap: Recap) -> str:
    """`Week 5 of 2026 · Mon 26 Jan – Sun 1 Feb (Europe/Berlin)`."""
    monday = recap.week.monday()
    sunday = monday + timedelta(days=6)
    return (f"Week {recap.week.week} of {recap.week.year} · {monday:%a} {monday.day} {monday:%b} – "
            f"{sunday:%a} {sunday.day} {sunday:%b} ({recap.timezone})")  # fmt: skip


def numbers_line(recap: Recap) -> str:
    """`**2,913 stories** from **184 sources** · top entities: A, B, C` (those most stories were about)."""
    stories = "1 story" if recap.story_count == 1 else f"{recap.story_count:,} stories"
    sources = "1 source" if recap.source_count == 1 else f"{recap.source_count:,} sources"
    text = f"**{stories}** from **{sources}**"
    if recap.top_entities:
        text += " · top entities: " + ", ".join(safe(e, 60) for e in recap.top_entities)
    return text


def story_line(rank: int, brief: StoryBrief) -> str:
    """`1. [Headline](link) — TL;DR · 5 sources` (no link when there is none fit to show)."""
    headline = link_text(brief.headline, HEADLINE_LIMIT) or "(untitled)"
    url = link_url(brief.url, URL_LIMIT)
    line = f"{rank}. " + (f"[{headline}]({url})" if url else f"**{headline}**")
    tldr = safe(brief.tldr, TLDR_LIMIT)
    if tldr and tldr.casefold() != headline.casefold():
        line += f" — {tldr}"
    count = brief.story.sources
    return line + f" · {count} {'source' if count == 1 else 'sources'}"


def section_heading(topic: str, *, continued: bool = False) -> str:
    """`**🏷️ topic**`, `Other stories` for stories without a topic."""
    name = safe(topic, 100) if topic != OTHER_TOPIC else "Other stories"
    return f"**🏷️ {name}**" + (" (continued)" if continued else "")


def page_texts(recap: Recap) -> list[str]:
    """The description of each page: the header, then whole lines of the sections that fit."""
    head = f"{week_label(recap)}\n{numbers_line(recap)}"
    if recap.empty:
        what = f"about {safe(recap.topic, 100)} " if recap.topic else ""
        return [f"{head}\n\nNo stories {what}were published in this week."]
    pages: list[str] = []
    text = head
    for topic, briefs in recap.sections:
        pending = "\n\n" + section_heading(topic)  # written with the section's first line on a page
        for rank, brief in enumerate(briefs, 1):
            line = "\n" + story_line(rank, brief)
            if len(text) + len(pending) + len(line) > PAGE_ROOM and text != head:
                pages.append(text)
                text, pending = head, "\n\n" + section_heading(topic, continued=rank > 1)
            text += pending + line
            pending = ""
    pages.append(text)
    return pages


def recap_title(recap: Recap) -> str:
    """`📰 Weekly recap — 2026-W05` (and ` · topic` when one was asked for)."""
    topic = f" · {safe(recap.topic, 100)}" if recap.topic else ""
    return f"{TITLE} — {recap.week.key}{topic}"[:TITLE_LIMIT]


def recap_embeds(recap: Recap) -> list[discord.Embed]:
    """One embed per page, each saying where it is."""
    texts = page_texts(recap)
    embeds = []
    for number, text in enumerate(texts, 1):
        embed = discord.Embed(title=recap_title(recap), description=text, colour=default_color(recap.topic or ""))
        footer = "Ranked by sources, then servers following the topic, then recency"
        embed.set_footer(text=f"Page {number}/{len(texts)} · {footer}" if len(texts) > 1 else footer)
        embeds.append(embed)
    return embeds


def recap_post_embed(recap: Recap) -> discord.Embed:
    """The scheduled post: the first page, pointing at /recap for the rest."""
    embeds = recap_embeds(recap)
    embed = embeds[0]
    if len(embeds) > 1:
        more = "1 more page" if len(embeds) == 2 else f"{len(embeds) - 1} more pages"
        embed.set_footer(text=f"{more} with /recap (weeks_ago for an earlier week) · ranked by sources")
    return embed


async def send_recap(client: discord.Client, channel_id: int, recap: Recap, *, nonce: str) -> int:
    """Post a scheduled recap in `channel_id` with the delivery's nonce; the message id.

    discord.py errors propagate: the publisher maps them for the outbox."""
    channel = client.get_partial_messageable(channel_id)
    message = await channel.send(embed=recap_post_embed(recap), nonce=nonce, allowed_mentions=NOBODY)
    return message.id


def schedule_text(schedule: RecapSchedule | None, next_at: float) -> str:
    """What /recap-schedule says about the server's schedule (None: it has none)."""
    if schedule is None:
        return "This server has no weekly recap. Set one with /recap-schedule set."
    day = WEEKDAYS[schedule.weekday].capitalize()
    which = "that week" if covers_own_week(schedule.weekday) else "the week before"
    source = " (from the bot's config file)" if schedule.origin == "config" else ""
    plan = (f"in <#{schedule.channel_id}> every {day} at {schedule.time} ({safe(schedule.timezone, 64)}){source}, "
            f"about {which}")  # fmt: skip
    if schedule.broken_at is not None:
        fix = "ask the bot's operator to restart me" if schedule.origin == "config" else "run /recap-schedule set again"
        why = f" ({safe(schedule.broken_reason, 200)})" if schedule.broken_reason else ""
        return (f"The weekly recap is paused: <#{schedule.channel_id}> refused it <t:{int(schedule.broken_at)}:R>"
                f"{why}. It was posted {plan}. Fix my permissions there, then {fix}.")  # fmt: skip
    when = f"<t:{int(next_at)}:F> (<t:{int(next_at)}:R>)"
    return f"The weekly recap is posted {plan}. Next: {when}."
