"""The /feeds commands: thin wrappers around `bot.services.subscriptions`."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.app.bot import WirebriefBot
from bot.app.embeds import card_embed, link_url
from bot.app.markdown import shown
from bot.app.paging import pager_or_none
from bot.services.subscriptions import MAX_IMPORT_BYTES, Discovery, SubscribeResult
from cogs._admin import admin_only, guild_id_of, is_admin, reply
from cogs.feeds._listing import page_embeds
from cogs.feeds._opml import EXPORTED, check_size, download, export_file, import_embed

Choices = list[app_commands.Choice[str]]


def added_message(result: SubscribeResult, routed: bool) -> str:
    """The answer to /feeds add."""
    count = result.entry_count
    entries = f"{count} {'entry' if count == 1 else 'entries'}"
    text = (f"Added **{shown(result.title, 200)}**: {entries} stored as seen — new items will be posted "
            "from now on.")  # fmt: skip
    if result.discovery is not None:
        text += " " + found_on_page(result.discovery)
    if result.topic:
        text += f" Here its stories count as {shown(result.topic, 100)} stories too."
    if not routed:
        text += " No topic goes to a channel here yet: set one with /topics route."
    return text


def found_on_page(discovery: Discovery) -> str:
    """Which feed of the page given was followed, and how many others the page links to."""
    found = discovery.feed
    kind = found.kind if found.kind.endswith("Feed") else f"{found.kind} feed"  # "JSON Feed", "RSS feed"
    title = f" “{shown(found.title, 100)}”" if found.title else ""
    address = link_url(found.url)
    where = f"<{address}>" if address else shown(found.url, 300)
    text = f"That address is a web page; I followed the {kind}{title} it links to, {where}"
    if discovery.others:
        others = f"{discovery.others} other {'feed' if discovery.others == 1 else 'feeds'}"
        text += f" (it links to {others} too; I take RSS first, then Atom, then JSON Feed)"
    return text + "."


def choice_label(name: str, url: str) -> str:
    """An autocomplete label within Discord's 100 characters: the feed's name, then its address."""
    label = name if name == url else f"{name} — {url}"
    return label if len(label) <= 100 else label[:99] + "…"


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class Feeds(commands.GroupCog, group_name="feeds", group_description="The feeds this server follows"):
    """/feeds: the server's own feeds."""

    def __init__(self, bot: WirebriefBot) -> None:
        self.bot = bot
        self.subs = bot.services.subscriptions
        self.routes = bot.services.routes

    @app_commands.command(name="add", description="Follow a feed; what it has now is stored as seen, not posted")
    @app_commands.describe(url="The feed's address (RSS, Atom or JSON Feed), or a web page that links to its feed",
                           topic="A topic its stories count as in this server")  # fmt: skip
    @admin_only
    async def add(self, interaction: discord.Interaction[Any], url: str, topic: str | None = None) -> None:
        guild_id = guild_id_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)  # the fetch may take a while
        result = await self.subs.subscribe(
            url, guild_id, topic, added_by=interaction.user.id,
            before_fetch=lambda: self.bot.cooldowns.check_fetch(interaction, "/feeds add"),
        )  # fmt: skip
        routed = bool(await self.bot.store.list_routes(guild_id))
        await reply(interaction, added_message(result, routed))

    @app_commands.command(name="test", description="Show the card the newest entry of a feed would get; stores nothing")
    @app_commands.describe(url="The feed's address", topic="A topic every story would get")
    @admin_only
    async def test(self, interaction: discord.Interaction[Any], url: str, topic: str | None = None) -> None:
        guild_id_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        card = await self.subs.test_feed(
            url, topic, before_fetch=lambda: self.bot.cooldowns.check_fetch(interaction, "/feeds test")
        )
        await reply(interaction, "The newest entry would get this card (nothing was stored):", embed=card_embed(card))

    @app_commands.command(name="list", description="The feeds this server follows and how each is doing")
    @admin_only
    async def list_feeds(self, interaction: discord.Interaction[Any]) -> None:
        guild_id = guild_id_of(interaction)
        feeds = await self.subs.feeds_of(guild_id)
        muted = [f.display_name for f, is_muted in await self.subs.operator_feeds(guild_id) if is_muted]
        if not feeds and not muted:
            await reply(interaction, "This server follows no feeds yet; add one with /feeds add.")
            return
        none = "This server follows no feeds of its own; add one with /feeds add."
        pages = page_embeds(feeds) if feeds else [discord.Embed(title="Feeds of this server", description=none)]
        if muted:
            pages[0].add_field(name="The bot's feeds muted here (/feeds unmute)",
                               value=shown(", ".join(muted), 1000), inline=False)  # fmt: skip

        async def page(number: int) -> discord.Embed:
            return pages[number]

        pager = pager_or_none(interaction.user.id, "/feeds list", len(pages), 0, page)
        if pager is None:
            await reply(interaction, embed=pages[0])
            return
        await reply(interaction, embed=pages[0], view=pager)
        pager.attach(interaction)

    @app_commands.command(
        name="import", description="Follow every feed of an OPML file; what they have now is stored as seen"
    )
    @app_commands.describe(
        file=f"An OPML file (at most {MAX_IMPORT_BYTES // 1024} KB), from a feed reader or /feeds export"
    )
    @admin_only
    async def import_feeds(self, interaction: discord.Interaction[Any], file: discord.Attachment) -> None:
        guild_id = guild_id_of(interaction)
        check_size(file)  # refused before anything is downloaded
        await interaction.response.defer(ephemeral=True, thinking=True)  # each new feed is fetched
        summary = await self.subs.import_opml(
            guild_id, await download(file), added_by=interaction.user.id,
            before_fetch=lambda: self.bot.cooldowns.check_fetch(interaction, "/feeds import"),
        )  # fmt: skip
        routed = bool(await self.bot.store.list_routes(guild_id))
        await reply(interaction, embed=import_embed(summary, file.filename, routed))

    @app_commands.command(name="export", description="This server's own feeds as an OPML file")
    @admin_only
    async def export_feeds(self, interaction: discord.Interaction[Any]) -> None:
        document = await self.subs.export_opml(guild_id_of(interaction))
        await reply(interaction, EXPORTED, file=export_file(document))

    @app_commands.command(name="remove", description="Stop following a feed here (it goes once no server follows it)")
    @app_commands.describe(feed="The feed (type to search by name or address)")
    @admin_only
    async def remove(self, interaction: discord.Interaction[Any], feed: str) -> None:
        gone = await self.subs.remove(guild_id_of(interaction), feed)
        await reply(interaction, f"Removed **{shown(gone.display_name, 200)}**; nothing more comes from it.")

    @app_commands.command(name="pause", description="Stop getting a feed's stories here until it is resumed")
    @app_commands.describe(feed="The feed (type to search by name or address)")
    @admin_only
    async def pause(self, interaction: discord.Interaction[Any], feed: str) -> None:
        paused = await self.subs.pause(guild_id_of(interaction), feed)
        await reply(interaction, f"Paused **{shown(paused.display_name, 200)}**; /feeds resume starts it again.")

    @app_commands.command(name="resume", description="Poll a paused or disabled feed again")
    @app_commands.describe(feed="The feed (type to search by name or address)")
    @admin_only
    async def resume(self, interaction: discord.Interaction[Any], feed: str) -> None:
        resumed = await self.subs.resume(guild_id_of(interaction), feed)
        await reply(interaction, f"Resumed **{shown(resumed.display_name, 200)}**; it is polled again.")

    @app_commands.command(name="mute", description="Stop getting the stories of one of the bot's own feeds here")
    @app_commands.describe(feed="The bot's feed (type to search by name or address)")
    @admin_only
    async def mute(self, interaction: discord.Interaction[Any], feed: str) -> None:
        muted = await self.subs.mute(guild_id_of(interaction), feed)
        name = shown(muted.display_name, 200)
        await reply(interaction, f"Muted **{name}** here: its stories no longer come to this server (a story"
                                 " other feeds tell too still does); /feeds unmute undoes it.")  # fmt: skip

    @app_commands.command(name="unmute", description="Get the stories of a muted bot feed here again")
    @app_commands.describe(feed="The muted feed (type to search by name or address)")
    @admin_only
    async def unmute(self, interaction: discord.Interaction[Any], feed: str) -> None:
        unmuted = await self.subs.unmute(guild_id_of(interaction), feed)
        await reply(interaction, f"Unmuted **{shown(unmuted.display_name, 200)}**; its new stories come here again.")

    @mute.autocomplete("feed")
    async def mute_autocomplete(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        return await self._operator_choices(interaction, current, muted=False)

    @unmute.autocomplete("feed")
    async def unmute_autocomplete(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        return await self._operator_choices(interaction, current, muted=True)

    async def _operator_choices(self, interaction: discord.Interaction[Any], current: str, *, muted: bool) -> Choices:
        if not is_admin(interaction) or interaction.guild_id is None:
            return []
        found = await self.subs.operator_feed_choices(interaction.guild_id, current, muted=muted)
        return [app_commands.Choice(name=choice_label(f.display_name, f.url), value=str(f.id)) for f in found]

    @add.autocomplete("topic")
    @test.autocomplete("topic")
    async def topic_autocomplete(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        if not is_admin(interaction):
            return []
        return [app_commands.Choice(name=n, value=n) for n in self.routes.topic_choices(current)]

    @remove.autocomplete("feed")
    @pause.autocomplete("feed")
    @resume.autocomplete("feed")
    async def feed_autocomplete(self, interaction: discord.Interaction[Any], current: str) -> Choices:
        if not is_admin(interaction) or interaction.guild_id is None:
            return []
        found = await self.subs.feed_choices(interaction.guild_id, current)
        return [app_commands.Choice(name=choice_label(f.display_name, f.url), value=str(f.id)) for f in found]
