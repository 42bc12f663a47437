"""The feeds a server adds and manages from Discord.

No discord.py here: the cogs call these and only show the results. Every mistake a person can
fix comes out as one `UserError` sentence. A feed is added only after a fetch through the
SSRF-guarded fetcher (`trusted=False`) and a parse worked; its current entries are then stored
as seen, in the same way as the ingest loop's first poll, so subscribing never floods a channel
and the loop carries on from there. A server sees and manages only the feeds it follows (its
subscriptions: its own topic for each, paused or not), and may mute the operator's feeds for itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from bot.config import Settings
from bot.core.cards import Card
from bot.core.choices import rank
from bot.core.dedup import KnownIndex, decide
from bot.core.identity import entry_key, normalize_link
from bot.core.limits import safe
from bot.core.polls import PollRecord
from bot.core.schedule import next_poll_after_success
from bot.core.types import Feed, FeedOrigin, FetchResult, ParsedEntry, ParsedFeed
from bot.errors import BlockedAddressError, FetchError, ParseError, UserError
from bot.services.ingest import FeedFetcher, FeedParser
from bot.services.ports import FeedStore, PollStore
from bot.services.topic_routes import check_topic

MAX_URL_LENGTH = 2000
PRIVATE_ADDRESS = "That address points inside a private network; I can only fetch public feeds."
_DETAIL_LIMIT = 300


class CardPreviewer(Protocol):
    async def preview_card(self, source: str, entry: ParsedEntry, forced: tuple[str, ...] = ()) -> Card: ...


class Waker(Protocol):
    def wake(self) -> None: ...


class SubscriptionStore(FeedStore, PollStore, Protocol):
    """What subscribing reads and writes: the feeds, and the first poll stored as seen."""


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    feed: Feed
    title: str
    entry_count: int  # entries in the feed now, all stored as seen
    topic: str = ""  # this server's own topic for the feed's stories


def check_url(text: str) -> str:
    """The feed address, trimmed; UserError when it is not a plain absolute http(s) URL."""
    url = text.strip()
    if not url:
        raise UserError("Give me the address of a feed, starting with http:// or https://.")
    if len(url) > MAX_URL_LENGTH:
        raise UserError(f"That address is too long: at most {MAX_URL_LENGTH} characters, please.")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise UserError("That address contains spaces or control characters.")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UserError("Only http:// and https:// feed addresses work.")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError:
        raise UserError("That address has an invalid port.") from None
    if not host:
        raise UserError("That address has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UserError("Leave the user name and password out of the feed address.")
    return url


def _fetch_refusal(exc: FetchError) -> UserError:
    if isinstance(exc, BlockedAddressError):
        return UserError(PRIVATE_ADDRESS)
    return UserError(f"I could not fetch that feed: {_detail(exc)}.")


def _parse_refusal(exc: ParseError) -> UserError:
    return UserError(f"That is not a feed I can read: {_detail(exc).removeprefix('not a feed: ')}.")


def _detail(exc: Exception) -> str:
    return safe(str(exc).strip().rstrip("."), _DETAIL_LIMIT) or type(exc).__name__


def newest_entry(parsed: ParsedFeed) -> ParsedEntry | None:
    """The entry with the latest date; the first one when none has a date."""
    if not parsed.entries:
        return None
    dated = [e for e in parsed.entries if (e.published or e.updated) is not None]
    if not dated:
        return parsed.entries[0]
    return max(dated, key=lambda e: e.published or e.updated or 0.0)


class Subscriptions:
    """The feeds servers add from Discord; each server manages only its own."""

    def __init__(
        self,
        settings: Settings,
        store: SubscriptionStore,
        fetcher: FeedFetcher,
        parser: FeedParser,
        previewer: CardPreviewer,
        *,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.parser = parser
        self.previewer = previewer
        self.wake = wake or (lambda: None)
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 -- jitter, not security
        self._adding = asyncio.Lock()  # the duplicate check and the insert happen as one step

    # --- adding and testing -----------------------------------------------------------------

    async def subscribe(
        self,
        url: str,
        guild_id: int,
        topic: str | None = None,
        *,
        added_by: int | None = None,
        before_fetch: Callable[[], None] | None = None,
    ) -> SubscribeResult:
        """Fetch and parse `url` now, then subscribe the server to it with its entries stored as seen.
        `topic` is this server's own for the feed's stories (other followers have theirs).

        `before_fetch` runs once every check that needs no network has passed, just before the fetch
        (the cogs' cooldown: it raises UserError to refuse, so a mistyped address costs no cooldown).
        """
        url = check_url(url)
        own_topic = check_topic(self.settings, topic) if topic else ""
        await self._refuse_over_limit(guild_id)
        shared = await self._existing(guild_id, url)
        if shared is not None:  # another server follows it: this one follows it too, fetched once for all
            return await self._follow(guild_id, shared, own_topic, added_by)
        if before_fetch is not None:
            before_fetch()
        result, parsed = await self._fetch_and_parse(url)
        async with self._adding:
            await self._refuse_over_limit(guild_id)  # another add may have finished during the fetch
            shared = await self._existing(guild_id, url, result.url)
            if shared is not None:
                return await self._follow(guild_id, shared, own_topic, added_by)
            now = self.clock()
            feed = await self.store.add_feed(
                url, now=now, origin=FeedOrigin.DISCORD, guild_id=guild_id, topic=own_topic, added_by=added_by
            )
            await self.store.record_poll(feed.id, await self._first_poll(feed, result, parsed, now))
        self.wake()  # its entries are history to build now
        stored = await self.store.get_feed(feed.id)
        return SubscribeResult(stored or feed, parsed.title or url, len(parsed.entries), own_topic)

    async def test_feed(
        self, url: str, topic: str | None = None, *, before_fetch: Callable[[], None] | None = None
    ) -> Card:
        """The card the feed's newest entry would get; nothing is stored. `before_fetch` as in `subscribe`."""
        url = check_url(url)
        forced = (check_topic(self.settings, topic),) if topic else ()
        if before_fetch is not None:
            before_fetch()
        _result, parsed = await self._fetch_and_parse(url)
        entry = newest_entry(parsed)
        if entry is None:
            raise UserError("That feed has no entries yet, so there is nothing to preview.")
        source = parsed.title or urlsplit(url).hostname or url
        return await self.previewer.preview_card(source, entry, forced)

    async def _fetch_and_parse(self, url: str) -> tuple[FetchResult, ParsedFeed]:
        try:
            result = await self.fetcher.fetch(url, trusted=False)
        except FetchError as exc:
            raise _fetch_refusal(exc) from None
        if result.body is None:
            raise UserError("I could not fetch that feed: the server sent no body.")
        try:
            parsed = await self.parser.parse(result.body, url=result.url, content_type=result.content_type)
        except ParseError as exc:
            raise _parse_refusal(exc) from None
        return result, parsed

    async def _existing(self, guild_id: int, *urls: str) -> Feed | None:
        """The feed at one of `urls` that other servers follow (this one may follow it too), or None
        when there is none. UserError when this server follows it already, or when it is one of the
        operator's feeds (whose stories reach every server's routes anyway)."""
        wanted = {normalize_link(u) or u for u in urls}
        for feed in await self.store.list_feeds():
            if feed.url in urls or (normalize_link(feed.url) or feed.url) in wanted:
                if feed.origin is not FeedOrigin.DISCORD:
                    raise UserError(
                        "That feed is one of the bot's own (its operator set it up), so its stories reach"
                        " this server's routes already."
                    )
                if guild_id in await self.store.feed_followers(feed.id):
                    raise UserError(f"This server follows that feed already, as “{safe(feed.display_name, 200)}”.")
                return feed
        return None

    async def _follow(self, guild_id: int, feed: Feed, topic: str, added_by: int | None) -> SubscribeResult:
        """Follow a feed other servers follow: nothing is fetched or posted now (its items so far are
        history), only what it publishes from now on reaches this server."""
        await self.store.follow_feed(guild_id, feed.id, self.clock(), topic=topic, added_by=added_by)
        return SubscribeResult(feed, feed.title or feed.display_name, feed.entries_seen, topic)

    async def _refuse_over_limit(self, guild_id: int) -> None:
        """UserError when the server follows as many feeds as `limits.feeds_per_server` allows."""
        most = self.settings.limits.feeds_per_server
        count = len(await self.feeds_of(guild_id))
        if count >= most:
            raise UserError(
                f"This server follows {count} {'feed' if count == 1 else 'feeds'}, the most it may; "
                "remove one with /feeds remove first."
            )

    async def _first_poll(self, feed: Feed, result: FetchResult, parsed: ParsedFeed, now: float) -> PollRecord:
        """The poll record of the subscribing fetch: every entry new to the store is stored as seen."""
        polling = self.settings.polling
        keys = [entry_key(e) for e in parsed.entries]
        links = [link for e in parsed.entries if (link := normalize_link(e.link))]
        known = await self.store.known_entries(feed.id, keys, links)
        decision = decide(parsed.entries, KnownIndex.of(known), now=now, subscribed=False,
                          max_age_seconds=polling.max_age_hours * 3600)  # fmt: skip
        hints = (parsed.ttl_seconds, result.max_age_seconds, result.retry_after_seconds)
        return PollRecord(
            now=now,
            status=result.status,
            next_poll_at=next_poll_after_success(now, polling.interval_seconds, hints, self.rng),
            max_new=polling.max_new_per_poll,
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=hashlib.sha256(result.body or b"").hexdigest(),
            title=parsed.title,
            site_url=parsed.site_url,
            ttl_seconds=parsed.ttl_seconds,
            decision=decision,
        )

    # --- the server's feeds -----------------------------------------------------------------

    async def feeds_of(self, guild_id: int) -> list[Feed]:
        """The feeds this server follows, in the order it followed them (`paused`: paused here)."""
        return await self.store.guild_feeds(guild_id)

    async def feed_choices(self, guild_id: int, query: str) -> list[Feed]:
        """The server's feeds matching `query` by name or address, best matches first (≤ 25)."""
        feeds = await self.feeds_of(guild_id)
        return rank(query, ((f, _feed_texts(f)) for f in feeds))

    async def find(self, guild_id: int, value: str) -> Feed:
        """The server's feed named by `value`: its id (from autocomplete), exact address or name."""
        text = value.strip()
        feeds = await self.feeds_of(guild_id)
        found = next((f for f in feeds if str(f.id) == text), None)
        found = found or next((f for f in feeds if text.casefold() in {f.url.casefold(), f.display_name.casefold()}),
                              None)  # fmt: skip
        if found is None:
            raise UserError("This server has no such feed; pick one from the list as you type.")
        return found

    async def remove(self, guild_id: int, value: str) -> Feed:
        """This server stops following the feed; when no server follows it any more, it goes with its
        stored entries and the stories only it told."""
        feed = await self.find(guild_id, value)
        await self.store.unfollow_feed(guild_id, feed.id)
        return feed

    async def pause(self, guild_id: int, value: str) -> Feed:
        """Stop polling the server's feed until it is resumed."""
        feed = await self.find(guild_id, value)
        if feed.paused:
            raise UserError(f"“{safe(feed.display_name, 200)}” is paused already.")
        await self.store.set_follow_paused(guild_id, feed.id, True)
        return feed

    async def resume(self, guild_id: int, value: str) -> Feed:
        """Poll the server's feed again: a paused one from its schedule, a disabled one at once."""
        feed = await self.find(guild_id, value)
        if feed.disabled_at is not None:
            await self.store.enable_feed(feed.id, self.clock())
            await self.store.set_follow_paused(guild_id, feed.id, False)
        elif feed.paused:
            await self.store.set_follow_paused(guild_id, feed.id, False)
        else:
            raise UserError(f"“{safe(feed.display_name, 200)}” is not paused.")
        self.wake()
        return feed

    # --- the operator's feeds, muted or not in this server ----------------------------------------

    async def operator_feeds(self, guild_id: int) -> list[tuple[Feed, bool]]:
        """The operator's feeds being polled (config and OPML), each with whether this server muted it."""
        muted = set(await self.store.muted_feeds(guild_id))
        feeds = await self.store.list_feeds()
        return [(f, f.id in muted) for f in feeds if f.origin is not FeedOrigin.DISCORD and f.disabled_at is None]

    async def operator_feed_choices(self, guild_id: int, query: str, *, muted: bool) -> list[Feed]:
        """The operator's feeds this server has (`muted`) or has not muted, matching `query` (≤ 25)."""
        feeds = [f for f, is_muted in await self.operator_feeds(guild_id) if is_muted is muted]
        return rank(query, ((f, _feed_texts(f)) for f in feeds))

    async def _operator_feed(self, guild_id: int, value: str) -> tuple[Feed, bool]:
        text = value.strip()
        feeds = await self.operator_feeds(guild_id)
        found = next((f for f in feeds if str(f[0].id) == text), None) or next(
            (f for f in feeds if text.casefold() in {f[0].url.casefold(), f[0].display_name.casefold()}), None
        )
        if found is None:
            raise UserError("The bot has no such feed of its own; pick one from the list as you type.")
        return found

    async def mute(self, guild_id: int, value: str) -> Feed:
        """This server stops getting the stories only this operator feed tells (stories other feeds it
        gets tell too still come)."""
        feed, muted = await self._operator_feed(guild_id, value)
        if muted:
            raise UserError(f"“{safe(feed.display_name, 200)}” is muted here already.")
        await self.store.mute_feed(guild_id, feed.id, self.clock())
        return feed

    async def unmute(self, guild_id: int, value: str) -> Feed:
        """This server gets the operator feed's new stories again."""
        feed, muted = await self._operator_feed(guild_id, value)
        if not muted:
            raise UserError(f"“{safe(feed.display_name, 200)}” is not muted here.")
        await self.store.unmute_feed(guild_id, feed.id)
        return feed


def _feed_texts(feed: Feed) -> tuple[str, ...]:
    bare = feed.url.split("://", 1)[-1]
    return (feed.display_name, feed.url, bare, urlsplit(feed.url).hostname or "")
