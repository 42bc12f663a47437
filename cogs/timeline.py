"""/timeline entity [days] [topic]: an entity's dated stories, for everyone in the server."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.app.paging import within_deadline
from bot.app.timeline_embeds import TimelineAnswer, first_answer, present
from cogs._admin import guild_id_of

Choices = list[app_commands.Choice[str]]


class Timeline(commands.Cog):
    """/timeline: read-only, public answers that mention nobody."""

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot
        self.service = bot.services.timeline
        self.topics = bot.services.routes

    @app_commands.command(name="timeline", description="The dated stories about a company, person or product")
    @app_commands.guild_only()
    @app_commands.describe(
        entity="Who or what: start typing and pick a name",
        days="Only the last this many days (default: the whole history)",
        topic="Only stories of this topic",
        chart="Attach a picture of the stories on a date axis (default: yes)",
    )
    async def timeline(
        self,
        interaction: discord.Interaction[Any],
        entity: str,
        days: app_commands.Range[int, 0, 3650] | None = None,
        topic: str | None = None,
        chart: bool = True,
    ) -> None:
        guild_id = guild_id_of(interaction)
        owner = interaction.user.id

        async def build() -> TimelineAnswer:
            query = await self.service.open(guild_id, entity, days, topic)
            return await first_answer(owner, query, self.service.page, self.service.whole_history, chart=chart)

        with self.bot.cooldowns.reading(interaction, "/timeline"):  # a mistyped name costs no cooldown
            result = await within_deadline(interaction, build())
        await present(interaction, result)

    @timeline.autocomplete("entity")
    async def entity_choices(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        matches = await self.service.choices(current, interaction.guild_id)
        return [app_commands.Choice(name=m.label, value=m.canonical) for m in matches]

    @timeline.autocomplete("topic")
    async def topic_choices(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        return [app_commands.Choice(name=n, value=n) for n in self.topics.topic_choices(current)]


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Timeline(bot))
