"""/topics list, route and unroute: which channel of this server gets which topic."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.config import TopicSettings
from bot.core.limits import EMBED_TOTAL_LIMIT, FIELDS_LIMIT, safe
from bot.core.routing import ALL_TOPICS, Route
from cogs._admin import admin_only, check_can_post, guild_id_of, is_admin, reply

_BUDGET = EMBED_TOTAL_LIMIT - 300


def route_text(routes: list[Route]) -> str:
    """The channels a topic goes to (channel mentions never ping), or that it goes nowhere."""
    if not routes:
        return "Not routed in this server."
    shown = [f"<#{r.channel_id}>" + (f" (broken: {safe(r.broken_reason, 80)})" if r.broken_reason else "")
             for r in routes]  # fmt: skip
    return "Posted in " + ", ".join(shown)


def topic_field(name: str, topic: TopicSettings | None, routes: list[Route]) -> tuple[str, str]:
    """One embed field: the topic, its keywords and this server's routes for it."""
    if name == ALL_TOPICS:
        title, about = "* (every topic)", "Every story, whatever its topics."
    elif topic is None:
        title, about = safe(name, 100), "Not a configured topic any more."
    else:
        title = safe(name, 100)
        about = "Keywords: " + (safe(", ".join(topic.keywords), 300) if topic.keywords else "none (regex only)")
    return title, f"{about}\n{route_text(routes)}"[:1024]


def topics_embed(settings_topics: tuple[TopicSettings, ...], grouped: dict[str, list[Route]]) -> discord.Embed:
    """The embed of /topics list, within Discord's field and size limits."""
    embed = discord.Embed(title="Topics and this server's routes")
    configured = {t.name: t for t in settings_topics}
    names = [*grouped, *([ALL_TOPICS] if ALL_TOPICS not in grouped else [])]
    used, left_out = 0, 0
    for name in names:
        field = topic_field(name, configured.get(name), grouped.get(name, []))
        if len(embed.fields) >= FIELDS_LIMIT - 1 or used + len(field[0]) + len(field[1]) > _BUDGET:
            left_out += 1
            continue
        embed.add_field(name=field[0], value=field[1], inline=False)
        used += len(field[0]) + len(field[1])
    if left_out:
        embed.set_footer(text=f"{left_out} more not shown.")
    if not settings_topics:
        embed.description = "No topics are configured; route * to get every story."
    return embed


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Topics(commands.GroupCog, group_name="topics", group_description="Which channel gets which topic"):
    """/topics: route the configured topics to this server's channels."""

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot
        self.routes = bot.services.routes

    @app_commands.command(name="list", description="The topics, their keywords and where this server posts each")
    @admin_only
    async def list_topics(self, interaction: discord.Interaction[Any]) -> None:
        grouped = await self.routes.routes_by_topic(guild_id_of(interaction))
        await reply(interaction, embed=topics_embed(self.bot.settings.topics, grouped))

    @app_commands.command(name="route", description="Post stories of a topic in a channel")
    @app_commands.describe(topic="A topic, or * for every topic", channel="Where its stories go")
    @admin_only
    async def route(self, interaction: discord.Interaction[Any], topic: str, channel: discord.TextChannel) -> None:
        guild_id = guild_id_of(interaction)
        name = self.routes.check_topic(topic, allow_all=True)
        check_can_post(channel, interaction.user)
        if await self.routes.add_route(guild_id, name, channel.id):
            await reply(interaction, f"Stories about **{safe(name, 100)}** will be posted in {channel.mention}.")
        else:
            await reply(interaction, f"That route exists already: **{safe(name, 100)}** goes to {channel.mention}.")

    @app_commands.command(name="unroute", description="Stop posting stories of a topic in a channel")
    @app_commands.describe(topic="The routed topic", channel="The channel it goes to")
    @admin_only
    async def unroute(self, interaction: discord.Interaction[Any], topic: str, channel: discord.TextChannel) -> None:
        await self.routes.remove_route(guild_id_of(interaction), topic, channel.id)
        await reply(interaction, f"Stories about **{safe(topic.strip(), 100)}** no longer go to {channel.mention}.")

    @route.autocomplete("topic")
    @unroute.autocomplete("topic")
    async def topic_autocomplete(self, interaction: discord.Interaction[Any], current: str) -> list[
            app_commands.Choice[str]]:  # fmt: skip
        if not is_admin(interaction):
            return []
        return [app_commands.Choice(name=n, value=n) for n in self.routes.topic_choices(current, allow_all=True)]


async def setup(bot: WirebriefBot) -> None:
    await bot.add_cog(Topics(bot))
