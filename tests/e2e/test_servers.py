"""End to end: a server that removes the bot (GUILD_DELETE from the gateway) loses its waiting posts
at once — the bot never posts there again, even when Discord would now accept — while the stories
themselves stay. Nothing leaves loopback."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_discord import EPHEMERAL, VIEW_CHANNEL, FakeDiscord, FakeGuild, Fault, resolved, shown, sub
from feed_server import FeedServer, Item

pytestmark = pytest.mark.e2e

TIMEOUT = 40.0
LEFT = "the bot was removed from the server"


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        yield server


def read_db(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
        return db.execute(sql, params).fetchall()


async def eventually(predicate: Any, timeout: float = TIMEOUT) -> None:
    """Wait until `predicate()` holds ("did not hang" bound, not a speed expectation)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_a_server_that_removes_the_bot_gets_no_post_it_was_still_waiting_for(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, feeds: FeedServer, start_bot: Any, tmp_path: Path
) -> None:
    wire = feeds.add_feed("wire", title="Wire Service")
    news = fake_guild.channel("news")
    other = fake_discord.add_guild("Another Server", channels=("general", "news"))
    elsewhere = other.channel("news")
    config = (
        "[polling]\ninterval_seconds = 1\n\n"
        f'[[feeds]]\nurl = "{wire.url}"\nname = "Wire Service"\n\n'
        f'[[routes]]\nguild_id = {fake_guild.id}\ntopic = "*"\nchannel_id = {news.id}\n\n'
        f'[[routes]]\nguild_id = {other.id}\ntopic = "*"\nchannel_id = {elsewhere.id}\n'
    )
    # the channel fails for now: the card waits in the outbox, retried with backoff
    fake_discord.inject("POST", rf"/channels/{news.id}/messages", [Fault(503)] * 50)
    bot = await start_bot(extra_config=config)
    await fake_discord.wait_for_ready(TIMEOUT)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)
    wire.publish(Item("w-1", "Harbour authority opens a ferry terminal", "https://wire.example/ferry",
                      "The harbour authority opened a ferry terminal on Monday. Crossings start soon."))  # fmt: skip
    db = tmp_path / "wirebrief.db"

    def waiting() -> bool:
        return bool(read_db(db, "SELECT 1 FROM deliveries WHERE state = 'pending' AND attempts > 0"))

    await eventually(waiting)

    await fake_discord.dispatch("GUILD_DELETE", {"id": str(fake_guild.id)})

    def dropped() -> bool:
        rows = read_db(db, "SELECT state, last_error FROM deliveries WHERE guild_id = ?", (fake_guild.id,))
        return rows == [("failed", LEFT)]

    await eventually(dropped)
    fake_discord._faults.clear()  # Discord would take the post now: the bot must not send it
    second = Item("w-2", "Museum reopens its east wing", "https://wire.example/museum",
                  "The museum reopened its east wing on Tuesday. Entry is free this week.")  # fmt: skip
    wire.publish(second)
    await feeds.wait_fetched(wire, times=2, timeout=TIMEOUT)

    # the other server gets the later story: it was routed, to every route at once, by then
    def posted_elsewhere() -> bool:
        return any(e.get("url") == second.link for m in fake_discord.messages(elsewhere) for e in m.embeds)

    await eventually(posted_elsewhere)
    bot.assert_running()
    rows = read_db(db, "SELECT d.state FROM deliveries d JOIN stories s ON s.id = d.story_id"
                       " WHERE d.channel_id = ? AND s.headline LIKE 'Museum%'", (news.id,))  # fmt: skip
    assert rows == [], "the later story was never queued for the server that removed the bot"
    assert fake_discord.messages(news) == [], "nothing reached the server the bot was removed from"
    assert read_db(db, "SELECT count(*) FROM stories") == [(2,)], "the stories themselves stay"
    departed = read_db(db, "SELECT guild_id FROM guild_departures")
    assert departed == [(fake_guild.id,)]


async def test_an_admin_cannot_route_posts_into_a_channel_they_cannot_see_themselves(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: Any, start_bot: Any
) -> None:
    """Manage Server is not a key to every channel: /topics route, /settings alerts-channel and
    /recap-schedule set refuse a channel the caller cannot see or post in (the bot could)."""
    staff = fake_guild.add_channel("staff")
    staff.permission_overwrites = [  # hidden from @everyone, open to the bot's role
        {"id": str(fake_guild.id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL)},
        {"id": str(fake_guild.bot_role_id), "type": 0, "allow": str(VIEW_CHANNEL), "deny": "0"},
    ]
    await start_bot(extra_config='[[topics]]\nname = "security"\nkeywords = ["breach"]\n')
    await fake_discord.wait_for_ready(TIMEOUT)
    general = fake_guild.channel("general")
    refusal = (f"You cannot use <#{staff.id}> yourself (you need View Channel, Send Messages there),"
               " so I will not post there for you.")  # fmt: skip
    for command, options in (
        ("topics", sub("route", topic="*", channel=staff)),
        ("settings", sub("alerts-channel", channel=staff)),
        ("recap-schedule", sub("set", channel=staff, weekday=0, time="09:00")),
    ):
        data = await shown(await fake_discord.invoke(command, user=admin, channel=general, options=options,
                                                     resolved=resolved(staff)))  # fmt: skip
        assert data["content"] == refusal, command
        assert data["flags"] & EPHEMERAL
    assert fake_discord.messages(staff) == []
