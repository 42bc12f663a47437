"""A local feed server for end-to-end tests: RSS 2.0 feeds served from memory on 127.0.0.1.

The bot under test polls these feeds as config feeds (`[[feeds]] url = feed.url`: trusted, so no
SSRF guard stands between a loopback address and the fetcher). A test changes a feed between two
polls and waits until the bot has fetched the new version:

    async with FeedServer() as server:
        wire = server.add_feed("wire", title="Wire")
        wire.publish(Item("a1", "Acme recalls its drones", "https://news.example/a1", "Acme said so."))
        ...start the bot with [[feeds]] url = wire.url...
        await server.wait_fetched(wire)          # the bot has polled the feed at least once
        wire.publish(Item(...))                  # a new item...
        await server.wait_fetched(wire)          # ...which a poll has now seen

Everything is deterministic: no ETag or Last-Modified is sent (the bot's body-hash check sees an
unchanged feed), items are listed newest first as feeds do, and every text is XML-escaped.
`Item.published` defaults to the moment the item is made, so the bot's age limit never drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from xml.sax.saxutils import escape, quoteattr

from aiohttp import web

__all__ = ["FeedServer", "Item", "LocalFeed", "rss_document"]


@dataclass(frozen=True, slots=True)
class Item:
    """One RSS item. `description` is the text the bot summarizes (its first sentences are the
    card's "What changed")."""

    guid: str
    title: str
    link: str
    description: str = ""
    published: float = field(default_factory=time.time)  # UNIX seconds
    image: str = ""  # a <media:thumbnail url="…"> when given


def rss_document(title: str, site: str, items: Iterable[Item]) -> bytes:
    """An RSS 2.0 document of `items`, in the order given."""
    parts = [
        "<item>"
        f'<guid isPermaLink="false">{escape(item.guid)}</guid>'
        f"<title>{escape(item.title)}</title>"
        f"<link>{escape(item.link)}</link>"
        f"<description>{escape(item.description)}</description>"
        f"<pubDate>{formatdate(item.published, usegmt=True)}</pubDate>"
        + (f"<media:thumbnail url={quoteattr(item.image)}/>" if item.image else "")
        + "</item>"
        for item in items
    ]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        f"<title>{escape(title)}</title><link>{escape(site)}</link><description>{escape(title)}</description>"
        + "".join(parts)
        + "</channel></rss>"
    ).encode()


@dataclass
class LocalFeed:
    """One feed of the server. Change it with `publish`, `remove` or `items`; each change makes a
    new version, and `fetches` records which version each request got."""

    name: str  # the path is /<name>.xml
    title: str
    base: str
    items: list[Item] = field(default_factory=list)
    version: int = 0
    fetches: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, version served)
    status: int = 200  # e.g. 503 to make the feed fail

    @property
    def url(self) -> str:
        return f"{self.base}/{self.name}.xml"

    def publish(self, *items: Item) -> int:
        """Add items (an item whose guid is already listed replaces it); returns the new version."""
        guids = {item.guid for item in items}
        self.items = [*items, *(i for i in self.items if i.guid not in guids)]
        return self._changed()

    def remove(self, *guids: str) -> int:
        """Take items off the feed; returns the new version."""
        self.items = [i for i in self.items if i.guid not in set(guids)]
        return self._changed()

    def _changed(self) -> int:
        self.version += 1
        return self.version

    def body(self) -> bytes:
        """The document as served now: newest item first."""
        ordered = sorted(self.items, key=lambda i: i.published, reverse=True)
        return rss_document(self.title, f"https://{self.name}.example/", ordered)

    @property
    def fetched_versions(self) -> list[int]:
        return [version for _, version in self.fetches]


class FeedServer:
    """Serves `LocalFeed`s on 127.0.0.1 (a free port). Use as `async with FeedServer() as server:`."""

    def __init__(self) -> None:
        self.feeds: dict[str, LocalFeed] = {}
        self.base = ""
        self._runner: web.AppRunner | None = None
        self._waiters: set[asyncio.Future[None]] = set()

    async def start(self) -> FeedServer:
        app = web.Application()
        app.router.add_get("/{name}.xml", self._serve)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        for feed in self.feeds.values():
            feed.base = self.base
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FeedServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def add_feed(self, name: str, *, title: str | None = None, items: Iterable[Item] = ()) -> LocalFeed:
        """A new feed at /<name>.xml (its channel title defaults to the name)."""
        if name in self.feeds:
            raise ValueError(f"there is a feed called {name!r} already")
        feed = LocalFeed(name=name, title=title or name, base=self.base, items=list(items))
        self.feeds[name] = feed
        return feed

    async def _serve(self, request: web.Request) -> web.Response:
        feed = self.feeds.get(request.match_info["name"])
        if feed is None:
            return web.Response(status=404, text="no such feed")
        try:
            if feed.status != 200:
                return web.Response(status=feed.status, text="the test made this feed fail")
            return web.Response(body=feed.body(), content_type="application/rss+xml", charset="utf-8")
        finally:
            feed.fetches.append((time.monotonic(), feed.version))
            self._notify()

    def _notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        """Return once `predicate()` is true, re-checked after every request; TimeoutError after
        `timeout` seconds (a "did not hang" bound)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                fetched = {name: feed.fetched_versions for name, feed in self.feeds.items()}
                raise TimeoutError(f"feed condition not met within {timeout:g} s; versions fetched: {fetched}")
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, min(remaining, 0.5))

    async def wait_fetched(self, feed: LocalFeed, *, times: int = 1, timeout: float = 30.0) -> None:
        """Wait until the feed's current version has been served `times` times.

        Once it was served, the poll that got it has at least started; `times=2` also means that
        poll was stored (a feed's next poll starts only after its previous one is written)."""
        version = feed.version

        def served() -> bool:
            return sum(v >= version for v in feed.fetched_versions) >= times

        await self.wait_until(served, timeout)
