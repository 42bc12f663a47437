"""The command tree with the one error handler for every slash command, and the hash of what a sync sends."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import discord
from discord import app_commands

from bot.app.mentions import NOBODY
from bot.errors import UserError

log = logging.getLogger(__name__)


_CHECK_MESSAGES: dict[type[app_commands.AppCommandError], str] = {
    app_commands.MissingPermissions: "You need the Manage Server permission for this.",
    app_commands.NoPrivateMessage: "This command works only inside a server.",
    app_commands.BotMissingPermissions: "I am missing a permission I need here: {missing}.",
    app_commands.CommandOnCooldown: "Slow down a little: try again in {retry:.0f} s.",
}


def describe_error(error: app_commands.AppCommandError) -> tuple[str, bool]:
    """The sentence the user sees for `error`, and whether it is unexpected (log the trace)."""
    original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(original, UserError):
        return str(original), False
    if isinstance(error, app_commands.TransformerError):
        return f"I could not understand {error.value!r} as a {error.type.name.lower()}.", False
    for kind, template in _CHECK_MESSAGES.items():
        if isinstance(error, kind):
            missing = ", ".join(getattr(error, "missing_permissions", []))
            retry = getattr(error, "retry_after", 0.0)
            return template.format(missing=missing, retry=retry), False
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here.", False
    return "Sorry, something went wrong on my side. The error is logged.", True


class WirebriefTree(app_commands.CommandTree[discord.Client]):
    """Turns every command error into one short ephemeral reply; logs the unexpected ones."""

    async def on_error(
        self, interaction: discord.Interaction[discord.Client], error: app_commands.AppCommandError
    ) -> None:
        message, unexpected = describe_error(error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if unexpected:
            log.error("/%s failed", command, exc_info=error)
        else:
            log.info("/%s refused: %s", command, message)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True, allowed_mentions=NOBODY)
            else:
                await interaction.response.send_message(message, ephemeral=True, allowed_mentions=NOBODY)
        except discord.HTTPException:
            log.warning("could not tell the user about the error in /%s", command)


def tree_hash(tree: app_commands.CommandTree[Any], application_id: int, guild_ids: Sequence[int] = ()) -> str:
    """A stable hash of what syncing `tree` sends: each command's JSON as discord.py builds it for the
    sync (`to_dict`), for each place it goes (globally, or each of `guild_ids` after `copy_global_to`),
    to which application. Equal hashes: Discord already has these commands, no sync is needed.

    Canonical JSON (keys sorted, commands by type and name), so the hash does not depend on the order
    the cogs were loaded in or on the process (no Python hash of a set or dict order in it)."""
    targets: list[discord.Object | None] = [discord.Object(id=g) for g in sorted(guild_ids)] or [None]
    document = {
        "application_id": str(application_id),
        "commands": {
            "global" if target is None else str(target.id): sorted(
                (command.to_dict(tree) for command in tree.get_commands(guild=target)),
                key=lambda payload: (payload.get("type", 1), payload["name"]),
            )
            for target in targets
        },
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
