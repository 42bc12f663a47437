"""Fixtures for end-to-end tests: a running fake Discord, and the real bot started against it.

    async def test_something(fake_discord, fake_guild, start_bot):
        bot = await start_bot()                      # `python -m bot run --config <tmp config>`
        await fake_discord.wait_for(lambda: fake_discord.ready_sent, timeout=30)
        ...

Every process `start_bot` starts is stopped at teardown, whatever the test did: SIGTERM, then
SIGKILL if it is still there after STOP_TIMEOUT seconds.

For a test of two servers on one bot, `servers` gives A (the fake's guild) and B, each with an admin,
a reader and its channels, and `feeds` a feed server on 127.0.0.1; the helpers that go with them are
in servers.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from fake_discord import (
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
    BotProcess,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    StartBot,
    child_environment,
)
from feed_server import FeedServer
from servers import Server

STOP_TIMEOUT = 20.0


def toml_string(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(value)


def write_config(
    path: Path,
    fake: FakeDiscord,
    *,
    storage_path: Path,
    dev_guild_ids: Sequence[int] = (),
    extra: str = "",
) -> Path:
    """A Wirebrief config whose REST and gateway endpoints are the fake's (nothing leaves loopback)."""
    path.write_text(
        "[discord]\n"
        f"api_base = {toml_string(fake.api_base)}\n"
        f"gateway_url = {toml_string(fake.gateway_url)}\n"
        f"dev_guild_ids = [{', '.join(str(g) for g in dev_guild_ids)}]\n"
        "\n[storage]\n"
        f"path = {toml_string(str(storage_path))}\n"
        f"\n{extra}",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A fake Discord on 127.0.0.1 with one guild (channels #general and #news)."""
    async with FakeDiscord() as fake:
        fake.add_guild("Wirebrief Test Guild", channels=("general", "news"))
        yield fake


@pytest.fixture
def fake_guild(fake_discord: FakeDiscord) -> FakeGuild:
    """The fake's guild; it is the config's only dev guild."""
    return next(iter(fake_discord.guilds.values()))


@pytest.fixture
def fake_member(fake_discord: FakeDiscord, fake_guild: FakeGuild) -> FakeUser:
    """An ordinary member of the guild (no special permissions)."""
    user = fake_discord.add_user("alice")
    fake_guild.add_member(user)
    return user


@pytest.fixture
def admin(fake_discord: FakeDiscord, fake_guild: FakeGuild) -> FakeUser:
    """A member with Manage Server."""
    user = fake_discord.add_user("ada")
    fake_guild.add_member(user, permissions=EVERYONE_PERMISSIONS | MANAGE_GUILD)
    return user


@pytest.fixture
async def start_bot(fake_discord: FakeDiscord, fake_guild: FakeGuild, tmp_path: Path) -> AsyncIterator[StartBot]:
    """Start `python -m bot run` against the fake: `await start_bot(token=None, verbose=False, extra_config="")`.

    `token` defaults to the one the fake accepts; the config syncs commands to the fake's guild (or
    to `dev_guild_ids`, e.g. every guild of the fake for a test of several servers) and keeps the
    store in tmp_path. Every process started is stopped at teardown.
    """
    processes: list[BotProcess] = []

    async def start(
        *,
        token: str | None = None,
        verbose: bool = False,
        extra_config: str = "",
        dev_guild_ids: Sequence[int] | None = None,
    ) -> BotProcess:
        config = write_config(
            tmp_path / f"wirebrief-{len(processes)}.toml",
            fake_discord,
            storage_path=tmp_path / "wirebrief.db",
            dev_guild_ids=[fake_guild.id] if dev_guild_ids is None else dev_guild_ids,
            extra=extra_config,
        )
        argv = [sys.executable, "-m", "bot", *(["--verbose"] if verbose else []), "run", "--config", str(config)]
        env = child_environment(fake_discord.token if token is None else token)
        process = await BotProcess.start(argv, env=env, cwd=tmp_path)
        processes.append(process)
        fake_discord.add_health_check(process.assert_running)  # a dead bot fails waits at once
        return process

    try:
        yield start
    finally:
        for process in processes:  # SIGTERM first: the bot then closes its parser pool itself
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await process.wait(STOP_TIMEOUT)
            await process.kill()


@pytest.fixture
def servers(fake_discord: FakeDiscord, fake_guild: FakeGuild) -> tuple[Server, Server]:
    """A (`fake_guild`) and B, each with #general, #news and #briefs, an admin (Manage Server)
    and a reader, made before the bot connects (so both are in its GUILD_CREATEs)."""
    fake_guild.add_channel("briefs")
    other = fake_discord.add_guild("Server B", channels=("general", "news", "briefs"))
    made = []
    for guild, name in ((fake_guild, "a"), (other, "b")):
        admin = fake_discord.add_user(f"admin-{name}")
        guild.add_member(admin, permissions=EVERYONE_PERMISSIONS | MANAGE_GUILD)
        reader = fake_discord.add_user(f"reader-{name}")
        guild.add_member(reader)
        made.append(Server(guild, admin, reader))
    return made[0], made[1]


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    """A feed server on 127.0.0.1 (tests that define their own `feeds` fixture use that one)."""
    async with FeedServer() as server:
        yield server
