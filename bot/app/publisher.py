"""The Discord publisher: cards and alerts through discord.py, errors mapped for the outbox.

A card goes to a text or announcement channel or a thread as a message, and to a forum channel as
a forum post (a thread titled with the headline, the card its first message). Discord keeps no nonce
for a forum post, so `find_post` finds one by what it is: the bot's own thread in that forum, opened
since the delivery was queued, not recorded by another delivery, whose first message carries the
story's buttons (their custom ids name the story).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord

from bot.app.embeds import card_embed, configured_color, page_url
from bot.app.mentions import NOBODY, only_roles, role_pings
from bot.app.recap_embeds import send_recap
from bot.app.views import ButtonStore, card_view, entity_timeline
from bot.config import Settings
from bot.core.cards import Card
from bot.core.limits import cut
from bot.core.recap import Recap
from bot.services.outbox import ChannelKind, Posted, PublishError, PublishFailure

log = logging.getLogger(__name__)

_UNKNOWN_CHANNEL = 10003
_UNKNOWN_MESSAGE = 10008
_HISTORY_LIMIT = 50  # how far back reconciliation looks for a card posted before a crash
_ARCHIVED_LIMIT = 50  # archived forum posts looked at when the post is not among the active ones
FORUM_TITLE_LIMIT = 100  # Discord's limit on a thread's name
# Discord lets a channel publish 10 posts an hour and answers the 11th with a long 429, which discord.py
# would sit out: a publish that waits this long has failed (the post itself is out)
_PUBLISH_TIMEOUT = 15.0
_ONE_REQUEST = aiohttp.ClientTimeout(total=30.0)


def forum_title(headline: str) -> str:
    """A forum post's title: the headline on one line within Discord's 100 characters, never empty."""
    return cut(" ".join(headline.split()), FORUM_TITLE_LIMIT) or "News"


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
        self._kinds: dict[int, ChannelKind] = {}  # channels not in the gateway's cache, fetched once

    async def _embed(self, card: Card, channel_id: int) -> discord.Embed:
        """The card's embed with its topic colour and the main entity's latest dated events that the
        channel's server may see (a channel not in the cache: only what every server may see)."""
        guild = getattr(self.client.get_channel(channel_id), "guild", None)
        guild_id = guild.id if isinstance(guild, discord.Guild) else None
        timeline = await entity_timeline(self.store, card.main_entity, 6, guild_id) if card.main_entity else []
        return card_embed(card, color=configured_color(card, self.settings), timeline=timeline)

    async def channel_kind(self, channel_id: int) -> ChannelKind:
        """Forum, announcement channel, or anything else that takes messages (a text channel, a thread).
        A channel Discord will not show is taken for a text channel: posting there fails as it should."""
        channel = self.client.get_channel(channel_id)
        if channel is None:
            if channel_id in self._kinds:
                return self._kinds[channel_id]
            try:
                channel = await self.client.fetch_channel(channel_id)
            except (discord.NotFound, discord.Forbidden):
                return ChannelKind.MESSAGES
            except _RETRYABLE as exc:
                raise _publish_error(exc) from None
            self._kinds[channel_id] = _kind_of(channel)
        return _kind_of(channel)

    async def send_card(self, channel_id: int, card: Card, *, nonce: str, roles: Sequence[int] = ()) -> int:
        channel = self.client.get_partial_messageable(channel_id)
        try:
            message = await channel.send(
                role_pings(roles), embed=await self._embed(card, channel_id), view=card_view(card), nonce=nonce,
                allowed_mentions=only_roles(roles),
            )  # fmt: skip
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None
        return message.id

    async def start_post(self, forum_id: int, card: Card, *, roles: Sequence[int] = ()) -> Posted:
        """Open a forum post titled with the headline, the card (and the route's role pings) inside.

        The body is the one `ForumChannel.create_thread` sends, but the request is made once: discord.py
        repeats a request Discord answered with a 5xx, and Discord keeps no nonce for a forum post, so a
        repeat after a post that did land would open a second one. The outbox's retry looks first."""
        pings = role_pings(roles)
        with discord.http.handle_message_parameters(
            content=pings if pings else discord.utils.MISSING, embed=await self._embed(card, forum_id),
            view=card_view(card), allowed_mentions=only_roles(roles), previous_allowed_mentions=NOBODY,
            channel_payload={"name": forum_title(card.headline)},
        ) as params:  # fmt: skip
            data = await self._request_once("POST", "/channels/{channel_id}/threads", params.payload, forum_id)
        return Posted(int(data["message"]["id"]), int(data["id"]))

    async def _request_once(self, method: str, path: str, payload: object, channel_id: int) -> dict[str, Any]:
        """One request to Discord's REST API with the bot's token, never repeated (see `start_post`); a 429
        (nothing was done) is a retry like any other."""
        route = discord.http.Route(method, path, channel_id=channel_id)
        headers = {"Authorization": f"Bot {self.client.http.token}", "User-Agent": self.client.http.user_agent}
        try:
            async with (
                aiohttp.ClientSession(timeout=_ONE_REQUEST) as session,
                session.request(method, route.url, json=payload, headers=headers) as response,
            ):
                data = _json_or_text(await response.text())
                if 200 <= response.status < 300 and isinstance(data, dict):
                    return data
                raise _http_exception(response, data)
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None

    async def find_post(self, forum_id: int, card: Card, *, since: float, known: Collection[int]) -> Posted | None:
        """The bot's forum post showing `card`'s story, opened at `since` or later, not among `known`:
        the forum's active posts first, then its most recently archived ones."""
        forum = await self._forum(forum_id)
        first = discord.utils.time_snowflake(datetime.fromtimestamp(since, UTC))
        markers = _story_markers(card)
        try:
            active = [t for t in await forum.guild.active_threads() if t.parent_id == forum_id]
            found = await self._post_among(active, first, known, markers)
            if found is None:
                archived = [t async for t in forum.archived_threads(limit=_ARCHIVED_LIMIT)]
                found = await self._post_among(archived, first, known, markers)
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None
        return found

    async def _post_among(
        self, threads: Iterable[discord.Thread], first: int, known: Collection[int], markers: set[str]
    ) -> Posted | None:
        me = self.client.user.id if self.client.user else None
        for thread in sorted(threads, key=lambda t: t.id, reverse=True):
            if thread.owner_id != me or thread.id < first or thread.id in known:
                continue
            try:
                starter = await thread.fetch_message(thread.id)  # a forum post's first message has its id
            except discord.NotFound:
                continue  # deleted by a moderator: not a post of ours any more
            if starter.author.id == me and markers & _custom_ids(starter):
                return Posted(starter.id, thread.id)
        return None

    async def _forum(self, forum_id: int) -> discord.ForumChannel:
        channel = self.client.get_channel(forum_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(forum_id)
            except _RETRYABLE as exc:
                raise _publish_error(exc) from None
        if not isinstance(channel, discord.ForumChannel):
            raise PublishError(f"channel {forum_id} is no longer a forum", failure=PublishFailure.RETRY)
        return channel

    async def publish(self, channel_id: int, message_id: int) -> None:
        """Publish a message of an announcement channel to the channels that follow it."""
        message = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
        try:
            await asyncio.wait_for(message.publish(), _PUBLISH_TIMEOUT)
        except TimeoutError:
            raise PublishError("Discord held the publish back (a channel may publish 10 posts an hour)",
                               failure=PublishFailure.RETRY) from None  # fmt: skip
        except _RETRYABLE as exc:
            raise _publish_error(exc) from None

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


def _kind_of(channel: object) -> ChannelKind:
    if isinstance(channel, discord.ForumChannel):
        return ChannelKind.FORUM
    if isinstance(channel, discord.TextChannel) and channel.is_news():
        return ChannelKind.ANNOUNCEMENT
    return ChannelKind.MESSAGES


def _story_markers(card: Card) -> set[str]:
    """The custom ids of the card's own buttons: they name its story (and only it)."""
    return {cid for item in card_view(card).children if (cid := getattr(item, "custom_id", None))}


def _custom_ids(message: discord.Message) -> set[str]:
    """The custom ids of the buttons under a message."""
    found: set[str] = set()
    for row in message.components:
        for item in getattr(row, "children", [row]):
            if cid := getattr(item, "custom_id", None):
                found.add(str(cid))
    return found


def _json_or_text(text: str) -> object:
    """An answer's JSON, or its text when it is none (a proxy's error page)."""
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text


def _http_exception(response: aiohttp.ClientResponse, data: object) -> discord.HTTPException:
    """discord.py's exception for an error answer, as its own client would raise it."""
    kind = {403: discord.Forbidden, 404: discord.NotFound}.get(response.status)
    if kind is None:
        kind = discord.DiscordServerError if response.status >= 500 else discord.HTTPException
    return kind(response, data if isinstance(data, dict | str) else "")
