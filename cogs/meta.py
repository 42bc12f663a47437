"""/about: what this bot is, its version and uptime."""

from __future__ import annotations

import time

import discord
from discord import app_commands
from discord.ext import commands

from bot import PROJECT_URL
from bot.app.bot import WirebriefBot
from bot.app.mentions import NOBODY


def format_uptime(seconds: float) -> str:
    """`3d 4h 5m` style, coarse on purpose."""
    minutes = int(seconds // 60)
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if days or hours:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


class Meta(commands.Cog):
    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot

    @app_commands.command(name="about", description="What Wirebrief is, its version and uptime")
    async def about(self, interaction: discord.Interaction) -> None:
        uptime = format_uptime(time.time() - self.bot.started_at)
        await interaction.response.send_message(
            f"**Wirebrief** {self.bot.version} — news feeds turned into story briefings.\n"
            f"Up {uptime}. Source and docs: <{PROJECT_URL}>",
            ephemeral=True,
            allowed_mentions=NOBODY,
        )


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Meta(bot))
