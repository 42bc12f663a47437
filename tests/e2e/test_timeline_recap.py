"""End to end: /timeline (autocomplete, pages, unknown names, the whole history), /recap (a week, an
empty week) and the scheduled recap across a restart, through the fake Discord.

The stories are written to the bot's database before it starts. The fake answers 404 to a first
callback later than 3 seconds, as Discord does. The scheduled-post test waits for a real minute
boundary (between 25 and 85 seconds): the bot's clock is the real one, nothing in it is faked.
The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import math
import re
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fake_discord import (
    EPHEMERAL,
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
    OPTION_SUB_COMMAND,
    FakeDiscord,
    FakeGuild,
    FakeMessage,
    FakeUser,
    Fault,
    StartBot,
    option,
    shown,
    sub,
)
from news_store import Seed, seed_store

from bot.adapters.store import SQLiteStore
from bot.core.recap import IsoWeek, RecapSchedule, covered_week, week_window

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
DAY = 86_400.0
TOPICS = '[[topics]]\nname = "chips"\nkeywords = ["chip"]\n\n[[topics]]\nname = "cloud"\nkeywords = ["cloud"]\n'
ZONE = "America/New_York"
JSON = dict[str, Any]
STAMP = re.compile(r"<t:(\d+):d>")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CALLBACK = re.compile(r"/interactions/\d+/[^/]+/callback")


async def seed(db_path: Path, now: float) -> list[int]:
    """25 stories about Acme, one a day up to an hour ago (every other one about chips, the newest
    with three sources); two about Beta, 40 and 50 days ago."""
    store = await SQLiteStore.open(db_path)
    try:
        seeds = [
            Seed(f"Acme story {n}", now - (24 - n) * DAY - 3600, ("Acme",), ("chips",) if n % 2 else ("cloud",),
                 feeds=("wire", "daily", "weekly") if n == 24 else ("wire",),
                 what_changed=f"Acme did thing {n} @everyone.", url=f"https://acme.example/{n}")
            for n in range(25)
        ]  # fmt: skip
        seeds += [Seed(f"Beta story {n}", now - (40 + 10 * n) * DAY, ("Beta",), ("cloud",)) for n in range(2)]
        return await seed_store(store, seeds, aliases={"Acme": ("Acme Corp",)}, now=now - 60 * DAY)
    finally:
        await store.close()


def buttons(message: FakeMessage) -> list[JSON]:
    return [c for row in message.payload.get("components", []) for c in row.get("components", [])]


def assert_public(data: JSON) -> None:
    assert not (data.get("flags") or 0) & EPHEMERAL
    assert data["allowed_mentions"] == {"parse": []}


async def test_timeline_autocompletes_answers_publicly_and_pages_for_its_asker_only(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, admin: FakeUser, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    ids = await seed(tmp_path / "wirebrief.db", time.time())
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    fake_discord.interaction_deadline = 3.0  # as Discord: a first answer later than that is refused
    general = fake_guild.channel("general")

    typed = await fake_discord.autocomplete("timeline", user=fake_member, channel=general,
                                            options=[option("entity", "acme c", focused=True)])  # fmt: skip
    assert typed == [{"name": "acme corp → Acme", "value": "Acme"}]
    fuzzy = await fake_discord.autocomplete("timeline", user=fake_member, channel=general,
                                            options=[option("entity", "acne", focused=True)])  # fmt: skip
    assert fuzzy[0]["value"] == "Acme"

    interaction = await fake_discord.invoke("timeline", user=fake_member, channel=general,
                                            options=[option("entity", "Acme")])  # fmt: skip
    data = await shown(interaction)
    assert_public(data)
    [embed] = data["embeds"]
    assert embed["title"] == "⏳ Timeline: Acme"
    assert embed["footer"]["text"] == "Page 3/3 · 25 stories in the whole history", "the default: the whole history"
    lines = embed["description"].split("\n")
    assert len(lines) == 10
    assert lines[-1].endswith("· 3 sources") and "Acme did thing 24 @\u200beveryone." in lines[-1]
    assert [line.split(" ", 1)[0] for line in lines] == [f"**{n}.**" for n in range(1, 11)], "numbered"
    stamps = [int(STAMP.search(line)[1]) for line in lines]  # type: ignore[index]
    assert stamps == sorted(stamps), "oldest to newest"
    message = interaction.original
    assert message is not None and message in general.messages
    first, previous, _, _ = (b["custom_id"] for b in buttons(message))

    turned = await fake_discord.click(previous, user=fake_member, message=message)
    page = await shown(turned)
    assert page["embeds"][0]["footer"]["text"].startswith("Page 2/3")
    assert "[Acme did thing 14 @\u200beveryone.](https://acme.example/14)" in page["embeds"][0]["description"]
    refused = await fake_discord.click(first, user=admin, message=message)
    answer = await refused.wait_response(TIMEOUT)
    assert answer["data"]["flags"] & EPHEMERAL
    assert answer["data"]["content"].startswith("Only the member who ran /timeline can use these buttons")
    oldest = await shown(await fake_discord.click(first, user=fake_member, message=message))
    assert oldest["embeds"][0]["footer"]["text"].startswith("Page 1/3")
    assert oldest["embeds"][0]["description"].count("\n") == 4, "the oldest page holds the five left"
    assert message.embeds[0]["footer"]["text"].startswith("Page 1/3"), "the message itself was edited"
    assert ids, "stories were written"


def uploads(fake: FakeDiscord, since: int = 0) -> list[list[tuple[str, bytes]]]:
    """The files of each request the bot sent with files, from request number `since` on."""
    return [r.files for r in fake.requests[since:] if r.files]


async def test_timeline_attaches_a_numbered_chart_that_turns_with_the_page(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    await seed(tmp_path / "wirebrief.db", time.time())
    await start_bot(extra_config=TOPICS + "\n[limits]\nread_cooldown_seconds = 1e-6\n")
    await fake_discord.wait_for_ready(TIMEOUT)
    general = fake_guild.channel("general")

    interaction = await fake_discord.invoke("timeline", user=fake_member, channel=general,
                                            options=[option("entity", "Acme")])  # fmt: skip
    data = await shown(interaction)
    [embed] = data["embeds"]
    assert embed["image"]["url"] == "attachment://timeline.png", "the chart above the numbered list"
    assert embed["description"].split("\n")[-1].startswith("**10.** ")
    [[(name, first_png)]] = uploads(fake_discord)
    assert name == "timeline.png" and first_png.startswith(PNG_SIGNATURE)
    message = interaction.original
    assert message is not None
    assert [a["filename"] for a in message.payload["attachments"]] == ["timeline.png"]

    before = len(fake_discord.requests)
    _first, previous, _, _ = (b["custom_id"] for b in buttons(message))
    page = await shown(await fake_discord.click(previous, user=fake_member, message=message))
    assert page["embeds"][0]["image"]["url"] == "attachment://timeline.png"
    [[(name, second_png)]] = uploads(fake_discord, before)
    assert name == "timeline.png" and second_png.startswith(PNG_SIGNATURE) and second_png != first_png
    assert [a["filename"] for a in message.payload["attachments"]] == ["timeline.png"], "replaced, not added"

    before = len(fake_discord.requests)
    without = [option("entity", "Acme"), option("chart", False)]
    plain = await shown(await fake_discord.invoke("timeline", user=fake_member, channel=general, options=without))
    assert "image" not in plain["embeds"][0] and not uploads(fake_discord, before), "chart: False"
    quiet = [option("entity", "Beta"), option("days", 7)]
    empty = await shown(await fake_discord.invoke("timeline", user=fake_member, channel=general, options=quiet))
    assert "image" not in empty["embeds"][0] and not uploads(fake_discord, before), "nothing to draw: no chart"


async def test_timeline_unknown_name_and_an_empty_window(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    await seed(tmp_path / "wirebrief.db", time.time())
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    general = fake_guild.channel("general")

    unknown = await fake_discord.invoke("timeline", user=fake_member, channel=general,
                                        options=[option("entity", "Acmy")])  # fmt: skip
    reply = (await unknown.wait_response(TIMEOUT))["data"]
    assert reply["flags"] & EPHEMERAL
    assert reply["content"] == "No entity named “Acmy” — did you mean **Acme**?"

    quiet = await fake_discord.invoke("timeline", user=fake_member, channel=general,
                                      options=[option("entity", "Beta"), option("days", 7)])  # fmt: skip
    data = await shown(quiet)
    assert_public(data)
    assert data["embeds"][0]["description"] == (
        "No stories about **Beta** in the last 7 days. There are 2 stories in its whole history.")  # fmt: skip
    message = quiet.original
    assert message is not None
    [offer] = buttons(message)
    assert offer["label"] == "Show the whole history"
    history = await shown(await fake_discord.click(offer["custom_id"], user=fake_member, message=message))
    assert history["embeds"][0]["footer"]["text"] == "Page 1/1 · 2 stories in the whole history"
    assert history["embeds"][0]["description"].count("Beta story") == 2


async def test_recap_of_a_week_and_of_an_empty_week(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    now = time.time()
    await seed(tmp_path / "wirebrief.db", now)
    quick_reads = "\n[limits]\nread_cooldown_seconds = 1e-6\n"  # one member asks for several recaps at once
    await start_bot(extra_config=TOPICS + quick_reads)
    sync = await fake_discord.wait_for_request(
        "PUT", rf"/applications/{fake_discord.application_id}/guilds/{fake_guild.id}/commands", TIMEOUT)  # fmt: skip
    synced = {command["name"]: command for command in sync.json}
    for name in ("timeline", "recap", "recap-schedule"):
        assert synced[name]["contexts"] == [0], f"/{name} is for servers"
    assert synced["recap"]["default_member_permissions"] is None, "/recap is for everyone"
    assert int(synced["recap-schedule"]["default_member_permissions"]) == MANAGE_GUILD
    assert {o["name"] for o in synced["recap-schedule"]["options"]} == {"set", "show", "off"}
    await fake_discord.wait_for_ready(TIMEOUT)
    fake_discord.interaction_deadline = 3.0
    general = fake_guild.channel("general")

    refused = await fake_discord.invoke("recap-schedule", user=fake_member, channel=general,
                                        options=sub("show"))  # fmt: skip
    answer = (await refused.wait_response(TIMEOUT))["data"]
    assert answer["flags"] & EPHEMERAL
    assert answer["content"] == "You need the Manage Server permission for this."

    last_week = await fake_discord.invoke("recap", user=fake_member, channel=general,
                                          options=[option("weeks_ago", 1)])  # fmt: skip
    data = await shown(last_week)
    assert_public(data)
    [embed] = data["embeds"]
    week = IsoWeek.at(now, ZoneInfo("UTC")).shifted(-1)
    assert embed["title"] == f"📰 Weekly recap — {week.key}"
    header, numbers = embed["description"].split("\n")[:2]
    assert header.startswith(f"Week {week.week} of {week.year} · ") and header.endswith("(UTC)")
    start, end = week_window(week, ZoneInfo("UTC"))
    sources = "3 sources" if start <= now - 3600 < end else "1 source"  # the newest story has three
    assert numbers.startswith(f"**7 stories** from **{sources}** · top entities: Acme")
    assert "**🏷️ chips**" in embed["description"] and "**🏷️ cloud**" in embed["description"]
    assert "@everyone" not in embed["description"]

    options = [option("topic", "chips"), option("weeks_ago", 1)]
    chips = await shown(await fake_discord.invoke("recap", user=fake_member, channel=general,
                                                                options=options))  # fmt: skip
    assert chips["embeds"][0]["title"] == f"📰 Weekly recap — {week.key} · chips"
    assert "**🏷️ cloud**" not in chips["embeds"][0]["description"]

    empty = await shown(await fake_discord.invoke(
        "recap", user=fake_member, channel=general, options=[option("weeks_ago", 20)]))  # fmt: skip
    assert empty["embeds"][0]["description"].endswith("No stories were published in this week.")
    assert "**0 stories** from **0 sources**" in empty["embeds"][0]["description"]


def next_minute(zone: ZoneInfo, *, at_least: float) -> datetime:
    """The first whole minute at least `at_least` seconds from now, in `zone`."""
    return datetime.fromtimestamp(math.ceil((time.time() + at_least) / 60) * 60, zone)


async def test_the_scheduled_recap_posts_once_at_its_minute_across_restarts(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    await seed(tmp_path / "wirebrief.db", time.time())
    first = await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    general, news = fake_guild.channel("general"), fake_guild.channel("news")
    zone = ZoneInfo(ZONE)
    due = next_minute(zone, at_least=25.0)
    options = [{"type": OPTION_SUB_COMMAND, "name": "set", "options": [
        option("channel", news), option("weekday", due.weekday()), option("time", due.strftime("%H:%M")),
        option("timezone", ZONE)]}]  # fmt: skip
    channels = {"channels": {str(news.id): {**news.payload(), "permissions": str(EVERYONE_PERMISSIONS)}}}
    setting = await fake_discord.invoke("recap-schedule", user=admin, channel=general, options=options,
                                        resolved=channels)  # fmt: skip
    reply = (await setting.wait_response(TIMEOUT))["data"]
    assert reply["flags"] & EPHEMERAL
    assert f"Next: <t:{int(due.timestamp())}:F>" in reply["content"]

    first.send_signal(signal.SIGTERM)  # a restart before the minute: the schedule is in the store
    assert await first.wait(STOP_TIMEOUT) == 0
    assert time.time() < due.timestamp(), "the restart happened before the scheduled minute"
    second = await start_bot(extra_config=TOPICS)

    def recap_posted() -> FakeMessage | None:
        return next((m for m in news.messages if m.embeds and m.embeds[0]["title"].startswith("📰")), None)

    posted = await fake_discord.wait_for(recap_posted, due.timestamp() - time.time() + TIMEOUT)
    assert due.timestamp() <= time.time() < due.timestamp() + 60, "at the scheduled minute"
    week = covered_week(IsoWeek.at(due.timestamp(), zone), due.weekday())
    assert posted.embeds[0]["title"] == f"📰 Weekly recap — {week.key}"
    assert posted.allowed_mentions == {"parse": []}
    assert posted.request.get("nonce"), "sent with the delivery's nonce"

    second.send_signal(signal.SIGTERM)
    assert await second.wait(STOP_TIMEOUT) == 0
    third = await start_bot(extra_config=TOPICS, verbose=True)
    await third.wait_for_line(r"recap schedules looked at; next look", timeout=TIMEOUT)  # its first look is done
    await fake_discord.wait_for_ready(TIMEOUT)
    shows = await fake_discord.invoke("recap-schedule", user=admin, channel=general,
                                      options=sub("show"))  # fmt: skip
    assert "every " + due.strftime("%A") in (await shows.wait_response(TIMEOUT))["data"]["content"]
    assert [m for m in news.messages if m.embeds] == [posted], "never twice"


async def test_a_recap_channel_that_refuses_pauses_the_schedule_and_tells_the_admins(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    """A schedule due since this week's Monday 00:00 UTC is written before the bot starts; #news
    answers its recap with 403 Missing Access."""
    general, news = fake_guild.channel("general"), fake_guild.channel("news")
    store = await SQLiteStore.open(tmp_path / "wirebrief.db")
    try:
        await store.save_recap_schedule(RecapSchedule(fake_guild.id, news.id, 0, "00:00", "UTC"), 0.0)
        await store.set_alerts_channel(fake_guild.id, general.id, 0.0)
    finally:
        await store.close()
    fake_discord.inject("POST", rf"/channels/{news.id}/messages",
                        [Fault(403, body={"message": "Missing Access", "code": 50001})])  # fmt: skip
    await start_bot(extra_config=TOPICS)

    def alerted() -> FakeMessage | None:
        return next((m for m in general.messages if "weekly recap" in (m.payload.get("content") or "")), None)

    alert = await fake_discord.wait_for(alerted, TIMEOUT)
    assert alert.payload["content"] == (
        f"⚠️ I can no longer post the weekly recap in <#{news.id}> (403 Forbidden: Missing Access), so I stopped"
        " trying. Fix my permissions there, then run /recap-schedule set again.")  # fmt: skip
    assert alert.allowed_mentions == {"parse": []}
    await fake_discord.wait_for_ready(TIMEOUT)
    shows = await fake_discord.invoke("recap-schedule", user=admin, channel=general,
                                      options=sub("show"))  # fmt: skip
    answer = (await shows.wait_response(TIMEOUT))["data"]
    assert answer["flags"] & EPHEMERAL
    assert answer["content"].startswith(f"The weekly recap is paused: <#{news.id}> refused it <t:")
    assert "(403 Forbidden: Missing Access)" in answer["content"]
    assert news.messages == [], "refused once, never posted"
    assert [m for m in general.messages if "weekly recap" in (m.payload.get("content") or "")] == [alert], "told once"


async def test_the_servers_time_zone_set_with_settings_counts_for_recap_and_the_schedule(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, admin: FakeUser, start_bot: StartBot,
    tmp_path: Path,
) -> None:  # fmt: skip
    await seed(tmp_path / "wirebrief.db", time.time())
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    general, news = fake_guild.channel("general"), fake_guild.channel("news")

    def timezone(value: str | None = None, *, focused: bool = False) -> list[JSON]:
        given = [] if value is None else [option("timezone", value, focused=focused)]
        return [{"type": OPTION_SUB_COMMAND, "name": "timezone", "options": given}]

    offered = await fake_discord.autocomplete("settings", user=admin, channel=general,
                                              options=timezone("asia/tok", focused=True))  # fmt: skip
    assert offered[0] == {"name": "Asia/Tokyo", "value": "Asia/Tokyo"} and len(offered) <= 25
    refused = await fake_discord.autocomplete("settings", user=fake_member, channel=general,
                                              options=timezone("asia", focused=True))  # fmt: skip
    assert refused == [], "nothing for a member who may not set it"

    async def settings(options: list[JSON]) -> str:
        interaction = await fake_discord.invoke("settings", user=admin, channel=general, options=options)
        data = (await interaction.wait_response(TIMEOUT))["data"]
        assert data["flags"] & EPHEMERAL
        return str(data["content"])

    unknown = await settings(timezone("Mars/Base"))
    assert unknown == "“Mars/Base” is not a time zone I know; use a name such as Europe/Berlin."
    assert (await settings(timezone("Asia/Tokyo"))).startswith("This server's time zone is now Asia/Tokyo:")
    recap = await shown(await fake_discord.invoke("recap", user=fake_member, channel=general))
    assert recap["embeds"][0]["description"].split("\n")[0].endswith("(Asia/Tokyo)")

    options = [{"type": OPTION_SUB_COMMAND, "name": "set", "options": [
        option("channel", news), option("weekday", 0), option("time", "9:05")]}]  # fmt: skip
    channels = {"channels": {str(news.id): {**news.payload(), "permissions": str(EVERYONE_PERMISSIONS)}}}
    setting = await fake_discord.invoke("recap-schedule", user=admin, channel=general, options=options,
                                        resolved=channels)  # fmt: skip
    assert "every Monday at 09:05 (Asia/Tokyo)" in (await setting.wait_response(TIMEOUT))["data"]["content"]
    cleared = await settings(timezone())
    assert cleared == "Time zone cleared: /recap now counts weeks in the recap schedule's time zone (Asia/Tokyo)."
