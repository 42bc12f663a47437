"""Helpers for end-to-end tests of two servers, A and B, on one bot (tests/e2e/test_tenancy.py,
test_history.py): imported by name, like fake_discord and feed_server.

    async def test_something(fake_discord, servers, feeds, start_bot, tmp_path):
        a, b = servers                                       # the conftest's fixtures
        wire = feeds.add_feed("wire", title="Wire Service")
        bot = await start(start_bot, fake_discord, a, b, config)  # connected, commands synced to both
        await follow(fake_discord, a, feeds.add_feed(MARKER, title="Zephyrine Desk"))  # A's own feed
        ...
        await wait_posted(fake_discord, (a.news, {link}), (b.news, {link}), watch=b)
        assert_no_trace(seen_by(fake_discord, b), MARKER)

A is the conftest's guild (`fake_guild`), B a second guild of the fake; each has an admin (Manage
Server), a reader (an ordinary member) and the channels #general, #news and #briefs (the `servers`
fixture, in conftest.py). Commands are run in #general; what a server was shown is read back from
what the fake Discord recorded (`seen_by`). A's own feed is called MARKER: any trace of it in what B
saw is found by one case-insensitive search. The timeouts are "did not hang" bounds, never
expectations of speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_discord import (
    EPHEMERAL,
    BotProcess,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    StartBot,
    option,
    resolved,
    shown,
    sub,
)
from feed_server import Item, LocalFeed

TIMEOUT = 40.0  # "did not hang"
STOP_TIMEOUT = 20.0
MARKER = "zephyrine"  # server A's own feed: /zephyrine.xml, "Zephyrine Desk", https://zephyrine.example/…
TIMELINE = "⏳ Timeline"  # the card's field
MESSAGES = re.compile(r"/channels/(?P<channel>\d+)/messages(?:/\d+)?")
LINK = re.compile(r"\]\((https?://[^)\s]+)\)")
JSON = dict[str, Any]


# --- the two servers -----------------------------------------------------------------------------


@dataclass
class Server:
    """A guild of the fake with an admin (Manage Server) and a reader (an ordinary member)."""

    guild: FakeGuild
    admin: FakeUser
    reader: FakeUser

    @property
    def id(self) -> int:
        return self.guild.id

    @property
    def general(self) -> FakeChannel:
        return self.guild.channel("general")

    @property
    def news(self) -> FakeChannel:
        return self.guild.channel("news")

    @property
    def briefs(self) -> FakeChannel:
        return self.guild.channel("briefs")


def item(feed: LocalFeed, key: str, title: str, text: str, published: float | None = None) -> Item:
    """An item of `feed` whose link is https://<feed name>.example/<key>, published at `published`
    (UNIX seconds; default: now)."""
    link = f"https://{feed.name}.example/{key}"
    if published is None:
        return Item(f"{feed.name}-{key}", title, link, text)
    return Item(f"{feed.name}-{key}", title, link, text, float(published))


# --- the bot -------------------------------------------------------------------------------------


async def start(
    start_bot: StartBot,
    fake: FakeDiscord,
    a: Server,
    b: Server,
    config: str,
    *,
    started: Callable[[BotProcess], object] | None = None,
) -> BotProcess:
    """Start the bot with commands synced to both servers; return once it is connected anew.
    `started` is called with the new process at once, before it can send anything (e.g. to point a
    kill switch at it)."""
    connections = len(fake.connections)
    bot = await start_bot(extra_config=config, dev_guild_ids=[a.id, b.id])
    if started is not None:
        started(bot)

    def connected_again() -> bool:
        live = fake.live_connection
        synced = all(fake.find_command("feeds", s.id) for s in (a, b))
        return bool(live is not None and live.number > connections and fake.ready_sent and synced)

    await fake.wait_for(connected_again, TIMEOUT)
    return bot


async def stop(bot: BotProcess) -> None:
    """SIGTERM: the loops finish their current step (a cycle's polls are all recorded), exit 0."""
    bot.send_signal(signal.SIGTERM)
    assert await bot.wait(STOP_TIMEOUT) == 0


def sigkill(bot: BotProcess) -> None:
    """The bot and its parser workers die at once, as in a crash."""
    bot.stopping = True  # expected: the fake's health check lets it be
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(bot.pid, signal.SIGKILL)


def read_db(tmp_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query on the bot's database (the one `start_bot` configures), read from here."""
    with contextlib.closing(sqlite3.connect(tmp_path / "wirebrief.db", timeout=10)) as db:
        return db.execute(sql, params).fetchall()


# --- commands ------------------------------------------------------------------------------------


async def ask(
    fake: FakeDiscord,
    server: Server,
    command: str,
    options: Sequence[JSON] = (),
    *,
    user: FakeUser | None = None,
    channels: Sequence[FakeChannel] = (),
) -> JSON:
    """What `user` (default: the server's admin) is shown after running the command in #general."""
    interaction = await fake.invoke(command, user=user or server.admin, channel=server.general, options=options,
                                    resolved=resolved(*channels) if channels else None)  # fmt: skip
    return await shown(interaction, TIMEOUT)


async def follow(fake: FakeDiscord, server: Server, feed: LocalFeed) -> JSON:
    """/feeds add in the server; it must work. Returns the (ephemeral) answer."""
    reply = await ask(fake, server, "feeds", sub("add", url=feed.url))
    assert reply["content"].startswith(f"Added **{feed.title}**"), reply
    assert reply["flags"] & EPHEMERAL
    return reply


async def timeline(fake: FakeDiscord, server: Server, entity: str, *options: JSON) -> JSON:
    """/timeline <entity> (and `options`), asked by the server's reader: the embed everyone in the
    channel sees."""
    data = await ask(fake, server, "timeline", [option("entity", entity), *options], user=server.reader)
    [embed] = data["embeds"]
    return dict(embed)


def links_in(embed: JSON) -> set[str]:
    """The Markdown links of an embed's description."""
    return set(LINK.findall(str(embed.get("description", ""))))


# --- what the fake saw ---------------------------------------------------------------------------


def card_urls(fake: FakeDiscord, channel: FakeChannel) -> Counter[str]:
    """How many messages in the channel show a card of each url."""
    return Counter(embed.get("url", "") for m in fake.messages(channel) for embed in m.embeds if embed.get("url"))


async def wait_posted(
    fake: FakeDiscord, *expected: tuple[FakeChannel, Iterable[str]], watch: Server | None = None
) -> None:
    """Wait until each channel holds a card of each of its urls. With `watch`, a trace of MARKER in
    anything that server saw ends the wait at once, as the failure it is (not as a timeout)."""
    wanted = [(channel, set(urls)) for channel, urls in expected]

    def cards_posted() -> bool:
        if watch is not None:
            check_no_trace(seen_by(fake, watch), MARKER, where=watch.guild.name)
        return all(urls <= set(card_urls(fake, channel)) for channel, urls in wanted)

    await fake.wait_for(cards_posted, TIMEOUT)


def seen_by(fake: FakeDiscord, server: Server) -> list[str]:
    """Everything the bot showed in the server, one text each: every message it created or edited in
    its channels (as sent, and as the channel holds it now), and every answer to an interaction
    there — callbacks (autocomplete choices included), follow-ups and edits of the original."""
    ids = {str(c.id) for c in server.guild.channels.values()}
    seen = []
    for request in fake.requests:
        match = MESSAGES.fullmatch(request.path)
        if match and match["channel"] in ids and request.method in ("POST", "PATCH"):
            seen.append(f"{request.method} {request.path}: {json.dumps(request.json)}")
    for channel in server.guild.channels.values():
        seen += [f"#{channel.name} holds: {json.dumps(m.payload)}" for m in channel.messages]
    tokens = set()
    for interaction in fake.interactions.values():
        if interaction.payload.get("guild_id") == str(server.id):
            tokens.add(interaction.token)
            name = interaction.payload["data"].get("name") or interaction.payload["data"].get("custom_id")
            seen += [f"answer to {name}: {json.dumps(body)}" for body in interaction.callbacks]
    for request in fake.requests:
        parts = request.path.split("/")  # /webhooks/<app>/<token>/…
        if parts[1:2] == ["webhooks"] and len(parts) > 3 and parts[3] in tokens:
            seen.append(f"{request.method} interaction webhook: {json.dumps(request.json)}")
    return seen


def check_no_trace(seen: Sequence[str], *needles: str, where: str = "B") -> None:
    """None of `needles` (case-insensitive) in anything seen."""
    for text in seen:
        found = [n for n in needles if n.casefold() in text.casefold()]
        assert not found, f"{where} saw {found} in: {text[:3000]}"


def assert_no_trace(seen: Sequence[str], *needles: str, where: str = "B") -> None:
    """`check_no_trace`, on something seen (else the check would prove nothing)."""
    assert seen, "nothing was seen at all: the check would prove nothing"
    check_no_trace(seen, *needles, where=where)
