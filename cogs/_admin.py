"""What every admin command shares: the run-time permission check, the server id, ephemeral replies.

Each admin cog is a GroupCog decorated with `@app_commands.guild_only()` and
`@app_commands.default_permissions(manage_guild=True)`; each of its commands also carries
`@admin_only`, so a server that opens the commands to everyone still needs Manage Server to run them.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.app.mentions import NOBODY
from bot.errors import UserError

admin_only = app_commands.checks.has_permissions(manage_guild=True)
"""The run-time check: a server that lets everyone see the command still needs Manage Server to run it."""


def guild_id_of(interaction: discord.Interaction[Any]) -> int:
    """The server the command ran in (the commands are guild-only, so this is a safeguard)."""
    if interaction.guild_id is None:
        raise UserError("This command works only inside a server.")
    return interaction.guild_id


def is_admin(interaction: discord.Interaction[Any]) -> bool:
    """Whether the member may manage the server (autocomplete shows nothing to anyone else)."""
    return interaction.guild_id is not None and interaction.permissions.manage_guild


async def reply(
    interaction: discord.Interaction[Any],
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
) -> None:
    """An ephemeral answer that mentions nobody: the first response, or a follow-up after a defer."""
    given = {"content": content, "embed": embed, "view": view, "file": file}
    extra: dict[str, Any] = {key: value for key, value in given.items() if value is not None}
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=True, allowed_mentions=NOBODY, **extra)
    else:
        await interaction.response.send_message(ephemeral=True, allowed_mentions=NOBODY, **extra)


def check_can_post(channel: discord.abc.GuildChannel | discord.Thread, caller: discord.abc.User | None = None) -> None:
    """UserError naming what is missing when the bot cannot post cards in `channel` — or when the
    member who asks could not see it and post there themselves: an admin command never sends the
    bot's posts where the person setting it up may not write (a private channel of other staff).
    Posting is Send Messages in a channel, Send Messages in Threads in a thread, Create Posts in a forum."""
    if isinstance(caller, discord.Member):
        theirs = channel.permissions_for(caller)
        lacking = [name for name, granted in (("View Channel", theirs.view_channel),
                                              _posting_permission(channel, theirs)) if not granted]  # fmt: skip
        if lacking:
            raise UserError(f"You cannot use {channel.mention} yourself (you need {', '.join(lacking)} there),"
                            " so I will not post there for you.")  # fmt: skip
    me = channel.guild.me
    perms = channel.permissions_for(me)
    needed = dict((("View Channel", perms.view_channel), _posting_permission(channel, perms),
                   ("Embed Links", perms.embed_links)))  # fmt: skip
    missing = [name for name, granted in needed.items() if not granted]
    if missing:
        raise UserError(f"I cannot post in {channel.mention}: I need {', '.join(missing)} there.")


def _posting_permission(channel: object, perms: discord.Permissions) -> tuple[str, bool]:
    """The permission that lets a member post in `channel`, by its name in Discord's settings."""
    if isinstance(channel, discord.Thread):
        return "Send Messages in Threads", perms.send_messages_in_threads
    if isinstance(channel, discord.ForumChannel):
        return "Create Posts", perms.send_messages  # the same permission, named for forums
    return "Send Messages", perms.send_messages
