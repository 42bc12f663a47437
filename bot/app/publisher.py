"""The Discord publisher: cards and alerts through discord.py, errors mapped for the outbox."""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.app.embeds import card_embed, configured_color, page_url
from bot.app.mentions import NOBODY
from bot.app.recap_embeds import send_recap
from bot.app.views import ButtonStore, card_view, entity_timeline
from bot.config import Settings
from bot.core.cards import Card
from bot.core.limits import cut
from bot.core.recap import Recap
from bot.services.outbox import PublishError, PublishFailure

log = logging.getLogger(__name__)

_UNKNOWN_CHANNEL = 10003
_UNKNOWN_MESSAGE = 10008
_HISTORY_LIMIT = 50  # how far back reconciliation looks for a card posted before a crash


def _publish_error(exc: Exception, *, editing: bool = False) -> PublishError:
    if isinstance(exc, discord.Forbidden):
        return PublishError(f"403 Forbidden: {exc.text or 'missing access'}", failure=PublishFailure.FORBIDDEN)
    if isinstance(exc, discord.NotFound):
        failure = PublishFailure.UNKNOWN_MESSAGE if editing and exc.code == _UNKNOWN_MESSAGE else (
            PublishFailure.UNKNOWN_CHANNEL)  # fmt: skip
        return PublishError(f"404 Not Found: {exc.text or 'unknown'}", failure=failure)
    if isinstance(exc, discord.HTTPException):
        if 400 <= exc.status < 500 and exc.status != 429:
            return PublishError(f"{exc.status}: {exc.text}", failure=PublishFailure.REJECTED)
        return PublishError(f"HTTP {exc.status}: {exc.text}", failure=PublishFailure.RETRY)
    return PublishError(f"{type(exc).__name__}: {exc}", failure=PublishFailure.RETRY)


_RETRYABLE = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class DiscordPublisher:
    """Posts through the bot's REST client; needs no gateway cache (partial messageables)."""

    def __init__(self, client: discord.Client, store: ButtonStore, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    async def _embed(self, card: Card, channel_id: int) -> discord.Embed:
        """The card's embed with its topic colour and the main entity's latest dated events that the
        channel's server may see (a channel not in the cache: only what every server may see)."""
        guild = getattr(self.client.get_channel(channel_id), "guild", None)
        guild_id = guild.id if isinstance(guild, discord.Guild) else None
        timeline = await entity_timeline(self.store, card.main_entity, 6, guild_id) if card.main_entity else []
        return card_embed(card, color=configured_color(card, self.settings), timeline=timeline)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        try:
            message = await channel.send(
                embed=await self._embed(card, channel_id), view=card_view(card), nonce=nonce, allowed_mentions=NOBODY
            )
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None
        return message.id

    async def edit_card(self, channel_id: int, message_id: int, card: Card) -> None:
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await message.edit(embed=await self._embed(card, channel_id), view=card_view(card), allowed_mentions=NOBODY)
        except _RETRYABLE as exc:
            raise _publish_error(exc, editing=True) from None

    async def find_card(self, channel_id: int, card: Card) -> int | None:
        """A message of ours in the channel's recent history showing this card's story."""
        channel = self.client.get_partial_messageable(channel_id)
        me = self.client.user.id if self.client.user else None
        target = page_url(card.url)
        if target is None:
            return None  # a card without a link cannot be recognised; the nonce still guards a resend
        try:
            async for message in channel.history(limit=_HISTORY_LIMIT):
                if message.author.id == me and any(e.url == target for e in message.embeds):
                    return message.id
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None
        return None

    async def send_alert(self, guild_id: int, channel_id: int, text: str, *, nonce: str) -> int:
        """An admin alert: to `channel_id`, else the system channel, else the first writable one."""
        target = channel_id or self._alert_channel(guild_id)
        if not target:
            raise PublishError(f"no channel in server {guild_id} where I may write", failure=PublishFailure.REJECTED)
        try:
            message = await self.client.get_partial_messageable(target).send(
                cut(f"⚠️ {text}", 2000), nonce=nonce, allowed_mentions=NOBODY
            )
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None
        return message.id

    async def send_recap(self, channel_id: int, recap: Recap, *, nonce: str) -> int:
        """A scheduled weekly recap: one embed, mentioning nobody."""
        try:
            return await send_recap(self.client, channel_id, recap, nonce=nonce)
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None

    def _alert_channel(self, guild_id: int) -> int:
        guild = self.client.get_guild(guild_id)
        if guild is None:
            return 0
        me = guild.me
        if guild.system_channel is not None and guild.system_channel.permissions_for(me).send_messages:
            return guild.system_channel.id
        for channel in sorted(guild.text_channels, key=lambda c: c.position):
            if channel.permissions_for(me).send_messages:
                return channel.id
        return 0
