"""End to end: the admin commands (/feeds, /topics, /settings) of the real bot, through the fake Discord.

The feeds come from a feed server in this process on 127.0.0.1; the bot subprocess may fetch it
only where the test's config sets `[polling] allow_private_addresses = true`.
The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest
from aiohttp import web
from fake_discord import (
    EMBED_LINKS,
    EPHEMERAL,
    MANAGE_GUILD,
    SEND_MESSAGES,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    StartBot,
    resolved,
    shown,
    sub,
)

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
ADMIN_COMMANDS = {
    "feeds": {"add", "test", "list", "remove", "pause", "resume", "mute", "unmute", "import", "export"},
    "topics": {"list", "route", "unroute"},
    "settings": {"alerts-channel", "timezone"},
}
PRIVATE_ADDRESS = "That address points inside a private network; I can only fetch public feeds."
ALLOW_PRIVATE = "[polling]\nallow_private_addresses = true\n"
TOPICS = '[[topics]]\nname = "security"\nkeywords = ["breach"]\n\n[[topics]]\nname = "models"\nkeywords = ["model"]\n'
JSON = dict[str, Any]


class FeedServer:
    """A feed server on 127.0.0.1 that counts its requests."""

    def __init__(self) -> None:
        self.base = ""
        self.hits = 0

    async def feed(self, request: web.Request) -> web.Response:
        self.hits += 1
        now = datetime.now(UTC)
        items = "".join(
            f"<item><title>Item {n}</title><link>https://news.example/{n}</link><guid>urn:{n}</guid>"
            f"<pubDate>{format_datetime(now)}</pubDate></item>"
            for n in range(3)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback News</title>{items}</channel></rss>'
        return web.Response(text=body, content_type="application/rss+xml")


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    server = FeedServer()
    app = web.Application()
    app.router.add_get("/feed.xml", server.feed)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    server.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield server
    await runner.cleanup()


def assert_private(data: JSON) -> None:
    assert data["flags"] & EPHEMERAL
    assert data["allowed_mentions"] == {"parse": []}


async def test_admin_commands_are_synced_guild_only_for_manage_server(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, start_bot: StartBot
) -> None:
    await start_bot()
    app_id = fake_discord.application_id
    path = rf"/applications/{app_id}/guilds/{fake_guild.id}/commands"
    sync = await fake_discord.wait_for_request("PUT", path, TIMEOUT)

    synced = {command["name"]: command for command in sync.json}
    for name, subcommands in ADMIN_COMMANDS.items():
        command = synced[name]
        assert int(command["default_member_permissions"]) == MANAGE_GUILD, name
        assert command["dm_permission"] is False, name
        assert command["contexts"] == [0], name  # guild only
        assert {option["name"] for option in command["options"]} == subcommands


async def test_feeds_add_replies_with_title_and_count_then_list_pause_resume_remove(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, feed_server: FeedServer
) -> None:
    bot = await start_bot(extra_config=ALLOW_PRIVATE)
    await fake_discord.wait_for_ready(TIMEOUT)
    general = fake_guild.channel("general")
    url = feed_server.base + "/feed.xml"

    added = await shown(await fake_discord.invoke("feeds", user=admin, channel=general,
                                                                 options=sub("add", url=url)))  # fmt: skip
    assert_private(added)
    assert "Loopback News" in added["content"]
    assert "3 entries stored as seen" in added["content"]
    assert feed_server.hits == 1

    listed = await shown(await fake_discord.invoke("feeds", user=admin, channel=general,
                                                                  options=sub("list")))  # fmt: skip
    assert_private(listed)
    [embed] = listed["embeds"]
    [field] = embed["fields"]
    assert field["name"] == "Loopback News"
    assert field["value"].startswith("**ok**")
    assert "3 entries seen" in field["value"]
    assert "<t:" in field["value"]
    assert fake_discord.messages(general) == [], "nothing posted in the channel"

    typed = sub("pause", feed="loop")
    typed[0]["options"][0]["focused"] = True
    choices = await fake_discord.autocomplete("feeds", user=admin, channel=general, options=typed)
    assert [c["name"] for c in choices] == [f"Loopback News — {url}"]
    feed_id = choices[0]["value"]
    for action, expected in [("pause", "Paused **Loopback News**"), ("resume", "Resumed **Loopback News**"),
                             ("remove", "Removed **Loopback News**")]:  # fmt: skip
        interaction = await fake_discord.invoke("feeds", user=admin, channel=general, options=sub(action, feed=feed_id))
        done = await shown(interaction)
        assert_private(done)
        assert done["content"].startswith(expected), done["content"]

    bot.send_signal(signal.SIGTERM)
    assert await bot.wait(STOP_TIMEOUT) == 0, "a clean stop, parser pool included"


async def test_feeds_add_of_a_loopback_address_is_refused_when_private_addresses_are_not_allowed(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot, feed_server: FeedServer
) -> None:
    await start_bot()
    await fake_discord.wait_for_ready(TIMEOUT)

    options = sub("add", url=feed_server.base + "/feed.xml")
    general = fake_guild.channel("general")
    interaction = await fake_discord.invoke("feeds", user=admin, channel=general, options=options)
    refused = await shown(interaction)

    assert_private(refused)
    assert refused["content"] == PRIVATE_ADDRESS
    assert feed_server.hits == 0


async def test_a_member_without_manage_server_is_refused_by_every_admin_command(
    fake_discord: FakeDiscord,
    fake_guild: FakeGuild,
    fake_member: FakeUser,
    start_bot: StartBot,
    feed_server: FeedServer,
) -> None:
    """As if the server had opened the commands to everyone: the run-time check still refuses."""
    await start_bot(extra_config=ALLOW_PRIVATE + TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    general, news = fake_guild.channel("general"), fake_guild.channel("news")
    attempts: list[tuple[str, list[JSON], JSON | None]] = [
        ("feeds", sub("add", url=feed_server.base + "/feed.xml"), None),
        ("feeds", sub("list"), None),
        ("topics", sub("route", topic="security", channel=news), resolved(news)),
        ("settings", sub("alerts-channel", channel=news), resolved(news)),
    ]
    for name, options, channels in attempts:
        interaction = await fake_discord.invoke(name, user=fake_member, channel=general, options=options,
                                                resolved=channels)  # fmt: skip
        refused = await shown(interaction)
        assert_private(refused)
        assert refused["content"] == "You need the Manage Server permission for this.", options
    assert feed_server.hits == 0


async def test_topics_route_then_topics_list_shows_the_route(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot
) -> None:
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)
    general, news = fake_guild.channel("general"), fake_guild.channel("news")

    async def run(options: list[JSON]) -> JSON:
        interaction = await fake_discord.invoke("topics", user=admin, channel=general, options=options,
                                                resolved=resolved(news))  # fmt: skip
        data = await shown(interaction)
        assert_private(data)
        return data

    routed = await run(sub("route", topic="security", channel=news))
    assert routed["content"] == f"Stories about **security** will be posted in <#{news.id}>."
    again = await run(sub("route", topic="security", channel=news))
    assert again["content"].startswith("That route exists already")
    unknown = await run(sub("route", topic="sports", channel=news))
    assert unknown["content"] == "“sports” is not a topic here; the topics are: security, models."

    listed = await run(sub("list"))
    fields = {field["name"]: field["value"] for field in listed["embeds"][0]["fields"]}
    assert f"<#{news.id}>" in fields["security"]
    assert "Keywords: breach" in fields["security"]
    assert fields["models"].endswith("Not routed in this server.")
    assert fake_discord.messages(news) == []


async def test_settings_alerts_channel_sets_and_clears(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot
) -> None:
    await start_bot()
    await fake_discord.wait_for_ready(TIMEOUT)
    general, news = fake_guild.channel("general"), fake_guild.channel("news")

    set_to = await shown(await fake_discord.invoke(
        "settings", user=admin, channel=general, options=sub("alerts-channel", channel=news), resolved=resolved(news)
    ))  # fmt: skip
    assert f"<#{news.id}>" in set_to["content"]
    cleared = await shown(await fake_discord.invoke(
        "settings", user=admin, channel=general, options=sub("alerts-channel")
    ))  # fmt: skip
    assert cleared["content"].startswith("Alerts channel cleared")


async def test_a_channel_the_bot_cannot_post_in_is_refused(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, admin: FakeUser, start_bot: StartBot
) -> None:
    news = fake_guild.channel("news")
    denied = SEND_MESSAGES | EMBED_LINKS  # for the bot's role, in #news only (sent with GUILD_CREATE)
    news.permission_overwrites = [{"id": str(fake_guild.bot_role_id), "type": 0, "allow": "0", "deny": str(denied)}]
    await start_bot(extra_config=TOPICS)
    await fake_discord.wait_for_ready(TIMEOUT)

    refused = await shown(await fake_discord.invoke(
        "topics", user=admin, channel=fake_guild.channel("general"),
        options=sub("route", topic="*", channel=news), resolved=resolved(news),
    ))  # fmt: skip

    assert_private(refused)
    assert refused["content"] == f"I cannot post in <#{news.id}>: I need Send Messages, Embed Links there."
