"""/status: how the bot is doing, for the people who run a server's feeds."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.services.status import ServerStatus
from cogs._admin import admin_only, guild_id_of, reply
from cogs.meta import format_uptime


def _when(stamp: float | None) -> str:
    return f"<t:{int(stamp)}:R>" if stamp else "never"


def status_embed(report: ServerStatus, now: float) -> discord.Embed:
    """This server's own figures as an embed (green when connected and nothing is broken)."""
    healthy = report.gateway_connected and not report.broken_routes and not report.feeds.get("disabled")
    colour = discord.Colour.green() if healthy else discord.Colour.red()
    embed = discord.Embed(title="Wirebrief status for this server", colour=colour)
    feeds = report.feeds
    if sum(feeds.values()):
        listed = (f"{feeds['ok']} ok · {feeds['backing_off']} backing off · {feeds['paused']} paused"
                  f" · {feeds['disabled']} disabled")  # fmt: skip
    else:
        listed = "none added here (the operator's feeds reach every server that routes their topics)"
    embed.add_field(name="Your feeds", value=listed, inline=False)
    broken = f" ({report.broken_routes} paused: I could not post there)" if report.broken_routes else ""
    embed.add_field(name="Routes", value=f"{report.routes}{broken}", inline=False)
    oldest = f", oldest queued {_when(report.outbox_oldest_at)}" if report.outbox_oldest_at else ""
    embed.add_field(name="Posts waiting", value=f"{report.outbox_pending}{oldest}", inline=False)
    if report.quarantined:
        embed.add_field(
            name="Quarantined",
            value=f"{report.quarantined} posts I gave up on after repeated errors; the bot's operator can"
            " see why and retry them with `wirebrief quarantine`",
            inline=False,
        )
    latency = f"{report.gateway_latency_ms:.0f} ms" if report.gateway_latency_ms is not None else "unknown"
    embed.add_field(name="Gateway", value=f"{'connected' if report.gateway_connected else 'DISCONNECTED'}, {latency}")
    embed.add_field(name="Uptime", value=format_uptime(report.uptime_seconds))
    embed.add_field(name="Version", value=report.version)
    embed.set_footer(text="Figures about the whole bot are on its health endpoint, for its operator.")
    embed.timestamp = dt.datetime.fromtimestamp(now, dt.UTC)
    return embed


class Status(commands.Cog):
    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="status", description="How Wirebrief is doing in this server: its feeds, routes and waiting posts"
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        report = await self.bot.server_status(guild_id_of(interaction))
        await reply(interaction, embed=status_embed(report, time.time()))


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Status(bot))
