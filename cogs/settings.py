"""/settings alerts-channel: where this server hears about its feeds (disabled, moved)."""

from __future__ import annotations

import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from cogs._admin import admin_only, check_can_post, guild_id_of, reply


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ServerSettings(commands.GroupCog, group_name="settings", group_description="This server's Wirebrief settings"):
    """/settings: this server's own settings."""

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot

    @app_commands.command(name="alerts-channel", description="Where to tell this server about its feeds; omit to clear")
    @app_commands.describe(channel="The channel for alerts; leave it out to clear the setting")
    @admin_only
    async def alerts_channel(
        self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = guild_id_of(interaction)
        if channel is not None:
            check_can_post(channel)
        await self.bot.store.set_alerts_channel(guild_id, channel.id if channel else None, time.time())
        if channel is None:
            await reply(
                interaction,
                "Alerts channel cleared: alerts now go to the server's system channel,"
                " else the first channel I may write in.",
            )
        else:
            await reply(interaction, f"Feed alerts (a feed disabled or moved) will be posted in {channel.mention}.")


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(ServerSettings(bot))
