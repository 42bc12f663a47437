"""/status: how the bot is doing, for the people who run a server's feeds.

A server that follows feeds of its own also gets a sparkline of their new entries per ingest cycle
over the last 24 hours (`bot.render.charts.sparkline`, drawn off the event loop), attached as
`status.png` and shown as the embed's image: its own entries only, like every figure here.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.render.charts import sparkline
from bot.services.status import ACTIVITY_SECONDS, ServerStatus
from cogs._admin import admin_only, guild_id_of, reply
from cogs.meta import format_uptime

SPARKLINE_FILE = "status.png"


def _when(stamp: float | None) -> str:
    return f"<t:{int(stamp)}:R>" if stamp else "never"


def activity_text(report: ServerStatus) -> str | None:
    """`57 in 412 ingest cycles, at most 12 in one`; None when the server follows no feed of its own."""
    if not sum(report.feeds.values()):
        return None
    if not report.cycles:
        return "no ingest cycle finished in the last 24 hours"
    total = sum(count for _, count in report.cycles)
    cycles = "1 ingest cycle" if len(report.cycles) == 1 else f"{len(report.cycles)} ingest cycles"
    return f"{total} in {cycles}, at most {max(count for _, count in report.cycles)} in one"


async def activity_chart(report: ServerStatus, now: float) -> discord.File | None:
    """The sparkline of the server's new entries per ingest cycle, as an attachment (None: no cycle)."""
    png = await asyncio.to_thread(sparkline, report.cycles, now - ACTIVITY_SECONDS, now) if report.cycles else None
    return discord.File(io.BytesIO(png), filename=SPARKLINE_FILE) if png else None


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
    activity = activity_text(report)
    if activity is not None:
        embed.add_field(name="New entries from your feeds, last 24 hours", value=activity, inline=False)
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
        now = time.time()
        embed = status_embed(report, now)
        chart = await activity_chart(report, now)
        if chart is not None:
            embed.set_image(url=f"attachment://{SPARKLINE_FILE}")
        await reply(interaction, embed=embed, file=chart)


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Status(bot))
