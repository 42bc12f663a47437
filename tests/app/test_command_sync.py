"""Command sync only when the tree changed: `tree_hash` (what a sync would send, as one stable hash)
and `WirebriefBot.sync_commands` (compares it with the hash kept in the store, syncs, records it).
The end-to-end version, against the fake Discord across restarts, is tests/e2e/test_command_sync.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.adapters.store import SQLiteStore
from bot.app.bot import COMMANDS_HASH_KEY, WirebriefBot
from bot.app.tree import tree_hash
from bot.config import DiscordSettings, Settings

APP = 4242


async def _noop(interaction: discord.Interaction[discord.Client]) -> None:
    """A command's callback (never called here)."""


def command(name: str, description: str = "does a thing") -> app_commands.Command[Any, Any, None]:
    return app_commands.Command(name=name, description=description, callback=_noop)


def tree(*commands: app_commands.Command[Any, Any, None]) -> app_commands.CommandTree[discord.Client]:
    client = discord.Client(intents=discord.Intents.none())
    built: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    for c in commands:
        built.add_command(c)
    return built


def test_the_same_commands_hash_the_same_whatever_order_they_were_added_in() -> None:
    a = tree_hash(tree(command("about"), command("status")), APP)
    assert a == tree_hash(tree(command("status"), command("about")), APP)
    assert len(a) == 64 and int(a, 16) >= 0


@pytest.mark.parametrize(
    "changed",
    [
        lambda: tree_hash(tree(command("about"), command("status"), command("recap")), APP),  # a command more
        lambda: tree_hash(tree(command("about")), APP),  # a command less
        lambda: tree_hash(tree(command("about", "says who I am"), command("status")), APP),  # a description
        lambda: tree_hash(tree(command("about"), command("status")), APP + 1),  # another application
        lambda: tree_hash(tree(command("about"), command("status")), APP, [7]),  # to a guild, not globally
    ],
    ids=["added", "removed", "described", "application", "guild"],
)
def test_anything_a_sync_would_send_differently_changes_the_hash(changed: Any) -> None:
    assert changed() != tree_hash(tree(command("about"), command("status")), APP)


def test_guild_order_does_not_matter_but_the_guilds_do() -> None:
    t = tree(command("about"))
    for guild in (1, 2, 3):
        t.copy_global_to(guild=discord.Object(id=guild))
    assert tree_hash(t, APP, [1, 2]) == tree_hash(t, APP, [2, 1])
    assert tree_hash(t, APP, [1, 2]) != tree_hash(t, APP, [1, 3])


class Synced:
    """Stands in for `CommandTree.sync`: records where each sync went."""

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot
        self.calls: list[int | None] = []

    async def __call__(self, *, guild: discord.abc.Snowflake | None = None) -> list[Any]:
        self.calls.append(None if guild is None else guild.id)
        return list(self.bot.tree.get_commands(guild=guild))


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[WirebriefBot]:
    store = await SQLiteStore.open(tmp_path / "w.db")
    made = WirebriefBot(Settings(discord=DiscordSettings(dev_guild_ids=(11, 22))), store, serve=False)
    made._connection.application_id = APP  # what logging in sets
    made.tree.add_command(command("about"))
    try:
        async with made:
            yield made
    finally:
        await store.close()


async def test_sync_happens_only_when_the_tree_changed_or_when_forced(
    bot: WirebriefBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = Synced(bot)
    monkeypatch.setattr(bot.tree, "sync", synced)

    first = await bot.sync_commands()
    assert first.synced and first.count == 1 and first.where == "to guilds 11, 22"
    assert synced.calls == [11, 22]
    assert await bot.store.get_state(COMMANDS_HASH_KEY) == tree_hash(bot.tree, APP, [11, 22])

    again = await bot.sync_commands()
    assert not again.synced and again.count == 1 and synced.calls == [11, 22], "unchanged: no request"
    assert again.describe() == "slash commands unchanged since the last sync (1 to guilds 11, 22); not synced"

    bot.tree.add_command(command("status"))
    changed = await bot.sync_commands()
    assert changed.synced and changed.count == 2 and synced.calls == [11, 22, 11, 22]

    forced = await bot.sync_commands(force=True)
    assert forced.synced and synced.calls[-2:] == [11, 22]
    assert forced.describe() == "synced 2 slash commands to guilds 11, 22"


async def test_a_failed_sync_records_nothing_so_the_next_start_tries_again(
    bot: WirebriefBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*, guild: discord.abc.Snowflake | None = None) -> list[Any]:
        raise RuntimeError("Discord said no")

    monkeypatch.setattr(bot.tree, "sync", refused)
    with pytest.raises(RuntimeError):
        await bot.sync_commands()
    assert await bot.store.get_state(COMMANDS_HASH_KEY) is None
    synced = Synced(bot)
    monkeypatch.setattr(bot.tree, "sync", synced)
    assert (await bot.sync_commands()).synced and synced.calls == [11, 22]
