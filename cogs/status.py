"""/status: how the bot is doing, for the people who run a server's feeds."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.services.status import StatusReport
from cogs._admin import admin_only, reply
from cogs.meta import format_uptime


def _when(stamp: float | None) -> str:
    return f"<t:{int(stamp)}:R>" if stamp else "never"


def status_embed(report: StatusReport, now: float) -> discord.Embed:
    """The facts of a StatusReport as an embed (green when healthy, red when not)."""
    colour = discord.Colour.green() if report.healthy else discord.Colour.red()
    embed = discord.Embed(title="Wirebrief status", colour=colour)
    feeds = report.feeds
    embed.add_field(
        name="Feeds",
        value=f"{feeds['ok']} ok · {feeds['backing_off']} backing off · {feeds['paused']} paused"
        f" · {feeds['disabled']} disabled",
        inline=False,
    )
    if report.last_cycle_at is not None:
        cycle = (f"{_when(report.last_cycle_at)}, {report.last_cycle_seconds or 0:.1f} s,"
                 f" {report.last_cycle_feeds} feeds, {report.last_cycle_new_entries} new entries,"
                 f" {report.last_cycle_errors} errors")  # fmt: skip
    else:
        cycle = "no feed polled yet"
    embed.add_field(name="Last ingest cycle", value=cycle, inline=False)
    oldest = f", oldest queued {_when(report.outbox_oldest_at)}" if report.outbox_oldest_at else ""
    embed.add_field(name="Outbox", value=f"{report.outbox_pending} waiting{oldest}", inline=False)
    if report.quarantined:
        stages = ", ".join(f"{stage} {n}" for stage, n in report.quarantined_by_stage.items())
        embed.add_field(
            name="Quarantined",
            value=f"{report.quarantined} items the bot gave up on after repeated errors ({stages});"
            " the bot's operator can list and retry them with `wirebrief quarantine`",
            inline=False,
        )
    if report.llm_token_budget is None:
        model = "offline summarizer (no model calls)"
    else:
        model = (f"{report.llm_backend}: {report.llm_calls_today} calls, {report.llm_tokens_today:,}"
                 f" of {report.llm_token_budget:,} tokens today (UTC)")  # fmt: skip
    embed.add_field(name="Model", value=model, inline=False)
    latency = f"{report.gateway_latency_ms:.0f} ms" if report.gateway_latency_ms is not None else "unknown"
    embed.add_field(name="Gateway", value=f"{'connected' if report.gateway_connected else 'DISCONNECTED'}, {latency}")
    embed.add_field(name="Uptime", value=format_uptime(report.uptime_seconds))
    embed.add_field(name="Version", value=report.version)
    if report.problems:
        embed.add_field(name="Problems", value="\n".join(f"• {p}" for p in report.problems)[:1024], inline=False)
    embed.timestamp = dt.datetime.fromtimestamp(now, dt.UTC)
    return embed


class Status(commands.Cog):
    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot

    @app_commands.command(name="status", description="How Wirebrief is doing: feeds, ingest, outbox, model use")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @admin_only
    async def status(self, interaction: discord.Interaction[Any]) -> None:
        report = await self.bot.status_report()
        await reply(interaction, embed=status_embed(report, time.time()))


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Status(bot))
