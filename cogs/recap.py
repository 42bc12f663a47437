"""/recap [topic] [weeks_ago] for everyone; /recap-schedule set, show and off for admins."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.app.paging import pager_or_none, show, within_deadline
from bot.app.recap_embeds import recap_embeds, schedule_text
from bot.core.recap import TIME_OF_DAY, WEEKDAYS
from bot.services.recap import RecapScheduler, zone_choices
from cogs._admin import admin_only, check_can_post, guild_id_of, is_admin, reply

Choices = list[app_commands.Choice[str]]
WEEKDAY_CHOICES = [app_commands.Choice(name=day.capitalize(), value=i) for i, day in enumerate(WEEKDAYS)]


class Recaps(commands.Cog):
    """The weekly recap, asked for or posted on a schedule."""

    schedule = app_commands.Group(
        name="recap-schedule",
        description="When this server gets its weekly recap",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot
        self.service = bot.services.recap
        self.topics = bot.services.routes

    @property
    def scheduler(self) -> RecapScheduler:
        return self.bot.services.recaps

    @app_commands.command(name="recap", description="The week's top stories per topic")
    @app_commands.guild_only()
    @app_commands.describe(topic="Only this topic", weeks_ago="0 for this week so far (default), 1 for last week, …")
    async def recap(
        self,
        interaction: discord.Interaction[Any],
        topic: str | None = None,
        weeks_ago: app_commands.Range[int, 0, 520] = 0,
    ) -> None:
        guild_id = guild_id_of(interaction)
        name = self.topics.check_topic(topic) if topic else None
        with self.bot.cooldowns.reading(interaction, "/recap"):
            recap = await within_deadline(interaction, self.service.weekly(guild_id, weeks_ago=weeks_ago, topic=name))
        pages = recap_embeds(recap)

        async def render(page: int) -> discord.Embed:
            return pages[page]

        view = pager_or_none(interaction.user.id, "/recap", len(pages), 0, render)
        if view is not None:
            view.attach(interaction)
        await show(interaction, embed=pages[0], view=view)

    @recap.autocomplete("topic")
    async def topic_choices(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        return [app_commands.Choice(name=n, value=n) for n in self.topics.topic_choices(current)]

    @schedule.command(name="set", description="Post the weekly recap in a channel on a day and at a local time")
    @app_commands.describe(
        channel="Where the recap goes",
        weekday="The day: Monday to Thursday recap the week before, Friday to Sunday their own week",
        at=TIME_OF_DAY,
        timezone="An IANA time zone such as Europe/Berlin; leave it out for the server's (/settings timezone)",
    )
    @app_commands.rename(at="time")
    @app_commands.choices(weekday=WEEKDAY_CHOICES)
    @admin_only
    async def set_schedule(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel,
        weekday: app_commands.Choice[int],
        at: str,
        timezone: str | None = None,
    ) -> None:
        guild_id = guild_id_of(interaction)
        check_can_post(channel, interaction.user)
        saved = await self.scheduler.set(guild_id, channel.id, weekday.value, at, timezone)
        await reply(interaction, schedule_text(saved, self.scheduler.next_post(saved)))

    @schedule.command(name="show", description="When and where this server gets its weekly recap")
    @admin_only
    async def show_schedule(self, interaction: discord.Interaction[Any]) -> None:
        current = await self.scheduler.get(guild_id_of(interaction))
        await reply(interaction, schedule_text(current, self.scheduler.next_post(current) if current else 0.0))

    @schedule.command(name="off", description="Stop posting the weekly recap in this server")
    @admin_only
    async def off(self, interaction: discord.Interaction[Any]) -> None:
        removed = await self.scheduler.off(guild_id_of(interaction))
        await reply(interaction, "The weekly recap is off in this server." if removed else
                    "This server had no weekly recap; nothing changed.")  # fmt: skip

    @set_schedule.autocomplete("timezone")
    async def timezone_choices(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        if not is_admin(interaction):
            return []
        return [app_commands.Choice(name=z, value=z) for z in zone_choices(current)]


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Recaps(bot))
