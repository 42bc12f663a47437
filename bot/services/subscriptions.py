"""The feeds a server adds and manages from Discord.

No discord.py here: the cogs call these and only show the results. Every mistake a person can
fix comes out as one `UserError` sentence. A feed is added only after a fetch through the
SSRF-guarded fetcher (`trusted=False`) and a parse worked; its current entries are then stored
as seen, in the same way as the ingest loop's first poll, so subscribing never floods a channel
and the loop carries on from there. A server sees and manages only the feeds it follows (its
subscriptions: its own topic for each, paused or not), and may mute the operator's feeds for itself.

Given a web page rather than a feed, /feeds add follows the feed the page names in its
`<link rel="alternate">` (`adapters.feeds.discover`), fetched through the same guard. A server's
feeds go out as OPML (`export_opml`) and come in from an OPML file (`import_opml`): each feed of
the file is checked, fetched and stored as seen exactly as /feeds add would, a few at a time, under
the same per-server limit, and every feed left out is named with its reason (`SkipReason`).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol
from urllib.parse import urlsplit

from bot.adapters.feeds import FoundFeed, OpmlFeed, feed_links, looks_like_html, read_outlines
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
from bot.services.feeds import feeds_as_opml
from bot.services.ingest import FeedFetcher, FeedParser
from bot.services.ports import FeedStore, PollStore
from bot.services.topic_routes import check_topic

MAX_URL_LENGTH = 2000
PRIVATE_ADDRESS = "That address points inside a private network; I can only fetch public feeds."
NO_FEED_ON_PAGE = (
    "That address is a web page, not a feed, and the page names no feed (no RSS, Atom or JSON Feed"
    " link in it); give me the feed's own address."
)
MAX_IMPORT_BYTES = 256 * 1024  # an OPML file of a few hundred feeds is a few tens of KB
IMPORT_CONCURRENCY = 4  # feeds of one import fetched at once
IMPORT_SECONDS = 600.0  # an interaction's token lives 15 minutes: the summary must still be sent
_DETAIL_LIMIT = 300


class SkipReason(StrEnum):
    """Why a feed was left out, as the import summary groups them."""

    ALREADY = "Already followed here"
    OPERATOR = "The bot's own feeds"
    DUPLICATE = "Listed more than once in the file"
    INVALID = "Not a valid http(s) address"
    PRIVATE = "Refused: a private or local address"
    UNREACHABLE = "Could not be fetched"
    NOT_A_FEED = "Not a feed"
    OVER_LIMIT = "Over this server's feed limit"
    NO_TIME = "Not tried: the import ran out of time"


class RefusalError(UserError):
    """A feed refused: the sentence /feeds add shows, and the `reason` an import files it under
    (`detail`: the fetch or parse error, if any)."""

    def __init__(self, message: str, reason: SkipReason, detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


class CardPreviewer(Protocol):
    async def preview_card(self, source: str, entry: ParsedEntry, forced: tuple[str, ...] = ()) -> Card: ...


class Waker(Protocol):
    def wake(self) -> None: ...


class SubscriptionStore(FeedStore, PollStore, Protocol):
    """What subscribing reads and writes: the feeds, and the first poll stored as seen."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """The feed found on the web page /feeds add was given, and how many others the page names."""

    page: str
    feed: FoundFeed
    others: int


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    feed: Feed
    title: str
    entry_count: int  # entries in the feed now, all stored as seen
    topic: str = ""  # this server's own topic for the feed's stories
    discovery: Discovery | None = None  # set when the address given was a page naming the feed


@dataclass(frozen=True, slots=True)
class Skipped:
    """A feed of an imported file left out: its name in the file (else its address), and why."""

    name: str
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What /feeds import did: the feeds followed, in the file's order, and the ones left out."""

    added: list[SubscribeResult]
    skipped: list[Skipped]


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A feed fetched and parsed: `url` is the address to store (the one given, or the one the page
    given named)."""

    url: str
    result: FetchResult
    parsed: ParsedFeed
    discovery: Discovery | None = None


@dataclass(frozen=True, slots=True)
class _Wanted:
    """A feed of an imported file still to follow: its checked address, its name, its topic here."""

    url: str
    name: str
    topic: str


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


def _plain_url(url: str) -> bool:
    """Whether `check_url` accepts `url`."""
    try:
        check_url(url)
    except UserError:
        return False
    return True


def _fetch_refusal(exc: FetchError, found: FoundFeed | None = None) -> RefusalError:
    if isinstance(exc, BlockedAddressError):
        return RefusalError(PRIVATE_ADDRESS, SkipReason.PRIVATE)
    detail = _detail(exc)
    if found is not None:
        return RefusalError(f"The page links to {_a_feed(found)}, but I could not fetch it: {detail}.",
                       SkipReason.UNREACHABLE, detail)  # fmt: skip
    return RefusalError(f"I could not fetch that feed: {detail}.", SkipReason.UNREACHABLE, detail)


def _parse_refusal(exc: ParseError, found: FoundFeed | None = None) -> RefusalError:
    detail = _detail(exc).removeprefix("not a feed: ")
    if found is not None:
        return RefusalError(f"The page links to {_a_feed(found)}, but it is not a feed I can read: {detail}.",
                       SkipReason.NOT_A_FEED, detail)  # fmt: skip
    return RefusalError(f"That is not a feed I can read: {detail}.", SkipReason.NOT_A_FEED, detail)


_A_FEED = {"RSS": "an RSS feed", "Atom": "an Atom feed", "JSON Feed": "a JSON Feed"}


def _a_feed(found: FoundFeed) -> str:
    return _A_FEED.get(found.kind, "a feed")


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
        `topic` is this server's own for the feed's stories (other followers have theirs). When `url`
        is a web page, the feed the page names is the one followed (`SubscribeResult.discovery`).

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
        fetched = await self._fetch_feed(url, discover=True)
        async with self._adding:
            return await self._commit(guild_id, fetched, own_topic, added_by)

    async def test_feed(
        self, url: str, topic: str | None = None, *, before_fetch: Callable[[], None] | None = None
    ) -> Card:
        """The card the feed's newest entry would get; nothing is stored. `before_fetch` as in `subscribe`."""
        url = check_url(url)
        forced = (check_topic(self.settings, topic),) if topic else ()
        if before_fetch is not None:
            before_fetch()
        parsed = (await self._fetch_feed(url)).parsed
        entry = newest_entry(parsed)
        if entry is None:
            raise UserError("That feed has no entries yet, so there is nothing to preview.")
        source = parsed.title or urlsplit(url).hostname or url
        return await self.previewer.preview_card(source, entry, forced)

    async def _fetch_feed(self, url: str, *, discover: bool = False) -> _Fetched:
        """`url` fetched through the guard and parsed. With `discover`, a web page in its place is
        searched for the feeds it names, and the best of them is fetched and parsed instead."""
        page = await self._fetch(url)
        try:
            return _Fetched(url, page, await self._parse(page))
        except ParseError as exc:
            if not (discover and looks_like_html(page.body or b"")):
                raise _parse_refusal(exc) from None
        found = [f for f in await asyncio.to_thread(feed_links, page.body or b"", page.url) if _plain_url(f.url)]
        if not found:
            raise RefusalError(NO_FEED_ON_PAGE, SkipReason.NOT_A_FEED)
        chosen = found[0]
        result = await self._fetch(chosen.url, chosen)
        try:
            parsed = await self._parse(result)
        except ParseError as exc:
            raise _parse_refusal(exc, chosen) from None
        return _Fetched(chosen.url, result, parsed, Discovery(url, chosen, len(found) - 1))

    async def _fetch(self, url: str, found: FoundFeed | None = None) -> FetchResult:
        """GET `url` through the SSRF guard; a RefusalError saying why when it fails or has no body."""
        try:
            result = await self.fetcher.fetch(url, trusted=False)
        except FetchError as exc:
            raise _fetch_refusal(exc, found) from None
        if result.body is None:
            raise _fetch_refusal(FetchError("the server sent no body"), found)
        return result

    async def _parse(self, result: FetchResult) -> ParsedFeed:
        return await self.parser.parse(result.body or b"", url=result.url, content_type=result.content_type)

    async def _commit(
        self,
        guild_id: int,
        fetched: _Fetched | Feed,
        topic: str,
        added_by: int | None,
        feeds: Sequence[Feed] | None = None,
    ) -> SubscribeResult:
        """Under the add lock: the server follows the feed fetched (stored now, its entries as seen)
        or `fetched`, a feed other servers follow. The limit and the duplicates are checked again:
        another add may have finished during the fetch. `feeds`: every feed, when the caller has
        just read them under the lock."""
        await self._refuse_over_limit(guild_id)
        if isinstance(fetched, Feed):
            shared = await self._existing(guild_id, fetched.url, feeds=feeds)
            if shared is None:  # its last follower left it meanwhile, and it went
                raise RefusalError(
                    "That feed was removed while I was adding it; try again.",
                    SkipReason.UNREACHABLE,
                    "removed meanwhile",
                )
            return await self._follow(guild_id, shared, topic, added_by)
        shared = await self._existing(guild_id, fetched.url, fetched.result.url, feeds=feeds)
        if shared is not None:
            return replace(await self._follow(guild_id, shared, topic, added_by), discovery=fetched.discovery)
        now = self.clock()
        feed = await self.store.add_feed(
            fetched.url, now=now, origin=FeedOrigin.DISCORD, guild_id=guild_id, topic=topic, added_by=added_by
        )
        await self.store.record_poll(feed.id, await self._first_poll(feed, fetched.result, fetched.parsed, now))
        self.wake()  # its entries are history to build now
        stored = await self.store.get_feed(feed.id)
        parsed = fetched.parsed
        return SubscribeResult(stored or feed, parsed.title or fetched.url, len(parsed.entries), topic,
                               fetched.discovery)  # fmt: skip

    async def _existing(self, guild_id: int, *urls: str, feeds: Sequence[Feed] | None = None) -> Feed | None:
        """The feed at one of `urls` that other servers follow (this one may follow it too), or None
        when there is none. A RefusalError when this server follows it already, or when it is one of the
        operator's feeds (whose stories reach every server's routes anyway)."""
        wanted = {normalize_link(u) or u for u in urls}
        for feed in await self.store.list_feeds() if feeds is None else feeds:
            if feed.url in urls or (normalize_link(feed.url) or feed.url) in wanted:
                if feed.origin is not FeedOrigin.DISCORD:
                    raise RefusalError(
                        "That feed is one of the bot's own (its operator set it up), so its stories reach"
                        " this server's routes already.",
                        SkipReason.OPERATOR,
                    )
                if guild_id in await self.store.feed_followers(feed.id):
                    name = safe(feed.display_name, 200)
                    raise RefusalError(f"This server follows that feed already, as “{name}”.", SkipReason.ALREADY)
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
            raise RefusalError(
                f"This server follows {count} {'feed' if count == 1 else 'feeds'}, the most it may; "
                "remove one with /feeds remove first.",
                SkipReason.OVER_LIMIT,
                f"at most {most}",
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

    # --- OPML in and out ---------------------------------------------------------------------

    async def import_opml(
        self,
        guild_id: int,
        data: bytes,
        *,
        added_by: int | None = None,
        before_fetch: Callable[[], None] | None = None,
        time_budget: float = IMPORT_SECONDS,
    ) -> ImportSummary:
        """Follow every feed of an OPML file as /feeds add would, in the file's order: each address
        checked, each new feed fetched through the guard and its entries stored as seen, within the
        server's limit. An outline's folder that names a configured topic is the feed's topic here.

        Feeds are fetched `IMPORT_CONCURRENCY` at a time, never more than the room left under the
        limit, and followed in the file's order, so which feeds pass the limit does not depend on
        which answered first. `before_fetch` runs once, before the first fetch. OpmlError (a
        UserError) for a file that is not OPML or is larger than MAX_IMPORT_BYTES.
        """
        skipped: list[Skipped] = []
        wanted = self._wanted(read_outlines(data, max_bytes=MAX_IMPORT_BYTES), skipped)
        feeds = await self.store.list_feeds()
        pending: list[tuple[_Wanted, Feed | None]] = []
        for want in wanted:  # what needs no network: followed here already, the operator's, followed elsewhere
            try:
                pending.append((want, await self._existing(guild_id, want.url, feeds=feeds)))
            except RefusalError as exc:
                skipped.append(Skipped(want.name, exc.reason, exc.detail))
        room = await self._room(guild_id)
        if before_fetch is not None and any(shared is None for _want, shared in pending[: max(room, 0)]):
            before_fetch()
        added: list[SubscribeResult] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + time_budget
        while pending:
            room = await self._room(guild_id)
            late = loop.time() >= deadline
            if room <= 0 or late:
                why = SkipReason.NO_TIME if late else SkipReason.OVER_LIMIT
                skipped += [Skipped(want.name, why) for want, _shared in pending]
                break
            window, pending = pending[: min(room, IMPORT_CONCURRENCY)], pending[min(room, IMPORT_CONCURRENCY) :]
            await self._import_window(guild_id, window, added_by, added, skipped)
        return ImportSummary(added, skipped)

    async def _import_window(
        self,
        guild_id: int,
        window: list[tuple[_Wanted, Feed | None]],
        added_by: int | None,
        added: list[SubscribeResult],
        skipped: list[Skipped],
    ) -> None:
        """Fetch the window's new feeds at once, then follow each, in order, under the add lock."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._fetch_or_refusal(want.url, shared)) for want, shared in window]
        except BaseExceptionGroup as failed:  # not a refusal: a fault, for the tree's error handler
            raise failed.exceptions[0] from None
        async with self._adding:
            feeds = await self.store.list_feeds()
            for (want, _shared), task in zip(window, tasks, strict=True):
                got = task.result()
                try:
                    if isinstance(got, RefusalError):
                        raise got
                    result = await self._commit(guild_id, got, want.topic, added_by, feeds)
                    feeds.append(result.feed)  # a later feed of the window may redirect to this one
                    added.append(result)
                except RefusalError as exc:
                    skipped.append(Skipped(want.name, exc.reason, exc.detail))

    async def _fetch_or_refusal(self, url: str, shared: Feed | None) -> _Fetched | Feed | RefusalError:
        """The feed fetched and parsed, or `shared` (followed by other servers: nothing to fetch), or
        the RefusalError that says why it cannot be followed."""
        if shared is not None:
            return shared
        try:
            return await self._fetch_feed(url)
        except RefusalError as exc:
            return exc

    def _wanted(self, outlines: list[OpmlFeed], skipped: list[Skipped]) -> list[_Wanted]:
        """The outlines worth a look, each address once; the others added to `skipped`."""
        topics = {t.name for t in self.settings.topics}
        seen: set[str] = set()
        wanted: list[_Wanted] = []
        for outline in outlines:
            name = outline.title or outline.url
            try:
                url = check_url(outline.url)
            except UserError as exc:
                skipped.append(Skipped(name, SkipReason.INVALID, str(exc).rstrip(".")))
                continue
            key = normalize_link(url) or url
            if key in seen:
                skipped.append(Skipped(name, SkipReason.DUPLICATE))
                continue
            seen.add(key)
            wanted.append(_Wanted(url, name, outline.category if outline.category in topics else ""))
        return wanted

    async def _room(self, guild_id: int) -> int:
        """How many more feeds the server may follow."""
        return self.settings.limits.feeds_per_server - len(await self.feeds_of(guild_id))

    async def export_opml(self, guild_id: int) -> bytes:
        """The feeds this server follows (its own, never another server's nor the operator's) as
        OPML 2.0, each under its topic here; UserError when there are none."""
        feeds = await self.feeds_of(guild_id)
        if not feeds:
            raise UserError("This server follows no feeds of its own yet, so there is nothing to export.")
        return feeds_as_opml(feeds, now=self.clock(), title="Feeds of this server")

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
