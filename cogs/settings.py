"""/settings alerts-channel: where this server hears about its feeds (disabled, moved);
/settings timezone: the server's time zone, for /recap's weeks and a new recap schedule."""

from __future__ import annotations

import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.services.recap import check_timezone, zone_choices
from cogs._admin import admin_only, check_can_post, guild_id_of, is_admin, reply


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
            check_can_post(channel, interaction.user)
        await self.bot.store.set_alerts_channel(guild_id, channel.id if channel else None, time.time())
        if channel is None:
            await reply(
                interaction,
                "Alerts channel cleared: alerts now go to the server's system channel,"
                " else the first channel I may write in.",
            )
        else:
            await reply(interaction, f"Feed alerts (a feed disabled or moved) will be posted in {channel.mention}.")

    @app_commands.command(name="timezone", description="This server's time zone, for /recap weeks; omit to clear")
    @app_commands.describe(timezone="An IANA time zone such as Europe/Berlin; leave it out to clear the setting")
    @admin_only
    async def timezone(self, interaction: discord.Interaction[Any], timezone: str | None = None) -> None:
        guild_id = guild_id_of(interaction)
        zone = check_timezone(timezone) if timezone and timezone.strip() else None
        await self.bot.store.set_guild_timezone(guild_id, zone, time.time())
        schedule = await self.bot.services.recaps.get(guild_id)
        if zone is None:
            fallback = f"the recap schedule's time zone ({schedule.timezone})" if schedule else "UTC"
            text = f"Time zone cleared: /recap now counts weeks in {fallback}."
        else:
            text = (f"This server's time zone is now {zone}: /recap counts weeks from Monday 00:00 there,"
                    " and /recap-schedule set uses it when no time zone is given.")  # fmt: skip
            if schedule is not None and schedule.timezone != zone:
                text += f" The weekly recap keeps its own time zone ({schedule.timezone}) until it is set again."
        await reply(interaction, text)

    @timezone.autocomplete("timezone")
    async def timezone_choices(self, interaction: discord.Interaction[Any], current: str) -> list[
            app_commands.Choice[str]]:  # fmt: skip
        if not is_admin(interaction):
            return []
        return [app_commands.Choice(name=z, value=z) for z in zone_choices(current)]


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(ServerSettings(bot))
