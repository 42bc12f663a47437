"""The commands' cooldowns: one server's feed fetches, one member's public reads.

Built once, with the bot (`WirebriefBot.cooldowns`), so every cog shares the same memory and a
cog reloaded does not start afresh. A refusal is a `UserError`, which the tree's error handler
shows as one ephemeral sentence; a refused command records nothing, so asking again too early
never lengthens the wait. What counts: a fetch that was started (`check_fetch` is the fetch's
gate, passed to the subscription service), a public read that was answered (`reading`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import discord

from bot.config import LimitsSettings
from bot.core.quota import MAX_KEYS, Cooldowns
from bot.errors import UserError


def command_name(interaction: discord.Interaction[Any], default: str) -> str:
    """The command as a person types it (`/feeds test`), or `default` when the interaction has none."""
    command = interaction.command
    return f"/{command.qualified_name}" if command is not None else default


def when(stamp: float) -> str:
    """A Discord relative timestamp (`in 12 seconds`), never before `stamp`."""
    return f"<t:{math.ceil(stamp)}:R>"


class CommandCooldowns:
    """Per server: the commands that fetch (/feeds add, /feeds test). Per member: the public reads
    (/timeline, /recap)."""

    def __init__(
        self,
        limits: LimitsSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.fetches = Cooldowns(limits.fetch_cooldown_seconds, max_keys=max_keys)
        self.reads = Cooldowns(limits.read_cooldown_seconds, max_keys=max_keys)
        self._clock = clock  # what the cooldowns count with: monotonic, so a clock change cannot lengthen one
        self._wall_clock = wall_clock  # what Discord's timestamps are in

    def check_fetch(self, interaction: discord.Interaction[Any], command: str = "/feeds add") -> None:
        """Record a fetch for the interaction's server; UserError (recording nothing) when it must wait."""
        name = command_name(interaction, command)
        key = interaction.guild_id if interaction.guild_id is not None else ("user", interaction.user.id)
        left = self.fetches.try_acquire(key, self._clock())
        if left is not None:
            raise UserError(
                f"Please wait — this server fetched a feed moments ago; you can run {name} again "
                f"{when(self._wall_clock() + left)}."
            )

    def check_read(self, interaction: discord.Interaction[Any], command: str = "/timeline") -> float:
        """Record a public read for the member (returns when, for `reads.release`); UserError
        (recording nothing) when they must wait."""
        name = command_name(interaction, command)
        now = self._clock()
        left = self.reads.try_acquire(interaction.user.id, now)
        if left is not None:
            raise UserError(f"Please wait — you can run {name} again {when(self._wall_clock() + left)}.")
        return now

    @contextmanager
    def reading(self, interaction: discord.Interaction[Any], command: str = "/timeline") -> Iterator[None]:
        """A public read under the member's cooldown. A read the command refuses (a UserError: an
        unknown name, a bad topic) posts nothing in the channel, so it does not count."""
        at = self.check_read(interaction, command)
        try:
            yield
        except UserError:
            self.reads.release(interaction.user.id, at)
            raise
