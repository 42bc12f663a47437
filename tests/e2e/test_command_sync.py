"""End to end: slash commands are synced only when the command tree changed, against the fake Discord
(which keeps the commands it was given, as Discord does, and records each PUT of them).

The bot keeps the hash of the tree it last synced (`bot_state`); a first start syncs, a restart with
the same tree does not (the commands still answer), a changed tree does (here: the stored hash no
longer matches, as after an upgrade that changed a command), and `wirebrief sync` forces one and
records the hash. The timeouts are "did not hang" bounds, never expectations of speed.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from fake_discord import DEPLOYMENT_VARIABLES, BotProcess, FakeDiscord, FakeGuild, FakeUser, StartBot, child_environment

from bot.app.bot import COMMANDS_HASH_KEY
from bot.config.deployment import VARIABLES

pytestmark = pytest.mark.e2e

TIMEOUT = 30.0
UNCHANGED = r"slash commands unchanged since the last sync \(\d+ {where}\); not synced$"


def stored_hash(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM bot_state WHERE key = ?", (COMMANDS_HASH_KEY,)).fetchone()
    return None if row is None else str(row[0])


async def stop(bot: BotProcess) -> None:
    bot.send_signal(signal.SIGTERM)
    assert await bot.wait(TIMEOUT) == 0, bot.stderr


async def start_and_stop(start_bot: StartBot, fake: FakeDiscord, line: str, **options: object) -> BotProcess:
    """Start the bot, wait until it is connected and has logged `line` (the sync's outcome), stop it."""
    bot = await start_bot(**options)
    await fake.wait_for_ready(TIMEOUT)
    await bot.wait_for_line(line, timeout=TIMEOUT)
    await stop(bot)
    return bot


async def wirebrief_sync(fake: FakeDiscord, config: Path, cwd: Path) -> BotProcess:
    argv = [sys.executable, "-m", "bot", "sync", "--config", str(config)]
    process = await BotProcess.start(argv, env=child_environment(fake.token), cwd=cwd)
    assert await process.wait(TIMEOUT) == 0, process.stderr
    return process


def test_the_bot_under_test_never_inherits_a_deployment_variable() -> None:
    assert set(VARIABLES) <= DEPLOYMENT_VARIABLES


async def test_commands_are_synced_when_the_tree_changed_and_not_at_every_start(
    fake_discord: FakeDiscord, fake_guild: FakeGuild, fake_member: FakeUser, start_bot: StartBot, tmp_path: Path
) -> None:
    put = rf"/applications/{fake_discord.application_id}/guilds/{fake_guild.id}/commands"
    db = tmp_path / "wirebrief.db"

    await start_and_stop(start_bot, fake_discord, rf"synced \d+ slash commands to guild {fake_guild.id}$")
    assert len(fake_discord.find_requests("PUT", put)) == 1, "a first start syncs"
    first_hash = stored_hash(db)
    assert first_hash is not None and len(first_hash) == 64

    bot = await start_bot()
    await fake_discord.wait_for_ready(TIMEOUT)
    await bot.wait_for_line(UNCHANGED.format(where=f"to guild {fake_guild.id}"), timeout=TIMEOUT)
    interaction = await fake_discord.invoke("about", user=fake_member, channel=fake_guild.channel("general"))
    assert (await interaction.wait_response(TIMEOUT))["type"] == 4, "the commands synced before still answer"
    await stop(bot)
    assert len(fake_discord.find_requests("PUT", put)) == 1, "a restart with the same tree does not sync"
    assert stored_hash(db) == first_hash

    with sqlite3.connect(db) as conn:  # what the bot finds after an upgrade that changed a command
        conn.execute("UPDATE bot_state SET value = ? WHERE key = ?", ("0" * 64, COMMANDS_HASH_KEY))
    await start_and_stop(start_bot, fake_discord, rf"synced \d+ slash commands to guild {fake_guild.id}$")
    assert len(fake_discord.find_requests("PUT", put)) == 2, "a changed tree syncs"
    assert stored_hash(db) == first_hash


async def test_wirebrief_sync_forces_a_sync_and_records_the_hash(
    fake_discord: FakeDiscord, start_bot: StartBot, tmp_path: Path
) -> None:
    put = rf"/applications/{fake_discord.application_id}/commands"
    db = tmp_path / "wirebrief.db"
    await start_and_stop(start_bot, fake_discord, r"synced \d+ slash commands globally$", dev_guild_ids=[])
    assert len(fake_discord.find_requests("PUT", put)) == 1, "no dev guilds: a global sync"
    recorded = stored_hash(db)
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM bot_state")
    connections = len(fake_discord.connections)

    synced = await wirebrief_sync(fake_discord, tmp_path / "wirebrief-0.toml", tmp_path)
    assert len(fake_discord.find_requests("PUT", put)) == 2, "`sync` syncs, changed tree or not"
    assert synced.stdout.startswith("synced ") and "slash commands globally" in synced.stdout
    assert len(fake_discord.connections) == connections, "sync talks REST only: no gateway"
    assert stored_hash(db) == recorded, "and records the hash"

    await start_and_stop(start_bot, fake_discord, UNCHANGED.format(where="globally"), dev_guild_ids=[])
    assert len(fake_discord.find_requests("PUT", put)) == 2, "the next start found the hash `sync` recorded"
