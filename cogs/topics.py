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
from bot.errors import UserError
from bot.services.topic_routes import NEVER_EVERYONE
from cogs._admin import admin_only, check_can_post, guild_id_of, is_admin, reply

_BUDGET = EMBED_TOTAL_LIMIT - 300
_TARGETS = "a text, announcement or forum channel, or a thread"

Target = discord.abc.GuildChannel | discord.Thread
"""What /topics route offers: any channel, so one that cannot take posts gets a sentence saying so."""


def route_text(routes: list[Route]) -> str:
    """The channels a topic goes to, with the role each mentions and whether it publishes (mentions in
    a reply that mentions nobody never ping), or that it goes nowhere."""
    if not routes:
        return "Not routed in this server."
    return "Posted in " + ", ".join(_route_shown(r) for r in routes)


def _route_shown(route: Route) -> str:
    notes = [f"mentions <@&{route.mention_role_id}>"] if route.mention_role_id else []
    notes += ["published"] if route.publish else []
    notes += [f"broken: {safe(route.broken_reason, 80)}"] if route.broken_reason else []
    return f"<#{route.channel_id}>" + (f" ({'; '.join(notes)})" if notes else "")


def check_target(channel: Target, caller: discord.abc.User | None, *, publish: bool) -> None:
    """UserError when stories cannot go to `channel` the way asked: a channel that takes no posts (voice,
    stage, category), a media channel, a forum that demands tags, a locked thread, publishing outside an
    announcement channel; then the permissions, the caller's and the bot's (`check_can_post`)."""
    where = channel.mention
    if isinstance(channel, discord.ForumChannel):
        if channel.type is discord.ChannelType.media:
            raise UserError(f"I cannot post cards in {where}: it is a media channel. Choose {_TARGETS}.")
        if channel.flags.require_tag:
            raise UserError(f"I cannot open posts in {where}: it requires a tag on each post, and I would not"
                            " know which. Turn that off in its settings, or choose another channel.")  # fmt: skip
    elif isinstance(channel, discord.Thread):
        if channel.locked and not channel.permissions_for(channel.guild.me).manage_threads:
            raise UserError(f"I cannot post in {where}: the thread is locked.")
    elif not isinstance(channel, discord.TextChannel):
        kind = str(channel.type).replace("_", " ")
        raise UserError(f"I cannot post in {where}: it is a {kind} channel. Choose {_TARGETS}.")
    if publish and not (isinstance(channel, discord.TextChannel) and channel.is_news()):
        raise UserError(f"Only an announcement channel publishes its posts, and {where} is not one;"
                        " leave publish out, or choose an announcement channel.")  # fmt: skip
    check_can_post(channel, caller)


def check_mention(role: discord.Role, channel: Target, caller: discord.abc.User | None) -> None:
    """UserError unless `role` is one the bot may ping in `channel` and the caller could ping there too
    (a role that is not mentionable needs Mention @everyone, @here and All Roles): a route never pings
    on behalf of someone who could not, and never @everyone."""
    if role.is_default():
        raise UserError(NEVER_EVERYONE)
    if isinstance(caller, discord.Member) and not _may_mention(role, channel, caller):
        raise UserError(f"You cannot mention {role.mention} in {channel.mention} yourself,"
                        " so I will not mention it for you.")  # fmt: skip
    if not _may_mention(role, channel, channel.guild.me):
        raise UserError(f"I cannot notify {role.mention} in {channel.mention}: the role is not mentionable and"
                        " I lack Mention @everyone, @here and All Roles there. Allow one, then retry.")  # fmt: skip


def _may_mention(role: discord.Role, channel: Target, member: discord.Member) -> bool:
    return role.mentionable or channel.permissions_for(member).mention_everyone


def routed_text(name: str, channel: Target, role: discord.Role | None, publish: bool) -> str:
    """The answer to a route set: where the topic's stories go, and how."""
    where = f"in the forum {channel.mention}, one post each" if isinstance(channel, discord.ForumChannel) else (
        f"in {channel.mention}")  # fmt: skip
    how = [f"mentioning {role.mention}"] if role is not None else []
    how += ["published to the channels following it"] if publish else []
    return f"Stories about **{safe(name, 100)}** will be posted {where}" + "".join(f", {h}" for h in how) + "."


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

    @app_commands.command(name="route", description="Post stories of a topic in a channel, a forum or a thread")
    @app_commands.describe(
        topic="A topic, or * for every topic",
        channel="Where its stories go: a text, announcement or forum channel (one post each), or a thread",
        mention="A role each new post mentions (no one by default; edits never mention)",
        publish="Announcement channels: publish each post to the channels following it",
    )
    @admin_only
    async def route(
        self, interaction: discord.Interaction[Any], topic: str, channel: Target, mention: discord.Role | None = None,
        publish: bool = False,
    ) -> None:  # fmt: skip
        guild_id = guild_id_of(interaction)
        name = self.routes.check_topic(topic, allow_all=True)
        check_target(channel, interaction.user, publish=publish)
        if mention is not None:
            check_mention(mention, channel, interaction.user)
        role = mention.id if mention is not None else None
        if await self.routes.add_route(guild_id, name, channel.id, mention_role_id=role, publish=publish):
            await reply(interaction, routed_text(name, channel, mention, publish))
        else:
            await reply(interaction, f"That route exists already: **{safe(name, 100)}** goes to {channel.mention}.")

    @app_commands.command(name="unroute", description="Stop posting stories of a topic in a channel")
    @app_commands.describe(topic="The routed topic", channel="The channel it goes to")
    @admin_only
    async def unroute(self, interaction: discord.Interaction[Any], topic: str, channel: Target) -> None:
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
