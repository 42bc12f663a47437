"""What /timeline and /recap show: lines, pages, the empty cases, and Discord's limits for any input."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import discord

from bot.app.recap_embeds import (
    numbers_line,
    page_texts,
    recap_embeds,
    recap_post_embed,
    schedule_text,
    story_line,
    week_label,
)
from bot.app.timeline_embeds import empty_embed, event_line, timeline_embed
from bot.core.recap import IsoWeek, RankedStory, Recap, RecapSchedule, StoryBrief, week_window
from bot.core.timeline import EntityEvent, TimelinePage, TimelineQuery, Window

T0 = 1_800_000_000.0
WORST_TEXT = "**[x](y)** @everyone <@123> " * 40
WORST_URL = "https://news.example/" + "a" * 229  # 250 characters: the longest link a line shows
TOO_LONG_URL = "https://news.example/" + "a" * 400


def query(total: int = 25, days: int | None = 30, topic: str | None = None) -> TimelineQuery:
    return TimelineQuery(1, "Acme", Window(days, T0 - 30 * 86400 if days else None), topic, (), total)


def test_an_event_line_has_date_link_and_sources() -> None:
    line = event_line(EntityEvent(5, T0, "Rocket 2 launched", 3, "https://acme.example/r2"))
    assert line == f"<t:{int(T0)}:d> — [Rocket 2 launched](https://acme.example/r2) · 3 sources"
    one = event_line(EntityEvent(5, T0, "Quiet", 1, "javascript:alert(1)"))
    assert one == f"<t:{int(T0)}:d> — Quiet · 1 source", "no link that is not http(s)"


def test_an_event_line_is_safe_and_bounded_whatever_the_feed_wrote() -> None:
    line = event_line(EntityEvent(5, T0, WORST_TEXT, 12345, WORST_URL))
    assert "@everyone" not in line and "<@123>" not in line
    assert len(line) <= 410
    assert WORST_URL in line
    assert "](" not in event_line(EntityEvent(5, T0, "x", 1, TOO_LONG_URL)), "a huge link is left out"


def within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= 6000
    assert len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.footer.text or "") <= 2048


def test_a_page_of_ten_worst_case_events_fits() -> None:
    events = tuple(EntityEvent(n, T0 + n, WORST_TEXT, 999, WORST_URL) for n in range(10))
    embed = timeline_embed(TimelinePage(query(), 2, events))
    within_limits(embed)
    assert (embed.description or "").count("\n") == 9, "no event dropped"
    assert embed.title == "⏳ Timeline: Acme"
    assert embed.footer.text == "Page 3/3 · 25 stories in the last 30 days"
    topic = timeline_embed(TimelinePage(query(1, None, "chips"), 0, events[:1]))
    assert topic.footer.text == "Page 1/1 · 1 story in the whole history · topic chips"


def test_an_empty_window_says_so_and_names_the_whole_history() -> None:
    assert empty_embed(query(0), 12).description == (
        "No stories about **Acme** in the last 30 days. There are 12 stories in its whole history.")  # fmt: skip
    assert empty_embed(query(0), 1).description.endswith("There is 1 story in its whole history.")  # type: ignore[union-attr]
    assert empty_embed(query(0, None), 0).description == "No stories about **Acme**."
    assert empty_embed(query(0, None, "chips"), 0).description == "No stories about **Acme** of topic chips."


def brief(n: int, headline: str = "Headline", tldr: str = "In one line.", url: str = "https://x.example/1",
          sources: int = 2) -> StoryBrief:  # fmt: skip
    return StoryBrief(RankedStory(n, T0, sources, ("chips",)), headline, tldr, url)


def recap(sections: tuple[tuple[str, tuple[StoryBrief, ...]], ...] = (), topic: str | None = None) -> Recap:
    week = IsoWeek(2026, 5)
    start, end = week_window(week, ZoneInfo("Europe/Berlin"))
    return Recap(week, "Europe/Berlin", start, end, 2913, 184, ("Acme", "Beta", "Gamma"), sections, topic)


def test_the_header_names_the_week_and_its_numbers() -> None:
    assert week_label(recap()) == "Week 5 of 2026 · Mon 26 Jan – Sun 1 Feb (Europe/Berlin)"
    assert numbers_line(recap()) == "**2,913 stories** from **184 sources** · top entities: Acme, Beta, Gamma"
    assert story_line(1, brief(1)) == "1. [Headline](https://x.example/1) — In one line. · 2 sources"
    assert story_line(2, brief(2, tldr="Headline", url="", sources=1)) == "2. **Headline** · 1 source"


def test_an_empty_week_says_so() -> None:
    [text] = page_texts(recap())
    assert text.endswith("No stories were published in this week.")
    [chips] = page_texts(recap(topic="chips"))
    assert chips.endswith("No stories about chips were published in this week.")
    assert recap_embeds(recap(topic="chips"))[0].title == "📰 Weekly recap — 2026-W05 · chips"


def test_a_long_recap_is_paged_within_limits_and_loses_no_story() -> None:
    sections = tuple((f"topic {t}", tuple(brief(t * 10 + n, WORST_TEXT, WORST_TEXT, WORST_URL) for n in range(5)))
                     for t in range(12))  # fmt: skip
    embeds = recap_embeds(recap(sections))
    assert len(embeds) > 1
    for embed in embeds:
        within_limits(embed)
        assert (embed.description or "").startswith("Week 5 of 2026")
    text = "\n".join(e.description or "" for e in embeds)
    assert text.count(WORST_URL) == 60
    assert "(continued)" in text
    assert embeds[0].footer.text.startswith(f"Page 1/{len(embeds)}")  # type: ignore[union-attr]
    post = recap_post_embed(recap(sections))
    assert post.footer.text.startswith(f"{len(embeds) - 1} more pages with /recap")  # type: ignore[union-attr]


def test_schedule_text() -> None:
    monday = RecapSchedule(1, 55, 0, "09:00", "Europe/Berlin")
    assert schedule_text(monday, T0) == (
        f"The weekly recap is posted in <#55> every Monday at 09:00 (Europe/Berlin), about the week before. "
        f"Next: <t:{int(T0)}:F> (<t:{int(T0)}:R>).")  # fmt: skip
    friday = RecapSchedule(1, 55, 4, "17:30", "UTC", origin="config")
    assert "every Friday at 17:30 (UTC) (from the bot's config file), about that week." in schedule_text(friday, T0)
    assert schedule_text(None, 0).startswith("This server has no weekly recap.")


def test_schedule_text_of_a_broken_schedule_says_it_is_paused_and_how_to_fix_it() -> None:
    broken = RecapSchedule(1, 55, 0, "09:00", "UTC", broken_at=T0, broken_reason="403 Forbidden: Missing Access")
    text = schedule_text(broken, T0 + 3600)
    assert text == (f"The weekly recap is paused: <#55> refused it <t:{int(T0)}:R> (403 Forbidden: Missing Access)."
                    " It was posted in <#55> every Monday at 09:00 (UTC), about the week before."
                    " Fix my permissions there, then run /recap-schedule set again.")  # fmt: skip
    assert "Next:" not in text
    config = RecapSchedule(1, 55, 0, "09:00", "UTC", origin="config", broken_at=T0)
    assert schedule_text(config, 0).endswith("then ask the bot's operator to restart me.")
