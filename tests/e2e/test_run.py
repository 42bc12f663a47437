"""End to end: the real bot, started as `python -m bot run`, against the fake Discord.

The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import re
import signal

import pytest
from fake_discord import EPHEMERAL, LOG_LINE, BotProcess, FakeDiscord, FakeGuild, FakeUser, GatewayConnection, StartBot

from bot import __version__

pytestmark = pytest.mark.e2e

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# Intents Discord calls privileged; README: Wirebrief needs none of them.
PRIVILEGED_INTENTS = {"members": 1 << 1, "presences": 1 << 8, "message_content": 1 << 15}


def assert_clean_output(bot: BotProcess, token: str) -> None:
    """Every stderr line is one readable log record, and the token is nowhere in the output."""
    assert token not in bot.stderr, "the token leaked into the log"
    assert token not in bot.stdout, "the token leaked into stdout"
    for line in bot.stderr_lines:
        assert LOG_LINE.match(line), f"not a one-line log record: {line!r}\n{bot.stderr}"


async def stop(bot: BotProcess, sig: signal.Signals = signal.SIGTERM) -> int:
    bot.send_signal(sig)
    return await bot.wait(STOP_TIMEOUT)


@pytest.mark.parametrize("verbose", [False, True], ids=["info", "debug"])
async def test_start_up_logs_in_connects_and_syncs_commands_to_the_dev_guild(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, start_bot: StartBot, verbose: bool
) -> None:
    bot = await start_bot(verbose=verbose)
    app_id = fake_discord.application_id

    login = await fake_discord.wait_for_request("GET", "/users/@me", START_TIMEOUT)
    assert login.headers.get("Authorization") == f"Bot {fake_discord.token}"
    sync = await fake_discord.wait_for_request(
        "PUT", rf"/applications/{app_id}/guilds/{fake_guild.id}/commands", START_TIMEOUT
    )
    assert sync.status == 200
    commands = {command["name"]: command for command in sync.json}
    assert "about" in commands
    assert commands["about"]["type"] == 1  # a slash command
    assert commands["about"]["description"]
    assert not fake_discord.find_requests("PUT", rf"/applications/{app_id}/commands"), "dev guilds: no global sync"

    conn = await fake_discord.wait_for_ready(START_TIMEOUT)
    assert conn.identify is not None
    intents = conn.identify["intents"]
    assert not [name for name, bit in PRIVILEGED_INTENTS.items() if intents & bit], f"intents {intents:#b}"
    await bot.wait_for_line(rf"synced \d+ slash commands to guild {fake_guild.id}$", timeout=START_TIMEOUT)
    await bot.wait_for_line(r"connected as Wirebrief \(id \d+\) to 1 servers$", timeout=START_TIMEOUT)

    assert await stop(bot) == 0
    assert_clean_output(bot, fake_discord.token)


async def test_about_gets_an_ephemeral_reply_that_mentions_nobody(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot
) -> None:
    bot = await start_bot()
    await fake_discord.wait_for_ready(START_TIMEOUT)
    channel = fake_guild.channel("general")

    interaction = await fake_discord.invoke("about", user=fake_member, channel=channel)
    reply = await interaction.wait_response(START_TIMEOUT)

    assert reply["type"] == 4  # a message in answer to the command
    data = reply["data"]
    assert data["flags"] & EPHEMERAL
    assert data["allowed_mentions"] == {"parse": []}
    assert "Wirebrief" in data["content"]
    assert __version__ in data["content"]
    assert len(interaction.callbacks) == 1
    assert fake_discord.messages(channel) == [], "an ephemeral reply is not posted in the channel"

    assert await stop(bot) == 0
    assert_clean_output(bot, fake_discord.token)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_closes_the_gateway_and_exits_0(
    fake_discord: FakeDiscord, start_bot: StartBot, sig: signal.Signals
) -> None:
    bot = await start_bot()
    conn = await fake_discord.wait_for_ready(START_TIMEOUT)
    await bot.wait_for_line("connected as", timeout=START_TIMEOUT)

    assert await stop(bot, sig) == 0

    def gateway_closed() -> bool:
        return conn.closed

    await fake_discord.wait_for(gateway_closed, STOP_TIMEOUT)
    assert not conn.closed_by_server
    assert conn.close_code not in (None, 1006), "the bot closed the websocket with a close frame"
    assert len(fake_discord.connections) == 1, "no reconnection while stopping"
    assert re.search(r"bot\.app\.runtime: stopped$", bot.stderr_lines[-1]), bot.stderr
    assert_clean_output(bot, fake_discord.token)


async def test_a_stop_signal_ends_the_gateway_session(fake_discord: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    conn: GatewayConnection = await fake_discord.wait_for_ready(START_TIMEOUT)
    await bot.wait_for_line("connected as", timeout=START_TIMEOUT)

    assert await stop(bot) == 0

    def gateway_closed() -> bool:
        return conn.closed

    await fake_discord.wait_for(gateway_closed, STOP_TIMEOUT)
    assert conn.close_code == 1000  # Discord ends the session and shows the bot offline at once


async def test_a_refused_token_exits_2_with_one_clear_line(fake_discord: FakeDiscord, start_bot: StartBot) -> None:
    wrong_token = "MTA5.not-the-token-the-fake-accepts.x7Qz"
    bot = await start_bot(token=wrong_token)

    assert await bot.wait(STOP_TIMEOUT) == 2

    logins = fake_discord.find_requests("GET", "/users/@me")
    assert [r.status for r in logins] == [401]
    assert not fake_discord.connections, "no gateway connection without a valid token"
    assert "Traceback" not in bot.stderr
    assert wrong_token not in bot.stderr
    assert wrong_token not in bot.stdout
    not_logs = [line for line in bot.stderr_lines if not LOG_LINE.match(line)]
    assert len(not_logs) == 1, bot.stderr
    assert not_logs[0] == bot.stderr_lines[-1]
    assert not_logs[0].startswith("error: ")
    assert "refused the token" in not_logs[0]
    assert "DISCORD_TOKEN" in not_logs[0]
